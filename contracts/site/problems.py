"""Problems found in a site's configuration, worded for the installer."""

from __future__ import annotations

import difflib
import reprlib
import types
import typing
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

# A broken file can hold a million errors; past this many, one line says how many more.
MAX_PROBLEMS_PER_FILE = 100


class Severity(StrEnum):
    ERROR = "error"  # the site does not load
    WARNING = "warning"  # it loads, but something will not work the way the file suggests


@dataclass(frozen=True, slots=True)
class Problem:
    file: str  # relative to the site directory
    where: str  # key path or feature, e.g. "cameras[cam-gate].zones[dorm].polygon"
    message: str
    hint: str = ""
    severity: Severity = Severity.ERROR

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def __str__(self) -> str:
        warning = "warning: " if not self.is_error else ""
        text = f"{self.file}: {self.where}: {warning}{self.message}"
        return f"{text}\n    hint: {self.hint}" if self.hint else text


def errors(problems: list[Problem]) -> list[Problem]:
    return [p for p in problems if p.is_error]


_short = reprlib.Repr()  # keyword arguments only from Python 3.12
_short.maxlevel, _short.maxstring, _short.maxother, _short.maxlist, _short.maxdict = 2, 40, 40, 4, 4


def short_repr(value: object) -> str:
    """A value for a message: bounded in length and depth, whatever the file held."""
    return _short.repr(value)


class SiteConfigError(Exception):
    """Raised by :func:`contracts.site.load_site` with every problem found."""

    def __init__(self, root: str, problems: list[Problem]) -> None:
        self.root = root
        self.problems = problems
        listing = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"site configuration {root} has {len(problems)} problem(s):\n{listing}")


def item_label(item: Any, index: int) -> str:
    """A list item's name in a key path: its ``id`` when it has a sensible one, else its index."""
    ident = item.get("id") if isinstance(item, dict) else None
    if isinstance(ident, str) and 0 < len(ident) <= 64 and ident.isprintable():
        return ident
    return str(index)


def _key_label(key: object) -> str:
    text = str(key)
    return text if len(text) <= 64 else text[:60] + "…"


def path_label(loc: tuple[Any, ...], data: Any) -> str:
    """Render a pydantic loc with list items named by their ``id`` where they have one."""
    out = ""
    node = data
    for part in loc:
        if isinstance(part, int):
            label = str(part)
            if isinstance(node, list) and 0 <= part < len(node):
                node = node[part]
                label = item_label(node, part)
            else:
                node = None
            out += f"[{label}]"
        else:
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, dict):
                # a union tag (pydantic puts the discriminator value into the loc)
                pass
            else:
                node = None
            out += f".{_key_label(part)}" if out else _key_label(part)
    return out or "(top level)"


def _unwrap(annotation: Any) -> list[Any]:
    """The model classes an annotation can hold (through Optional, list, dict, Annotated)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType, list, tuple, set, frozenset):
        found = []
        for arg in typing.get_args(annotation):
            found += _unwrap(arg)
        return found
    if origin is dict:
        return _unwrap(typing.get_args(annotation)[1])
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return []


def model_at(model: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """Which model class sits at ``loc`` inside ``model`` (to list its allowed keys)."""
    current: type[BaseModel] | None = model
    candidates: list[type[BaseModel]] = [model]
    for part in loc:
        if isinstance(part, int):
            continue
        if current is None:
            # pick a union member by its tag
            tagged = [c for c in candidates if _tag_of(c) == part]
            if tagged:
                current = tagged[0]
                continue
            return None
        field = current.model_fields.get(part)
        if field is None:
            if any(_tag_of(c) == part for c in candidates):
                current = next(c for c in candidates if _tag_of(c) == part)
                continue
            return None
        candidates = _unwrap(field.annotation)
        current = candidates[0] if len(candidates) == 1 else None
    return current


def _tag_of(model: type[BaseModel]) -> str | None:
    field = model.model_fields.get("protocol")
    if field is None:
        return None
    args = typing.get_args(field.annotation)
    return args[0] if len(args) == 1 else None


def problems_from_validation(
    file: str,
    exc: ValidationError,
    model: type[BaseModel],
    data: Any,
    prefix: str = "",
    detailed: int | None = None,
) -> list[Problem]:
    """One problem per validation error; past the first ``detailed`` ones (those nobody will be
    shown once the file's list is capped) without the hints that look the field up in the model,
    which for a file of thousands of bad entries took most of ``gridwatch config check``'s time."""
    problems = []
    for n, err in enumerate(exc.errors(include_url=False)):
        loc = tuple(err["loc"])
        where = path_label(loc, data)
        if prefix:
            where = f"{prefix}.{where}" if where != "(top level)" else prefix
        msg = err["msg"].removeprefix("Value error, ")
        if detailed is not None and n >= detailed:
            problems.append(Problem(file, where, msg, _TYPE_HINTS.get(err["type"]) or _schema_hint(file)))
            continue
        parent = model_at(model, loc[:-1]) if loc else None
        field = _field_at(model, loc)
        described = field.description if field is not None and field.description else ""
        if err["type"] == "extra_forbidden":
            key = str(loc[-1])
            allowed = sorted(parent.model_fields) if parent else []
            msg = f"unknown key {short_repr(key)}"
            close = difflib.get_close_matches(key, allowed, n=1)
            hint = f"did you mean {close[0]!r}? " if close else "remove it. "
            if allowed:
                hint += "Allowed keys here: " + ", ".join(allowed)
        elif err["type"] == "missing":
            msg = f"required key {str(loc[-1])!r} is missing"
            hint = described or f"add {str(loc[-1])!r} here"
        elif err["type"] in ("enum", "literal_error"):
            hint = msg
            msg = f"value {short_repr(err.get('input'))} is not allowed"
        else:
            hint = _swapped_hint(loc, data) or _join(_TYPE_HINTS.get(err["type"], ""), described)
            hint = hint or _schema_hint(file)
        problems.append(Problem(file, where, msg, hint))
    return problems


# What to write instead, by pydantic error type (the message says what is wrong).
_MAPPING = "write a mapping here: 'key: value' lines, or {key: value}"
_TYPE_HINTS = {
    "model_type": _MAPPING,
    "model_attributes_type": _MAPPING,
    "dict_type": _MAPPING,
    "list_type": "write a list here: lines starting with '- ', or [a, b]",
    "tuple_type": "write a list here, e.g. [640, 480]",
    "too_short": "add entries",
    "too_long": "remove entries",
    "string_type": "write text here; quote it if YAML would read it as a number, date or true/false",
    "string_too_short": "write some text here",
    "string_too_long": "shorten the text",
    "int_type": "write a whole number here",
    "int_parsing": "write a whole number here",
    "int_from_float": "write a whole number here",
    "float_type": "write a number here",
    "float_parsing": "write a number here",
    "finite_number": "write a number here",
    "bool_type": "write true or false",
    "bool_parsing": "write true or false",
    "greater_than": "change the value to one in the allowed range",
    "greater_than_equal": "change the value to one in the allowed range",
    "less_than": "change the value to one in the allowed range",
    "less_than_equal": "change the value to one in the allowed range",
    "union_tag_invalid": "use one of the expected values",
    "union_tag_not_found": "add the key that says which kind this is",
}
_SCHEMAS = {
    "site.yaml": "site",
    "grids.geojson": "grid-properties",
    "workers.yaml": "workers",
    "escalation.yaml": "escalation",
    "patrols.yaml": "patrols",
    "access.yaml": "access",
    "analytics.yaml": "analytics",
}


def _field_at(model: type[BaseModel], loc: tuple[Any, ...]) -> Any:
    """The field the error is in: the last key of ``loc`` (an item of a list field is in that field)."""
    named = list(loc)
    while named and isinstance(named[-1], int):
        named.pop()
    if not named:
        return None
    parent = model_at(model, tuple(named[:-1]))
    return parent.model_fields.get(str(named[-1])) if parent is not None else None


def _join(*parts: str) -> str:
    return "; ".join(p.rstrip(".") for p in parts if p)


def _schema_hint(file: str) -> str:
    schema = _SCHEMAS.get(file, "node" if file.startswith("nodes/") else "")
    return f"see docs/schemas/site/{schema}.schema.json for what this key takes" if schema else ""


def _swapped_hint(loc: tuple[Any, ...], data: Any) -> str:
    """A point with lon and lat the wrong way round: China's longitudes (73-135) are no latitudes."""
    if not loc or loc[-1] not in ("lon", "lat"):
        return ""
    point = data
    for part in loc[:-1]:
        try:
            point = point[part]
        except (LookupError, TypeError):
            return ""
    if not isinstance(point, dict):
        return ""
    lon, lat = point.get("lon"), point.get("lat")
    numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (lon, lat))
    if numbers and abs(lat) > 90 and abs(lon) <= 90 and abs(lat) <= 180:  # type: ignore[arg-type]
        return f"lon and lat look swapped: write lon: {lat}, lat: {lon} (lon runs east-west, -180..180)"
    return ""


M = TypeVar("M", bound=BaseModel)


def validate(file: str, model: type[M], data: Any, problems: list[Problem], prefix: str = "") -> M | None:
    """``data`` as ``model``, or None with every validation error added to ``problems``."""
    if data is None:
        return None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        shown = MAX_PROBLEMS_PER_FILE - sum(1 for p in problems if p.file == file)  # see capped()
        problems.extend(problems_from_validation(file, exc, model, data, prefix, detailed=max(shown, 0)))
        return None


def capped(problems: list[Problem], per_file: int = MAX_PROBLEMS_PER_FILE) -> list[Problem]:
    """At most ``per_file`` problems of each file, then one line saying how many more."""
    kept: list[Problem] = []
    dropped: dict[str, list[Problem]] = {}
    count: dict[str, int] = {}
    for p in problems:
        count[p.file] = count.get(p.file, 0) + 1
        if count[p.file] <= per_file:
            kept.append(p)
        else:
            dropped.setdefault(p.file, []).append(p)
    for file, more in dropped.items():
        severity = Severity.ERROR if errors(more) else Severity.WARNING
        kept.append(
            Problem(
                file,
                "(file)",
                f"... and {len(more):,} more problems in this file",
                "fix the ones listed first: the rest are often the same mistake",
                severity,
            )
        )
    return kept


def salvage(model: type[M], items: Any) -> list[M]:
    """The items of a list that are valid ``model`` on their own (the others have their problems)."""
    found = []
    for item in items if isinstance(items, list) else []:
        try:
            found.append(model.model_validate(item))
        except ValidationError:
            continue
    return found
