"""Where the store lives on disk, and private file and directory creation.

Session history holds secrets (tool output, keys pasted by users), so directories
we create are 0700 and files we create are 0600; the permissions of existing ones
are never loosened (nor tightened: they are the user's choice).
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

__all__ = [
    "ENV_HOME",
    "SESSION_INDEX_NAME",
    "default_state_db_path",
    "ensure_private_dir",
    "fsync_dir",
    "open_private_file",
    "replace_private",
    "session_index_path_for",
]

#: Environment variable naming the state directory (the original's later addition).
ENV_HOME = "CODEWHALE_HOME"
SESSION_INDEX_NAME = "session_index.jsonl"


def default_state_db_path(environ: os._Environ[str] | dict[str, str] | None = None) -> Path:
    """The database path the original uses when none is given.

    ``$CODEWHALE_HOME/state.db`` when that variable is set (no legacy fallback);
    otherwise ``~/.codewhale/state.db``, or ``~/.deepseek/state.db`` when only that
    legacy file exists.
    """
    env = os.environ if environ is None else environ
    home_override = env.get(ENV_HOME)
    if home_override:
        return Path(home_override) / "state.db"
    home = Path(env.get("HOME") or os.path.expanduser("~") or ".")
    primary = home / ".codewhale" / "state.db"
    legacy = home / ".deepseek" / "state.db"
    if primary.exists() or not legacy.exists():
        return primary
    return legacy


def session_index_path_for(db_path: Path) -> Path:
    """``session_index.jsonl`` beside the database, as the original places it."""
    return db_path.parent / SESSION_INDEX_NAME


def ensure_private_dir(path: Path) -> None:
    """Create ``path`` and missing parents with mode 0700; leave existing ones alone.

    Raises:
        OSError: The directory cannot be created (or a file is in the way).
    """
    if path.is_dir():
        return
    missing: list[Path] = []
    cursor = path
    while not cursor.exists():
        missing.append(cursor)
        if cursor.parent == cursor:
            break
        cursor = cursor.parent
    for directory in reversed(missing):
        try:
            os.mkdir(directory, 0o700)
        except FileExistsError:
            continue
        # mkdir applies the umask; set the mode explicitly on what we created.
        os.chmod(directory, 0o700)


def open_private_file(path: Path, flags: int) -> int:
    """``os.open`` with mode 0600 for a file we create; an existing file keeps its mode.

    Returns:
        The file descriptor.
    """
    return os.open(path, flags | os.O_CLOEXEC, 0o600)


def replace_private(path: Path, data: bytes, *, mode: int | None = None) -> None:
    """Replace ``path`` with ``data`` atomically and durably.

    The bytes go to a new private file beside ``path`` (given ``mode`` if set, else
    0600), are fsynced, renamed over ``path``, and the directory is fsynced, so a crash
    leaves either the old file or the new one, never a truncated one. The temporary
    file is removed if anything fails.

    Raises:
        OSError: The file cannot be written or renamed.
    """
    temp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")
    fd = open_private_file(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    try:
        try:
            if mode is not None:
                os.fchmod(fd, mode)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def fsync_dir(directory: Path) -> None:
    """Make a rename in ``directory`` durable (where the file system allows it)."""
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:  # pragma: no cover - some file systems refuse directory descriptors
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
