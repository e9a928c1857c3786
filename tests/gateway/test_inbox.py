"""The MQTT link's inbox: order kept, a batch taken at a time, back-pressure on the network thread,
and a waiting batch loop woken by what arrives (for its first message, or for a full batch)."""

from __future__ import annotations

import threading
import time

from gateway.ingest.consumer import Inbox
from gateway.ingest.incoming import Incoming
from tests.support.waiting import wait_until

LONG = 60.0  # a wait that only ends early if the inbox wakes its consumer


def message(n: int) -> Incoming:
    return Incoming("gridwatch/v1/node/node-1/event", str(n).encode(), n, 1)


def test_messages_come_out_in_order_a_batch_at_a_time() -> None:
    inbox = Inbox(limit=100)
    for n in range(5):
        inbox.put(message(n))
    assert [m.mid for m in inbox.take(3, 0, 0)] == [0, 1, 2]
    assert inbox.qsize() == 2
    assert [m.mid for m in inbox.take(10, 0, 0)] == [3, 4]
    assert inbox.take(10, 0, 0) == []


def test_a_full_inbox_holds_the_network_thread_until_the_loop_takes() -> None:
    inbox = Inbox(limit=3)
    producer = threading.Thread(target=lambda: [inbox.put(message(n)) for n in range(10)])
    producer.start()
    wait_until(lambda: inbox.qsize() == 3, timeout=10, what="the inbox to fill")
    assert producer.is_alive()  # blocked at the limit, not growing
    assert inbox.qsize() == 3
    taken: list[int] = []
    while len(taken) < 10:
        taken += [m.mid for m in inbox.take(2, 0, LONG)]
    producer.join(10)
    assert taken == list(range(10)) and not producer.is_alive()


def test_a_waiting_loop_is_woken_by_its_first_message_and_by_a_full_batch() -> None:
    inbox = Inbox(limit=100)

    def send() -> None:
        wait_until(lambda: inbox._wake_at == 1, timeout=10, what="the loop to wait for a message")
        inbox.put(message(0))
        wait_until(lambda: inbox._wake_at == 3, timeout=10, what="the loop to wait for a full batch")
        inbox.put(message(1))
        inbox.put(message(2))

    sender = threading.Thread(target=send)
    sender.start()
    started = time.monotonic()
    batch = inbox.take(3, LONG, LONG)
    assert time.monotonic() - started < LONG  # woken by the message, then by the full batch
    assert [m.mid for m in batch] == [0, 1, 2]
    sender.join(10)
