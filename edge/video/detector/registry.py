"""The model registry (``registry.yaml`` beside this module) and the model search path.

Weights are never part of the repository: a model is found by looking for its
``file`` under each directory of the search path (``GRIDWATCH_MODEL_PATH``) and
is only used when its sha256 matches the registry. ``pull`` downloads a model
with the same check and never leaves a partial or wrong file behind.

The registry ships inside the package (also in the wheel), so ``gridwatch models``
works wherever GridWatch is installed, not only in a checkout.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from contracts.codec import describe_validation_error

REPO = Path(__file__).resolve().parents[3]
DEFAULT_REGISTRY = Path(__file__).with_name("registry.yaml")
MODEL_PATH_ENV = "GRIDWATCH_MODEL_PATH"
REGISTRY_ENV = "GRIDWATCH_MODEL_REGISTRY"
_CHUNK = 1 << 20


class ModelError(RuntimeError):
    """A model that cannot be used; the message says why and what to do."""


class Family(StrEnum):
    YOLOX = "yolox"
    FASTESTDET = "fastestdet"


class NmsMode(StrEnum):
    PER_CLASS = "per_class"  # a bed next to a person, two beds side by side: each keeps its box
    AGNOSTIC = "agnostic"  # one box per place whatever the class (the model's own export did this)


class LowLight(BaseModel):
    """When local contrast enhancement (CLAHE) runs before detection, per model: it helps some
    models on some pictures and costs recall on others (measured: docs/benchmarks.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    colour_below: float = Field(
        default=0, ge=0, le=255, description="Colour frames darker than this mean grey level (0 = never)."
    )
    grey_below: float = Field(
        default=0,
        ge=0,
        le=255,
        description="Greyscale (infrared) frames darker than this mean grey level (0 = never).",
    )


class Calibration(BaseModel):
    """How far to trust one model's scores: its own thresholds, per class, and what a track
    needs before it counts. The tracker's gate is never below the detector's threshold, so
    nothing the detector keeps is silently unable to count."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    score_threshold: float = Field(default=0.3, gt=0, lt=1, description="Detection threshold of any class.")
    classes: dict[str, float] = Field(
        default_factory=dict, description="Detection threshold per class name (overrides score_threshold)."
    )
    track_scores: dict[str, float] = Field(
        default_factory=dict,
        description="Median score a track of this class needs to count (default: its detection threshold).",
    )
    nms: NmsMode = NmsMode.PER_CLASS
    nms_iou: float = Field(default=0.45, gt=0, lt=1, description="Overlap at which a weaker box is dropped.")
    contained: float | None = Field(
        default=None,
        gt=0,
        le=1,
        description="Drop a box lying this much inside a better box of its class (head-and-body "
        "duplicates); off when null.",
    )
    split_groups: bool = Field(
        default=True,
        description="Drop a box that only spans two or more separate boxes of its class "
        "(two beds side by side reported as one).",
    )
    low_light: LowLight = Field(default_factory=LowLight)

    @field_validator("classes", "track_scores")
    @classmethod
    def _scores(cls, value: dict[str, float]) -> dict[str, float]:
        bad = [f"{k}: {v}" for k, v in value.items() if not 0 < v < 1]
        if bad:
            raise ValueError(f"scores must lie between 0 and 1 (got {', '.join(bad)})")
        return value

    @model_validator(mode="after")
    def _gates_not_below_thresholds(self) -> Calibration:
        low = [
            f"{label} {gate} < {self.threshold(label)}"
            for label, gate in self.track_scores.items()
            if gate < self.threshold(label)
        ]
        if low:
            raise ValueError(
                "track_scores below the class's detection threshold can never be reached by "
                f"what the detector keeps ({', '.join(low)}); raise them or lower the threshold"
            )
        return self

    def threshold(self, label: str) -> float:
        return self.classes.get(label, self.score_threshold)

    def track_score(self, label: str) -> float:
        return self.track_scores.get(label, self.threshold(label))


class ModelSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="Registry key, e.g. 'yolox_nano'.")
    description: str = ""
    file: str = Field(min_length=1, description="Path of the weights relative to a search directory.")
    sha256: str | None = Field(
        pattern=r"^[0-9a-f]{64}$",
        description="Pinned hash of the weights; null = not pinned yet, the model cannot be used.",
    )
    bytes: int | None = Field(default=None, gt=0, description="Expected size, for a quick first check.")
    input: tuple[int, int] = Field(description="Network input width and height in pixels.")
    family: Family = Field(description="Output format: which adapter decodes it.")
    classes: list[str] = Field(min_length=1, description="Class names; the index is the class id.")
    licence: str = Field(min_length=1)
    source: str = Field(min_length=1, description="Where the weights come from.")
    url: str | None = Field(default=None, pattern=r"^(https?|file)://", description="Download for 'pull'.")
    calibration: Calibration = Field(default_factory=Calibration)

    @field_validator("file")
    @classmethod
    def _relative(cls, value: str) -> str:
        if Path(value).is_absolute() or ".." in Path(value).parts:
            raise ValueError("must be a path relative to a model directory, without '..'")
        return value

    def class_id(self, label: str) -> int:
        try:
            return self.classes.index(label)
        except ValueError:
            raise ModelError(f"model {self.name!r} has no class {label!r}") from None


@dataclass(frozen=True)
class Registry:
    path: Path
    models: dict[str, ModelSpec]

    def get(self, name: str) -> ModelSpec:
        spec = self.models.get(name)
        if spec is None:
            known = ", ".join(sorted(self.models)) or "none"
            raise ModelError(f"no model {name!r} in {self.path}; known models: {known}")
        return spec


def load_registry(path: Path | None = None) -> Registry:
    path = Path(path or os.environ.get(REGISTRY_ENV) or DEFAULT_REGISTRY)
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelError(f"model registry {path} does not exist; set {REGISTRY_ENV}") from None
    except yaml.YAMLError as exc:
        raise ModelError(f"model registry {path} is not valid YAML: {exc}") from None
    entries = doc.get("models") if isinstance(doc, dict) else None
    if not isinstance(entries, dict) or not entries:
        raise ModelError(f"model registry {path} needs a 'models:' mapping of name -> entry")
    models: dict[str, ModelSpec] = {}
    for name, entry in entries.items():
        if not isinstance(entry, dict):
            raise ModelError(f"{path}: models.{name} must be a mapping")
        try:
            models[name] = ModelSpec.model_validate({"name": name, **entry})
        except ValidationError as exc:
            raise ModelError(f"{path}: models.{name}: {describe_validation_error(exc)}") from None
    return Registry(path, models)


def default_model_dirs() -> list[Path]:
    """Where weights are looked for when nothing is configured.

    In a source checkout: its ``models/`` (where ``pull`` puts downloads), then
    ``../shared/models`` beside the checkout when it exists (the weights the demo and
    the tests use), so ``gridwatch models list`` sees what the demo runs. Installed
    from a wheel: ``$XDG_DATA_HOME/gridwatch/models`` (``~/.local/share/...``); services
    set ``GRIDWATCH_MODEL_PATH`` (the systemd units: ``/var/lib/gridwatch/models``).
    """
    if (REPO / "pyproject.toml").is_file() and (REPO / "edge").is_dir():
        shared = REPO.parent / "shared" / "models"
        return [REPO / "models", *([shared] if shared.is_dir() else [])]
    data_home = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return [data_home / "gridwatch" / "models"]


def search_path(configured: list[Path] | None = None) -> list[Path]:
    """Directories searched for weights: the configured list, else GRIDWATCH_MODEL_PATH,
    else :func:`default_model_dirs`."""
    if configured:
        return [Path(p).expanduser() for p in configured]
    env = os.environ.get(MODEL_PATH_ENV, "")
    dirs = [Path(p).expanduser() for p in env.split(os.pathsep) if p.strip()]
    return dirs or default_model_dirs()


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class Status(StrEnum):
    OK = "ok"
    MISSING = "missing"
    WRONG_HASH = "wrong_hash"
    UNPINNED = "unpinned"


@dataclass(frozen=True)
class Installed:
    spec: ModelSpec
    status: Status
    path: Path | None  # where it was found (also for a wrong hash)
    detail: str


def check(spec: ModelSpec, dirs: list[Path]) -> Installed:
    """Find a model on the search path and check its hash."""
    if spec.sha256 is None:
        return Installed(
            spec,
            Status.UNPINNED,
            None,
            f"model {spec.name!r} has no pinned sha256 in the registry yet; weights are never used "
            "unchecked: pin the hash of the official file in models/registry.yaml first",
        )
    wrong: Installed | None = None
    for directory in dirs:
        candidate = directory / spec.file
        if not candidate.is_file():
            continue
        digest = sha256_of(candidate)
        if digest == spec.sha256:
            return Installed(spec, Status.OK, candidate, "sha256 matches")
        wrong = wrong or Installed(
            spec,
            Status.WRONG_HASH,
            candidate,
            f"{candidate} has sha256 {digest}, the registry expects {spec.sha256}; "
            f"replace it with 'gridwatch models pull {spec.name}'",
        )
    if wrong:
        return wrong
    where = ", ".join(str(d) for d in dirs)
    return Installed(
        spec,
        Status.MISSING,
        None,
        f"{spec.file} not found in the model search path ({where}); "
        f"run 'gridwatch models pull {spec.name}' or point {MODEL_PATH_ENV} at a directory holding it",
    )


def resolve(spec: ModelSpec, dirs: list[Path]) -> Path:
    """Path of a verified model file, or :class:`ModelError` saying what is wrong."""
    found = check(spec, dirs)
    if found.status is not Status.OK or found.path is None:
        raise ModelError(f"model {spec.name!r}: {found.detail}")
    return found.path


Progress = Callable[[int, int | None], None]


def pull(
    spec: ModelSpec,
    dest_dir: Path,
    url: str | None = None,
    timeout_s: float = 60.0,
    progress: Progress | None = None,
) -> Path:
    """Download a model into ``dest_dir/spec.file`` and check its sha256.

    The download goes to a temporary file next to the target and is renamed
    only after the hash matched, so a failed or tampered download never
    replaces a good file.
    """
    source = url or spec.url
    if spec.sha256 is None:
        raise ModelError(check(spec, []).detail)
    if not source:
        raise ModelError(f"model {spec.name!r} has no download url in the registry; install it by hand")
    target = dest_dir / spec.file
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.is_file() and sha256_of(target) == spec.sha256:
        return target
    digest = hashlib.sha256()
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                request = urllib.request.Request(source, headers={"User-Agent": "gridwatch-models"})
                with urllib.request.urlopen(request, timeout=timeout_s) as response:
                    total = response.length
                    done = 0
                    while chunk := response.read(_CHUNK):
                        out.write(chunk)
                        digest.update(chunk)
                        done += len(chunk)
                        if progress:
                            progress(done, total)
            except (urllib.error.URLError, OSError, ValueError) as exc:
                raise ModelError(f"cannot download {spec.name!r} from {source}: {exc}") from None
        got = digest.hexdigest()
        if got != spec.sha256:
            raise ModelError(
                f"downloaded {spec.name!r} from {source} but its sha256 is {got}, not {spec.sha256}; "
                "the file was discarded"
            )
        os.replace(tmp, target)
        return target
    finally:
        tmp.unlink(missing_ok=True)
