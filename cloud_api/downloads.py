"""The ``Content-Disposition`` of every file the API hands out (RFC 6266 with RFC 8187 names).

A file's name is built from what users and sites chose — a period label with an en dash, a
grid's id, a device's id — and an HTTP header is latin-1 only: a name outside it made the
response itself fail (a 500 instead of the file). So the header carries an ASCII ``filename``
for old clients and the real name, percent-encoded UTF-8, in ``filename*``, which browsers
prefer; quotes, backslashes and control characters never reach either.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

_UNSAFE_ASCII = re.compile(r"[^A-Za-z0-9._-]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f\"\\/]")


def content_disposition(filename: str, *, inline: bool = False) -> str:
    """The header value that offers ``filename`` as a download (or shows it, ``inline``)."""
    name = _CONTROL.sub("_", filename).strip() or "download"
    # accents lose their marks, anything else not ASCII becomes "_" (a dash between dates stays one)
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "replace").decode("ascii")
    ascii_name = _UNSAFE_ASCII.sub("_", ascii_name).strip("_.") or "download"
    kind = "inline" if inline else "attachment"
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"
