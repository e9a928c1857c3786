"""What a start costs, in CPU seconds of the process (user + sys), this code against another checkout.

    .venv/bin/python bench/start.py [--code DIR] [--rounds 5]

- ``gateway``: a Python process that imports the gateway and builds it (site loaded, store
  checked at the newest schema, device registry synced), as ``gridwatch gateway`` does before it
  connects: what a restart after a crash costs before the first message is taken;
- ``config_check_3000_bad_workers``: ``gridwatch config check`` on the demo site with a
  workers.yaml of 3,000 invalid entries (tests/support/sites/broken.py's ``many_bad_workers``):
  the largest broken file the installer tests feed it.

Each figure is one fresh process (bytecode cached, as after the first start), rounds taking turns
between this code and ``--code`` (both on this checkout's virtualenv and the same store); the
median is reported. Prints one JSON line.
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
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "device_configs" / "demo_site"

GATEWAY_PROBE = """
from gateway.service import Gateway
from gateway.settings import GatewaySettings
Gateway(GatewaySettings(site_dir={site!r}, database_url={db!r}, gateway_id="gw-start"))
"""


def child_cpu(cmd: list[str], code: Path, env: dict[str, str]) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(cmd, cwd=code, env={**env, "PYTHONPATH": str(code)}, check=False, capture_output=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--code", type=Path, help="another checkout, measured in turns with this one")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIDWATCH_")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    work = Path(tempfile.mkdtemp(prefix="bench-start-"))
    try:
        db = f"sqlite:///{work / 'gridwatch.db'}"
        upgrade = [sys.executable, "-m", "gridwatch.cli", "db", "upgrade", "--db", db]
        subprocess.run(upgrade, cwd=REPO, env={**env, "PYTHONPATH": str(REPO)}, check=True)
        broken = work / "site"
        shutil.copytree(DEMO, broken, symlinks=True)
        bad = [
            {"id": f"w-{i}", "name": "", "role": "boss", "home_grid": "g-gongye-01", "duty": []}
            for i in range(3000)
        ]
        (broken / "workers.yaml").write_text(yaml.safe_dump({"workers": bad}), encoding="utf-8")
        codes = {"after": REPO} | ({"before": args.code.resolve()} if args.code else {})
        runs: dict[str, dict[str, list[float]]] = {
            name: {"gateway": [], "config_check": []} for name in codes
        }
        for _ in range(args.rounds + 1):  # the first round compiles each checkout's bytecode: not counted
            for name, code in codes.items():
                probe = GATEWAY_PROBE.format(site=str(DEMO), db=db)
                runs[name]["gateway"].append(child_cpu([sys.executable, "-c", probe], code, env))
                check = [sys.executable, "-m", "gridwatch.cli", "config", "check", str(broken)]
                runs[name]["config_check"].append(child_cpu(check, code, env))
        figures: dict[str, object] = {
            "bench": "start",
            "rounds": args.rounds,
            "load_before": os.getloadavg()[0],
        }
        for name, got in runs.items():
            figures[name] = {
                "gateway_cpu_s": round(statistics.median(got["gateway"][1:]), 3),
                "config_check_3000_bad_workers_cpu_s": round(statistics.median(got["config_check"][1:]), 3),
                "runs": {k: [round(x, 3) for x in v[1:]] for k, v in got.items()},
            }
        if args.code:
            for key in ("gateway_cpu_s", "config_check_3000_bad_workers_cpu_s"):
                figures[f"{key}_after_over_before"] = round(
                    figures["after"][key] / figures["before"][key],
                    3,  # type: ignore[index]
                )
        print(json.dumps(figures))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
