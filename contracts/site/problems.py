"""Problems found in a site's configuration, worded for the installer."""

from __future__ import annotations

import difflib
import types
import typing
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError


@dataclass(frozen=True, slots=True)
class Problem:
    file: str  # relative to the site directory
    where: str  # key path or feature, e.g. "cameras[cam-gate].zones[dorm].polygon"
    message: str
    hint: str = ""

    def __str__(self) -> str:
        text = f"{self.file}: {self.where}: {self.message}"
        return f"{text}\n    hint: {self.hint}" if self.hint else text


class SiteConfigError(Exception):
    """Raised by :func:`contracts.site.load_site` with every problem found."""

    def __init__(self, root: str, problems: list[Problem]) -> None:
        self.root = root
        self.problems = problems
        listing = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"site configuration {root} has {len(problems)} problem(s):\n{listing}")


def path_label(loc: tuple[Any, ...], data: Any) -> str:
    """Render a pydantic loc with list items named by their ``id`` where they have one."""
    out = ""
    node = data
    for part in loc:
        if isinstance(part, int):
            label = str(part)
            if isinstance(node, list) and 0 <= part < len(node):
                node = node[part]
                if isinstance(node, dict) and isinstance(node.get("id"), str):
                    label = node["id"]
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
            out += f".{part}" if out else str(part)
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
    file: str, exc: ValidationError, model: type[BaseModel], data: Any, prefix: str = ""
) -> list[Problem]:
    problems = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        where = path_label(loc, data)
        if prefix:
            where = f"{prefix}.{where}" if where != "(top level)" else prefix
        msg = err["msg"].removeprefix("Value error, ")
        hint = ""
        if err["type"] == "extra_forbidden":
            key = str(loc[-1])
            parent = model_at(model, loc[:-1])
            allowed = sorted(parent.model_fields) if parent else []
            msg = f"unknown key {key!r}"
            close = difflib.get_close_matches(key, allowed, n=1)
            hint = f"did you mean {close[0]!r}? " if close else "remove it. "
            if allowed:
                hint += "Allowed keys here: " + ", ".join(allowed)
        elif err["type"] == "missing":
            msg = f"required key {str(loc[-1])!r} is missing"
            parent = model_at(model, loc[:-1])
            field = parent.model_fields.get(str(loc[-1])) if parent else None
            if field is not None and field.description:
                hint = field.description
        elif err["type"] in ("enum", "literal_error"):
            hint = msg
            msg = f"value {err.get('input')!r} is not allowed"
        problems.append(Problem(file, where, msg, hint))
    return problems


M = TypeVar("M", bound=BaseModel)


def validate(file: str, model: type[M], data: Any, problems: list[Problem], prefix: str = "") -> M | None:
    """``data`` as ``model``, or None with every validation error added to ``problems``."""
    if data is None:
        return None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems.extend(problems_from_validation(file, exc, model, data, prefix))
        return None
