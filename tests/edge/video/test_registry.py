"""The model registry, sha256 checks and `gridwatch models pull/verify`, against the
real weights in ../shared/models and a real HTTP server for downloads."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from typer.testing import CliRunner

from edge.video.detector.engine import DetectorService
from edge.video.detector.registry import (
    ModelError,
    Status,
    check,
    load_registry,
    pull,
    resolve,
    sha256_of,
)
from gridwatch.cli import app

Served = tuple[str, Path, list[str]]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    """A real HTTP server over a directory; yields (base url, directory, request paths)."""
    root = tmp_path / "www"
    root.mkdir()
    requests: list[str] = []

    class Handler(SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            requests.append(self.path)

    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", root, requests
    server.shutdown()
    server.server_close()


def corrupt_copy(src: Path, dst: Path) -> Path:
    dst.parent.mkdir(parents=True, exist_ok=True)
    data = bytearray(src.read_bytes())
    data[len(data) // 2] ^= 0xFF
    dst.write_bytes(bytes(data))
    return dst


def test_the_registry_describes_each_model_completely() -> None:
    reg = load_registry()
    yolox = reg.get("yolox_nano")
    assert yolox.family.value == "yolox" and yolox.input == (416, 416)
    assert yolox.classes[0] == "person" and yolox.classes[59] == "bed" and len(yolox.classes) == 80
    assert yolox.licence == "Apache-2.0" and yolox.url and yolox.url.startswith("https://")
    fastest = reg.get("fastestdet")
    assert fastest.family.value == "fastestdet" and fastest.input == (352, 352)
    assert fastest.licence == "BSD-3-Clause"
    release = reg.get("yolox_nano_release")  # the official YOLOX release file for users with internet
    assert "Megvii-BaseDetection/YOLOX/releases" in (release.url or "")
    with pytest.raises(ModelError, match="known models: fastestdet, yolox_nano"):
        reg.get("yolov99")


def test_the_shared_weights_verify(shared_models: Path) -> None:
    reg = load_registry()
    for name in ("yolox_nano", "fastestdet"):
        found = check(reg.get(name), [shared_models])
        assert found.status is Status.OK, found.detail
        assert resolve(reg.get(name), [Path("/nonexistent"), shared_models]) == found.path


def test_a_wrong_hash_is_refused_and_the_node_says_why(tmp_path: Path, shared_models: Path) -> None:
    spec = load_registry().get("fastestdet")
    corrupt_copy(shared_models / spec.file, tmp_path / spec.file)
    found = check(spec, [tmp_path])
    assert found.status is Status.WRONG_HASH
    assert spec.sha256 in found.detail and "gridwatch models pull fastestdet" in found.detail
    with pytest.raises(ModelError, match="sha256"):
        resolve(spec, [tmp_path])
    service = DetectorService.from_settings("fastestdet", [tmp_path], threads=1)
    health = service.health()
    assert not service.available and not health.loaded and "sha256" in health.reason


def test_a_missing_model_leaves_the_detector_off_with_a_reason(tmp_path: Path) -> None:
    service = DetectorService.from_settings("yolox_nano", [tmp_path], threads=1)
    health = service.health()
    assert not health.loaded
    assert "not found" in health.reason and "GRIDWATCH_MODEL_PATH" in health.reason
    with pytest.raises(RuntimeError, match="detector unavailable"):
        service.submit("cam-a", [], 0.3)


def test_pull_downloads_and_checks_the_hash(tmp_path: Path, shared_models: Path, served: Served) -> None:
    base, root, requests = served
    spec = load_registry().get("fastestdet")
    shutil.copy(shared_models / spec.file, root / "good.onnx")
    corrupt_copy(shared_models / spec.file, root / "tampered.onnx")
    dest = tmp_path / "models"

    with pytest.raises(ModelError, match="discarded"):
        pull(spec, dest, url=f"{base}/tampered.onnx")
    assert not (dest / spec.file).exists()
    assert list((dest / spec.file).parent.iterdir()) == [], "no partial file is left behind"

    with pytest.raises(ModelError, match="cannot download"):
        pull(spec, dest, url=f"{base}/missing.onnx")

    path = pull(spec, dest, url=f"{base}/good.onnx")
    assert path == dest / spec.file and sha256_of(path) == spec.sha256
    before = len(requests)
    assert pull(spec, dest, url=f"{base}/tampered.onnx") == path, "a good file is kept"
    assert len(requests) == before, "and not even downloaded again"


def test_models_cli_verify_and_pull(tmp_path: Path, shared_models: Path, served: Served) -> None:
    runner = CliRunner()
    ok = runner.invoke(app, ["models", "verify", "--model-path", str(shared_models)])
    assert ok.exit_code == 0, ok.output
    assert "OK yolox_nano" in ok.output and "OK fastestdet" in ok.output

    spec = load_registry().get("fastestdet")
    corrupt_copy(shared_models / spec.file, tmp_path / "bad" / spec.file)
    bad = runner.invoke(app, ["models", "verify", "--model-path", str(tmp_path / "bad")])
    assert bad.exit_code == 1 and "FAIL fastestdet" in bad.output

    missing = runner.invoke(app, ["models", "verify", "yolox_nano", "--model-path", str(tmp_path / "bad")])
    assert missing.exit_code == 1 and "not found" in missing.output

    base, root, _ = served
    shutil.copy(shared_models / spec.file, root / "FastestDet.onnx")
    dest = tmp_path / "pulled"
    got = runner.invoke(
        app, ["models", "pull", "fastestdet", "--url", f"{base}/FastestDet.onnx", "--dest", str(dest)]
    )
    assert got.exit_code == 0, got.output
    assert sha256_of(dest / spec.file) == spec.sha256
    unknown = runner.invoke(app, ["models", "pull", "nope", "--dest", str(dest)])
    assert unknown.exit_code == 1 and "no model 'nope'" in unknown.output


def test_a_bad_registry_entry_names_the_field(tmp_path: Path) -> None:
    bad = tmp_path / "registry.yaml"
    bad.write_text(
        "models:\n  tiny:\n    file: tiny.onnx\n    sha256: abc\n    input: [320, 320]\n"
        "    family: yolox\n    classes: [person]\n    licence: MIT\n    source: here\n"
    )
    with pytest.raises(ModelError, match=r"models\.tiny: sha256"):
        load_registry(bad)
    bad.write_text("models: [1, 2]\n")
    with pytest.raises(ModelError, match="'models:' mapping"):
        load_registry(bad)
