"""The original: the seed's Rust ``StateStore`` behind ``seed-oracle``.

Scenarios the oracle has (``append``, ``list_threads``, ``name_lookup``, ``checkpoint``,
``upsert_thread``, ``fork``) run in its ``bench`` mode, timed inside the process. The
rest (``turn``, ``resume``, ``concurrent``) and those whose set-up would take minutes
per repetition (a 10,000-message chain, 100,000 threads or index entries) run in its
``run`` mode on a copy of the same fixture the other contenders use (the on-disk
format is the same; the copy is in rollback-journal mode, the original's own). There
the span is timed from the answer to a first marker op to the answer to the last op:
it holds the original's per-op work plus reading and writing one JSON line per op
(a few microseconds against its ~1 ms per write).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import IO, Any

from ..workloads import (
    CONTENT,
    THREAD_ID,
    THREADLOOM_ONLY,
    Fixtures,
    Sample,
    Workload,
    bench_thread,
    message_item,
    random_picks,
    turn_state,
)
from .library import fixture_for

__all__ = ["OracleContender", "oracle_path"]

_DEFAULT = Path(__file__).resolve().parents[3] / "shared" / "oracle" / "seed-oracle"
_BENCH_MODE = {"append", "checkpoint", "upsert_thread", "fork"}
_MARKER = json.dumps({"op": "db_path"})


def oracle_path() -> Path | None:
    """The oracle binary (``$SEED_ORACLE`` or ``../shared/oracle/seed-oracle``), if present."""
    path = Path(os.environ.get("SEED_ORACLE", _DEFAULT))
    return path if path.is_file() and os.access(path, os.X_OK) else None


class _Run:
    """One ``seed-oracle run`` process fed a whole script; answers are time-stamped."""

    def __init__(self, binary: Path, db: Path, lines: list[str]) -> None:
        self.lines = lines
        self.proc = subprocess.Popen(
            [str(binary), "run", str(db)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self.first = 0.0
        self.last = 0.0
        self.errors = 0
        self.first_error = ""
        self.answers = 0
        self._feeder = threading.Thread(target=self._feed, daemon=True)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._feeder.start()
        self._reader.start()

    def _feed(self) -> None:
        stdin: IO[bytes] | None = self.proc.stdin
        assert stdin is not None
        try:
            stdin.write(("\n".join(self.lines) + "\n").encode())
            stdin.close()
        except BrokenPipeError:  # the process failed to open; stderr says why
            pass

    def _read(self) -> None:
        stdout = self.proc.stdout
        assert stdout is not None
        for index, line in enumerate(stdout):
            now = time.perf_counter()
            if index == 0:
                self.first = now
                continue
            self.last = now
            self.answers += 1
            if line.startswith(b'{"err"'):
                self.errors += 1
                self.first_error = self.first_error or line.decode(errors="replace").strip()

    def wait(self) -> None:
        self._feeder.join()
        self._reader.join()
        stderr = self.proc.stderr
        assert stderr is not None
        err = stderr.read()
        stderr.close()
        assert self.proc.stdout is not None
        self.proc.stdout.close()
        if self.proc.wait() != 0:
            raise RuntimeError(f"seed-oracle run failed: {err.decode(errors='replace')}")


def _op(op: str, **args: Any) -> str:
    return json.dumps({"op": op, **args}, separators=(",", ":"))


class OracleContender:
    """``seed-oracle`` (rollback journal, a connection per call, as the original)."""

    name = "original"
    durability = ""

    def __init__(self, binary: Path | None = None) -> None:
        found = binary or oracle_path()
        if found is None:
            raise FileNotFoundError("seed-oracle not found (set $SEED_ORACLE)")
        self.binary = found

    def supports(self, workload: Workload) -> bool:
        return workload.family not in THREADLOOM_ONLY

    def run(self, workload: Workload, fixtures: Fixtures, workdir: Path) -> Sample:
        w = workload
        small = w.family in ("list_threads", "name_lookup") and w.size <= 2_000
        if w.family in _BENCH_MODE or small:
            return self._bench(w, workdir)
        db = fixture_for(w, fixtures, workdir)
        ops = w.original_ops or w.ops
        if w.family == "concurrent":
            return self._concurrent(db, w.size, ops)
        script = self._script(w, ops)
        run = _Run(self.binary, db, [_MARKER, *script])
        run.wait()
        # A turn is four lines and a resume two; count operations, not lines.
        per = {"turn": 4, "resume": 2}.get(w.family, 1)
        sample = Sample(ops=run.answers // per, seconds=run.last - run.first, errors=run.errors)
        if run.first_error:
            sample.extra["first_error"] = run.first_error
        return sample

    def _bench(self, w: Workload, workdir: Path) -> Sample:
        scenario = w.family
        # list_threads/name_lookup: N is the table or index size; 1,000 calls are timed.
        n = w.size if scenario in ("list_threads", "name_lookup") else w.ops
        db = workdir / "oracle" / "state.db"
        db.parent.mkdir(parents=True, exist_ok=True)
        out = subprocess.run(
            [str(self.binary), "bench", str(db), scenario, str(n)],
            check=True,
            capture_output=True,
            timeout=900,
        )
        data = json.loads(out.stdout.decode().strip().splitlines()[-1])
        shutil.rmtree(db.parent, ignore_errors=True)
        return Sample(ops=int(data["timed_ops"]), seconds=float(data["seconds"]), extra=data)

    @staticmethod
    def _script(w: Workload, ops: int) -> list[str]:
        if w.family == "read_branch":
            return [_op("list_messages", thread_id=THREAD_ID, limit=200)] * ops
        if w.family == "list_threads":
            return [_op("list_threads", limit=50)] * ops
        if w.family == "name_lookup":
            picks = random_picks(ops, w.size)
            return [_op("find_thread_name_by_id", thread_id=f"t{i - 1}") for i in picks]
        if w.family == "resume":
            return [
                line
                for _ in range(ops)
                for line in (
                    _op("list_messages", thread_id=THREAD_ID, limit=500),
                    _op("load_checkpoint", thread_id=THREAD_ID),
                )
            ]
        if w.family == "turn":
            lines: list[str] = []
            for i in range(ops):
                thread = bench_thread(THREAD_ID).to_dict()
                thread["updated_at"] = thread["updated_at"] + i
                lines += [
                    _op("get_thread", id=THREAD_ID),
                    _op("upsert_thread", thread=thread),
                    _op(
                        "append_message",
                        thread_id=THREAD_ID,
                        role="user",
                        content=CONTENT,
                        item=message_item(i),
                    ),
                    _op(
                        "save_checkpoint",
                        thread_id=THREAD_ID,
                        checkpoint_id="latest",
                        state=turn_state(i),
                    ),
                ]
            return lines
        raise ValueError(f"the oracle has no run-mode workload {w.family!r}")

    def _concurrent(self, db: Path, writers: int, per_writer: int) -> Sample:
        runs = [
            _Run(
                self.binary,
                db,
                [
                    _MARKER,
                    *(
                        _op(
                            "append_message",
                            thread_id=f"t{k}",
                            role="user",
                            content=CONTENT,
                            item=message_item(i),
                        )
                        for i in range(per_writer)
                    ),
                ],
            )
            for k in range(writers)
        ]
        for run in runs:
            run.wait()
        sample = Sample(
            ops=sum(r.answers - r.errors for r in runs),
            seconds=max(r.last for r in runs) - min(r.first for r in runs),
            errors=sum(r.errors for r in runs),
            extra={"writers": writers},
        )
        errors = [r.first_error for r in runs if r.first_error]
        if errors:
            sample.extra["first_error"] = errors[0]
        return sample
