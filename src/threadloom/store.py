"""The store facade: every method of the original ``StateStore``, in Python.

:class:`StateStore` validates arguments, encodes JSON, reads the clock and keeps the
session index in step; the backend (SQLite or PostgreSQL) runs the statements.
Method names, arguments and JSON shapes are the original's; keyword arguments,
context managers and a few additions sit on top.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import replace
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from ._json import JSONValue, encode_json
from .contract import Backend, MigrationStep, SchemaInfo, ToolRow
from .errors import InvalidRecord, InvalidType
from .idempotency import DEFAULT_TTL, check_ttl, idempotent_write
from .records import (
    I64_MAX,
    CheckpointRecord,
    DynamicToolRecord,
    JobStateRecord,
    MessageRecord,
    SessionIndexEntry,
    SessionSource,
    ThreadGoalRecord,
    ThreadListFilters,
    ThreadMetadata,
    ThreadStatus,
    check_bool,
    check_enum,
    check_i64,
    check_opt_str,
    check_path,
    check_str,
)
from .session_index import CompactionReport, IndexHealth

if TYPE_CHECKING:
    from .retention import RetentionPolicy, RetentionReport
    from .workflows import WorkflowStore

__all__ = ["StateStore"]


def _wall_clock() -> int:
    return int(time.time())


def _limit(value: object, default: int, name: str = "limit") -> int:
    """A list limit: ``None`` gives the default; negative raises; huge values clamp."""
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidType(f"{name} must be an int or None, got {type(value).__name__}")
    if value < 0:
        raise InvalidRecord(f"{name} must not be negative, got {value}")
    return min(value, I64_MAX)


def _message_id(value: object) -> int:
    """A message id given as ``int`` or as decimal text (the original took ``&str``)."""
    if isinstance(value, bool):
        raise InvalidType("message id must be an integer, got bool")
    if isinstance(value, int):
        return check_i64(value, "message id")
    if isinstance(value, str):
        text = value.strip()
        if (
            text
            and (text.isdecimal() or (text[0] in "+-" and text[1:].isdecimal()))
            and text.isascii()
        ):
            return check_i64(int(text), "message id")
        raise InvalidRecord(f"message id must be an integer, got {value!r}")
    raise InvalidType(f"message id must be an integer, got {type(value).__name__}")


def _check_thread(thread: ThreadMetadata) -> ThreadMetadata:
    """Check a thread's field types cheaply (this is on the per-message hot path)."""
    if not isinstance(thread, ThreadMetadata):
        raise InvalidType(f"thread must be a ThreadMetadata, got {type(thread).__name__}")
    if not isinstance(thread.status, ThreadStatus) or not isinstance(thread.source, SessionSource):
        thread = replace(
            thread,
            status=check_enum(thread.status, ThreadStatus, "thread.status"),
            source=check_enum(thread.source, SessionSource, "thread.source"),
        )
    if (
        type(thread.id) is not str
        or type(thread.preview) is not str
        or type(thread.model_provider) is not str
        or type(thread.cli_version) is not str
        or type(thread.ephemeral) is not bool
        or type(thread.archived) is not bool
        or type(thread.created_at) is not int
        or type(thread.updated_at) is not int
        or not isinstance(thread.cwd, str)
        or not (thread.rollout_path is None or type(thread.rollout_path) is str)
        or not (thread.path is None or type(thread.path) is str)
        or not (thread.archived_at is None or type(thread.archived_at) is int)
    ):
        # Slow path: from_dict names the offending field (and converts PathLike values).
        return ThreadMetadata.from_dict(thread.to_dict())
    for name in (
        "name",
        "sandbox_policy",
        "approval_mode",
        "git_sha",
        "git_branch",
        "git_origin_url",
        "memory_mode",
    ):
        check_opt_str(getattr(thread, name), f"thread.{name}")
    for stamp in (thread.created_at, thread.updated_at, thread.archived_at):
        if stamp is not None and not -(2**63) <= stamp <= I64_MAX:
            return ThreadMetadata.from_dict(thread.to_dict())
    return thread


class StateStore:
    """Durable state of agent sessions: threads, message trees, checkpoints, jobs, goals.

    Open one with :meth:`open`. A store is safe to share between threads (each thread
    uses its own connection) and survives ``fork()`` (the child opens its own). Use it
    as a context manager, or call :meth:`close`.

    Args:
        backend: A storage backend (see :meth:`open` for the usual way in).
        clock: Returns the current Unix time in seconds; stamps messages,
            checkpoints and archival.
    """

    #: Keys fingerprint content with this secret (an encrypting store sets one).
    _fingerprint_secret: bytes | None = None

    def __init__(
        self,
        backend: Backend,
        *,
        clock: Callable[[], int] | None = None,
        idempotency_ttl: float = DEFAULT_TTL,
    ) -> None:
        self._backend = backend
        self._index = backend.session_index
        self._now = clock or _wall_clock
        self._workflows: WorkflowStore | None = None
        self._idempotency_ttl = check_ttl(idempotency_ttl)

    # -- opening and closing -------------------------------------------------------

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str] | Any | None = None,
        *,
        durability: str = "normal",
        busy_timeout: float = 5.0,
        migrate: bool = True,
        read_only: bool = False,
        clock: Callable[[], int] | None = None,
        idempotency_ttl: float = DEFAULT_TTL,
        encryption_key: str | bytes | Sequence[str | bytes] | None = None,
        secure_delete: bool | None = None,
        **backend_options: Any,
    ) -> StateStore:
        """Open (or create) a store.

        Args:
            path: A database file path; ``None`` for the default location
                (``$CODEWHALE_HOME/state.db``, else ``~/.codewhale/state.db`` with the
                legacy ``~/.deepseek/state.db`` fallback); a ``postgresql://`` DSN,
                a psycopg connection or a ``psycopg_pool`` pool for PostgreSQL.
            durability: ``"normal"`` (WAL, ``synchronous=NORMAL``) or ``"full"``
                (every commit and session-index append fsynced).
            busy_timeout: Seconds to wait for another writer's lock before
                :class:`~threadloom.errors.StoreBusy`.
            migrate: Apply pending schema steps (otherwise a database that needs them
                is still opened, and :meth:`schema_info` lists them).
            read_only: Open for reading only, writing nothing, creating nothing and
                applying no schema step (``migrate`` is ignored). SQLite: the file must
                exist; it is opened ``mode=ro`` with ``query_only`` and keeps its
                journal mode; a database that needs schema steps is read as if they were
                applied. PostgreSQL: every transaction is ``READ ONLY``; a schema
                without threadloom's tables is refused. Writes raise
                :class:`~threadloom.errors.ReadOnlyStore`.
            clock: Returns the current Unix time in seconds (tests pin it).
            idempotency_ttl: Seconds an idempotency key is kept (default seven days);
                a key older than that is forgotten and may be reused.
            encryption_key: Seal message content and items, checkpoint states, job
                details and goal objectives with this key (AES-256-GCM; needs
                ``threadloom[encryption]``); a list gives the current key first, then
                older ones still read (key rotation). ``None``: the
                ``THREADLOOM_ENCRYPTION_KEY`` environment variable (comma-separated),
                if set. Never stored; see ``threadloom.encryption``.
            secure_delete: ``True``: SQLite overwrites deleted content with zeros
                (``PRAGMA secure_delete``); ``False``: it does not; ``None``: the
                SQLite build's default (on in Debian's, off in SQLite's own).
                PostgreSQL has no such setting.
            **backend_options: Backend-specific options (PostgreSQL: ``pool_size``,
                ``connect_timeout``, ``prepare_threshold``...).

        Raises:
            SchemaError: The database is newer than this threadloom (left untouched).
            CorruptData: The file is not a SQLite database (left untouched).
            StoreBusy: Another process held the lock past ``busy_timeout`` while migrating.
            NotFound: ``read_only`` and the SQLite file does not exist.
            EncryptedData: None of the keys given is a key of this database.
            InvalidRecord: ``durability``, ``busy_timeout`` or a pool size is out of
                range (a ``ValueError``); :class:`~threadloom.errors.InvalidType` (a
                ``TypeError``) for options the backend does not take.
            ThreadloomError: The path is a directory, or PostgreSQL support is missing.
            OSError: The directory or file cannot be created.
        """
        from .backends.opening import open_backend
        from .encryption import ENV_VAR

        keyring = None
        if encryption_key is not None or os.environ.get(ENV_VAR):
            from .encryption import keyring_from

            keyring = keyring_from(encryption_key)  # a bad key fails before the file opens
        if secure_delete is not None:
            check_bool(secure_delete, "secure_delete")
        check_ttl(idempotency_ttl)  # refused before anything is opened or created
        backend = open_backend(
            path,
            durability=durability,
            busy_timeout=busy_timeout,
            migrate=migrate,
            read_only=read_only,
            **backend_options,
        )
        try:
            if secure_delete is not None:
                backend.set_secure_delete(secure_delete)
            from ._sealed_store import sealed_store_for

            store = sealed_store_for(
                backend,
                keyring,
                read_only=read_only,
                clock=clock,
                idempotency_ttl=idempotency_ttl,
            ) or cls(backend, clock=clock, idempotency_ttl=idempotency_ttl)
        except BaseException:
            backend.close()
            raise
        if not read_only:
            from .retention import run_if_due

            run_if_due(store)  # only with a stored policy that opted in (auto)
        return store

    def db_path(self) -> Path:
        """The database file path (for PostgreSQL: the DSN without its password)."""
        return Path(self._backend.location)

    @property
    def backend(self) -> Backend:
        """The storage backend behind this store."""
        return self._backend

    def close(self) -> None:
        """Close connections and files. Calls after this raise ``ThreadloomError``."""
        self._backend.close()

    def __enter__(self) -> StateStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"StateStore({self._backend.location!r})"

    def transaction(self) -> AbstractContextManager[None]:
        """Make the calls inside the block one atomic write.

        Commits when the block ends normally, rolls back on any exception
        (``KeyboardInterrupt`` included). Nested blocks are savepoints. Session-index
        entries written inside the block are not rolled back (the index is a log of
        names, as in the original).

        Raises:
            StoreBusy: The write lock could not be had within the busy timeout.
        """
        return self._backend.transaction()

    def snapshot(self) -> AbstractContextManager[None]:
        """Make the reads inside the block see one consistent state.

        The block only reads: a write inside it (``transaction()`` included) raises
        :class:`~threadloom.errors.ReadOnlyError` before touching anything, and the
        snapshot stays usable. Inside a ``transaction()`` it is that transaction's view.
        """
        return self._backend.snapshot()

    def schema_info(self) -> SchemaInfo:
        """Schema versions, applied and pending steps (read-only)."""
        return self._backend.schema_info()

    def migrate(self) -> list[MigrationStep]:
        """Apply pending schema steps; those applied by this call.

        Raises:
            SchemaError: The database is newer than this threadloom.
        """
        return self._backend.migrate()

    @property
    def idempotency_ttl(self) -> int:
        """Seconds an idempotency key is kept (``StateStore.open(idempotency_ttl=...)``)."""
        return self._idempotency_ttl

    # -- data lifecycle (see threadloom.retention) -------------------------------------

    def retention_policy(self) -> RetentionPolicy | None:
        """The retention policy stored in the database, or ``None``.

        Raises:
            CorruptData: The stored policy does not parse.
        """
        from .retention import get_policy

        return get_policy(self)

    def set_retention_policy(self, policy: RetentionPolicy | None) -> None:
        """Store the retention policy every process applies (``None`` removes it).

        Raises:
            InvalidRecord: A rule is out of range (nothing is stored).
            ReadOnlyStore: The store was opened read-only.
        """
        from .retention import set_policy

        set_policy(self, policy, self._now())

    def run_retention(
        self,
        policy: RetentionPolicy | None = None,
        *,
        dry_run: bool = False,
        batch_size: int = 20,
    ) -> RetentionReport:
        """Apply a retention policy (default: the stored one) in short batches.

        Args:
            policy: The policy; ``None`` for the stored one.
            dry_run: Only plan: the report lists what would go.
            batch_size: Items per transaction.

        Raises:
            ReadOnlyStore: The store was opened read-only (a dry run is fine).
            StoreBusy: A batch could not get the write lock in time (earlier ones stay).
        """
        from .retention import run_retention

        return run_retention(self, policy, dry_run=dry_run, batch_size=batch_size, now=self._now())

    @property
    def workflows(self) -> WorkflowStore:
        """The workflow trace store (runs, branches, leaves, control nodes, replay)."""
        if self._workflows is None:
            from .workflows import WorkflowStore

            self._workflows = WorkflowStore(self._backend, clock=self._now)
        return self._workflows

    # -- threads ---------------------------------------------------------------------

    def upsert_thread(self, thread: ThreadMetadata) -> None:
        """Insert or update a thread, then append its name to the session index.

        ``thread.current_leaf_id`` is ignored (use :meth:`append_message` or
        :meth:`set_current_leaf_id`), as in the original.

        Raises:
            InvalidRecord: A field has the wrong type.
            StoreBusy: The write lock could not be had in time.
        """
        thread = _check_thread(thread)
        self._backend.upsert_thread(thread)
        self._index.append(
            SessionIndexEntry(
                thread_id=thread.id,
                thread_name=thread.name,
                updated_at=thread.updated_at,
                rollout_path=thread.rollout_path,
            )
        )

    def get_thread(self, id: str) -> ThreadMetadata | None:
        """One thread, or ``None``.

        Raises:
            CorruptData: The row's ``current_leaf_id`` is not a message id.
        """
        return self._backend.get_thread(check_str(id, "id"))

    def list_threads(
        self,
        filters: ThreadListFilters | None = None,
        *,
        include_archived: bool | None = None,
        limit: int | None = None,
    ) -> list[ThreadMetadata]:
        """Threads, most recently updated first (ties: most recently inserted first).

        Args:
            filters: The original's filter object; keyword arguments override it.
            include_archived: Include archived threads (default ``False``).
            limit: At most this many (default 50).

        Raises:
            InvalidRecord: ``limit`` is negative (a ``ValueError``).
        """
        if filters is not None and not isinstance(filters, ThreadListFilters):
            raise InvalidType(f"filters must be a ThreadListFilters, got {type(filters).__name__}")
        base = filters or ThreadListFilters()
        archived = base.include_archived if include_archived is None else include_archived
        check_bool(archived, "include_archived")
        count = _limit(base.limit if limit is None else limit, ThreadListFilters.DEFAULT_LIMIT)
        return self._backend.list_threads(include_archived=bool(archived), limit=count)

    def iter_threads(self, *, include_archived: bool = True) -> Iterator[ThreadMetadata]:
        """Every thread, most recently updated first, without a limit."""
        return self._backend.iter_threads(
            include_archived=check_bool(include_archived, "include_archived")
        )

    def mark_archived(self, id: str) -> bool:
        """Archive a thread (status ``archived``, ``archived_at`` now).

        Returns:
            Whether the thread exists.
        """
        return self._backend.mark_archived(check_str(id, "id"), self._now())

    def mark_unarchived(self, id: str) -> bool:
        """Unarchive a thread; a status of ``archived`` becomes ``idle``.

        Returns:
            Whether the thread exists.
        """
        return self._backend.mark_unarchived(check_str(id, "id"))

    def delete_thread(self, id: str) -> bool:
        """Delete a thread with its messages, checkpoints, dynamic tools and goal.

        Session-index entries stay (the index is the original's append-only log); the
        deletion is recorded, so ``compact_session_index(drop_deleted=True)`` may drop
        them later.

        Returns:
            Whether anything was deleted.
        """
        return self._backend.delete_thread(check_str(id, "id"))

    def set_thread_memory_mode(self, id: str, mode: str | None) -> None:
        """Set (or, with ``None``, clear) a thread's memory mode.

        Raises:
            NotFound: The thread does not exist.
        """
        self._backend.set_thread_memory_mode(check_str(id, "id"), check_opt_str(mode, "mode"))

    def get_thread_memory_mode(self, id: str) -> str | None:
        """A thread's memory mode (``None`` if unset or the thread does not exist)."""
        return self._backend.get_thread_memory_mode(check_str(id, "id"))

    def find_rollout_path_by_id(self, id: str) -> str | None:
        """A thread's rollout path from the database (``None`` if unset or missing)."""
        return self._backend.find_rollout_path_by_id(check_str(id, "id"))

    # -- goals -----------------------------------------------------------------------

    def upsert_thread_goal(self, goal: ThreadGoalRecord) -> None:
        """Insert or replace the goal of ``goal.thread_id``.

        Raises:
            NotFound: The thread does not exist (message ``thread <id> not found``).
            InvalidRecord: A field has the wrong type.
        """
        if not isinstance(goal, ThreadGoalRecord):
            raise InvalidType(f"goal must be a ThreadGoalRecord, got {type(goal).__name__}")
        self._backend.upsert_thread_goal(goal.validated())

    def get_thread_goal(self, thread_id: str) -> ThreadGoalRecord | None:
        """The thread's goal, or ``None``. An unknown stored status reads as ``paused``."""
        return self._backend.get_thread_goal(check_str(thread_id, "thread_id"))

    def delete_thread_goal(self, thread_id: str) -> bool:
        """Delete the thread's goal; whether there was one."""
        return self._backend.delete_thread_goal(check_str(thread_id, "thread_id"))

    def record_thread_goal_usage(
        self,
        thread_id: str,
        tokens_delta: int,
        seconds_delta: int,
        now: int | None = None,
    ) -> ThreadGoalRecord | None:
        """Add tokens and seconds to the goal's counters (``updated_at`` never goes back).

        Returns:
            The goal after the update, or ``None`` if the thread has no goal.

        Raises:
            InvalidRecord: A delta is not a 64-bit integer.
        """
        stamp = self._now() if now is None else check_i64(now, "now")
        return self._backend.record_thread_goal_usage(
            check_str(thread_id, "thread_id"),
            check_i64(tokens_delta, "tokens_delta"),
            check_i64(seconds_delta, "seconds_delta"),
            stamp,
        )

    def record_thread_goal_continuation(self, thread_id: str) -> ThreadGoalRecord | None:
        """Count one more continuation of the goal.

        Returns:
            The goal after the update, or ``None`` if the thread has no goal.
        """
        return self._backend.record_thread_goal_continuation(check_str(thread_id, "thread_id"))

    # -- messages --------------------------------------------------------------------

    @staticmethod
    def _item_json(item: JSONValue) -> str | None:
        return None if item is None else encode_json(item, "message item")

    def _once(self, key: object, *parts: str | None) -> Any:
        return idempotent_write(
            key,
            parts,
            now=self._now(),
            ttl=self._idempotency_ttl,
            secret=self._fingerprint_secret,
        )

    def append_message(
        self,
        thread_id: str,
        role: str,
        content: str,
        item: JSONValue = None,
        *,
        idempotency_key: str | None = None,
    ) -> int:
        """Append a message under the thread's current leaf; it becomes the new leaf.

        Args:
            thread_id: The thread.
            role: ``"user"``, ``"assistant"``, ``"tool"``, ``"system"``...
            content: The text.
            item: Any JSON value (tool call, tool result...), or ``None`` for none.
            idempotency_key: Append at most once per key and thread: a later call
                with the same key returns the first call's id and writes nothing
                (across processes and restarts, for ``idempotency_ttl``).

        Returns:
            The new message id (with a key already used: the first call's).

        Raises:
            NotFound: The thread does not exist.
            Conflict: ``idempotency_key`` was used for another write on the thread.
            InvalidRecord: ``item`` is not JSON-serializable, or text is not valid UTF-8.
        """
        if idempotency_key is not None:
            role, content = check_str(role, "role"), check_str(content, "content")
            item_json = self._item_json(item)
            return self._backend.append_message_once(
                check_str(thread_id, "thread_id"),
                self._once(idempotency_key, role, content, item_json),
                role,
                content,
                item_json,
                self._now(),
            )
        return self._backend.append_message(
            check_str(thread_id, "thread_id"),
            check_str(role, "role"),
            check_str(content, "content"),
            self._item_json(item),
            self._now(),
        )

    def fork_at_message(
        self,
        message_id: int | str,
        role: str,
        content: str,
        item: JSONValue = None,
        *,
        idempotency_key: str | None = None,
    ) -> int:
        """Add a message as a new child of ``message_id``; it becomes its thread's leaf.

        Args:
            message_id: The parent message.
            role: The new message's role.
            content: Its text.
            item: Any JSON value, or ``None``.
            idempotency_key: Fork at most once per key and thread (see
                :meth:`append_message`).

        Returns:
            The new message id (with a key already used: the first call's).

        Raises:
            NotFound: The message (or its thread) does not exist.
            Conflict: ``idempotency_key`` was used for another write on the thread.
            InvalidRecord: ``message_id`` is not an integer, or ``item`` is not JSON.
        """
        if idempotency_key is not None:
            parent = _message_id(message_id)
            role, content = check_str(role, "role"), check_str(content, "content")
            item_json = self._item_json(item)
            return self._backend.fork_at_message_once(
                parent,
                self._once(idempotency_key, str(parent), role, content, item_json),
                role,
                content,
                item_json,
                self._now(),
            )
        return self._backend.fork_at_message(
            _message_id(message_id),
            check_str(role, "role"),
            check_str(content, "content"),
            self._item_json(item),
            self._now(),
        )

    def list_messages(self, thread_id: str, limit: int | None = None) -> list[MessageRecord]:
        """The current branch: the newest ``limit`` messages up to the leaf, oldest first.

        Args:
            thread_id: The thread.
            limit: How many messages at most (default 500; 0 returns none).

        Raises:
            InvalidRecord: ``limit`` is negative (a ``ValueError``).
            CorruptData: A message item does not parse, or the branch's parent links
                form a cycle (the error names the thread and the message ids).
        """
        return self._backend.list_messages(check_str(thread_id, "thread_id"), _limit(limit, 500))

    def list_leaf_messages(self, thread_id: str) -> list[MessageRecord]:
        """Messages without children (the tips of every branch), by id."""
        return self._backend.list_leaf_messages(check_str(thread_id, "thread_id"))

    def list_all_messages(self, thread_id: str) -> list[MessageRecord]:
        """Every message of the thread, all branches, by id."""
        return self._backend.list_all_messages(check_str(thread_id, "thread_id"))

    def set_current_leaf_id(self, thread_id: str, current_leaf_id: int | str) -> None:
        """Switch the thread's current branch to end at ``current_leaf_id``.

        Raises:
            NotFound: The thread or the message does not exist.
            Conflict: The message belongs to another thread.
            InvalidRecord: ``current_leaf_id`` is not an integer.
        """
        self._backend.set_current_leaf_id(
            check_str(thread_id, "thread_id"), _message_id(current_leaf_id)
        )

    def clear_messages(self, thread_id: str) -> int:
        """Delete every message of the thread and reset its leaf; how many were deleted."""
        return self._backend.clear_messages(check_str(thread_id, "thread_id"))

    # -- dynamic tools ---------------------------------------------------------------

    def persist_dynamic_tools(self, thread_id: str, tools: Sequence[DynamicToolRecord]) -> None:
        """Replace the thread's dynamic tools, atomically.

        Raises:
            NotFound: The thread does not exist.
            Conflict: Two tools share a position (nothing is changed).
            InvalidRecord: A schema is not JSON-serializable.
        """
        thread_id = check_str(thread_id, "thread_id")
        if isinstance(tools, DynamicToolRecord | str | bytes) or not isinstance(tools, Iterable):
            raise InvalidType("tools must be a sequence of DynamicToolRecord")
        rows = []
        for tool in tools:
            if not isinstance(tool, DynamicToolRecord):
                raise InvalidType(f"tools must hold DynamicToolRecord, got {type(tool).__name__}")
            rows.append(
                ToolRow(
                    position=check_i64(tool.position, "tool.position"),
                    name=check_str(tool.name, "tool.name"),
                    description=check_opt_str(tool.description, "tool.description"),
                    input_schema_json=encode_json(
                        tool.input_schema, f"input schema of {tool.name}"
                    ),
                )
            )
        self._backend.persist_dynamic_tools(thread_id, rows)

    def get_dynamic_tools(self, thread_id: str) -> list[DynamicToolRecord]:
        """The thread's dynamic tools by position.

        Raises:
            CorruptData: A stored schema does not parse.
        """
        return self._backend.get_dynamic_tools(check_str(thread_id, "thread_id"))

    # -- checkpoints -----------------------------------------------------------------

    def save_checkpoint(
        self,
        thread_id: str,
        checkpoint_id: str,
        state: JSONValue,
        *,
        idempotency_key: str | None = None,
    ) -> None:
        """Save (or overwrite) a named checkpoint; it becomes the latest.

        Args:
            thread_id: The thread.
            checkpoint_id: The checkpoint's name.
            state: Any JSON value.
            idempotency_key: Save at most once per key and thread: a retried save
                does not overwrite a checkpoint saved since (see :meth:`append_message`).

        Raises:
            NotFound: The thread does not exist.
            Conflict: ``idempotency_key`` was used for another write on the thread.
            InvalidRecord: ``state`` is not JSON-serializable.
        """
        if idempotency_key is not None:
            checkpoint_id = check_str(checkpoint_id, "checkpoint_id")
            state_json = encode_json(state, "checkpoint state")
            self._backend.save_checkpoint_once(
                check_str(thread_id, "thread_id"),
                self._once(idempotency_key, checkpoint_id, state_json),
                checkpoint_id,
                state_json,
                self._now(),
            )
            return
        self._backend.save_checkpoint(
            check_str(thread_id, "thread_id"),
            check_str(checkpoint_id, "checkpoint_id"),
            encode_json(state, "checkpoint state"),
            self._now(),
        )

    def load_checkpoint(
        self, thread_id: str, checkpoint_id: str | None = None
    ) -> CheckpointRecord | None:
        """A named checkpoint, or (without a name) the one saved last.

        Raises:
            CorruptData: The stored state does not parse (the original returned null).
        """
        return self._backend.load_checkpoint(
            check_str(thread_id, "thread_id"), check_opt_str(checkpoint_id, "checkpoint_id")
        )

    def list_checkpoints(self, thread_id: str, limit: int | None = None) -> list[CheckpointRecord]:
        """Checkpoints, latest first (default limit 100).

        Raises:
            InvalidRecord: ``limit`` is negative (a ``ValueError``).
        """
        return self._backend.list_checkpoints(check_str(thread_id, "thread_id"), _limit(limit, 100))

    def delete_checkpoint(self, thread_id: str, checkpoint_id: str) -> bool:
        """Delete one checkpoint; whether it existed."""
        return self._backend.delete_checkpoint(
            check_str(thread_id, "thread_id"), check_str(checkpoint_id, "checkpoint_id")
        )

    # -- jobs ------------------------------------------------------------------------

    def upsert_job(self, job: JobStateRecord) -> None:
        """Insert or update a background job.

        Raises:
            InvalidRecord: A field has the wrong type, or progress is outside 0-255.
        """
        if not isinstance(job, JobStateRecord):
            raise InvalidType(f"job must be a JobStateRecord, got {type(job).__name__}")
        self._backend.upsert_job(job.validated())

    def get_job(self, id: str) -> JobStateRecord | None:
        """One job, or ``None``."""
        return self._backend.get_job(check_str(id, "id"))

    def list_jobs(self, limit: int | None = None) -> list[JobStateRecord]:
        """Jobs, most recently updated first (default limit 100).

        Raises:
            InvalidRecord: ``limit`` is negative (a ``ValueError``).
        """
        return self._backend.list_jobs(_limit(limit, 100))

    def delete_job(self, id: str) -> bool:
        """Delete a job; whether it existed."""
        return self._backend.delete_job(check_str(id, "id"))

    # -- session index ---------------------------------------------------------------

    def append_thread_name(
        self,
        thread_id: str,
        thread_name: str | None,
        updated_at: int,
        rollout_path: str | os.PathLike[str] | None = None,
    ) -> None:
        """Append a name entry to the session index (the database is not touched).

        Raises:
            InvalidRecord: An argument has the wrong type.
            ReadOnlyStore: The store was opened read-only.
            OSError: The index file cannot be written.
            ReadOnlyError: Called inside :meth:`snapshot`.
        """
        self._backend.check_writable("failed to append a thread name")
        self._index.append(
            SessionIndexEntry(
                thread_id=check_str(thread_id, "thread_id"),
                thread_name=check_opt_str(thread_name, "thread_name"),
                updated_at=check_i64(updated_at, "updated_at"),
                rollout_path=check_path(rollout_path, "rollout_path"),
            )
        )

    def find_thread_name_by_id(self, thread_id: str) -> str | None:
        """The thread's latest name in the session index."""
        entry = self._index.get(check_str(thread_id, "thread_id"))
        return None if entry is None else entry.thread_name

    def find_thread_names_by_ids(self, ids: Iterable[str]) -> dict[str, str | None]:
        """Latest names of several threads (``None`` for unknown or unnamed ones)."""
        if isinstance(ids, str | bytes) or not isinstance(ids, Iterable):
            raise InvalidType(f"ids must be an iterable of strings, got {type(ids).__name__}")
        wanted = [check_str(i, "ids[]") for i in ids]
        return {
            thread_id: None if entry is None else entry.thread_name
            for thread_id, entry in self._index.get_many(wanted).items()
        }

    def find_thread_path_by_name_str(self, name: str) -> str | None:
        """The rollout path of the most recently updated thread with this name.

        The match ignores ASCII case only, as the original's does.
        """
        entry = self._index.find_by_name(check_str(name, "name"))
        return None if entry is None else entry.rollout_path

    def session_index_entries(self) -> list[SessionIndexEntry]:
        """The latest session-index entry of every thread."""
        return self._index.entries()

    def session_index_health(self) -> IndexHealth:
        """Line, thread and corrupt-line counts of the session index."""
        return self._index.health()

    def compact_session_index(self, *, drop_deleted: bool = False) -> CompactionReport:
        """Rewrite the session index to the latest entry per thread, atomically.

        Args:
            drop_deleted: Also drop the entries of threads this database deleted (and
                no other database in the index's folder holds). Entries of any other
                thread missing here stay: the folder's other databases share the file.

        Raises:
            ReadOnlyStore: The store was opened read-only.
            OSError: The index cannot be rewritten.
            ReadOnlyError: Called inside :meth:`snapshot`.
        """
        self._backend.check_writable("failed to compact the session index")
        return self._index.compact(drop=self._backend.deleted_threads if drop_deleted else None)
