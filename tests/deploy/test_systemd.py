"""deploy/systemd: units for the gateway, the API, edge nodes (a template per node id), the schema
upgrade and a daily backup — checked with the real `systemd-analyze verify` (with ExecStart
pointing at the gridwatch of the built wheel, installed as docs/deploy.md says), their hardening
scored by `systemd-analyze security --offline`, and the dedicated user by `systemd-sysusers`."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.paths import REPO
from tests.support.wheel import WheelVenv

UNITS = REPO / "deploy" / "systemd"
INSTALLED = "/opt/gridwatch/venv/bin/gridwatch"  # where docs/deploy.md installs the wheel
SERVICES = (
    "gridwatch-gateway.service",
    "gridwatch-api.service",
    "gridwatch-edge@.service",
    "gridwatch-db-upgrade.service",
)
MAX_EXPOSURE = 2.5  # systemd's scale: 0 (locked down) .. 10 (exposed); "OK" is below 4


def _tool(name: str) -> str:
    path = shutil.which(name) or (f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").exists() else None)
    if path is None:
        pytest.fail(f"{name} is not installed: run scripts/setup.sh (systemd)")
    return path


def _units(wheel_venv: WheelVenv, into: Path) -> list[Path]:
    into.mkdir()
    out = []
    for unit in sorted([*UNITS.glob("*.service"), *UNITS.glob("*.timer")]):
        target = into / unit.name
        target.write_text(unit.read_text().replace(INSTALLED, str(wheel_venv.gridwatch)))
        out.append(target)
    instance = into / "gridwatch-edge@node-gongye-1.service"  # what `systemctl enable` makes of the template
    instance.write_text((into / "gridwatch-edge@.service").read_text())
    return [*out, instance]


def _section(text: str, name: str) -> dict[str, list[str]]:
    body = text.split(f"[{name}]", 1)[1].split("\n[", 1)[0]
    keys: dict[str, list[str]] = {}
    for line in body.splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            k, v = line.split("=", 1)
            keys.setdefault(k.strip(), []).append(v.strip())
    return keys


def test_systemd_analyze_verify_finds_nothing(wheel_venv: WheelVenv, tmp_path: Path) -> None:
    units = _units(wheel_venv, tmp_path / "units")
    done = subprocess.run(
        [_tool("systemd-analyze"), "verify", *map(str, units)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    # verify exits 0 on unknown keys and bad values too: any line about our units is a finding
    findings = [line for line in (done.stdout + done.stderr).splitlines() if "gridwatch" in line]
    assert done.returncode == 0 and not findings, "\n".join(findings) or done.stderr


def test_a_broken_unit_is_caught(wheel_venv: WheelVenv, tmp_path: Path) -> None:
    """The check above can fail: a misspelt key and a missing program are reported."""
    units = _units(wheel_venv, tmp_path / "units")
    gateway = next(u for u in units if u.name == "gridwatch-gateway.service")
    gateway.write_text(
        gateway.read_text()
        .replace("Restart=always", "Restrt=always")
        .replace(str(wheel_venv.gridwatch), "/nowhere/gridwatch")
    )
    done = subprocess.run(
        [_tool("systemd-analyze"), "verify", str(gateway)], capture_output=True, text=True, check=False
    )
    assert "Unknown key 'Restrt'" in done.stderr and "/nowhere/gridwatch" in done.stderr


@pytest.mark.parametrize("name", SERVICES)
def test_services_restart_run_as_gridwatch_and_are_hardened(
    name: str, wheel_venv: WheelVenv, tmp_path: Path
) -> None:
    text = (UNITS / name).read_text()
    service = _section(text, "Service")
    assert service["User"] == ["gridwatch"] and service["Group"] == ["gridwatch"]
    if name != "gridwatch-db-upgrade.service":
        assert service["Restart"] == ["always"] and service["RestartSec"]
    for key in (
        "NoNewPrivileges",
        "ProtectSystem",
        "ProtectHome",
        "PrivateTmp",
        "CapabilityBoundingSet",
        "SystemCallFilter",
    ):
        assert key in service, f"{name}: no {key}"
    units = _units(wheel_venv, tmp_path / "units")
    unit = next(u for u in units if u.name == (name.replace("@.", "@node-gongye-1.")))
    scored = subprocess.run(
        [_tool("systemd-analyze"), "security", "--offline=true", str(unit)],
        capture_output=True,
        text=True,
        check=False,
    )
    level = re.search(r"Overall exposure level for \S+: ([\d.]+)", scored.stdout)
    assert level, scored.stdout[-2000:] + scored.stderr
    assert float(level.group(1)) <= MAX_EXPOSURE, scored.stdout[-3000:]


def test_gateway_and_api_wait_for_the_one_schema_upgrade() -> None:
    upgrade = _section((UNITS / "gridwatch-db-upgrade.service").read_text(), "Service")
    assert upgrade["Type"] == ["oneshot"] and upgrade["ExecStart"][0].endswith(
        "gridwatch db upgrade --timeout 600"
    )
    for name in ("gridwatch-gateway.service", "gridwatch-api.service"):
        text = (UNITS / name).read_text()
        unit, service = _section(text, "Unit"), _section(text, "Service")
        assert "gridwatch-db-upgrade.service" in " ".join(
            unit["Requires"]
        ) and "gridwatch-db-upgrade.service" in " ".join(unit["After"])
        assert "GRIDWATCH_DB_SCHEMA=wait" in service["Environment"]


def test_the_dedicated_user_is_created_by_sysusers() -> None:
    done = subprocess.run(
        [_tool("systemd-sysusers"), "--dry-run", str(UNITS / "gridwatch.sysusers.conf")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    said = done.stdout + done.stderr
    assert "Creating user 'gridwatch'" in said or "gridwatch" in Path("/etc/passwd").read_text()
