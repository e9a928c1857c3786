"""Reading a site's files: bytes on disk to raw data (dicts, lists, scalars), or a problem saying why not.

Site files are written by hand and copied around by installers, so anything can be where a
file should be: a directory, a dangling or looping symbolic link, a file the service may not
read, a 50 MB export, UTF-16 from Notepad, a binary, YAML nested a thousand levels deep. Each is
refused here with the file's name and the fix, before a parser or a model sees it, and within
:class:`ReadLimits` so that a hostile or mistaken file is refused in milliseconds.
"""

from __future__ import annotations

import errno
import json
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, ScalarNode

from contracts.site.problems import Problem, short_repr

# The files of a site directory (access.yaml: contracts.site.access.ACCESS_FILE).
SITE_FILE = "site.yaml"
GRIDS_FILE = "grids.geojson"
WORKERS_FILE = "workers.yaml"
ESCALATION_FILE = "escalation.yaml"
PATROLS_FILE = "patrols.yaml"
NODES_DIR = "nodes"

ENV_MAX_FILE_MB = "GRIDWATCH_SITE_MAX_FILE_MB"
# A whole district's workers.yaml (2,000 workers) is ~0.3 MB and its grids ~1-4 MB. Checking a
# 4 MB workers.yaml takes 5-10 s even with libyaml (bench/site_check.py): a larger file is a
# mistake or an attack, and would take minutes.
DEFAULT_MAX_FILE_MB = 4.0
# The deepest site file (a MultiPolygon in grids.geojson) nests 8 levels.
MAX_DEPTH = 32
# YAML aliases (*name) may repeat a value; this caps what they expand to ("billion laughs").
MAX_EXPANDED_VALUES = 1_000_000

_BOMS = {
    b"\xff\xfe\x00\x00": "UTF-32",
    b"\x00\x00\xfe\xff": "UTF-32",
    b"\xff\xfe": "UTF-16",
    b"\xfe\xff": "UTF-16",
}
_UTF8_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class ReadLimits:
    max_file_mb: float = DEFAULT_MAX_FILE_MB
    max_depth: int = MAX_DEPTH
    max_expanded_values: int = MAX_EXPANDED_VALUES

    @property
    def max_bytes(self) -> int:
        return int(self.max_file_mb * 1_000_000)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> tuple[ReadLimits, list[Problem]]:
        """The limits with ``GRIDWATCH_SITE_MAX_FILE_MB`` applied, and a problem if it is not a size."""
        raw = environ.get(ENV_MAX_FILE_MB, "").strip()
        if not raw:
            return cls(), []
        try:
            mb = float(raw)
        except ValueError:
            mb = -1.0
        if not 0 < mb < 1_000_000:
            problem = Problem(
                "environment",
                ENV_MAX_FILE_MB,
                f"{raw[:20]!r} is not a size in MB",
                f"set it to a number of megabytes, e.g. {ENV_MAX_FILE_MB}=16, or unset it "
                f"(default {DEFAULT_MAX_FILE_MB:g})",
            )
            return cls(), [problem]
        return cls(max_file_mb=mb), []


class SiteReader:
    """Reads the files of one directory under :class:`ReadLimits`, adding a problem for each it cannot."""

    def __init__(self, root: Path, problems: list[Problem], limits: ReadLimits | None = None) -> None:
        self.root = root
        self.problems = problems
        self.limits = limits or ReadLimits()

    def exists(self, name: str) -> bool:
        """Is there anything at ``name`` (a broken link counts: it gets its own problem when read)?"""
        return os.path.lexists(self.root / name)

    def yaml(self, name: str, missing_hint: str = "") -> Any:
        text = self.text(name, missing_hint)
        if text is None:
            return None
        if "&" in text and not self._aliases_fit(name, text):
            return None
        loader = _Loader(text)
        try:
            data = loader.get_single_data()
        except yaml.YAMLError as exc:
            self._yaml_problem(name, exc)
            return None
        except RecursionError:  # the pure-Python parser, without libyaml's nesting limit
            self._too_deep(name, None)
            return None
        finally:
            loader.dispose()
        for key, first, line in loader.duplicates:
            self._add(
                name,
                f"line {line}",
                f"key {short_repr(key)} appears twice in one mapping (first on line {first}); "
                "YAML would keep only the second",
                "remove one of them or merge the two",
            )
        if data is None:
            self._add(name, "(file)", "file is empty", _empty_hint(name))
            return None
        return data if self._depth_fits(name, data) else None

    def json(self, name: str, missing_hint: str = "") -> Any:
        text = self.text(name, missing_hint)
        if text is None:
            return None
        duplicates: list[str] = []

        def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
            out: dict[str, Any] = {}
            for key, value in items:
                if key in out:
                    duplicates.append(key)
                out[key] = value
            return out

        try:
            data = json.loads(text, object_pairs_hook=pairs)
        except json.JSONDecodeError as exc:
            self._add(
                name,
                f"line {exc.lineno}, column {exc.colno}",
                f"not valid JSON: {exc.msg}",
                "fix the JSON at that place (a missing or extra comma, an unclosed bracket or "
                f"quote are the usual causes); 'python3 -m json.tool {name}' points at it too",
            )
            return None
        except RecursionError:
            self._too_deep(name, None)
            return None
        for key in dict.fromkeys(duplicates):
            self._add(
                name,
                key if len(key) <= 64 else key[:60] + "…",
                f"key {short_repr(key)} appears twice in one object; JSON readers keep only the second",
                "remove one of them or merge the two",
            )
        return data if self._depth_fits(name, data) else None

    def text(self, name: str, missing_hint: str = "") -> str | None:
        """The file as text; None (with a problem) when it is not there, not a file, too big or not UTF-8."""
        raw = self._bytes(name, missing_hint)
        if raw is None:
            return None
        for bom, encoding in _BOMS.items():
            if raw.startswith(bom):
                self._add(
                    name,
                    "(file)",
                    f"saved as {encoding}, not UTF-8",
                    "save the file as UTF-8 (in Notepad: Save as → Encoding: UTF-8)",
                )
                return None
        raw = raw.removeprefix(_UTF8_BOM)  # Windows editors add it; it is still UTF-8
        if b"\x00" in raw:
            self._add(
                name,
                "(file)",
                "binary data, not text",
                "this must be a text file; was the wrong file copied here?",
            )
            return None
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = raw.count(b"\n", 0, exc.start) + 1
            self._add(
                name,
                f"line {line}",
                f"not UTF-8 text (byte 0x{raw[exc.start]:02x})",
                "save the file as UTF-8; a file saved as GBK or GB18030 looks like this",
            )
            return None

    # ------------------------------------------------------------ what is on disk
    def _bytes(self, name: str, missing_hint: str) -> bytes | None:
        path = self.root / name
        try:
            st = os.stat(path)
        except OSError as exc:
            self._unreachable(name, path, exc, missing_hint)
            return None
        if stat.S_ISDIR(st.st_mode):
            self._add(
                name,
                "(file)",
                "is a directory, not a file",
                f"remove the directory and put the file at {path}",
            )
            return None
        if not stat.S_ISREG(st.st_mode):
            self._add(
                name,
                "(file)",
                f"is a {_kind(st.st_mode)}, not a regular file",
                f"replace it with the file itself at {path}",
            )
            return None
        cap = self.limits.max_bytes
        if st.st_size > cap:
            self._too_big(name, st.st_size)
            return None
        try:
            with open(path, "rb") as f:
                raw = f.read(cap + 1)
        except OSError as exc:
            self._unreachable(name, path, exc, missing_hint)
            return None
        if len(raw) > cap:  # it grew since stat
            self._too_big(name, len(raw))
            return None
        return raw

    def _unreachable(self, name: str, path: Path, exc: OSError, missing_hint: str) -> None:
        if exc.errno == errno.ELOOP:
            self._add(
                name,
                "(file)",
                f"symbolic link loop: {_link_chain(path)}",
                f"point {name} at the real file, or replace the link with the file",
            )
        elif exc.errno == errno.ENOENT and os.path.islink(path):
            self._add(
                name,
                "(file)",
                f"symbolic link to {os.readlink(path)}, which does not exist",
                f"point {name} at the real file, or replace the link with the file",
            )
        elif exc.errno == errno.ENOENT:
            self._add(name, "(file)", "file is missing", missing_hint or f"create {path}")
        elif exc.errno in (errno.EACCES, errno.EPERM):
            self._add(
                name,
                "(file)",
                "cannot be read: permission denied",
                f"let the user running GridWatch (uid {os.geteuid()}) read it, e.g. chmod a+r {path} "
                "(and a+x on its directories)",
            )
        elif exc.errno == errno.ENOTDIR:
            self._add(
                name,
                "(file)",
                f"cannot be read: {Path(name).parent} is a file, not a directory",
                f"make {Path(name).parent} a directory holding the files",
            )
        else:
            self._add(name, "(file)", f"cannot be read: {exc.strerror}", f"check {path} and its disk")

    def _too_big(self, name: str, size: int) -> None:
        limit = self.limits.max_file_mb
        need = max(int(size / 1_000_000) + 1, int(limit) + 1)
        self._add(
            name,
            "(file)",
            f"file is {size / 1_000_000:,.1f} MB; site files are limited to {limit:g} MB",
            "check that this is the right file (a whole district's workers.yaml is well under 1 MB); "
            f"if it is, raise the limit: {ENV_MAX_FILE_MB}={need} (or gridwatch config check "
            f"--max-file-mb {need})",
        )

    # ------------------------------------------------------------ what is in it
    def _yaml_problem(self, name: str, exc: yaml.YAMLError) -> None:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(file)"
        problem = str(getattr(exc, "problem", None) or exc)
        if "nesting depth" in problem:
            self._too_deep(name, where)
            return
        self._add(name, where, f"not valid YAML: {problem}", "check indentation and quoting around that line")

    def _aliases_fit(self, name: str, text: str) -> bool:
        """Count what the aliases expand to, from parser events (no values are built)."""
        anchors: dict[str, int] = {}
        open_: list[list[Any]] = [[0, None]]  # [values inside, anchor] per open collection
        try:
            for event in yaml.parse(text, Loader=_Loader):
                if isinstance(event, yaml.CollectionStartEvent):
                    open_.append([1, event.anchor])
                    continue
                if isinstance(event, yaml.CollectionEndEvent):
                    size, anchor = open_.pop()
                elif isinstance(event, yaml.AliasEvent):
                    size, anchor = anchors.get(event.anchor or "", 1), None
                elif isinstance(event, yaml.ScalarEvent):
                    size, anchor = 1, event.anchor
                else:
                    continue
                if anchor:
                    anchors[anchor] = size
                open_[-1][0] += size
                if open_[-1][0] > self.limits.max_expanded_values:
                    self._add(
                        name,
                        "(file)",
                        f"its aliases (*name) expand to more than {self.limits.max_expanded_values:,} values",
                        "write the values out, or repeat fewer of them through aliases",
                    )
                    return False
        except yaml.YAMLError as exc:
            self._yaml_problem(name, exc)
            return False
        return True

    def _depth_fits(self, name: str, data: Any) -> bool:
        limit = self.limits.max_depth
        stack: list[tuple[Any, int]] = [(data, 1)]
        seen: set[int] = set()
        while stack:
            node, depth = stack.pop()
            if not isinstance(node, dict | list) or id(node) in seen:
                continue
            if depth > limit:
                self._too_deep(name, None)
                return False
            seen.add(id(node))  # an alias shares one value: walk it once
            children = node.values() if isinstance(node, dict) else node
            stack.extend((child, depth + 1) for child in children)
        return True

    def _too_deep(self, name: str, where: str | None) -> None:
        self._add(
            name,
            where or "(file)",
            f"nested deeper than {self.limits.max_depth} levels",
            "site files nest a few levels (a key, a list, a key ...); check the brackets and the "
            "indentation, or whether this is a site file at all",
        )

    def _add(self, name: str, where: str, message: str, hint: str) -> None:
        self.problems.append(Problem(name, where, message, hint))


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """PyYAML's safe loader (libyaml's when built in: ~10x faster) that notes duplicate keys."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.duplicates: list[tuple[str, int, int]] = []  # key, first line, second line

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        first: dict[tuple[str, str], int] = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key, line = (key_node.tag, key_node.value), key_node.start_mark.line + 1
            if key in first:
                self.duplicates.append((key_node.value, first[key], line))
            first.setdefault(key, line)
        return super().construct_mapping(node, deep)


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "named pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device"
    return "special file"


def _link_chain(path: Path) -> str:
    """``a.yaml → b.yaml → a.yaml``: the links followed until one repeats."""
    chain = [path.name]
    seen = {os.path.abspath(path)}
    current = path
    for _ in range(40):
        try:
            target = os.readlink(current)
        except OSError:
            break
        chain.append(target)
        current = Path(os.path.join(os.path.dirname(current), target))
        key = os.path.abspath(current)
        if key in seen:
            break
        seen.add(key)
    return " → ".join(chain)


def _empty_hint(name: str) -> str:
    if name in (PATROLS_FILE, "access.yaml"):
        return "write its content, or delete it: the file is optional"
    example = "nodes/node-gongye-1.yaml" if name.startswith(f"{NODES_DIR}/") else name
    return f"write its content; device_configs/demo_site/{example} is an example"
