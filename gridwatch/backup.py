"""Backups of the store, taken while GridWatch runs, and their restore.

- **SQLite**: SQLite's online backup API copies one consistent snapshot of the database (in WAL
  mode the gateway keeps writing meanwhile) into a temporary file, which is checked
  (``PRAGMA integrity_check``) and only then renamed into place. A restore checks the backup the
  same way and copies it into the store with the same API, so even a process that still has the
  store open sees either the old or the restored database, never a mixture.
- **PostgreSQL**: ``pg_dump --format=custom`` (one consistent snapshot; the services keep
  running) and ``pg_restore --clean --if-exists --single-transaction`` (all or nothing). A store
  kept in its own schema (``options=-csearch_path=...`` in the URL) is dumped and restored as
  that schema. The password goes to the tools in ``PGPASSWORD``, never on their command line.
  Use the ``pg_dump`` of the server's major version or newer (``GRIDWATCH_PG_BIN``).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import URL, make_url

TABLES_SHOWN = ("cases", "events", "tasks", "evidence", "dead_letters")


class BackupError(RuntimeError):
    """A backup or restore that cannot be done; nothing was changed."""


@dataclass(frozen=True)
class BackupInfo:
    path: Path
    bytes: int
    revision: str | None
    rows: dict[str, int]

    def describe(self) -> str:
        counts = ": " + ", ".join(f"{n} {t}" for t, n in self.rows.items()) if self.rows else ""
        revision = f", schema {self.revision}" if self.revision else ""
        return f"{self.path} ({self.bytes / 1e6:.1f} MB{revision}){counts}"


def _sqlite_file(url: URL) -> Path:
    if not url.database or url.database == ":memory:":
        raise BackupError("an in-memory SQLite store has nothing to back up")
    return Path(url.database)


def _check_sqlite(path: Path) -> BackupInfo:
    """Open a SQLite file read-only and check that it is a whole, sound GridWatch store."""
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise BackupError(f"{path}: cannot be opened as SQLite ({exc})") from None
    try:
        result = db.execute("PRAGMA integrity_check").fetchone()[0]
        if result != "ok":
            raise BackupError(f"{path}: fails SQLite's integrity check: {result}")
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "alembic_version" not in tables:
            raise BackupError(f"{path}: not a GridWatch store (no alembic_version table)")
        revision = db.execute("SELECT version_num FROM alembic_version").fetchone()
        rows = {
            t: db.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in TABLES_SHOWN if t in tables
        }
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path}: not a readable SQLite database ({exc})") from None
    finally:
        db.close()
    return BackupInfo(path, path.stat().st_size, revision[0] if revision else None, rows)


def _copy(src: sqlite3.Connection, dst: sqlite3.Connection) -> None:
    # pages=-1: the whole database in one step, so one snapshot (a stepwise copy would start over
    # each time the gateway commits, and might never finish on a busy store).
    src.backup(dst, pages=-1)


def backup_sqlite(url: URL, out: Path) -> BackupInfo:
    source = _sqlite_file(url)
    if not source.is_file():
        raise BackupError(f"no store at {source}")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part")
    tmp.unlink(missing_ok=True)
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
    dst = sqlite3.connect(tmp)
    try:
        _copy(src, dst)
        dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
    except sqlite3.Error as exc:
        tmp.unlink(missing_ok=True)
        raise BackupError(f"backup of {source} failed: {exc}") from None
    finally:
        dst.close()
        src.close()
    try:
        info = _check_sqlite(tmp)
    except BackupError:
        tmp.unlink(missing_ok=True)
        raise
    tmp.replace(out)
    return BackupInfo(out, info.bytes, info.revision, info.rows)


def restore_sqlite(backup: Path, url: URL, replace: bool) -> BackupInfo:
    _check_sqlite(backup)  # a damaged or foreign file never touches the store
    target = _sqlite_file(url)
    if target.exists() and not replace:
        raise BackupError(
            f"{target} exists; stop the gateway and the API, then restore with --replace (it overwrites it)"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    src = sqlite3.connect(f"file:{backup}?mode=ro", uri=True)
    dst = sqlite3.connect(target, timeout=30)
    try:
        _copy(src, dst)
        dst.execute("PRAGMA journal_mode=WAL")  # what the services run with
    except sqlite3.Error as exc:
        raise BackupError(f"restore into {target} failed, the store is unchanged: {exc}") from None
    finally:
        dst.close()
        src.close()
    return _check_sqlite(target)


# -- PostgreSQL ------------------------------------------------------------------------------
def _pg_tool(name: str) -> str:
    directory = os.environ.get("GRIDWATCH_PG_BIN")
    path = str(Path(directory) / name) if directory else shutil.which(name)
    if not path or not os.access(path, os.X_OK):
        raise BackupError(
            f"{name} is not installed: apt-get install postgresql-client (scripts/setup.sh does), or set "
            "GRIDWATCH_PG_BIN to the directory of the server's version"
        )
    return path


def _libpq(url: URL) -> tuple[str, dict[str, str], str | None]:
    """(libpq URI without the password, environment with PGPASSWORD, schema of the store if any)."""
    schema = None
    options = url.query.get("options")
    text = options if isinstance(options, str) else " ".join(options or ())
    for part in text.split():
        if part.startswith("-csearch_path="):
            schema = part.split("=", 1)[1].split(",")[0]
    plain = url.set(drivername="postgresql", password=None)
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    return plain.render_as_string(hide_password=False), env, schema


def _run(cmd: list[str], env: dict[str, str], what: str) -> None:
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BackupError(
            f"{what} failed ({Path(cmd[0]).name} exit {done.returncode}): {done.stderr.strip()[-2000:]}"
        )


def backup_postgres(url: URL, out: Path) -> BackupInfo:
    uri, env, schema = _libpq(url)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part")
    cmd = [_pg_tool("pg_dump"), "--format=custom", "--no-owner", f"--file={tmp}", f"--dbname={uri}"]
    if schema:
        cmd.append(f"--schema={schema}")
    try:
        _run(cmd, env, "pg_dump")
        listing = subprocess.run(
            [_pg_tool("pg_restore"), "--list", str(tmp)], capture_output=True, text=True, check=False
        )
        if listing.returncode != 0 or "TABLE DATA" not in listing.stdout:
            raise BackupError(f"the dump {tmp} cannot be read back: {listing.stderr.strip()[-500:]}")
    except BackupError:
        tmp.unlink(missing_ok=True)
        raise
    tmp.replace(out)
    return BackupInfo(out, out.stat().st_size, None, {})


def restore_postgres(backup: Path, url: URL, replace: bool) -> None:
    if not backup.is_file():
        raise BackupError(f"no backup at {backup}")
    uri, env, _schema = _libpq(url)
    listing = subprocess.run(
        [_pg_tool("pg_restore"), "--list", str(backup)], capture_output=True, text=True, check=False
    )
    if listing.returncode != 0:
        raise BackupError(f"{backup} is not a pg_dump archive: {listing.stderr.strip()[-500:]}")
    if "alembic_version" not in listing.stdout:
        raise BackupError(f"{backup} is not a GridWatch store's dump (no alembic_version table)")
    cmd = [_pg_tool("pg_restore"), "--no-owner", "--single-transaction", "--exit-on-error", f"--dbname={uri}"]
    if replace:
        cmd += ["--clean", "--if-exists"]
    _run([*cmd, str(backup)], env, "pg_restore (nothing was changed)")


def backup(db: str, out: Path) -> BackupInfo:
    url = make_url(db)
    if url.get_backend_name() == "sqlite":
        return backup_sqlite(url, out)
    if url.get_backend_name() == "postgresql":
        return backup_postgres(url, out)
    raise BackupError(f"cannot back up a {url.get_backend_name()} store")


def restore(backup_file: Path, db: str, replace: bool) -> BackupInfo | None:
    url = make_url(db)
    if url.get_backend_name() == "sqlite":
        return restore_sqlite(backup_file, url, replace)
    if url.get_backend_name() == "postgresql":
        restore_postgres(backup_file, url, replace)
        return None
    raise BackupError(f"cannot restore into a {url.get_backend_name()} store")
