"""What the demo prints has to work when pasted into a shell, minutes later.

- The demo runs on a copy of the demo site whose offers wait ``DEMO_ACCEPT_S`` for the
  worker (the site file's 60 s is right for a real smoke alarm; a reader who pastes the
  printed ``accept`` a few minutes later would get "409 task … is expired").
- ``gridwatch`` is usually not on PATH (it lives in the checkout's ``.venv``): commands
  name the executable that runs this demo, relative to the current directory when it is
  below it.
- URLs are percent-encoded: curl treats ``[]`` and ``{}`` as globs unless given ``-g``.
"""

from __future__ import annotations

import shlex
import shutil
import sys
from pathlib import Path
from urllib.parse import quote, urlencode

import yaml

DEMO_ACCEPT_S = 1800  # 30 min to paste the printed accept command


def demo_site_copy(site_dir: Path, workdir: Path) -> Path:
    """A copy of ``site_dir`` in ``workdir`` whose task offers wait ``DEMO_ACCEPT_S``."""
    dst = workdir / "site"
    shutil.copytree(site_dir, dst)
    path = dst / "escalation.yaml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    for policy in [doc.get("default") or {}, *(doc.get("hazards") or {}).values()]:
        sla = policy.setdefault("sla", {})
        if (sla.get("worker_accept") or 0) < DEMO_ACCEPT_S:
            sla["worker_accept"] = DEMO_ACCEPT_S
    header = (
        f"# The demo's copy of {site_dir / 'escalation.yaml'}: offers wait {DEMO_ACCEPT_S} s for the\n"
        "# worker so that the printed accept command still works when pasted later.\n"
    )
    path.write_text(header + yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return dst


def gridwatch_command() -> str:
    """How to run ``gridwatch`` from the current directory, as a user would type it."""
    exe = Path(sys.executable).absolute().with_name("gridwatch")  # the venv's script, not resolved
    if not exe.is_file():
        return f"{shlex.quote(sys.executable)} -m gridwatch.cli"
    on_path = shutil.which("gridwatch")
    if on_path and Path(on_path).absolute() == exe:
        return "gridwatch"
    try:
        rel = exe.relative_to(Path.cwd())
    except ValueError:
        return shlex.quote(str(exe))
    return shlex.quote(str(rel) if len(rel.parts) > 1 else f"./{rel}")


def url(base: str, path: str, **query: str) -> str:
    """``base + path`` with the query percent-encoded (no curl globbing needed)."""
    return f"{base}{path}" + (f"?{urlencode(query, quote_via=quote)}" if query else "")


def telemetry_curl(victoria_url: str) -> str:
    """The sensors' series in VictoriaMetrics, as a curl command."""
    query = url(victoria_url, "/api/v1/export", **{"match[]": '{__name__=~"sensor_.*"}'})
    return f"curl -s {shlex.quote(query)}"


def raise_alarm_command(
    device_id: str, mqtt_port: int, site_dir: Path, login: tuple[str, str] | None = None
) -> str:
    """``gridwatch edge simulate-alarm`` for one of the site's sensors, runnable from here; it
    publishes as the sensor's node, so ``login`` is the node's (username, password), given in the
    environment variables rather than as options."""
    env = ""
    if login is not None:
        user, password = (shlex.quote(x) for x in login)
        env = f"GRIDWATCH_MQTT_USERNAME={user} GRIDWATCH_MQTT_PASSWORD={password} "
    return (
        f"{env}{gridwatch_command()} edge simulate-alarm {device_id} --mqtt-port {mqtt_port} "
        f"--site {shlex.quote(str(site_dir))}"
    )
