"""The retention rule edge and gateway share: by age, then by quota, the oldest first.

Pure: callers list what they keep (with what its age counts from, its size, and whether
something still needs it) and delete what this returns."""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BeforeValidator, Field


def _no_limit_words(value: Any) -> Any:
    """ "none" in an environment variable means no limit."""
    if isinstance(value, str) and value.strip().lower() in ("none", "null", "off"):
        return None
    return value


# Days or megabytes; None ('none' in the environment): no limit.
Limit = Annotated[Annotated[float, Field(gt=0)] | None, BeforeValidator(_no_limit_words)]


@dataclass(frozen=True, slots=True)
class Kept:
    id: Hashable
    at: float  # what its age counts from (any monotone scale: unix seconds, datetime.timestamp())
    size: int  # bytes
    protected: bool = False  # still needed (an open case's evidence): never selected


@dataclass(frozen=True)
class Selection:
    expired: list[Kept]  # past the age limit
    over_quota: list[Kept]  # the oldest of the rest, until it fits the quota
    bytes_kept: int
    protected_past_age: int  # protected items past the age limit (kept)

    @property
    def ids(self) -> list[Hashable]:
        return [i.id for i in self.expired + self.over_quota]

    @property
    def bytes_freed(self) -> int:
        return sum(i.size for i in self.expired + self.over_quota)


def select_for_deletion(items: Iterable[Kept], cutoff: float | None, quota: int | None) -> Selection:
    """What goes: unprotected items older than ``cutoff``, then the oldest unprotected ones while
    the rest is over ``quota`` bytes (None: no limit). Protected items count toward the quota."""
    kept: list[Kept] = []
    expired: list[Kept] = []
    protected_old = 0
    for item in items:
        if cutoff is not None and item.at < cutoff:
            if not item.protected:
                expired.append(item)
                continue
            protected_old += 1
        kept.append(item)
    total = sum(i.size for i in kept)
    over: list[Kept] = []
    if quota is not None and total > quota:
        for item in sorted(kept, key=lambda i: i.at):
            if total <= quota:
                break
            if not item.protected:
                over.append(item)
                total -= item.size
    return Selection(expired, over, total, protected_old)
