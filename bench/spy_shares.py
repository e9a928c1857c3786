"""Where a gateway's batch loop spends its time, from py-spy's raw samples: ONE JSON line.

    .venv/bin/python bench/spy_shares.py FILE [--top 25]

FILE is ``py-spy record -f raw`` output of a gateway process (``bench/ingest.py --spy FILE``). Only
the main thread's samples inside ``Gateway.step`` count (the stream, not start-up or idle); each
function's share is of those samples, counted once per sample however deep it recurs
(``inclusive``) and where the sample ended (``self``: C code called from it — pydantic-core's
validation, SQLite — is charged to the Python function that called it).
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path


def frame_name(frame: str) -> str:
    """``Pipeline.process (gateway/flows/ingest.py:312)`` -> ``gateway/flows/ingest.py:Pipeline.process``."""
    name, _, where = frame.partition(" (")
    return f"{where.split(':')[0]}:{name}" if where else name


def shares(path: Path, top: int) -> dict[str, object]:
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        if "MainThread" not in frames[0] or not any(f.startswith("Gateway.step ") for f in frames):
            continue
        n = int(count)
        total += n
        names = [frame_name(f) for f in frames[1:]]
        for name in set(names):
            inclusive[name] += n
        own[names[-1]] += n
    pct = lambda c: {k: round(100 * v / total, 1) for k, v in c.most_common(top)}  # noqa: E731
    return {"bench": "spy_shares", "samples": total, "inclusive_pct": pct(inclusive), "self_pct": pct(own)}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("file", type=Path)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    print(json.dumps(shares(args.file, args.top), ensure_ascii=False))


if __name__ == "__main__":
    main()
