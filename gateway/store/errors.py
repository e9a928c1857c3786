"""What a database error means for the writer that got it: retry, or wait for the store."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError


def sqlstate(exc: DBAPIError) -> str | None:
    return getattr(exc.orig, "sqlstate", None)


def unique_violation(exc: DBAPIError) -> str | None:
    """The unique index a write ran into: its name on PostgreSQL, its columns on SQLite."""
    orig = exc.orig
    if sqlstate(exc) == "23505":
        return getattr(getattr(orig, "diag", None), "constraint_name", None)
    text = str(orig)
    prefix = "UNIQUE constraint failed: "
    return text[len(prefix) :].strip() if text.startswith(prefix) else None


def is_transient(exc: DBAPIError) -> bool:
    """Errors another writer causes and a retry cures."""
    state = sqlstate(exc)
    if state in ("40P01", "40001", "55P03"):  # deadlock, serialization failure, lock not available
        return True
    return "database is locked" in str(exc.orig).lower()


def is_store_down(exc: DBAPIError) -> bool:
    """The store cannot be reached or cannot write: nothing can be committed until it is back."""
    text = str(exc.orig).lower()
    return any(
        s in text
        for s in (
            "could not connect",
            "connection refused",
            "server closed",
            "terminating connection",
            "disk i/o error",
            "unable to open",
            "connection is closed",
            "the connection is lost",
        )
    )
