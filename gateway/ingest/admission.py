"""Who may say what: the gateway's own checks on a message the contract accepted.

The broker's ACL is the first line (a login publishes only under its own id, see
:func:`contracts.topics.mosquitto_acl`); this is the second, for a broker configured
too loosely and for what an ACL cannot know:

- the sender is a node, device or worker of this site (``unknown_source``);
- a node speaks only for the devices the site gives it (``source_mismatch``; the
  contract already ties the envelope's source to the topic's id);
- the message is not dated further ahead of the gateway's clock than
  ``max_clock_skew`` (``invalid``): a fix dated 9999 would freeze a worker's position
  and an event dated 9999 would keep its case "recent" for ever.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from contracts import ContractError, Envelope
from contracts.site import Site
from contracts.topics import Role, Topic

DEFAULT_MAX_CLOCK_SKEW = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class Admission:
    site: Site
    max_clock_skew: timedelta = DEFAULT_MAX_CLOCK_SKEW

    def refusal(self, address: Topic, message: Envelope, now: datetime) -> ContractError | None:
        """Why this message is not admitted, or None."""
        return self._sender(address, message) or self._dates(message, now)

    def _sender(self, address: Topic, message: Envelope) -> ContractError | None:
        owner, role = address.owner, address.role
        if role is Role.NODE:
            known = owner in self.site.nodes
        elif role is Role.DEVICE:
            known = self.site.device(owner) is not None
        elif role is Role.WORKER:
            known = owner in self.site.workers
        else:
            known = False  # centre topics carry what the gateway sends, never what it reads
        if not known:
            return ContractError(
                "unknown_source",
                f"{role.value} {owner!r} is not in the site configuration; add it there "
                "(and give it a broker login) before it sends",
            )
        device_id = message.__dict__.get("device_id")
        if role is Role.NODE and device_id is not None:
            hosted = self.site.device(device_id)
            if hosted is not None and hosted[0] != owner:
                return ContractError(
                    "source_mismatch",
                    f"device {device_id!r} belongs to node {hosted[0]!r}, not to {owner!r}",
                )
        return None

    def _dates(self, message: Envelope, now: datetime) -> ContractError | None:
        latest = now + self.max_clock_skew
        fields = message.__dict__
        for name in ("ts", "started_at"):
            value = fields.get(name)
            if value is not None and value > latest:
                return ContractError(
                    "invalid",
                    f"{name}: {value.isoformat()} is {_duration(value - now)} ahead of the gateway's "
                    f"clock (at most {_duration(self.max_clock_skew)}: max_clock_skew_s); "
                    "is the source's clock set?",
                )
        return None


def _duration(delta: timedelta) -> str:
    seconds = delta.total_seconds()
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172_800:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86_400:.0f} days"
