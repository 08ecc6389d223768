"""Row mappers shared by the backends: database rows to records.

Each mapper takes a row tuple in the column order of the matching ``*_COLUMNS``
constant. JSON columns arrive either as text (SQLite) or already decoded
(PostgreSQL ``jsonb``); the backend passes a ``decode`` function accordingly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from ..._fastrecords import positional_builder
from ..._json import decode_json, decode_text, fast_loads_for
from ...errors import CorruptData
from ...records import (
    CheckpointRecord,
    DynamicToolRecord,
    JobStateRecord,
    MessageRecord,
    SessionSource,
    ThreadGoalRecord,
    ThreadMetadata,
    ThreadStatus,
)

__all__ = [
    "CHECKPOINT_COLUMNS",
    "GOAL_COLUMNS",
    "IN_LIST_SIZE",
    "JOB_COLUMNS",
    "MESSAGE_COLUMNS",
    "THREAD_COLUMNS",
    "THREAD_WRITE_COLUMNS",
    "TOOL_COLUMNS",
    "Decoder",
    "checkpoint_from_row",
    "chunks",
    "goal_from_row",
    "job_from_row",
    "message_from_row",
    "messages_from_rows",
    "set_from_excluded",
    "text_decoder",
    "thread_from_row",
    "threads_from_rows",
    "tool_from_row",
]

THREAD_COLUMNS = (
    "id, rollout_path, preview, ephemeral, model_provider, created_at, updated_at, status, "
    "path, cwd, cli_version, source, title, sandbox_policy, approval_mode, archived, "
    "archived_at, git_sha, git_branch, git_origin_url, memory_mode, current_leaf_id"
)
MESSAGE_COLUMNS = "id, thread_id, role, content, item_json, created_at, parent_entry_id"
CHECKPOINT_COLUMNS = "thread_id, checkpoint_id, state_json, created_at"
JOB_COLUMNS = "id, name, status, progress, detail, created_at, updated_at"
TOOL_COLUMNS = "position, name, description, input_schema"
GOAL_COLUMNS = (
    "thread_id, goal_id, objective, status, token_budget, tokens_used, time_used_seconds, "
    "created_at, updated_at, continuation_count"
)

#: The ``threads`` columns an upsert writes: all but ``current_leaf_id``, which the
#: original's ``upsert_thread`` leaves alone.
THREAD_WRITE_COLUMNS = tuple(c.strip() for c in THREAD_COLUMNS.split(","))[:-1]


def set_from_excluded(columns: str | Sequence[str], *, key: str) -> str:
    """The ``SET`` list of an ``ON CONFLICT ... DO UPDATE``: every column but the key
    from ``excluded`` (SQLite and PostgreSQL share this syntax)."""
    names = [c.strip() for c in columns.split(",")] if isinstance(columns, str) else columns
    return ",\n    ".join(f"{c} = excluded.{c}" for c in names if c != key)


Row = Sequence[Any]

#: ``decode(value, table=..., row=..., column=...)``: stored JSON to a Python value.
Decoder = Callable[..., Any]

# The mappers below run once per row read (50 threads per list_threads, 200-500
# messages per list_messages): positional builders and enum lookups in dicts, because
# keyword construction is a large share of those reads (bench/internals.py).
_new_thread = positional_builder(ThreadMetadata)
_new_message = positional_builder(MessageRecord)
_new_checkpoint = positional_builder(CheckpointRecord)
_THREAD_STATUS = {m.value: m for m in ThreadStatus}
_SESSION_SOURCE = {m.value: m for m in SessionSource}


def text_decoder(value: Any, *, table: str, row: str, column: str) -> Any:
    """Decode JSON stored as text (SQLite)."""
    return decode_json(value, table=table, row=row, column=column)


def thread_from_row(row: Sequence[Any]) -> ThreadMetadata:
    """A ``threads`` row (``THREAD_COLUMNS``) as a record.

    Raises:
        CorruptData: ``current_leaf_id`` holds text (the seed stored any string there).
    """
    leaf = row[21]
    if leaf is not None and type(leaf) is not int:
        raise CorruptData(
            f"threads row id={row[0]!r} has a current_leaf_id that is not a message id: "
            f"{leaf!r} (run `threadloom repair` to reset it)",
            table="threads",
            row=f"id={row[0]!r}",
        )
    (
        id_,
        rollout_path,
        preview,
        ephemeral,
        model_provider,
        created_at,
        updated_at,
        status,
        path,
        cwd,
        cli_version,
        source,
        title,
        sandbox_policy,
        approval_mode,
        archived,
        archived_at,
        git_sha,
        git_branch,
        git_origin_url,
        memory_mode,
        _,
    ) = row
    return _new_thread(
        id_,
        rollout_path,
        preview,
        bool(ephemeral),
        model_provider,
        created_at,
        updated_at,
        _THREAD_STATUS.get(status, ThreadStatus.IDLE)
        if type(status) is str
        else ThreadMetadata.status_from_storage(status),
        path,
        cwd,
        cli_version,
        _SESSION_SOURCE.get(source, SessionSource.UNKNOWN)
        if type(source) is str
        else ThreadMetadata.source_from_storage(source),
        title,
        sandbox_policy,
        approval_mode,
        bool(archived),
        archived_at,
        git_sha,
        git_branch,
        git_origin_url,
        memory_mode,
        leaf,
    )


def threads_from_rows(rows: Sequence[Row]) -> list[ThreadMetadata]:
    """``thread_from_row`` of every row, in one loop (a page of ``list_threads``).

    A row with anything unusual (a text leaf, a status or source that is not text)
    goes to ``thread_from_row``, with its answer or error.

    Raises:
        CorruptData: A row's ``current_leaf_id`` holds text.
    """
    new = _new_thread
    status_of, source_of = _THREAD_STATUS.get, _SESSION_SOURCE.get
    idle, unknown = ThreadStatus.IDLE, SessionSource.UNKNOWN
    out: list[ThreadMetadata] = []
    add = out.append
    for row in rows:
        (
            id_,
            rollout_path,
            preview,
            ephemeral,
            model_provider,
            created_at,
            updated_at,
            status,
            path,
            cwd,
            cli_version,
            source,
            title,
            sandbox_policy,
            approval_mode,
            archived,
            archived_at,
            git_sha,
            git_branch,
            git_origin_url,
            memory_mode,
            leaf,
        ) = row
        if (
            (leaf is not None and type(leaf) is not int)
            or type(status) is not str
            or type(source) is not str
        ):
            add(thread_from_row(row))
            continue
        add(
            new(
                id_,
                rollout_path,
                preview,
                bool(ephemeral),
                model_provider,
                created_at,
                updated_at,
                status_of(status, idle),
                path,
                cwd,
                cli_version,
                source_of(source, unknown),
                title,
                sandbox_policy,
                approval_mode,
                bool(archived),
                archived_at,
                git_sha,
                git_branch,
                git_origin_url,
                memory_mode,
                leaf,
            )
        )
    return out


def message_from_row(row: Sequence[Any], decode: Decoder) -> MessageRecord:
    """A ``messages`` row (``MESSAGE_COLUMNS``) as a record.

    Raises:
        CorruptData: The item JSON does not parse.
    """
    raw = row[4]
    if raw is None:
        item = None
    elif decode is text_decoder and type(raw) is str:
        # The common case without three layers of calls; the row label is only built
        # on error (decode_json raises the same CorruptData as the slow path).
        try:
            item = decode_text(raw)
        except (ValueError, RecursionError):
            item = decode_json(raw, table="messages", row=f"id={row[0]}", column="item_json")
    else:
        item = decode(raw, table="messages", row=f"id={row[0]}", column="item_json")
    return _new_message(row[0], row[1], row[2], row[3], item, row[5], row[6])


def messages_from_rows(rows: Sequence[Row], decode: Decoder) -> list[MessageRecord]:
    """``message_from_row`` of every row, in one loop (a branch of 200-500 messages).

    The per-row steps of the single-row mapper are paid once for the whole read: the
    exactness scan of the items (``fast_loads_for``) runs over their joined texts,
    and the loop decodes and builds each record without a call in between. Anything
    unusual (items that are not text, a run of 19+ digits, a decoder other than
    ``text_decoder``) takes ``message_from_row`` row by row, with its answers and errors.

    Raises:
        CorruptData: An item's JSON does not parse (the error names its row).
    """
    if decode is not text_decoder:
        return [message_from_row(row, decode) for row in rows]
    try:
        loads = fast_loads_for("\n".join([row[4] or "" for row in rows]))
    except TypeError:  # an item stored as a number or a blob
        loads = None
    if loads is None:
        return [message_from_row(row, decode) for row in rows]
    new = _new_message
    out: list[MessageRecord] = []
    add = out.append
    for id_, thread_id, role, content, raw, created_at, parent in rows:
        if raw is None:
            item = None
        else:
            try:
                item = loads(raw)
            except ValueError:
                # What orjson refuses (NaN, lone surrogates, deep nesting): the
                # stdlib's answer, or CorruptData naming the row.
                item = decode_json(raw, table="messages", row=f"id={id_}", column="item_json")
        add(new(id_, thread_id, role, content, item, created_at, parent))
    return out


def checkpoint_from_row(row: Sequence[Any], decode: Decoder) -> CheckpointRecord:
    """A ``checkpoints`` row as a record.

    Raises:
        CorruptData: The state JSON does not parse (the seed returned ``null``).
    """
    raw = row[2]
    if decode is text_decoder and type(raw) is str:
        try:
            return _new_checkpoint(row[0], row[1], decode_text(raw), row[3])
        except (ValueError, RecursionError):
            pass  # decode again below, for the error naming the row
    state = decode(
        raw,
        table="checkpoints",
        row=f"thread_id={row[0]!r}, checkpoint_id={row[1]!r}",
        column="state_json",
    )
    return _new_checkpoint(row[0], row[1], state, row[3])


def job_from_row(row: Sequence[Any]) -> JobStateRecord:
    """A ``jobs`` row as a record (progress outside 0..255 reads as ``None``, as the original)."""
    progress = row[3]
    if type(progress) is not int or not 0 <= progress <= 255:
        progress = None
    return JobStateRecord(
        id=row[0],
        name=row[1],
        status=JobStateRecord.status_from_storage(row[2]),
        progress=progress,
        detail=row[4],
        created_at=row[5],
        updated_at=row[6],
    )


def tool_from_row(row: Sequence[Any], thread_id: str, decode: Decoder) -> DynamicToolRecord:
    """A ``thread_dynamic_tools`` row as a record.

    Raises:
        CorruptData: The input schema JSON does not parse.
    """
    schema = decode(
        row[3],
        table="thread_dynamic_tools",
        row=f"thread_id={thread_id!r}, position={row[0]}",
        column="input_schema",
    )
    return DynamicToolRecord(position=row[0], name=row[1], description=row[2], input_schema=schema)


def goal_from_row(row: Sequence[Any]) -> ThreadGoalRecord:
    """A ``thread_goals`` row (``GOAL_COLUMNS``) as a record; unknown status reads ``paused``."""
    return ThreadGoalRecord(
        thread_id=row[0],
        goal_id=row[1],
        objective=row[2],
        status=ThreadGoalRecord.status_from_storage(row[3]),
        token_budget=row[4],
        tokens_used=row[5],
        time_used_seconds=row[6],
        created_at=row[7],
        updated_at=row[8],
        continuation_count=row[9],
    )


#: Keys per ``IN (...)`` list: well under SQLite's variable limit, small for PostgreSQL.
IN_LIST_SIZE = 500


def chunks(keys: Sequence[Any]) -> Iterator[Sequence[Any]]:
    """``keys`` in slices of :data:`IN_LIST_SIZE`, for one ``IN (...)`` list each."""
    for start in range(0, len(keys), IN_LIST_SIZE):
        yield keys[start : start + IN_LIST_SIZE]
