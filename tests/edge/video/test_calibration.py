"""Per-model calibration (models/registry.yaml), low light and the infrared path, and
`gridwatch eval` over the shared media: the truth comes from MEDIA.md's counts."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from edge.video.detector.registry import ModelError, Status, check, load_registry
from edge.video.lowlight import LowLightPolicy, is_greyscale
from edge.video.pipeline import CameraPipeline
from edge.video.settings import VideoSettings
from gridwatch.cli import app
from tests.support.video.drive import at, camera, full_zone, play
from tests.support.video.media import BEDS, FIRE, PEOPLE, clip, darkened, greyscale, photo

TRUTH = sum(PEOPLE.values())


def labels_for_photos(tmp_path: Path, variants: list[str] | None = None) -> Path:
    files: dict[str, dict[str, int]] = {
        f"photos/{name}": {"person": n, "bed": BEDS.get(name, 0)} for name, n in PEOPLE.items()
    }
    doc = {"files": files, "variants": variants or ["as_is"]}
    path = tmp_path / "labels.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return path


def run_eval(tmp_path: Path, media: Path, models: Path, labels: Path, model: str) -> dict:
    out = tmp_path / f"{model}.json"
    got = CliRunner().invoke(
        app,
        [
            "eval",
            str(media),
            "--labels",
            str(labels),
            "--model",
            model,
            "--model-path",
            str(models),
            "--json",
            str(out),
        ],
    )
    assert got.exit_code == 0, got.output
    return json.loads(out.read_text())


def test_fastestdet_counts_the_people_on_the_shared_photos_within_10_percent(
    tmp_path: Path, shared_media: Path, shared_models: Path
) -> None:
    """At the detector's old one-size 0.3 FastestDet reported about three times the people
    there are; at its own calibration the count is within 10 % of MEDIA.md's truth."""
    report = run_eval(tmp_path, shared_media, shared_models, labels_for_photos(tmp_path), "fastestdet")
    person = report["photos"]["as_is"]["person"]
    assert person["truth"] == TRUTH
    assert abs(person["found"] - TRUTH) <= 0.1 * TRUTH, person
    assert report["photos"]["as_is"]["bed"]["matched"] == 1


def test_yolox_recall_by_day_and_on_dark_and_infrared_copies(
    tmp_path: Path, shared_media: Path, shared_models: Path
) -> None:
    labels = labels_for_photos(tmp_path, ["as_is", "dark", "ir"])
    report = run_eval(tmp_path, shared_media, shared_models, labels, "yolox_nano")
    for v, least in (("as_is", 1.0), ("dark", 0.85), ("ir", 0.85)):
        person = report["photos"][v]["person"]
        assert person["recall"] >= least, (v, person)
        assert person["extra"] <= 0.25 * TRUTH, (v, person)
        assert report["photos"][v]["bed"] == {"truth": 1, "found": 1, "matched": 1, "recall": 1.0, "extra": 0}


def test_eval_reports_the_events_each_rule_raises_on_clips(tmp_path: Path, shared_media: Path) -> None:
    from edge.video.detector.engine import DetectorService
    from edge.video.evaluation import Evaluator, Labels

    labels = Labels.model_validate(
        {
            "hours": [14],
            "files": {
                "clips/fire_fuel_bed.mp4": {"events": {"fire_smoke": 1}},
                "clips/pedestrians_vtest_300f.mp4": {"events": {"fire_smoke": 0}},
            },
        }
    )
    detector = DetectorService.from_settings("yolox_nano", [shared_media.parent / "models"], threads=1)
    report = Evaluator(detector).run(shared_media, labels, "yolox_nano")
    fire, street = report.clips
    assert fire.raised == {"fire_smoke": 1} and fire.missed == {} and fire.first_s["fire_smoke"] <= 10
    assert street.raised == {} and report.false_per_hour() == {}
    assert abs(street.played_s - 30) < 1 and abs(fire.played_s - 24) < 1, "played at the clip's time"
    assert set(report.unlabelled) >= {f"photos/{n}" for n in PEOPLE}, "photos not labelled are listed"


def test_a_bad_labels_file_names_the_file_and_key(tmp_path: Path, shared_media: Path) -> None:
    bad = tmp_path / "labels.yaml"
    runner = CliRunner()
    bad.write_text("files:\n  photos/messi5.jpg: {person: many}\n", encoding="utf-8")
    got = runner.invoke(app, ["eval", str(shared_media), "--labels", str(bad)])
    assert got.exit_code == 1 and "files.photos/messi5.jpg" in got.output and "whole numbers" in got.output
    bad.write_text("files:\n  photos/nope.jpg: {person: 1}\n", encoding="utf-8")
    got = runner.invoke(app, ["eval", str(shared_media), "--labels", str(bad), "--model-path", str(tmp_path)])
    assert got.exit_code == 2 and "not found" in got.output, "no model there: said so"
    bad.write_text("hours: [25]\nfiles: {}\n", encoding="utf-8")
    got = runner.invoke(app, ["eval", str(shared_media), "--labels", str(bad)])
    assert got.exit_code == 1 and "hours" in got.output


def test_calibration_keeps_tracker_gates_at_or_above_the_detection_thresholds(tmp_path: Path) -> None:
    reg = load_registry()
    for spec in reg.models.values():
        cal = spec.calibration
        for label in ("person", "bed"):
            assert cal.track_score(label) >= cal.threshold(label), (spec.name, label)
    assert reg.get("fastestdet").calibration.threshold("person") >= 0.4, "FastestDet's own 0.4-0.5"
    bad = tmp_path / "registry.yaml"
    entry = yaml.safe_load(reg.path.read_text())["models"]["fastestdet"]
    entry["calibration"]["track_scores"] = {"person": 0.35}
    bad.write_text(yaml.safe_dump({"models": {"fastestdet": entry}}))
    with pytest.raises(ModelError, match=r"models\.fastestdet: calibration.*person 0.35 < 0.5"):
        load_registry(bad)


def test_a_stronger_model_without_a_pinned_hash_is_listed_but_never_used(tmp_path: Path) -> None:
    spec = load_registry().get("yolox_tiny")
    found = check(spec, [tmp_path])
    assert found.status is Status.UNPINNED and "pin" in found.detail
    got = CliRunner().invoke(app, ["models", "verify", "--model-path", str(tmp_path)])
    assert "yolox_tiny: not installed (unpinned)" in got.output


def test_enhancement_only_where_the_model_was_measured_to_gain() -> None:
    reg = load_registry()
    room = np.ascontiguousarray(photo("000000000139.jpg"))
    dark, ir_dark = darkened(room, 1), greyscale(darkened(room, 1))
    yolox = LowLightPolicy.of(reg.get("yolox_nano").calibration.low_light, None)
    assert np.array_equal(yolox.prepare(dark, grey=False), dark), "dark colour: left alone"
    assert np.array_equal(yolox.prepare(room, grey=False), room)
    lifted = yolox.prepare(ir_dark, grey=True)
    assert lifted.std() > ir_dark.std() * 1.5, "dark infrared: local contrast raised"
    forced = LowLightPolicy.of(reg.get("yolox_nano").calibration.low_light, 255)
    assert not np.array_equal(forced.prepare(room, grey=False), room), "the setting overrides"
    assert is_greyscale(ir_dark) and not is_greyscale(dark) and not is_greyscale(room)


def test_an_infrared_camera_skips_the_flame_test_and_says_so(yolox: object) -> None:
    fire = [greyscale(f) for f in clip(FIRE, every=6, limit=40)]
    h, w = fire[0].shape[:2]
    pipeline = CameraPipeline(camera(w, h, [full_zone(w, h, "storage")]), "node-1", yolox, VideoSettings())  # type: ignore[arg-type]
    run = play(pipeline, fire, at(2), 0.2)
    assert pipeline.infrared.active and not run.events
    assert any("greyscale (infrared)" in w and "flames are not looked for" in w for w in pipeline.warnings())
    colour = CameraPipeline(camera(w, h, [full_zone(w, h, "storage")]), "node-1", yolox, VideoSettings())  # type: ignore[arg-type]
    play(colour, [cv2.flip(f, 1) for f in clip(FIRE, every=6, limit=5)], at(2), 0.2)
    assert colour.infrared.active is False
