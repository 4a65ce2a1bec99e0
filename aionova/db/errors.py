"""Database errors with a meaning, whatever the engine (oslo.db's family, by name).

Each engine turns its driver's exceptions into these (the original is the
``__cause__``), so callers decide without knowing SQLite from PostgreSQL:

* ``DBConnectionError``: the server cannot be reached or the connection was lost;
  nothing of the failed call is committed unless the loss hit its COMMIT. The API
  answers 503; services retry (``retrying.py``).
* ``DBDeadlock``: the transaction lost a lock or serialization conflict (PostgreSQL
  40001 / 40P01, SQLite "database is locked"); it was rolled back and can be re-run.
* ``DBDuplicateEntry``: a unique key is taken.
* ``DBDataError``: a value the database cannot take (the API answers 400).
"""

from __future__ import annotations


class DBError(Exception):
    """A database call failed (the engine's own exception is the cause)."""


class DBConnectionError(DBError):
    """The database server is unreachable, or the connection broke."""


class DBDeadlock(DBError):
    """A lock or serialization conflict: the transaction was rolled back; re-run it."""


class DBDuplicateEntry(DBError):
    """A row with the same unique key exists."""


class DBDataError(DBError):
    """A value the database cannot hold or compare (PostgreSQL's class 22: a NUL
    character in text, a number out of range …)."""


RETRYABLE: tuple[type[DBError], ...] = (DBConnectionError, DBDeadlock)
"""What a retried call may be re-run after (``DBDuplicateEntry`` never succeeds later)."""
