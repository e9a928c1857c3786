"""API tokens in the site configuration: access.yaml and GRIDWATCH_API_TOKENS are checked like the rest."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError
from typer.testing import CliRunner

from cloud_api.settings import ApiSettings
from contracts.site import check_site
from contracts.site.access import ENV_VAR, hash_token
from gridwatch.cli import app

A = hash_token("token-a")
B = hash_token("token-b")


def write_access(site: Path, data: object) -> None:
    (site / "access.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")


def test_a_good_access_file_loads(site_copy: Path) -> None:
    write_access(
        site_copy, {"operators": [{"id": "op-li", "sha256": A}], "workers": [{"id": "w-ma-li", "sha256": B}]}
    )
    site, problems = check_site(site_copy)
    assert problems == [] and site is not None
    assert [e.id for e in site.access.operators] == ["op-li"] and site.access.workers[0].sha256 == B


def test_access_file_problems_name_file_key_and_fix(site_copy: Path) -> None:
    write_access(
        site_copy,
        {
            "operators": [{"id": "op-li", "sha256": A}, {"id": "op-wang", "sha256": "0f" * 8}],
            "workers": [{"id": "w-ghost", "sha256": B}, {"id": "w-ma-li", "sha256": A}],
        },
    )
    site, problems = check_site(site_copy)
    assert site is None
    assert {p.file for p in problems} == {"access.yaml"}
    texts = [f"{p.where}: {p.message} | {p.hint}" for p in problems]
    assert any("operators[op-wang].sha256" in t and "should match pattern" in t for t in texts), texts

    # the shape is wrong in one entry: fix it, then the cross-checks speak
    write_access(
        site_copy,
        {
            "operators": [{"id": "op-li", "sha256": A}],
            "workers": [{"id": "w-ghost", "sha256": B}, {"id": "w-ma-li", "sha256": A}],
        },
    )
    _, problems = check_site(site_copy)
    by_where = {p.where: p for p in problems}
    ghost = by_where["workers[w-ghost]"]
    assert ghost.message == "unknown worker 'w-ghost'" and "workers.yaml" in ghost.hint
    shared = by_where["workers[w-ma-li]"]
    assert "same token is also given to operator 'op-li'" in shared.message
    assert "gridwatch auth token" in shared.hint


def test_tokens_from_the_environment_are_validated_at_load(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValidationError) as err:
        ApiSettings(api_tokens=f"worker:w-ma-li:{A},worker:w-li-na:not-a-hash,boss:op-1:{B}")
    text = str(err.value)
    assert f"{ENV_VAR}[1]" in text and "64 lower-case hex" in text
    assert f"{ENV_VAR}[2]" in text and "unknown role 'boss'" in text
    assert "fix:" in text
    monkeypatch.setenv(ENV_VAR, f"operator:op-1:{A}")
    assert ApiSettings().api_tokens == f"operator:op-1:{A}"


def test_config_check_reports_environment_tokens(site_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_access(site_copy, {"operators": [{"id": "op-li", "sha256": A}]})
    monkeypatch.setenv(ENV_VAR, f"worker:w-ma-li:{B}")
    ok = CliRunner().invoke(app, ["config", "check", str(site_copy)])
    assert ok.exit_code == 0, ok.output
    assert f"API tokens: 1 operator(s) and 0 worker(s) in access.yaml, 1 in {ENV_VAR}" in ok.output

    monkeypatch.setenv(ENV_VAR, f"worker:w-nobody:{B},worker:w-ma-li:{A}")
    bad = CliRunner().invoke(app, ["config", "check", str(site_copy)])
    assert bad.exit_code == 1
    assert f"{ENV_VAR}[0]: unknown worker 'w-nobody'" in bad.output
    assert f"{ENV_VAR}[1]: the same token is also given to operator 'op-li'" in bad.output


def test_auth_token_prints_a_token_and_what_to_configure(demo_site) -> None:  # type: ignore[no-untyped-def]
    result = CliRunner().invoke(app, ["auth", "token", "worker", "w-ma-li", "--site", str(demo_site.root)])
    assert result.exit_code == 0, result.output
    token = re.search(r"^\s+(gwt_\S+)$", result.output, re.M)
    assert token is not None
    digest = hash_token(token.group(1))
    assert f"- {{id: w-ma-li, sha256: {digest}}}" in result.output
    assert f"worker:w-ma-li:{digest}" in result.output
    unknown = CliRunner().invoke(app, ["auth", "token", "worker", "w-nobody", "--site", str(demo_site.root)])
    assert unknown.exit_code == 2 and "no worker 'w-nobody'" in unknown.output
