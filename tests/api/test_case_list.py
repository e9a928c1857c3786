"""The command centre's case list: every filter, sorting, true totals, paging, and the CSV export
holding exactly what the list holds for the same query (SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from gateway.cases.models import Case
from gateway.dispatch.models import Task
from tests.support.harness import Harness

SHANGHAI_OFFSET = timedelta(hours=8)
RANK = {"critical": 3, "major": 2, "minor": 1, "info": 0}


@dataclass(frozen=True)
class Raised:
    device: str
    hazard: str
    severity: str
    minutes: int  # after the start of the test


# Eight cases in three communities, 20 minutes apart: every filter has something to keep and drop.
RAISED = [
    Raised("smk-factory-a1", "smoke_alarm", "critical", 0),
    Raised("smk-rental-12", "smoke_alarm", "major", 20),
    Raised("gas-restaurant-3", "gas_leak", "critical", 40),
    Raised("cam-factory-a", "occupied_factory_dorm", "major", 60),
    Raised("smk-rental-15", "low_battery", "minor", 80),
    Raised("cam-rental-yard", "fire_smoke", "critical", 100),
    Raised("gas-workshop-b1", "gas_leak", "major", 120),
    Raised("smk-gongye-dorm-3", "smoke_alarm", "minor", 140),
]


@pytest.fixture
def cases(harness: Harness) -> list[Case]:
    start = harness.clock.now()
    for r in RAISED:
        harness.clock.set(start + timedelta(minutes=r.minutes))
        harness.raise_event(r.device, hazard_type=r.hazard, severity=r.severity)
    with harness.sessions() as s:
        found = list(s.scalars(select(Case)))
        s.expunge_all()
    assert len(found) == len(RAISED), "each raised event opens its own case"
    return found


def ids(body: dict) -> list[str]:
    return [c["id"] for c in body["items"]]


def newest_first(cases: list[Case]) -> list[str]:
    return [c.id for c in sorted(cases, key=lambda c: (c.opened_at, c.id), reverse=True)]


def test_filters_each_keep_what_they_name(api: TestClient, harness: Harness, cases: list[Case]) -> None:
    site = harness.ctx.site
    park_grids = {g for g, a in site.areas.items() if a.parent == "c-gongye"}

    def expect(params: dict, keep) -> None:  # type: ignore[no-untyped-def]
        body = api.get("/api/v1/cases", params=params).json()
        assert ids(body) == newest_first([c for c in cases if keep(c)]), params
        assert body["count"] == len(body["items"])

    expect({"severity": "critical"}, lambda c: c.severity == "critical")
    expect({"severity": ["minor", "major"]}, lambda c: c.severity in ("minor", "major"))
    expect({"hazard_type": "gas_leak"}, lambda c: c.hazard_type == "gas_leak")
    expect({"status": "new"}, lambda c: c.status == "new")
    expect({"status": ["dispatched", "new"]}, lambda c: c.status in ("dispatched", "new"))
    expect({"area": "c-gongye"}, lambda c: c.grid_id in park_grids)
    expect({"area": "s-qingshan"}, lambda c: True)
    expect({"grid_id": cases[0].grid_id}, lambda c: c.grid_id == cases[0].grid_id)
    expect({"device_id": "gas-restaurant-3"}, lambda c: c.device_id == "gas-restaurant-3")
    expect({"q": "烟感"}, lambda c: "烟感" in c.title)
    expect({"q": cases[3].id[:8]}, lambda c: c.id.startswith(cases[3].id[:8]))
    expect({"q": "100%"}, lambda c: False)  # a literal percent sign, not a wildcard
    with harness.sessions() as s:
        held = set(s.scalars(select(Task.case_id).where(Task.worker_id == "w-ma-li")))
    assert held, "the park's smoke alarm was offered to w-ma-li"
    expect({"worker_id": "w-ma-li"}, lambda c: c.id in held or c.assigned_worker_id == "w-ma-li")
    expect(
        {"severity": "critical", "area": "c-gongye"},
        lambda c: c.severity == "critical" and c.grid_id in park_grids,
    )


def test_a_date_range_is_in_site_time_and_half_open(api: TestClient, cases: list[Case]) -> None:
    # the second case opened at minute 20; "from" is inclusive, "to" exclusive, naive = Shanghai
    lo = (cases[0].opened_at + timedelta(minutes=20) + SHANGHAI_OFFSET).replace(tzinfo=None)
    hi = lo + timedelta(minutes=60)
    body = api.get("/api/v1/cases", params={"from": lo.isoformat(), "to": hi.isoformat()}).json()
    start = cases[0].opened_at + timedelta(minutes=20)
    expected = [c for c in cases if start <= c.opened_at < start + timedelta(minutes=60)]
    assert len(expected) == 3
    assert ids(body) == newest_first(expected)
    # the same instant with an offset
    utc = api.get(
        "/api/v1/cases", params={"from": start.isoformat(), "to": (start + timedelta(hours=1)).isoformat()}
    )
    assert ids(utc.json()) == ids(body)


def test_sorting_and_true_totals_over_pages(api: TestClient, cases: list[Case]) -> None:
    everything = api.get("/api/v1/cases", params={"sort": "-severity"}).json()
    expected = [c.id for c in sorted(cases, key=lambda c: (-RANK[c.severity], -c.opened_at.timestamp()))]
    assert ids(everything) == expected
    ascending = api.get("/api/v1/cases", params={"sort": "opened_at"}).json()
    assert ids(ascending) == list(reversed(newest_first(cases)))
    pages = []
    for offset in range(0, 8, 3):
        page = api.get("/api/v1/cases", params={"sort": "-severity", "limit": 3, "offset": offset}).json()
        assert page["count"] == 8, "count is every case that meets the filter, not the page"
        assert len(page["items"]) == min(3, 8 - offset)
        pages += ids(page)
    assert pages == expected


def test_bad_filters_are_refused_with_the_reason(api: TestClient, cases: list[Case]) -> None:
    for params, word in (
        ({"sort": "password"}, "sort"),
        ({"area": "c-nowhere"}, "c-nowhere"),
        ({"severity": "apocalyptic"}, "severity"),
        ({"from": "2026-12-02T10:00", "to": "2026-12-01T10:00"}, "after"),
        ({"from": "yesterday"}, "from"),
    ):
        r = api.get("/api/v1/cases", params=params)
        assert r.status_code == 422, params
        assert word in r.text


def _csv(api: TestClient, params: dict) -> list[dict[str, str]]:
    r = api.get("/api/v1/cases/export.csv", params=params)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    assert r.content.startswith("\ufeff".encode())
    return list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"severity": "critical"},
        {"area": "c-donghu", "sort": "severity"},
        {"hazard_type": ["smoke_alarm", "gas_leak"], "sort": "-updated_at"},
        {"q": "燃气"},
    ],
)
def test_the_export_holds_what_the_list_holds(
    api: TestClient, harness: Harness, cases: list[Case], params: dict
) -> None:
    listed = api.get("/api/v1/cases", params={**params, "limit": 1000}).json()["items"]
    rows = _csv(api, params)
    assert [r["案件编号 case id"] for r in rows] == [c["id"] for c in listed]
    for row, case in zip(rows, listed, strict=True):
        assert row["级别 severity"] == case["severity"]
        assert row["状态 status"] == case["status"]
        assert row["标题 title"] == case["title"]
        assert row["设备 device"] == (case["device_id"] or "")
        opened = datetime.fromisoformat(case["opened_at"]) + SHANGHAI_OFFSET
        assert row["立案时间 opened"] == opened.strftime("%Y-%m-%d %H:%M:%S")  # site time, not UTC
        grid = harness.ctx.site.areas.get(case["grid_id"])
        assert row["网格名称 grid name"] == (grid.name if grid else "")


def test_the_export_never_hands_a_spreadsheet_a_formula(api: TestClient, harness: Harness) -> None:
    with harness.sessions.begin() as s:
        harness.raise_event("smk-factory-a1")
        case = s.scalars(select(Case)).one()
        case.title = '=HYPERLINK("http://evil")'
    [row] = _csv(api, {})
    assert row["标题 title"] == '\'=HYPERLINK("http://evil")'


def test_an_operator_lists_and_exports_only_their_areas(
    api: TestClient, api_tokens, harness: Harness, cases: list[Case]
) -> None:
    from tests.support.people import add_person

    add_person(harness.sessions, "op-park", ["operator"], ["c-gongye"], "park-password-1")
    signed = api.post("/api/v1/auth/sign-in", json={"username": "op-park", "password": "park-password-1"})
    headers = {"Authorization": f"Bearer {signed.json()['access_token']}"}
    api.cookies.clear()
    park = {g for g, a in harness.ctx.site.areas.items() if a.parent == "c-gongye"}
    listed = api.get("/api/v1/cases", headers=headers).json()
    assert ids(listed) == newest_first([c for c in cases if c.grid_id in park])
    assert listed["count"] == len(listed["items"])
    exported = api.get("/api/v1/cases/export.csv", headers=headers).content.decode("utf-8-sig")
    assert [r["案件编号 case id"] for r in csv.DictReader(io.StringIO(exported))] == ids(listed)


def test_a_title_with_control_characters_still_exports_as_xlsx(
    api: TestClient, api_tokens, harness: Harness
) -> None:
    """A worker's 随手拍 note becomes part of the case's title, and a phone keyboard (or a hostile
    client) can put control characters in it. XML 1.0, and so XLSX, cannot hold most of them:
    one such title made the whole export a 500 for everyone of that area. The XLSX shows each as
    its visible Unicode control picture (U+2400 + code); the CSV and the list keep the text."""
    import uuid

    import openpyxl

    note = "油烟\x07很大\x1b[31m\x01\x08\x0b\x0c\x1f"  # BEL, ESC, SOH, BS, VT, FF, US
    first_line = "油烟\x07很大\x1b[31m\x01\x08"  # \x0b and what follows start new lines
    r = api.post(
        "/api/v1/reports",
        json={
            "id": str(uuid.uuid4()),
            "hazard_type": "gas_leak",
            "location": {"lon": 120.3178, "lat": 31.4969},
            "note": note,
        },
        headers=api_tokens.worker("w-ma-li"),
    )
    assert r.status_code == 201, r.text
    title = r.json()["title"]
    assert title.endswith(first_line)
    shown = "".join(chr(0x2400 + ord(c)) if ord(c) < 0x20 and c not in "\t\n\r" else c for c in title)

    sheet = api.get("/api/v1/cases/export.xlsx")
    assert sheet.status_code == 200, sheet.text
    book = openpyxl.load_workbook(io.BytesIO(sheet.content), read_only=True)
    head, *rows = [list(row) for row in book.worksheets[0].iter_rows(values_only=True)]
    [row] = rows
    assert row[head.index("标题 title")] == shown and "␇" in shown and "␛" in shown
    now = harness.clock.now()
    day = {"since": (now - timedelta(days=1)).isoformat(), "until": (now + timedelta(days=1)).isoformat()}
    tasks = api.get("/api/v1/analytics/export/tasks.xlsx", params=day)  # the task's sheet: its case's title
    assert tasks.status_code == 200, tasks.text
    book = openpyxl.load_workbook(io.BytesIO(tasks.content), read_only=True)
    assert shown in {c for row in book.worksheets[0].iter_rows(values_only=True) for c in row}
    [csv_row] = _csv(api, {})
    assert csv_row["标题 title"] == title  # the CSV keeps the characters as typed
    assert api.get("/api/v1/cases").json()["items"][0]["title"] == title
