"""Helpers for the console's browser tests: open it signed in, read what it shows, ask the API
the same question with a machine token."""

from __future__ import annotations

from typing import Any

import httpx
from playwright.sync_api import Page, expect

from tests.support.web.browser import CONSOLE_OPERATOR, OPERATOR, sign_in


def open_console(new_page, base: str, who: tuple[str, str] = CONSOLE_OPERATOR, **context: Any) -> Page:  # type: ignore[no-untyped-def]
    """A new browser, signed in through the sign-in page; returns once the console has its lists."""
    page: Page = new_page(**context)
    sign_in(page, base, who)
    expect(page.locator("body")).to_have_attribute("data-ready", "true", timeout=20_000)
    return page


def open_console_with(page: Page, base: str, who: tuple[str, str] = CONSOLE_OPERATOR) -> Page:
    """The same, for a page prepared by the test (a clock installed, scripts added)."""
    sign_in(page, base, who)
    expect(page.locator("body")).to_have_attribute("data-ready", "true", timeout=20_000)
    return page


def row_ids(page: Page) -> list[str]:
    return page.locator("#case-table tbody tr.case").evaluate_all("rows => rows.map(r => r.dataset.caseId)")


def api_get(base: str, path: str, params: dict | None = None) -> Any:
    """The API's own answer (a whole-site operator's token)."""
    r = httpx.get(base + path, params=params, headers=OPERATOR, timeout=10)
    r.raise_for_status()
    return r.json()


def open_case(page: Page, case_id: str) -> None:
    page.locator(f'#case-table tbody tr[data-case-id="{case_id}"]').click()
    expect(page.locator("#detail")).to_have_attribute("data-case-id", case_id)
    expect(page.locator("#detail .detail-body")).to_be_visible()
