"""Post pending webhook deliveries in the background, retrying with exponential back-off.

A delivery is claimed (status stays ``pending``, ``claimed_until`` is set) in a
short transaction, posted outside any transaction, and its outcome recorded in
another: the store is never locked while a receiver is slow, and case handling
never waits for a webhook. A gateway that dies mid-post leaves the claim to
expire; the post is then retried (receivers may see a duplicate, never a loss).
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from contracts.clock import Clock
from contracts.site.models import NotifySettings, WebhookFormat
from gateway.notify import metrics
from gateway.notify.formats import dingtalk_signed_url, robot_error
from gateway.notify.models import Delivery, DeliveryAttempt, DeliveryStatus

log = logging.getLogger(__name__)

# Answers that will not get better by asking again (except 408 timeout, 429 too many requests).
_PERMANENT = {400, 401, 403, 404, 405, 410, 413, 414, 415, 422}


@dataclass(frozen=True)
class Result:
    ok: bool
    status_code: int | None
    error: str
    permanent: bool
    duration_ms: float


def backoff_s(settings: NotifySettings, attempts: int) -> float:
    """Wait after the ``attempts``-th failed attempt: backoff_s, 2x, 4x ... capped."""
    return float(min(settings.backoff_max_s, settings.backoff_s * 2 ** max(0, attempts - 1)))


class WebhookSender:
    """Posts through a small thread pool: a receiver that stalls holds one slot, not the others."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        clock: Clock,
        settings: NotifySettings,
        client: httpx.Client | None = None,
        concurrency: int = 4,
    ) -> None:
        self.sessions = sessions
        self.clock = clock
        self.settings = settings
        self.client = client or httpx.Client(
            timeout=settings.webhook_timeout_s, headers={"User-Agent": "GridWatch-gateway"}
        )
        self.concurrency = concurrency
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="webhook")
        self._inflight: set[Future[None]] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- background loop ---------------------------------------------------------------
    def start(self, poll_s: float = 1.0) -> None:
        self._thread = threading.Thread(target=self._run, args=(poll_s,), name="webhook-sender", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._pool.shutdown(wait=True)  # posts in flight finish (bounded by the HTTP timeout)
        self.client.close()

    def _run(self, poll_s: float) -> None:
        while not self._stop.is_set():
            try:
                started = self._dispatch(wait=False)
            except Exception:
                log.exception("webhook sender pass failed; trying again shortly")
                started = 0
            if not started:
                self._stop.wait(poll_s)

    # -- passes --------------------------------------------------------------------------
    def run_once(self) -> int:
        """Attempt every delivery due now and wait for the answers; returns how many attempts were made."""
        total = 0
        while made := self._dispatch(wait=True):  # a failed attempt is due again only after its back-off
            total += made
        return total

    def _dispatch(self, wait: bool) -> int:
        with self._lock:
            free = self.concurrency - len(self._inflight)
        if free <= 0:
            return 0
        futures = []
        for delivery_id in self._due(self.clock.now(), free):
            if self._stop.is_set():
                break
            claimed = self._claim(delivery_id)
            if claimed is None:
                continue
            future = self._pool.submit(self._attempt, claimed)
            with self._lock:
                self._inflight.add(future)
            future.add_done_callback(self._done)
            futures.append(future)
        if wait:
            for future in futures:
                future.result()
        return len(futures)

    def _done(self, future: Future[None]) -> None:
        with self._lock:
            self._inflight.discard(future)
        if future.exception() is not None:
            log.error("webhook attempt crashed: %s", future.exception())

    def _attempt(self, delivery: Delivery) -> None:
        self._record(delivery.id, self._post(delivery))

    def _due(self, now: datetime, limit: int) -> list[int]:
        with self.sessions() as session:
            pending = session.scalar(
                select(func.count())
                .select_from(Delivery)
                .where(Delivery.status == DeliveryStatus.PENDING.value)
            )
            metrics.DELIVERIES_PENDING.set(pending or 0)
            return list(
                session.scalars(
                    select(Delivery.id)
                    .where(
                        Delivery.status == DeliveryStatus.PENDING.value,
                        Delivery.next_attempt_at <= now,
                        or_(Delivery.claimed_until.is_(None), Delivery.claimed_until < now),
                    )
                    .order_by(Delivery.next_attempt_at, Delivery.id)
                    .limit(limit)
                )
            )

    def _claim(self, delivery_id: int) -> Delivery | None:
        now = self.clock.now()
        hold = timedelta(seconds=self.settings.webhook_timeout_s * 3 + 5)
        with self.sessions.begin() as session:
            claimed = session.execute(
                update(Delivery)
                .where(
                    Delivery.id == delivery_id,
                    Delivery.status == DeliveryStatus.PENDING.value,
                    or_(Delivery.claimed_until.is_(None), Delivery.claimed_until < now),
                )
                .values(claimed_until=now + hold)
            ).rowcount
            if claimed != 1:
                return None  # another gateway's sender has it
            delivery = session.get(Delivery, delivery_id)
            assert delivery is not None
            session.expunge(delivery)
            return delivery

    def _post(self, delivery: Delivery) -> Result:
        fmt = WebhookFormat(delivery.format)
        url = delivery.target
        if fmt is WebhookFormat.DINGTALK and delivery.secret:
            url = dingtalk_signed_url(url, delivery.secret, int(time.time() * 1000))
        started = time.perf_counter()
        try:
            response = self.client.post(
                url,
                content=delivery.body.encode(),
                headers={"Content-Type": "application/json; charset=utf-8"},
            )
        except httpx.HTTPError as exc:
            took = (time.perf_counter() - started) * 1000
            return Result(False, None, f"{type(exc).__name__}: {exc}"[:500], False, took)
        took = (time.perf_counter() - started) * 1000
        code = response.status_code
        if code >= 300:
            return Result(False, code, f"HTTP {code}: {response.text[:300]}", code in _PERMANENT, took)
        refused = robot_error(fmt, response.text)
        if refused:
            return Result(False, code, refused, False, took)
        return Result(True, code, "", False, took)

    def _record(self, delivery_id: int, result: Result) -> None:
        now = self.clock.now()
        with self.sessions.begin() as session:
            delivery = session.get(Delivery, delivery_id)
            assert delivery is not None
            delivery.attempts += 1
            delivery.claimed_until = None
            session.add(
                DeliveryAttempt(
                    delivery_id=delivery_id,
                    at=now,
                    ok=result.ok,
                    status_code=result.status_code,
                    error=result.error,
                    duration_ms=round(result.duration_ms, 1),
                )
            )
            if result.ok:
                delivery.status = DeliveryStatus.SENT.value
                delivery.sent_at = now
                delivery.next_attempt_at = None
                delivery.last_error = ""
                outcome = "sent"
            elif result.permanent or delivery.attempts >= self.settings.max_attempts:
                delivery.status = DeliveryStatus.FAILED.value
                delivery.next_attempt_at = None
                delivery.last_error = result.error
                outcome = "failed"
            else:
                delivery.next_attempt_at = now + timedelta(
                    seconds=backoff_s(self.settings, delivery.attempts)
                )
                delivery.last_error = result.error
                outcome = "retry"
            metrics.DELIVERIES.labels(delivery.format, outcome).inc()
            log_fn = log.info if result.ok else log.warning
            log_fn(
                "webhook %s to %s for case %s: %s (attempt %d)%s",
                delivery.id,
                delivery.target.split("?")[0],
                delivery.case_id,
                outcome,
                delivery.attempts,
                f": {result.error}" if result.error else "",
                extra={"case_id": delivery.case_id, "delivery_id": delivery.id},
            )
