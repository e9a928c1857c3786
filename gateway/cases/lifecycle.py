"""Case states and the only transitions allowed between them (可跟踪、可督办、可追责)."""

from __future__ import annotations

from enum import StrEnum


class CaseStatus(StrEnum):
    NEW = "new"  # raised by a device, waiting for the centre / a worker
    DISPATCHED = "dispatched"  # offered to a worker
    ACCEPTED = "accepted"  # the worker is on the way
    ON_SITE = "on_site"  # the worker checked in at the place
    RESOLVED = "resolved"  # the worker reported a result; waits for the centre's check
    CLOSED = "closed"  # verified by the centre
    DISMISSED = "dismissed"  # false alarm (with a reason)
    ESCALATED = "escalated"  # beyond the grid: leader, community, street, department
    REOPENED = "reopened"  # came back after resolution/dismissal
    MERGED = "merged"  # a duplicate folded into another case (Case.merged_into): final


OPEN_STATUSES = frozenset(
    {
        CaseStatus.NEW,
        CaseStatus.DISPATCHED,
        CaseStatus.ACCEPTED,
        CaseStatus.ON_SITE,
        CaseStatus.ESCALATED,
        CaseStatus.REOPENED,
    }
)

S = CaseStatus
TRANSITIONS: dict[CaseStatus, frozenset[CaseStatus]] = {
    S.NEW: frozenset({S.DISPATCHED, S.ESCALATED, S.DISMISSED, S.CLOSED, S.MERGED}),
    S.DISPATCHED: frozenset({S.ACCEPTED, S.NEW, S.DISPATCHED, S.ESCALATED, S.DISMISSED, S.MERGED}),
    S.ACCEPTED: frozenset({S.ON_SITE, S.DISPATCHED, S.ESCALATED, S.DISMISSED, S.MERGED}),
    S.ON_SITE: frozenset({S.RESOLVED, S.ESCALATED, S.DISMISSED, S.MERGED}),
    S.RESOLVED: frozenset({S.CLOSED, S.REOPENED, S.MERGED}),
    S.ESCALATED: frozenset(
        {S.DISPATCHED, S.ACCEPTED, S.ON_SITE, S.RESOLVED, S.DISMISSED, S.ESCALATED, S.MERGED}
    ),
    S.REOPENED: frozenset({S.DISPATCHED, S.ESCALATED, S.DISMISSED, S.MERGED}),
    S.CLOSED: frozenset({S.REOPENED}),
    S.DISMISSED: frozenset({S.REOPENED}),
    S.MERGED: frozenset(),  # its events and evidence live on in the case it was merged into
}
# Finished: nobody needs to do anything about these any more.
FINISHED_STATUSES = frozenset({CaseStatus.CLOSED, CaseStatus.DISMISSED, CaseStatus.MERGED})


class TransitionError(ValueError):
    """A transition not in :data:`TRANSITIONS`."""

    def __init__(self, case_id: str, current: CaseStatus, target: CaseStatus) -> None:
        allowed = ", ".join(sorted(TRANSITIONS[current])) or "none"
        super().__init__(
            f"case {case_id}: cannot go from {current.value!r} to {target.value!r}; "
            f"from {current.value!r} the allowed next states are: {allowed}"
        )
        self.case_id = case_id
        self.current = current
        self.target = target


def check_transition(case_id: str, current: CaseStatus, target: CaseStatus) -> None:
    if target not in TRANSITIONS[current]:
        raise TransitionError(case_id, current, target)
