"""Delivery receipts: what the gateway has committed of one source's stream.

An MQTT PUBACK is one hop: the broker has the message, not the gateway. After
the transaction that applied a source's messages has committed, the gateway
publishes a :class:`DeliveryReceipt` on that source's own ``receipt`` topic
saying which of its sequence numbers it now holds; the source keeps what
matters (hazard events, statuses, evidence) until a receipt covers it.

Receipts are cumulative — each one states everything the gateway holds of the
source, as ranges of sequence numbers — so a lost receipt is healed by the
next one, and several gateways may answer the same source in any order.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Literal

from pydantic import Field, model_validator

from contracts.envelope import Count, Envelope, Identifier

MAX_RANGES = 256  # a receipt stays small (≈ 4 kB at most) whatever happened to the stream

SeqRange = Annotated[
    tuple[Annotated[Count, Field(ge=1)], Annotated[Count, Field(ge=1)]],
    Field(description="[first, last] sequence numbers, both included."),
]


def merge_ranges(ranges: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted, disjoint, with touching ranges joined: [(1, 3), (4, 6)] -> [(1, 6)]."""
    merged: list[list[int]] = []
    for first, last in sorted(ranges):
        if merged and first <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], last)
        else:
            merged.append([first, last])
    return [(a, b) for a, b in merged]


class DeliveryReceipt(Envelope):
    """What the gateway holds of one source's stream, sent to that source after a commit.

    ``since``..``through`` is the unbroken run of committed sequence numbers the gateway's
    record of the source starts with (``through`` < ``since`` when it has none yet); ``also``
    lists further committed ranges — past a gap, or numbers sent again from before ``since``.
    A number is covered when it lies in one of them. The envelope's ``source`` is the gateway.
    """

    kind: Literal["delivery_receipt"] = "delivery_receipt"
    stream: Identifier = Field(description="The source whose messages this is about (the topic's id).")
    since: Count = Field(ge=1, description="First number of the unbroken committed run.")
    through: Count = Field(description="Every number from `since` through this one is committed.")
    also: list[SeqRange] = Field(
        default_factory=list,
        max_length=MAX_RANGES,
        description="Further committed ranges, ascending and disjoint.",
    )

    @model_validator(mode="after")
    def _ranges_in_order(self) -> DeliveryReceipt:
        previous = 0
        for first, last in self.also:
            if first > last or first <= previous:
                raise ValueError("also: ranges must be [first, last] with first <= last, ascending, disjoint")
            previous = last
        return self

    @classmethod
    def of(
        cls, gateway_id: str, stream: str, held: list[tuple[int, int]], **envelope: object
    ) -> DeliveryReceipt:
        """The receipt for ``held`` (sorted, disjoint ranges); beyond MAX_RANGES the smallest
        further ranges are left out (the source sends those numbers again; never wrong)."""
        (since, through), *also = held or [(1, 0)]
        if len(also) > MAX_RANGES:
            also = sorted(sorted(also, key=lambda r: r[1] - r[0])[-MAX_RANGES:])
        fields = {"stream": stream, "since": since, "through": through, "also": also}
        return cls(source=gateway_id, seq=0, **fields, **envelope)  # type: ignore[arg-type]

    def ranges(self) -> list[tuple[int, int]]:
        """Every covered range, ascending."""
        head = [(self.since, self.through)] if self.through >= self.since else []
        return merge_ranges([*head, *self.also])

    def covers(self, seq: int) -> bool:
        if self.since <= seq <= self.through:
            return True
        return any(first <= seq <= last for first, last in self.also)
