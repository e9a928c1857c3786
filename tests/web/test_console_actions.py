"""The operator's decisions in the console (headless Chromium, the API served for real), each on
the case's trail with the operator's name: a false alarm with a reason, a reassignment from the
shortlist, the whistle to a department that acknowledges in its own console — or does not, and
the escalation goes a tier up on the gateway's timer — confirm, merge, verify, reopen."""

from __future__ import annotations

from playwright.sync_api import Page, expect
from sqlalchemy import select

from gateway.cases.models import Case
from gateway.dispatch.models import Task
from gateway.flows.sla_ticks import SlaTicker
from tests.support.dispatching import act
from tests.support.harness import Harness
from tests.support.people import add_person
from tests.support.web.console import api_get, open_case, open_console

MARKET_DESK = ("market-desk", "market-password-1")


def case_of(h: Harness, device: str) -> Case:
    with h.sessions() as s:
        return s.scalars(select(Case).where(Case.device_id == device)).one()


def decide(page: Page, action: str, fill: dict[str, str] | None = None, pick: str | None = None) -> None:
    """Click an action of the open case, fill its form, send it, and wait for the form to close."""
    page.click(f'#detail [data-action="{action}"]')
    dialog = page.locator("#action-dialog")
    expect(dialog).to_be_visible()
    if pick:
        dialog.get_by_text(pick, exact=False).first.click()
    for name, value in (fill or {}).items():
        field = dialog.locator(f'[name="{name}"]')
        if field.evaluate("el => el.tagName") == "SELECT":
            field.select_option(value)
        else:
            field.fill(value)
    dialog.locator("button.primary").click()
    expect(dialog).to_be_hidden()


def latest_step(page: Page):  # type: ignore[no-untyped-def]
    return page.locator("#detail ol.trail li").first


def test_a_false_alarm_with_a_reason_is_on_the_trail_with_the_operators_name(
    harness: Harness, serve_api, new_page, console_operator
) -> None:  # type: ignore[no-untyped-def]
    harness.raise_event("cam-factory-a", hazard_type="fire_smoke", severity="critical", zone_id="floor")
    case = case_of(harness, "cam-factory-a")
    base = serve_api(str(harness.engine.url), clock=harness.clock)
    page = open_console(new_page, base)
    open_case(page, case.id)

    decide(page, "dismiss", {"reason": "食堂蒸笼的蒸汽"}, pick="水汽、油烟或灰尘")
    step = latest_step(page)
    expect(step).to_contain_text("张伟")  # the operator, by name
    expect(step).to_contain_text("已派单 → 误报")
    expect(step).to_contain_text("[steam_cooking] 食堂蒸笼的蒸汽")
    expect(page.locator("#detail .badge[data-status]")).to_have_text("误报")
    expect(page.locator(f'#case-table tr[data-case-id="{case.id}"]')).to_have_count(0)  # not open any more
    trail = api_get(base, f"/api/v1/cases/{case.id}")["transitions"]
    assert (trail[-1]["actor"], trail[-1]["actor_name"]) == ("operator:op-zhang", "张伟")
    assert page.errors == []  # type: ignore[attr-defined]


def test_reassigning_to_a_worker_from_the_shortlist(
    harness: Harness, serve_api, new_page, console_operator
) -> None:  # type: ignore[no-untyped-def]
    harness.raise_event("smk-factory-a1", severity="critical")
    case = case_of(harness, "smk-factory-a1")
    with harness.sessions() as s:
        task = s.scalars(select(Task).where(Task.case_id == case.id)).one()
    other = next(c["worker_id"] for c in task.shortlist if c["worker_id"] != task.worker_id)
    name = harness.ctx.site.workers[other].name
    page = open_console(new_page, serve_api(str(harness.engine.url), clock=harness.clock))
    open_case(page, case.id)

    decide(page, "reassign", {"note": "马丽在处置另一起火警"}, pick=name)
    tasks = page.locator("#detail ol.tasks > li")
    expect(tasks).to_have_count(2)
    expect(tasks.first).to_contain_text(name)
    expect(tasks.first).to_contain_text("待接单")
    expect(tasks.nth(1)).to_contain_text("已取消")
    expect(page.locator("#detail ol.trail")).to_contain_text("张伟")
    row = page.locator(f'#case-table tr[data-case-id="{case.id}"]')
    expect(row).to_contain_text(name)  # live, in the list
    with harness.sessions() as s:
        live = s.scalars(select(Task).where(Task.case_id == case.id, Task.status == "offered")).one()
    assert live.worker_id == other
    assert page.errors == []  # type: ignore[attr-defined]


def test_the_whistle_reaches_the_department_which_acknowledges_in_its_console(
    harness: Harness, serve_api, new_page, console_operator
) -> None:  # type: ignore[no-untyped-def]
    harness.raise_event("cam-factory-a", hazard_type="illegal_workshop", severity="major", zone_id="floor")
    case = case_of(harness, "cam-factory-a")
    add_person(
        harness.sessions,
        MARKET_DESK[0],
        ["department"],
        ["s-qingshan"],
        MARKET_DESK[1],
        None,
        "market_supervision",
        name="刘科员",
    )
    base = serve_api(str(harness.engine.url), clock=harness.clock)
    operator = open_console(new_page, base)
    open_case(operator, case.id)
    decide(
        operator, "escalate", {"department": "market_supervision", "message": "夜间违规生产，请派执法队核查"}
    )
    escalations = operator.locator('#detail [data-section="escalations"]')
    expect(escalations).to_contain_text("市场监管所 Market Supervision Office")
    expect(escalations).to_contain_text("等待部门报到")
    expect(operator.locator("#detail ol.trail li").first).to_contain_text("张伟")
    expect(operator.locator('[data-counter="awaiting_acknowledgement"] .n')).to_have_text("1")

    desk = open_console(new_page, base, who=MARKET_DESK, width=1366, height=768)
    expect(desk.locator("#case-table tbody tr.case")).to_have_count(1)  # only what was escalated to them
    open_case(desk, case.id)
    expect(desk.locator("#detail .actions button")).to_have_count(1)  # 报到, nothing an operator does
    decide(desk, "acknowledge", {"note": "执法队 22:40 到场", "responsible": "王科长 13900000000"})
    expect(desk.locator("#detail ol.trail li").first).to_contain_text("刘科员")
    expect(desk.locator("#detail .actions button")).to_have_count(0)

    # the operator's console hears of it without a reload
    expect(escalations).to_contain_text("已报到", timeout=10_000)
    expect(escalations).to_contain_text("刘科员")
    expect(operator.locator('[data-counter="awaiting_acknowledgement"] .n')).to_have_text("0", timeout=10_000)
    assert operator.errors == [] and desk.errors == []  # type: ignore[attr-defined]


def test_an_escalation_nobody_acknowledges_goes_a_tier_up(
    harness: Harness, serve_api, new_page, console_operator
) -> None:  # type: ignore[no-untyped-def]
    harness.raise_event("cam-factory-a", hazard_type="illegal_workshop", severity="major", zone_id="floor")
    case = case_of(harness, "cam-factory-a")
    page = open_console(new_page, serve_api(str(harness.engine.url), clock=harness.clock))
    open_case(page, case.id)
    decide(page, "escalate", {"department": "market_supervision", "message": "请核查"})
    escalations = page.locator('#detail [data-section="escalations"]')
    expect(escalations.locator("li")).to_have_count(1)
    ack = page.locator('#detail .timers li.running[data-phase="acknowledge"]')
    expect(ack).to_contain_text("部门报到")

    harness.clock.advance(1801)  # 30 min and a second: the gateway's timer fires
    SlaTicker(harness.sessions, harness.ctx).tick()
    expect(escalations).to_contain_text("上级督办", timeout=10_000)
    expect(escalations).to_contain_text("滨湖区综治中心 District Command Centre")
    expect(escalations).to_contain_text("部门未报到")  # why, in words
    expect(page.locator('#detail .timers li.ended[data-phase="acknowledge"] .outcome')).to_have_text("超时")
    assert [e for e in page.errors if "401" not in e] == []  # type: ignore[attr-defined]  # the token ran out


def test_confirm_merge_verify_and_reopen(harness: Harness, serve_api, new_page, console_operator) -> None:  # type: ignore[no-untyped-def]
    harness.raise_event("cam-factory-a", hazard_type="fire_smoke", severity="major", zone_id="floor")
    harness.clock.advance(20)
    harness.raise_event("smk-gongye-dorm-3", hazard_type="fire_smoke", severity="critical")
    target, duplicate = case_of(harness, "cam-factory-a"), case_of(harness, "smk-gongye-dorm-3")
    page = open_console(new_page, serve_api(str(harness.engine.url), clock=harness.clock))

    open_case(page, target.id)
    decide(page, "confirm", {"reason": "摄像头画面可见明火"})
    expect(page.locator("#detail .detail-head .confirmed")).to_contain_text("张伟")
    expect(page.locator('#detail [data-action="confirm"]')).to_have_count(0)

    open_case(page, duplicate.id)
    decide(page, "merge", {"into": target.id, "reason": "同一起火情"})
    expect(page.locator("#detail")).to_have_attribute(
        "data-case-id", target.id
    )  # on to the case it went into
    expect(page.locator("#detail ol.trail li").first).to_contain_text("合并案件")
    expect(page.locator("#detail .sev").first).to_have_text("特急")  # the worse severity came along
    expect(page.locator(f'#case-table tr[data-case-id="{duplicate.id}"]')).to_have_count(0)

    with harness.sessions() as s:
        task = s.scalars(select(Task).where(Task.case_id == target.id)).one()
    act(harness, task, "accept")
    act(harness, task, "check_in")
    act(harness, task, "resolve", result="handled", note="灭火器扑灭，无人员受伤")
    expect(page.locator("#detail .badge[data-status]")).to_have_text("已处置", timeout=10_000)
    decide(page, "verify", {"note": "照片核对无误"}, pick="核查通过，结案")
    expect(page.locator("#detail .badge[data-status]")).to_have_text("已办结")
    decide(page, "reopen", {"reason": "居民反映仍有焦味"})
    # an emergency that comes back is offered to a worker again at once
    expect(page.locator("#detail .badge[data-status]")).to_have_text("已派单")
    reopened = page.locator("#detail ol.trail li").filter(has_text="已办结 → 已重开")
    expect(reopened).to_contain_text("居民反映仍有焦味")
    expect(reopened).to_contain_text("张伟")
    assert page.errors == []  # type: ignore[attr-defined]
