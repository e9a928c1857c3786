"""Passwords: argon2id hashes (argon2-cffi), a length cap, and one-time passwords.

Defaults (2 passes over 64 MiB, one lane) cost about 110 ms per check on the
2-core reference machine: slow for a guesser, quick for a person (measured in
bench/auth.py, docs/benchmarks.md). The parameters live in each hash, so they
can be raised later; a hash made with weaker ones is upgraded at the next sign-in.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_LENGTH = 10
# Long enough for any passphrase, short enough that hashing a huge one costs nothing
# (it is refused before hashing).
MAX_LENGTH = 256
ONE_TIME_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read aloud or typed from paper


@dataclass(frozen=True)
class HashCost:
    time_cost: int = 2
    memory_kib: int = 65536
    parallelism: int = 1


class Passwords:
    def __init__(self, cost: HashCost | None = None) -> None:
        cost = cost or HashCost()
        self._hasher = PasswordHasher(
            time_cost=cost.time_cost, memory_cost=cost.memory_kib, parallelism=cost.parallelism
        )
        # Checked against when the account does not exist, so that an unknown name
        # takes as long to refuse as a wrong password.
        self._dummy = self._hasher.hash(secrets.token_urlsafe(16))

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def check(self, stored: str | None, password: str) -> bool:
        """True when ``password`` matches; always spends one hash's time."""
        if len(password) > MAX_LENGTH:
            return False
        try:
            return self._hasher.verify(stored or self._dummy, password) and stored is not None
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored: str) -> bool:
        return self._hasher.check_needs_rehash(stored)


def problem(password: str) -> str | None:
    """Why a new password is refused, or None."""
    if len(password) < MIN_LENGTH:
        return f"a password needs at least {MIN_LENGTH} characters"
    if len(password) > MAX_LENGTH:
        return f"a password has at most {MAX_LENGTH} characters"
    if len(set(password)) < 4:
        return "a password needs more than a few different characters"
    return None


def one_time_password() -> str:
    """Four groups of four, about 79 bits: shown once, changed at the first sign-in."""
    chars = [secrets.choice(ONE_TIME_ALPHABET) for _ in range(16)]
    return "-".join("".join(chars[i : i + 4]) for i in range(0, 16, 4))
