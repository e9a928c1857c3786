"""Headless Chromium (Debian's, driven by Playwright) against the API served for real."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.people.models import Role
from gateway.schema.migrate import upgrade
from gateway.store.db import make_engine, session_factory
from tests.support.people import add_person
from tests.support.stores import migrated_store_url
from tests.support.web.browser import CHROMIUM_FLAGS, CONSOLE_OPERATOR, chromium_path


@pytest.fixture(scope="module")
def chromium() -> Iterator[object]:
    """One headless Chromium for a module's tests (each test takes a fresh context: ``new_page``)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def new_page(chromium):  # type: ignore[no-untyped-def]
    """A fresh browser context and page (its own cookies) on the module's Chromium; ``errors``
    collects the page's script errors and console errors."""
    contexts = []

    def make(width: int = 1920, height: int = 1080, **options: object):  # type: ignore[no-untyped-def]
        context = chromium.new_context(viewport={"width": width, "height": height}, locale="zh-CN", **options)
        contexts.append(context)
        pg = context.new_page()
        errors: list[str] = []
        pg.on("pageerror", lambda exc: errors.append(str(exc)))
        pg.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        pg.errors = errors
        return pg

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def page() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS)
        context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="zh-CN")
        pg = context.new_page()
        errors: list[str] = []
        pg.on("pageerror", lambda exc: errors.append(str(exc)))
        pg.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        pg.errors = errors  # type: ignore[attr-defined]
        yield pg
        browser.close()


@pytest.fixture
def console_operator(db_url: str) -> tuple[str, str]:
    """张伟, an operator of the whole street, with a password (signs in through the page)."""
    engine = make_engine(db_url)
    upgrade(engine)
    add_person(
        session_factory(engine),
        CONSOLE_OPERATOR[0],
        [Role.OPERATOR],
        ["s-qingshan"],
        CONSOLE_OPERATOR[1],
        name="张伟",
    )
    engine.dispose()
    return CONSOLE_OPERATOR


@pytest.fixture
def wall_operator(console_operator: tuple[str, str]) -> tuple[str, str]:
    """The console replaced the alert wall: the same operator."""
    return console_operator


@pytest.fixture
def db_url(tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """Pages read through the API, whose store behaviour is tested elsewhere on both backends: a
    copy of the session's migrated SQLite store (the API would migrate an empty one at start)."""
    return migrated_store_url("sqlite", tmp_path / "gridwatch.db", request)
