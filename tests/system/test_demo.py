"""The README's demo command: a case assigned to a worker within 30 seconds."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import REPO


def test_demo_shows_a_dispatched_case_within_30_seconds(tmp_path: Path) -> None:
    started = time.monotonic()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "gridwatch.cli",
            "demo",
            "--exit-after",
            "2",
            "--api-port",
            "0",
            "--workdir",
            str(tmp_path / "demo"),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "is dispatched to w-ma-li in grid g-gongye-01" in proc.stdout
    assert "w-ma-li's phone received task" in proc.stdout
    assert "curl -s http://127.0.0.1:" in proc.stdout
    assert time.monotonic() - started < 60
