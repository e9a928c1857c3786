"""The proof of work a resident's page attaches to a report: no CAPTCHA, no server round trip.

The page makes the report's id, then searches a nonce such that

    sha256("gw1:<bits>:<site>:<report id>:<unix seconds>:<nonce>")

starts with ``bits`` zero bits (hashcash). Nothing is asked of the server first, so a resident
without signal fills in the form, the phone does the work and the report waits in the offline
queue. The server checks with one hash: the stamp names this site and this report (each report
id is taken once, by the ledger), was made in the last ``max_age`` and carries enough bits.
A flood costs its sender ``2**bits`` hashes a report; the per-address limit does the rest.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

VERSION = "gw1"
MAX_AGE = timedelta(hours=48)  # a report written offline may wait this long for signal
CLOCK_SLACK = timedelta(minutes=10)  # a phone's clock ahead of ours
_NUMBER = re.compile(r"[0-9]{1,11}")  # bits and unix seconds (11 digits: before year 5140)
_NONCE = re.compile(r"[0-9A-Za-z]{1,20}")


class ProofRefused(ValueError):
    """The stamp does not hold; the message says what is wrong."""


@dataclass(frozen=True)
class Stamp:
    bits: int
    site: str
    report_id: str
    made_at: int
    nonce: str


def stamp_text(bits: int, site: str, report_id: str, made_at: int, nonce: str | int) -> str:
    return f"{VERSION}:{bits}:{site}:{report_id}:{made_at}:{nonce}"


def leading_zero_bits(digest: bytes) -> int:
    n = 0
    for byte in digest:
        if byte == 0:
            n += 8
            continue
        return n + 8 - byte.bit_length()
    return n


def check(stamp: str, site: str, report_id: str, min_bits: int, now: datetime) -> Stamp:
    parts = stamp.split(":")
    if len(parts) != 6 or parts[0] != VERSION:
        raise ProofRefused(f"the proof must read {VERSION}:<bits>:<site>:<report id>:<seconds>:<nonce>")
    _, bits_s, stamp_site, stamp_id, made_s, nonce = parts
    # ASCII only and bounded: str.isdigit() takes "²" (int() refuses it) and a 30-digit time
    # overflows datetime; either would answer 500 to an anonymous sender.
    if not (_NUMBER.fullmatch(bits_s) and _NUMBER.fullmatch(made_s) and _NONCE.fullmatch(nonce)):
        raise ProofRefused("the proof's bits, time and nonce must be numbers")
    bits, made_at = int(bits_s), int(made_s)
    if stamp_site != site or stamp_id != report_id:
        raise ProofRefused("the proof was made for another site or another report")
    if bits < min_bits:
        raise ProofRefused(f"the proof has {bits} bits of work; this site asks for {min_bits}")
    made = datetime.fromtimestamp(made_at, tz=now.tzinfo)
    if made < now - MAX_AGE or made > now + CLOCK_SLACK:
        raise ProofRefused("the proof is too old (or from the future): send the report again")
    if leading_zero_bits(hashlib.sha256(stamp.encode()).digest()) < bits:
        raise ProofRefused("the proof does not hold (its hash does not start with enough zero bits)")
    return Stamp(bits, stamp_site, stamp_id, made_at, nonce)


def solve(bits: int, site: str, report_id: str, made_at: int) -> str:
    """What the page does (tests and the benchmark use it)."""
    nonce = 0
    while True:
        text = stamp_text(bits, site, report_id, made_at, nonce)
        if leading_zero_bits(hashlib.sha256(text.encode()).digest()) >= bits:
            return text
        nonce += 1
