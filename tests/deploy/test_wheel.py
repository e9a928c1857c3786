"""The built wheel, installed into a clean virtualenv outside the repository: it builds without
warnings about its metadata, ships what it needs (model registry, migrations, pages), and its
commands work from any directory."""

from __future__ import annotations

import os
import shutil
import subprocess
import zipfile
from pathlib import Path

from tests.support.paths import DEMO_SITE, REPO, SHARED
from tests.support.wheel import WheelVenv


def run(venv: WheelVenv, *args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("GRIDWATCH_", "VIRTUAL_ENV"))}
    return subprocess.run(
        [str(venv.gridwatch), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**clean, **env},
    )


def test_the_wheel_builds_without_licence_warnings_and_ships_its_data(wheel_venv: WheelVenv) -> None:
    log = wheel_venv.build_log
    assert "project.license" not in log and "License classifiers are deprecated" not in log, log[-3000:]
    assert "BuildBackendWarning" not in log and "SetuptoolsDeprecationWarning" not in log
    names = zipfile.ZipFile(wheel_venv.wheel).namelist()
    for needed in (
        "edge/video/detector/registry.yaml",
        "gateway/schema/migrations/env.py",
        "cloud_api/static/console/index.html",
        "gridwatch-0.1.0.dist-info/licenses/LICENSE",
    ):
        assert needed in names, needed
    metadata = zipfile.ZipFile(wheel_venv.wheel).read("gridwatch-0.1.0.dist-info/METADATA").decode()
    assert "License-Expression: Apache-2.0" in metadata


def test_commands_work_from_a_directory_outside_the_repository(wheel_venv: WheelVenv, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    work = tmp_path / "work"
    shutil.copytree(DEMO_SITE, work / "site")
    where = run(wheel_venv, "--help", cwd=work, HOME=str(home))
    assert where.returncode == 0 and "config" in where.stdout and "certs" in where.stdout
    imported = subprocess.run(
        [str(wheel_venv.python), "-c", "import gridwatch, edge; print(gridwatch.__file__, edge.__file__)"],
        cwd=work,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert (
        str(REPO) not in imported and str(wheel_venv.venv) in imported
    )  # the wheel's code, not the checkout's

    models = run(wheel_venv, "models", "list", cwd=work, HOME=str(home))
    assert models.returncode == 0, models.stderr
    assert "yolox_nano" in models.stdout and "missing" in models.stdout  # the registry ships with the wheel
    assert (
        str(home / ".local" / "share" / "gridwatch" / "models") in models.stdout
    )  # and says where it looked
    found = run(
        wheel_venv, "models", "list", cwd=work, HOME=str(home), GRIDWATCH_MODEL_PATH=str(SHARED / "models")
    )
    assert "yolox_nano yolox 416x416 Apache-2.0: ok" in found.stdout

    for site in ("site", str(work / "site")):
        checked = run(wheel_venv, "config", "check", site, cwd=work, HOME=str(home))
        assert checked.returncode == 0 and checked.stdout.startswith("OK site 'qingshan'"), (
            checked.stdout + checked.stderr
        )
    broken = work / "broken"
    shutil.copytree(DEMO_SITE, broken)
    (broken / "workers.yaml").write_text("workers: [")
    bad = run(wheel_venv, "config", "check", str(broken), cwd=work, HOME=str(home))
    assert bad.returncode == 1 and "workers.yaml" in bad.stderr

    db = f"sqlite:///{work / 'gw.db'}"
    assert (
        run(wheel_venv, "db", "upgrade", "--db", db, cwd=work, HOME=str(home)).returncode == 0
    )  # migrations ship too
    assert run(wheel_venv, "db", "status", "--db", db, cwd=work, HOME=str(home)).returncode == 0
    assert sorted(p.name for p in work.iterdir()) == [
        "broken",
        "gw.db",
        "site",
    ]  # nothing else was written here
