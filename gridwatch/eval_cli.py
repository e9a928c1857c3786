"""``gridwatch eval``: how a camera's detection path does on a site's own photos and clips,
before the camera goes live (docs/video-fire-smoke.md, "Evaluating a camera")."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

out = Console(highlight=False, width=int(os.environ.get("COLUMNS", "150")))
err = Console(stderr=True, soft_wrap=True)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def eval_command(
    folder: Annotated[Path, typer.Argument(help="Folder of photos and clips.", exists=True, file_okay=False)],
    labels: Annotated[
        Path | None, typer.Option(help="Labels file (default: FOLDER/labels.yaml); format: see module help.")
    ] = None,
    model: Annotated[str, typer.Option(help="Registry name of the detector model.")] = "yolox_nano",
    model_path: Annotated[
        str | None,
        typer.Option(
            "--model-path",
            envvar="GRIDWATCH_MODEL_PATH",
            help="Directories searched for weights, ':'-separated.",
        ),
    ] = None,
    registry: Annotated[
        Path | None, typer.Option(envvar="GRIDWATCH_MODEL_REGISTRY", help="Model registry file.")
    ] = None,
    hours: Annotated[
        str | None, typer.Option(help="Site hours to play clips at, e.g. '14,23' (overrides the labels).")
    ] = None,
    loop_minutes: Annotated[
        float | None, typer.Option(help="Play each clip looped this long (simulated time; overrides).")
    ] = None,
    variants: Annotated[
        str | None, typer.Option(help="Photo variants: as_is, dark, ir, comma-separated (overrides).")
    ] = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Also write the report as JSON here.")
    ] = None,
    threads: Annotated[int, typer.Option(help="onnxruntime threads.")] = 1,
) -> None:
    """Run the camera's own detection path over a folder: recall per class on photos,
    the events each rule raises on clips, and false events per hour of footage.

    The labels file (YAML) lists each file with its truth: a photo with counts per class
    ({person: 4}) or boxes (boxes: [{label: person, box: [x1, y1, x2, y2]}]); a clip with the
    episodes each rule should raise (events: {fire_smoke: 1}; {} = nothing). Optional: camera
    (node: FILE, id: CAMERA) to use a configured camera's zones and masks, hours, loop_minutes,
    variants. Exit 1 on a bad labels file or folder, 2 when the model cannot be loaded."""
    from edge.video.detector.engine import DetectorService
    from edge.video.evaluation import EvalError, Evaluator, load_labels

    labels_file = labels or folder / "labels.yaml"
    try:
        spec = load_labels(labels_file)
        if hours:
            spec.hours = [int(h) for h in hours.split(",") if h.strip()]
        if loop_minutes is not None:
            spec.loop_minutes = loop_minutes
        if variants:
            spec.variants = [v.strip() for v in variants.split(",") if v.strip()]
        spec = type(spec).model_validate(spec.model_dump())
    except (EvalError, ValueError) as exc:
        err.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from None
    dirs = [Path(p) for p in model_path.split(os.pathsep) if p] if model_path else None
    detector = DetectorService.from_settings(model, dirs, threads, registry)
    if not detector.available:
        err.print(f"[red]model {model!r} cannot be used:[/] {detector.reason}")
        raise typer.Exit(2)
    try:
        report = Evaluator(detector).run(folder, spec, model, base=labels_file.parent)
    except EvalError as exc:
        err.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from None

    for v in spec.variants:
        table = Table(title=f"{model}: photos ({v})")
        for col in ("class", "truth", "found", "matched", "recall", "extra boxes"):
            table.add_column(col)
        for label, s in sorted(report.by_class(v).items()):
            table.add_row(label, str(s.truth), str(s.found), str(s.matched), _pct(s.recall), str(s.extra))
        if report.photos:
            out.print(table)
    if report.clips:
        table = Table(title=f"{model}: clips")
        for col in ("clip", "hour", "played", "raised", "expected", "false", "first at"):
            table.add_column(col)
        for c in report.clips:
            table.add_row(
                c.file,
                f"{c.hour:02d}:00",
                f"{c.played_s / 60:.1f} min",
                json.dumps(c.raised),
                json.dumps(c.expected),
                json.dumps(c.false_events),
                ", ".join(f"{k} {v:.1f}s" for k, v in c.first_s.items()) or "-",
            )
        out.print(table)
        fph = report.false_per_hour()
        played = sum(c.played_s for c in report.clips) / 3600
        out.print(
            f"false events per hour of footage ({played:.2f} h played): "
            + (", ".join(f"{k} {v:.2f}" for k, v in fph.items()) or "none")
        )
    if report.unlabelled:
        out.print(f"[dim]not labelled, not scored: {', '.join(report.unlabelled)}[/]")
    out.print(f"[dim]took {report.seconds:.1f} s[/]")
    if json_out:
        json_out.write_text(
            json.dumps(report.as_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        out.print(f"wrote {json_out}")
