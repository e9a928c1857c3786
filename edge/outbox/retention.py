"""Retention on the edge box: unsent evidence and refused messages by age and disk quota.

While the uplink is down the outbox keeps every message; snapshots are the bulky part
(up to 200 kB each). A snapshot that has waited ``evidence_days`` is stale for the centre,
and the box's disk is small: past the age, or over ``evidence_quota_mb``, the oldest unsent
snapshots go. Messages the broker refused for good (kept for an operator in the outbox's
``refused`` table) go after ``refused_days`` or over ``refused_quota_mb``. Hazard events
are never dropped. A dropped message keeps its sequence number used: the gateway counts the
gap as lost, so nothing disappears silently.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from contracts.retention import Kept, select_for_deletion
from edge.emit import Priority
from edge.outbox import metrics
from edge.settings import EdgeRetentionSettings

if TYPE_CHECKING:
    from edge.outbox import Outbox

log = logging.getLogger(__name__)

MB = 1024 * 1024
DAY_S = 86400.0


@dataclass(frozen=True)
class EdgeRetentionReport:
    evidence_expired: int
    evidence_over_quota: int
    evidence_bytes_kept: int
    refused_expired: int
    refused_over_quota: int

    @property
    def dropped(self) -> int:
        return (
            self.evidence_expired + self.evidence_over_quota + self.refused_expired + self.refused_over_quota
        )


def _limits(days: float | None, quota_mb: float | None, now: float) -> tuple[float | None, int | None]:
    return (now - days * DAY_S if days else None), (int(quota_mb * MB) if quota_mb else None)


def sweep(outbox: Outbox, settings: EdgeRetentionSettings, now: datetime) -> EdgeRetentionReport:
    store, node_id, ts = outbox.store, outbox.node_id, now.timestamp()
    cutoff, quota = _limits(settings.evidence_days, settings.evidence_quota_mb, ts)
    evidence = select_for_deletion(
        [Kept(pos, created, size) for pos, created, size in store.sizes(Priority.EVIDENCE)], cutoff, quota
    )
    outbox.drop([int(p) for p in evidence.ids], Priority.EVIDENCE)
    cutoff, quota = _limits(settings.refused_days, settings.refused_quota_mb, ts)
    refused = select_for_deletion([Kept(p, at, n) for p, at, n in store.refused_sizes()], cutoff, quota)
    store.forget_refused([int(p) for p in refused.ids])
    report = EdgeRetentionReport(
        len(evidence.expired),
        len(evidence.over_quota),
        evidence.bytes_kept,
        len(refused.expired),
        len(refused.over_quota),
    )
    for kind, why, n in (
        ("evidence", "age", report.evidence_expired),
        ("evidence", "quota", report.evidence_over_quota),
        ("refused", "age", report.refused_expired),
        ("refused", "quota", report.refused_over_quota),
    ):
        if n:
            metrics.RETENTION_DROPPED.labels(kind, why).inc(n)
    if report.dropped:
        log.warning(
            "retention dropped %d unsent snapshot(s) (%d older than %s days, %d over the %.1f MB quota; "
            "%.1f MB kept) and %d refused message(s)",
            report.evidence_expired + report.evidence_over_quota,
            report.evidence_expired,
            settings.evidence_days,
            report.evidence_over_quota,
            settings.evidence_quota_mb or 0,
            report.evidence_bytes_kept / MB,
            report.refused_expired + report.refused_over_quota,
            extra={"node_id": node_id},
        )
    return report
