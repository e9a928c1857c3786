"""A node restarted in the middle of an alarm goes on with the same episodes: its updates and
clears carry the ids the gateway already knows. Episodes live in the node's outbox database."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from contracts import DeviceFlag, HazardEvent, HazardType, Measurement, Unit, decode
from contracts.clock import ManualClock
from contracts.site.models import EdgeNodeConfig
from edge.outbox import Outbox
from edge.sensors import Observation, SensorService
from edge.settings import BrokerSettings
from tests.support.sensors import HERE, NODE, sensor

NOWHERE = BrokerSettings(host="127.0.0.1", port=9)  # the uplink is never started
KNOWN = frozenset({DeviceFlag.ALARM, DeviceFlag.TEST, DeviceFlag.WARMUP, DeviceFlag.FAULT, DeviceFlag.TAMPER})


class Run:
    """One life of the node's sensor side: its outbox file, its clock, its service."""

    def __init__(self, state: Path, clock: ManualClock) -> None:
        self.clock = clock
        self.outbox = Outbox(NODE, state / "outbox.sqlite3", NOWHERE, clock=clock)
        config = EdgeNodeConfig.model_validate(
            {"node": {"id": NODE, "location": HERE}, "sensors": [sensor()]}
        )
        self.service = SensorService(config, self.outbox, clock=clock, state=self.outbox.store)

    def gas(self, value: float, flags: frozenset[DeviceFlag] = frozenset()) -> None:
        self.clock.advance(2)
        m = Measurement(quantity="gas", value=value, unit=Unit.PERCENT_LEL)
        self.service.observe(Observation("s-1", self.clock.now(), (m,), flags, KNOWN), "test")

    def events(self) -> list[tuple[str, str, str]]:
        msgs = [decode(r.topic, r.payload) for r in self.outbox.store.pending(0, 10_000)]
        return [
            (m.hazard_type.value, m.state.value, m.episode_id) for m in msgs if isinstance(m, HazardEvent)
        ]

    def close(self) -> None:
        self.outbox.store.close()


def test_a_restarted_node_updates_and_clears_the_episodes_it_had_opened(tmp_path: Path) -> None:
    clock = ManualClock(datetime(2026, 3, 1, 3, 0, tzinfo=UTC))
    first = Run(tmp_path, clock)
    first.gas(30, frozenset({DeviceFlag.TAMPER}))
    first.gas(55, frozenset({DeviceFlag.TAMPER}))
    before = first.events()
    [(_, _, tamper), (_, _, leak), (_, update, leak_again)] = before
    assert update == "update" and leak_again == leak
    first.close()  # the process ends (the episodes were committed with the events)

    second = Run(tmp_path, clock)
    assert [h.state for h in second.service.health()] == ["alarm"]
    second.gas(52, frozenset({DeviceFlag.TAMPER}))  # still the same critical leak: nothing new to say
    assert second.events() == before
    second.gas(45, frozenset({DeviceFlag.TAMPER}))  # inside the restored critical level's band
    assert second.events() == before
    second.gas(10)  # leak over, tamper switch closed
    assert second.events()[3:] == [("tamper", "clear", tamper), ("gas_leak", "clear", leak)]
    second.close()

    third = Run(tmp_path, clock)  # nothing open any more: nothing is restored
    assert third.outbox.store.load_state("episodes:") == {}
    assert [h.state for h in third.service.health()] == ["ok"]
    third.gas(30)
    assert third.events()[-1][:2] == (HazardType.GAS_LEAK.value, "new")
    assert third.events()[-1][2] not in {leak, tamper}
    third.close()


def test_unreadable_or_stale_saved_episodes_do_not_stop_the_node(tmp_path: Path) -> None:
    clock = ManualClock(datetime(2026, 3, 1, 3, 0, tzinfo=UTC))
    first = Run(tmp_path, clock)
    first.outbox.store.save_state("episodes:s-1", "{not json")
    first.outbox.store.save_state("episodes:gone-sensor", '{"alarm": null, "maintenance": {}}')
    first.close()
    second = Run(tmp_path, clock)
    assert [h.state for h in second.service.health()] == ["ok"]
    assert second.outbox.store.load_state("episodes:gone-sensor") == {}
    second.gas(30)
    assert [e[:2] for e in second.events()] == [("gas_leak", "new")]
    second.close()
