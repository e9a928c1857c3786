"""Decoder throughput (issue 11: strict contracts must keep the fast path fast): prints ONE JSON line.

    .venv/bin/python bench/decode.py [--messages 20000] [--repeat 5]

Decodes the same payloads the ingest bench sends (hazard events and sensor readings from a
node, as the edge encodes them) with ``contracts.decode`` — the gateway's decode step without
the broker and the store — and the same with 1 % hostile payloads mixed in (each refused with
its reason). Best of ``--repeat`` runs, in messages per second of one core. ``--compare DIR`` measures
another copy of the contracts too (e.g. ``git archive main contracts | tar -x -C DIR``), in the
same process, taking turns with this one, so that both see the same load.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path


def payloads(n: int, hostile_every: int = 0) -> list[tuple[str, bytes]]:
    from contracts import HazardEvent, Measurement, SensorReading, encode, topics

    out = []
    ts = datetime.now(UTC)
    for i in range(n):
        common = {"source": "node-gongye-1", "seq": i + 1, "ts": ts, "device_id": f"smk-{i % 40:03d}"}
        if i % 2 == 0:
            msg = HazardEvent(
                **common,
                hazard_type="smoke_alarm",
                severity="major",
                confidence=0.9,
                state="update",
                episode_id=f"ep-{i % 40}",
                location={"lon": 120.31, "lat": 31.49},
            )
            topic = topics.node_event("node-gongye-1")
        else:
            msg = SensorReading(**common, measurements=[Measurement(quantity="smoke_density", value=0.5)])
            topic = topics.node_reading("node-gongye-1")
        payload = encode(msg)
        if hostile_every and i % hostile_every == hostile_every // 2:
            doc = json.loads(payload)
            doc["seq"] = [2**63, True, "7"][i % 3]
            payload = json.dumps(doc).encode()
        out.append((topic, payload))
    return out


def rate(messages: list[tuple[str, bytes]], repeat: int) -> int:
    from contracts import ContractError, decode

    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        for topic, payload in messages:
            try:  # noqa: SIM105  (a with-block per message would be timed too)
                decode(topic, payload)
            except ContractError:
                pass
        best = min(best, time.perf_counter() - started)
    return round(len(messages) / best)


TREES: set[str] = set()


def use(tree: str) -> None:
    """Import the contracts of ``tree`` from now on (forgetting any imported before)."""
    for name in [m for m in sys.modules if m == "contracts" or m.startswith("contracts.")]:
        del sys.modules[name]
    sys.path[:] = [tree, *(p for p in sys.path if p not in TREES)]


def measure(tree: str, n: int, repeat: int) -> dict[str, int]:
    use(tree)
    clean, hostile = payloads(n), payloads(n, hostile_every=100)
    return {"clean_per_s": rate(clean, repeat), "hostile_1pct_per_s": rate(hostile, repeat)}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3, help="turns each tree takes (with --compare)")
    parser.add_argument("--compare", help="another contracts tree to measure in turns with this one")
    args = parser.parse_args()
    here = str(Path(__file__).resolve().parents[1])
    trees = {"this": here} | ({"compared": args.compare} if args.compare else {})
    TREES.update(trees.values())
    figures: dict[str, object] = {
        "bench": "decode",
        "load_before": os.getloadavg()[0],
        "messages": args.messages,
    }
    best: dict[str, dict[str, int]] = {}
    for _ in range(args.rounds if args.compare else 1):
        for label, tree in trees.items():
            got = measure(tree, args.messages, args.repeat)
            best[label] = {k: max(v, best.get(label, {}).get(k, 0)) for k, v in got.items()}
    for label, rates in best.items():
        ratio = round(rates["hostile_1pct_per_s"] / rates["clean_per_s"], 2)
        figures[label] = {**rates, "hostile_of_clean": ratio}
    if args.compare:
        figures["this_of_compared"] = round(best["this"]["clean_per_s"] / best["compared"]["clean_per_s"], 2)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
