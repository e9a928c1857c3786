"""``gridwatch config check`` on big and oversized sites: time and peak memory per scenario.

Each scenario runs in its own Python process (peak RSS is per process; ``rss_base_mb`` is the
same process after imports, before the check):

- ``demo``: the demo site (median of 5 checks);
- ``refuse_50mb``: the demo site with a 50 MB workers.yaml of real YAML (issue 11: 386 s and
  4.6 GB before it said OK), refused by the size cap;
- ``largest_accepted``: a workers.yaml of real, valid workers just under the 4 MB cap, the
  slowest file a site may hold by default;
- ``district``: a synthetic district of 3,600 grids in 36 communities, a worker per grid
  (the overlap check on an STRtree instead of every pair);
- with ``--before``: ``largest_accepted`` and ``district`` again through the loader as it was
  before issue 11 (git ``852f7fa``), in the same run.

Prints one JSON line. Usage: ``.venv/bin/python bench/site_check.py [--before]``
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "device_configs" / "demo_site"
BEFORE_COMMIT = "852f7fa"  # the loader before the split and the limits


def rss_mb() -> float:
    """Peak resident memory of this process (VmHWM: unlike ru_maxrss, not inherited over exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ---------------------------------------------------------------- sites
def workers_yaml(path: Path, size: int) -> int:
    """The demo's workers, then copies of them with new ids, until just under ``size`` bytes;
    returns how many workers."""
    rows = yaml.safe_load((DEMO / "workers.yaml").read_text(encoding="utf-8"))["workers"]
    lines, total, n = ["workers:"], 9, 0
    while True:
        row = rows[n % len(rows)]
        ident = row["id"] if n < len(rows) else f"w-copy-{n}"
        line = "  - " + json.dumps({**row, "id": ident}, ensure_ascii=False)
        if total + len(line.encode()) + 1 >= size:
            break
        lines.append(line)
        total += len(line.encode()) + 1
        n += 1
    path.write_text("\n".join(lines), encoding="utf-8")
    return n


def district_site(root: Path, side: int = 60) -> None:
    """``side`` x ``side`` square grids over the demo town (so its devices stand in some grid)."""
    shutil.copytree(DEMO, root)
    (root / "patrols.yaml").unlink()
    lon0, lat0, step = 120.25, 31.46, 0.08 / side

    def square(x0: float, y0: float, w: float, h: float) -> dict:
        ring = [[x0, y0], [x0 + w, y0], [x0 + w, y0 + h], [x0, y0 + h], [x0, y0]]
        return {"type": "Polygon", "coordinates": [ring]}

    def feature(props: dict, geometry: dict) -> dict:
        return {"type": "Feature", "properties": props, "geometry": geometry}

    whole = square(lon0, lat0, step * side, step * side)
    features = [
        feature({"id": "d-bench", "name": "区", "level": "district"}, whole),
        feature({"id": "s-bench", "name": "街道", "level": "street", "parent": "d-bench"}, whole),
    ]
    block = side // 6
    for cx in range(6):
        for cy in range(6):
            c = f"c-{cx}-{cy}"
            geom = square(lon0 + cx * block * step, lat0 + cy * block * step, block * step, block * step)
            features.append(feature({"id": c, "name": c, "level": "community", "parent": "s-bench"}, geom))
            for gx in range(block):
                for gy in range(block):
                    x, y = cx * block + gx, cy * block + gy
                    geom = square(lon0 + x * step, lat0 + y * step, step, step)
                    props = {"id": f"g-{x}-{y}", "name": f"网格{x}-{y}", "level": "grid", "parent": c}
                    features.append(feature({**props, "leader": f"w-{x * side + y}"}, geom))
    doc = {"type": "FeatureCollection", "features": features}
    (root / "grids.geojson").write_text(json.dumps(doc), encoding="utf-8")
    grids = [f"g-{x}-{y}" for x in range(side) for y in range(side)]
    rows = yaml.safe_load((DEMO / "workers.yaml").read_text(encoding="utf-8"))["workers"]
    workers = [{**rows[i % len(rows)], "id": f"w-{i}", "home_grid": g} for i, g in enumerate(grids)]
    (root / "workers.yaml").write_text(
        yaml.safe_dump({"workers": workers}, allow_unicode=True), encoding="utf-8"
    )
    escalation = yaml.safe_load((DEMO / "escalation.yaml").read_text(encoding="utf-8"))
    escalation.pop("communities", None)
    (root / "escalation.yaml").write_text(yaml.safe_dump(escalation, allow_unicode=True), encoding="utf-8")


# ---------------------------------------------------------------- one scenario, in its own process
def child(site: str, before: bool, repeat: int) -> None:
    if before:
        old = Path(tempfile.mkdtemp()) / "before_loader.py"
        old.write_text(
            subprocess.run(
                ["git", "-C", str(REPO), "show", f"{BEFORE_COMMIT}:contracts/site/loader.py"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
        sys.path.insert(0, str(old.parent))
        from before_loader import check_site  # type: ignore[import-not-found]
    else:
        from contracts.site import check_site
    base = rss_mb()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        loaded, problems = check_site(site)
        times.append(time.perf_counter() - t0)
    print(
        json.dumps(
            {
                "s": round(statistics.median(times), 4),
                "loaded": loaded is not None,
                "problems": len(problems),
                "first": str(problems[0]).split("\n")[0][:120] if problems else "",
                "rss_base_mb": round(base, 1),
                "rss_peak_mb": round(rss_mb(), 1),
            }
        )
    )


def run(site: Path, before: bool = False, repeat: int = 1) -> dict:
    cmd = [sys.executable, __file__, "--child", str(site), "--repeat", str(repeat)]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run([*cmd, *(["--before"] if before else [])], capture_output=True, text=True, env=env)
    if proc.returncode:
        raise SystemExit(proc.stderr)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--before", action="store_true", help="also run the pre-issue-11 loader (slow)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--repeat", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.before, args.repeat)
        return
    out: dict = {"load_avg_1m": round(os.getloadavg()[0], 2)}
    with tempfile.TemporaryDirectory(prefix="gw-site-bench-") as tmp:
        out["demo"] = run(DEMO, repeat=5)

        big = Path(tmp) / "refuse"
        shutil.copytree(DEMO, big)
        workers_yaml(big / "workers.yaml", 50_000_000)
        out["refuse_50mb"] = run(big)

        largest = Path(tmp) / "largest"
        shutil.copytree(DEMO, largest)
        out["largest_accepted_workers"] = workers_yaml(largest / "workers.yaml", 4_000_000)
        out["largest_accepted"] = run(largest)
        if args.before:
            out["largest_accepted_before"] = run(largest, before=True)

        district = Path(tmp) / "district"
        district_site(district)
        out["district"] = run(district)
        if args.before:
            out["district_before"] = run(district, before=True)
    print(json.dumps(out, ensure_ascii=False))


if __name__ == "__main__":
    main()
