"""`gridwatch config check` over a corpus of broken sites: a problem list naming file, key and fix,
never a traceback, each within a few seconds (the per-case timeout)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from contracts.site import Problem, SiteConfigError, check_site, load_node_config
from contracts.site.reading import ENV_MAX_FILE_MB
from tests.support.paths import DEMO_SITE
from tests.support.sites.broken import CORPUS, GRIDS, NODE, WORKERS, Breakage, wrong_type_cases
from tests.support.sites.files import assert_well_formed

CASES = CORPUS + wrong_type_cases()
REPO = DEMO_SITE.parents[1]


def names(problem: Problem, where: str) -> bool:
    """The problem is at ``where``, or at a key above it (the mapping holding it) or below it."""
    at = problem.where
    return (
        at == where
        or where.startswith(at)
        or at.startswith(where)
        or (at == "(top level)" and "." not in where)
    )


@pytest.fixture
def broken(tmp_path: Path) -> Path:
    site = tmp_path / "site"
    shutil.copytree(DEMO_SITE, site, symlinks=True)
    return site


@pytest.mark.timeout(10)  # "within a few seconds", with room for a loaded machine
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_a_broken_site_gets_a_problem_list_not_a_traceback(
    case: Breakage, broken: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ENV_MAX_FILE_MB, raising=False)
    case.breaks(broken)
    site, problems = check_site(broken)
    assert site is None, "a broken site must not load"
    assert_well_formed(problems)
    hits = [p for p in problems if p.file == case.file and case.words in p.message and p.is_error]
    assert hits, f"expected a problem in {case.file} saying {case.words!r}, got:\n" + "\n".join(
        map(str, problems)
    )
    if case.where is not None:
        assert any(names(p, case.where) for p in hits), [str(p) for p in hits]
    if case.hint:
        assert any(case.hint in p.hint for p in hits), [str(p) for p in hits]


NODE_ALONE = [c for c in CASES if c.file == NODE and c.id != "duplicate-device"]  # that one takes two nodes


@pytest.mark.timeout(10)
@pytest.mark.parametrize("case", NODE_ALONE, ids=[c.id for c in NODE_ALONE])
def test_an_edge_node_reading_its_broken_file_gets_the_same_problems(case: Breakage, broken: Path) -> None:
    case.breaks(broken)
    with pytest.raises(SiteConfigError) as refused:
        load_node_config(broken / NODE)
    problems = refused.value.problems
    assert_well_formed(problems)
    name = Path(NODE).name  # the node reads its own file: named without the site's nodes/
    assert any(p.file == name and case.words in p.message for p in problems), [str(p) for p in problems]


def test_the_corpus_covers_every_family(broken: Path) -> None:
    """Guard against the corpus shrinking to easy cases: every file of the site is broken somewhere."""
    files = {c.file for c in CASES}
    for path in DEMO_SITE.rglob("*"):
        if path.is_file():
            assert str(path.relative_to(DEMO_SITE)) in files
    assert len(wrong_type_cases()) >= 30


# ---------------------------------------------------------------- the real command
CLI_CASES = [
    "features-is-a-number",
    "deep-json",
    "symlink-loop",
    "workers-50-mb",
    "grids-swapped",
    "fifo-for-escalation",
]


@pytest.fixture
def elsewhere() -> Iterator[Path]:
    """A working directory outside the repository."""
    with tempfile.TemporaryDirectory(prefix="gw-elsewhere-") as d:
        yield Path(d)


def gridwatch(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("GRIDWATCH_")}
    return subprocess.run(
        [sys.executable, "-m", "gridwatch.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**base, **(env or {})},
        timeout=60,
        check=False,
    )


@pytest.mark.timeout(90)
@pytest.mark.parametrize("case_id", CLI_CASES)
def test_config_check_command_lists_problems_from_another_directory(
    case_id: str, broken: Path, elsewhere: Path
) -> None:
    case = next(c for c in CASES if c.id == case_id)
    case.breaks(broken)
    proc = gridwatch("config", "check", str(broken), cwd=elsewhere)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert "problem(s) in" in proc.stderr
    assert f"{case.file} · " in proc.stderr and case.words in proc.stderr
    assert "hint: " in proc.stderr


@pytest.mark.timeout(90)
def test_config_check_from_another_directory_finds_or_explains_the_site(elsewhere: Path) -> None:
    ok = gridwatch("config", "check", str(DEMO_SITE), cwd=elsewhere)
    assert ok.returncode == 0, ok.stderr
    assert "OK site 'qingshan'" in ok.stdout

    # no argument: the demo site of the GridWatch checkout that runs, and it says which directory
    default = gridwatch("config", "check", cwd=elsewhere)
    assert default.returncode == 0, default.stderr
    assert f"OK site 'qingshan' ({DEMO_SITE})" in default.stdout

    # GRIDWATCH_SITE_DIR, like the other commands
    env = gridwatch("config", "check", cwd=elsewhere, env={"GRIDWATCH_SITE_DIR": str(DEMO_SITE)})
    assert env.returncode == 0 and f"({DEMO_SITE})" in env.stdout, env.stderr

    # a relative path from the wrong directory: what was looked for, and where the site is
    lost = gridwatch("config", "check", "device_configs/demo_site", cwd=elsewhere)
    assert lost.returncode == 1
    assert "not a directory" not in lost.stderr
    assert f"no such directory (looked for {elsewhere / 'device_configs/demo_site'})" in lost.stderr
    assert f"did you mean {DEMO_SITE}?" in lost.stderr
    assert "Traceback" not in lost.stderr


@pytest.mark.timeout(90)
def test_the_size_limit_is_configurable_and_says_how(broken: Path, elsewhere: Path) -> None:
    workers = (broken / WORKERS).stat().st_size
    small = f"{workers / 2 / 1_000_000:.4f}"
    refused = gridwatch("config", "check", str(broken), cwd=elsewhere, env={ENV_MAX_FILE_MB: small})
    assert refused.returncode == 1
    assert (
        f"{WORKERS} · (file): file is" in refused.stderr
        and f"limited to {float(small):g} MB" in refused.stderr
    )
    assert f"{ENV_MAX_FILE_MB}=" in refused.stderr and "--max-file-mb" in refused.stderr

    allowed = gridwatch(
        "config", "check", str(broken), "--max-file-mb", "50", cwd=elsewhere, env={ENV_MAX_FILE_MB: small}
    )
    assert allowed.returncode == 0, allowed.stderr

    wrong = gridwatch("config", "check", str(broken), cwd=elsewhere, env={ENV_MAX_FILE_MB: "lots"})
    assert wrong.returncode == 1
    assert f"environment · {ENV_MAX_FILE_MB}: 'lots' is not a size in MB" in wrong.stderr


# ---------------------------------------------------------------- what is not broken
def test_a_utf8_bom_is_still_utf8(broken: Path) -> None:
    for rel in ("workers.yaml", GRIDS, "nodes/node-gongye-1.yaml"):
        path = broken / rel
        path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    site, problems = check_site(broken)
    assert problems == [] and site is not None
    assert len(site.workers) == len(check_site(DEMO_SITE)[0].workers)  # type: ignore[union-attr]


def test_editor_files_in_nodes_are_ignored_and_yml_is_named(broken: Path) -> None:
    nodes = broken / "nodes"
    (nodes / ".node-gongye-1.yaml.swp").write_bytes(b"\x00binary swap file")
    (nodes / ".#node-gongye-1.yaml").symlink_to("root@host.1234:1700000000")  # emacs lock file
    shutil.copy(nodes / "node-gongye-1.yaml", nodes / "node-new.yml")
    site, errors = check_site(broken)
    assert errors == [] and site is not None
    _, everything = check_site(broken, warnings=True)
    yml = [p for p in everything if p.file == "nodes/node-new.yml"]
    assert len(yml) == 1 and not yml[0].is_error and "rename it to node-new.yaml" in yml[0].hint


def test_an_unreadable_file_says_permission_denied() -> None:
    site = Path(tempfile.mkdtemp(prefix="gw-perm-"))  # not under pytest's 0700 tmp: another user must get in
    try:
        shutil.copytree(DEMO_SITE, site, dirs_exist_ok=True)
        for d in (site, *[p for p in site.rglob("*") if p.is_dir()]):
            d.chmod(0o755)
        (site / WORKERS).chmod(0o000)
        root = os.geteuid() == 0
        if root:  # root reads anything: look as an ordinary user (this process, for the one call)
            os.seteuid(65534)
        try:
            problems = check_site(site)[1]
        finally:
            if root:
                os.seteuid(0)
        [p] = [p for p in problems if p.file == WORKERS]
        assert (p.where, p.message) == ("(file)", "cannot be read: permission denied")
        assert f"chmod a+r {site / WORKERS}" in p.hint
    finally:
        shutil.rmtree(site, ignore_errors=True)
