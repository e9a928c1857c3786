"""Headless Chromium (Debian's, driven by Playwright) and the people and tokens the pages are opened with."""

from __future__ import annotations

import shutil

import pytest

from contracts.site.access import IssuedTokens
from contracts.site.access import Role as GrantRole

# The operator the console tests sign in as (whole street: every case of the demo site).
CONSOLE_OPERATOR = ("op-zhang", "console-password-1")


WALL_OPERATOR = CONSOLE_OPERATOR  # the console replaced the alert wall


# A whole-site operator's API token, for tests that read the API without a browser.
TOKENS = IssuedTokens(["op-web"])


OPERATOR = {"Authorization": f"Bearer {TOKENS.token(GrantRole.OPERATOR, 'op-web')}"}


CHROMIUM_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str:
    for name in ("chromium", "chromium-browser", "/usr/bin/chromium"):
        path = shutil.which(name)
        if path:
            return path
    pytest.fail("Chromium is not installed: run scripts/setup.sh (browser tests use a real Chromium)")


def sign_in(page, base: str, who: tuple[str, str] = CONSOLE_OPERATOR, path: str = "/") -> None:  # type: ignore[no-untyped-def]
    """Open the site (``path``) and sign in through the sign-in page, as a person would; returns
    once the page they land on (their app) is open."""
    page.goto(base + path)
    page.wait_for_url("**/ui/signin.html**")
    page.fill("#username", who[0])
    page.fill("#password", who[1])
    page.click("#signin-submit")
    page.wait_for_url(lambda url: "/ui/signin.html" not in url)
    page.wait_for_load_state()
    # The visit before signing in met 401s (that is how the page knew to ask): not errors of the app.
    page.errors.clear()


# Playwright's "Pixel 7" (the module's Chromium is shared with the console's page: one Playwright)
PIXEL_7 = {
    "user_agent": "Mozilla/5.0 (Linux; Android 14; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Mobile Safari/537.36",
    "viewport": {"width": 412, "height": 839},
    "screen": {"width": 412, "height": 915},
    "device_scale_factor": 2.625,
    "is_mobile": True,
    "has_touch": True,
}
