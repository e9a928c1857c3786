"""The pages' live feed: what commits reaches every open page, and a page that was away catches up."""

from __future__ import annotations

import itertools

from sqlalchemy import select

from contracts.hazards import HazardType
from gateway.cases.models import Case
from tests.support.harness import Harness
from tests.support.net.sse import SseReader
from tests.support.waiting import wait_until
from tests.support.web.browser import OPERATOR

SENSORS = ("smk-factory-a1", "smk-rental-12", "smk-rental-15", "gas-restaurant-3")


def _places(n: int) -> list[tuple[str, str]]:
    """n distinct (device, hazard) pairs: each opens its own case (see _where)."""
    pairs = itertools.product(SENSORS, [h.value for h in HazardType])
    return list(itertools.islice(pairs, n))


def _where(device: str) -> dict[str, float]:
    # Sensors placed over a kilometre apart, so that same-type alarms do not join one case.
    return {"lon": 120.285 + 0.012 * SENSORS.index(device), "lat": 31.497}


def _open(harness: Harness, device: str, hazard: str = "smoke_alarm", **fields: object) -> str:
    """Raise an event and return the id of the case it is on (read from the store)."""
    harness.raise_event(device, hazard_type=hazard, **fields)
    with harness.sessions() as s:
        return s.scalars(select(Case.id).where(Case.device_id == device, Case.hazard_type == hazard)).one()


def _case_ids(reader: SseReader) -> set[str]:
    return {e.json()["case"]["id"] for e in reader.of("case")}


def test_a_new_case_and_its_dispatch_reach_an_open_page_without_a_reload(harness: Harness, serve_api) -> None:  # type: ignore[no-untyped-def]
    base = serve_api(str(harness.engine.url))
    page = SseReader(base + "/api/v1/live", headers=OPERATOR)
    try:
        wait_until(lambda: page.of("hello"), what="the feed's hello")
        case_id = _open(harness, "smk-factory-a1", severity="critical")
        updates = wait_until(lambda: page.of("case"), timeout=5, what="the new case on the page")
        body = updates[0].json()
        assert body["case"]["id"] == case_id
        assert body["created"] is True and body["case"]["severity"] == "critical"
        # the same commit dispatched it: the page learns who was asked
        assert body["case"]["status"] == "dispatched"
        assert [t["worker_id"] for t in body["tasks"]] == ["w-ma-li"]
        assert int(updates[0].id) >= 1
    finally:
        page.close()


def test_a_repeat_that_changes_nothing_visible_is_not_pushed(harness: Harness, serve_api) -> None:  # type: ignore[no-untyped-def]
    harness.raise_event("smk-rental-15", severity="major")
    base = serve_api(str(harness.engine.url))
    page = SseReader(base + "/api/v1/live", headers=OPERATOR)
    try:
        wait_until(lambda: page.of("hello"), what="the feed's hello")
        harness.clock.advance(30)
        harness.raise_event("smk-rental-15", severity="major")  # same episode: only the count moves
        harness.clock.advance(30)
        case_id = _open(harness, "smk-rental-15", severity="critical")  # worse: visible
        updates = wait_until(lambda: page.of("case"), timeout=5, what="the severity change")
        assert [u.json()["case"]["severity"] for u in updates] == ["critical"]
        assert updates[0].json()["case"]["id"] == case_id
    finally:
        page.close()


def test_a_page_that_lost_its_connection_during_a_burst_catches_up_with_all_40_cases(
    harness: Harness, serve_api
) -> None:  # type: ignore[no-untyped-def]
    base = serve_api(str(harness.engine.url))
    first = SseReader(base + "/api/v1/live", headers=OPERATOR)
    places = _places(40)
    opened: set[str] = set()
    try:
        wait_until(lambda: first.of("hello"), what="the feed's hello")
        for device, hazard in places[:10]:
            opened.add(_open(harness, device, hazard, severity="major", location=_where(device)))
        wait_until(lambda: _case_ids(first) == opened, timeout=5, what="the first 10 cases")
        resume_from = first.last_id()
    finally:
        first.close()  # the network drops

    for device, hazard in places[10:]:  # the burst goes on while the page is away
        opened.add(_open(harness, device, hazard, severity="major", location=_where(device)))
    assert len(opened) == 40

    again = SseReader(base + "/api/v1/live", headers={**OPERATOR, "Last-Event-ID": str(resume_from)})
    try:
        wait_until(lambda: _case_ids(first) | _case_ids(again) == opened, timeout=5, what="all 40 cases")
        assert not again.of("reset")
    finally:
        again.close()


def test_a_page_away_longer_than_the_log_is_told_to_reload(harness: Harness, serve_api) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import delete

    from gateway.store.change_log import Change

    for device, hazard in _places(5):
        _open(harness, device, hazard, severity="major", location=_where(device))
    with harness.sessions.begin() as s:  # retention pruned the log's start
        s.execute(delete(Change).where(Change.id <= 3))
    base = serve_api(str(harness.engine.url))
    page = SseReader(base + "/api/v1/live", headers={**OPERATOR, "Last-Event-ID": "1"})
    try:
        wait_until(lambda: page.of("reset"), timeout=5, what="a reset for a page that is too far behind")
    finally:
        page.close()


def test_each_page_gets_only_what_its_person_may_see_and_stops_when_they_are_disabled(
    harness: Harness, serve_api
) -> None:  # type: ignore[no-untyped-def]
    from gateway.people import service
    from gateway.people.models import Person, Role
    from tests.support.people import add_person

    add_person(harness.sessions, "op-park", [Role.OPERATOR], ["c-gongye"])
    add_person(harness.sessions, "w-ma-li", [Role.WORKER], ["g-gongye-01"], worker_id="w-ma-li")
    with harness.sessions() as s, s.begin():
        park = service.add_token(s, "desk-park", Role.OPERATOR, (), "test", harness.clock.now(), "op-park")
        phone = service.add_token(s, "phone-ma", Role.WORKER, (), "test", harness.clock.now(), "w-ma-li")
    base = serve_api(str(harness.engine.url), access_check_s=0)  # the API looks at every request
    park_page = SseReader(base + "/api/v1/live", headers={"Authorization": f"Bearer {park}"})
    phone_page = SseReader(base + "/api/v1/live", headers={"Authorization": f"Bearer {phone}"})
    centre = SseReader(base + "/api/v1/live", headers=OPERATOR)
    try:
        for page in (park_page, phone_page, centre):
            wait_until(lambda page=page: page.of("hello"), what="the feed's hello")
        donghu = _open(harness, "smk-rental-12", severity="major")  # Donghu: not the park's
        park_case = _open(harness, "smk-factory-a1", severity="critical")  # the park's, w-ma-li's task
        dorm = _open(harness, "smk-gongye-dorm-3", severity="major")  # the park's, another worker's
        wait_until(lambda: _case_ids(centre) == {donghu, park_case, dorm}, timeout=5, what="all three")
        wait_until(lambda: _case_ids(park_page) == {park_case, dorm}, timeout=5, what="the park's two")
        wait_until(lambda: _case_ids(phone_page) == {park_case}, timeout=5, what="w-ma-li's own")
        assert donghu not in _case_ids(park_page) | _case_ids(phone_page)

        with harness.sessions() as s, s.begin():  # an admin disables the operator
            service.set_active(s, s.get(Person, "op-park"), False, "test", harness.clock.now())  # type: ignore[arg-type]
        _open(harness, "gas-workshop-b1", hazard="gas_leak", severity="major")  # an update to carry the news
        wait_until(park_page.ended, timeout=10, what="the disabled operator's feed to end")
        assert phone_page.status == 200 and not phone_page.ended()
    finally:
        for page in (park_page, phone_page, centre):
            page.close()
