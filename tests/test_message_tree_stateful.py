"""A Hypothesis state machine for the message tree against a plain in-memory model.

Appends, forks, leaf switches and clears run on a real SQLite file; after every step
the current branch, the leaves and the current leaf must match the model.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    multiple,
    precondition,
    rule,
)

from threadloom import Conflict, NotFound, StateStore, ThreadMetadata

THREADS = ("a", "b")
TEXT = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=12)
ITEM = st.none() | st.dictionaries(st.sampled_from(["type", "n"]), st.integers(-5, 5), max_size=2)


@dataclass
class _Message:
    thread: str
    parent: int | None
    content: str


class MessageTree(RuleBasedStateMachine):
    """The store's message tree versus a dictionary of messages and a leaf per thread."""

    message_ids = Bundle("message_ids")

    def __init__(self) -> None:
        super().__init__()
        self.folder = Path(tempfile.mkdtemp(prefix="threadloom-tree-"))
        self.store = StateStore.open(self.folder / "state.db")
        for thread_id in THREADS:
            self.store.upsert_thread(ThreadMetadata.create(thread_id, now=1))
        self.messages: dict[int, _Message] = {}
        self.leaf: dict[str, int | None] = dict.fromkeys(THREADS)

    def teardown(self) -> None:
        self.store.close()
        shutil.rmtree(self.folder, ignore_errors=True)

    # -- the model ---------------------------------------------------------------

    def _branch(self, thread: str) -> list[int]:
        out: list[int] = []
        cursor = self.leaf[thread]
        while cursor is not None:
            out.append(cursor)
            cursor = self.messages[cursor].parent
        return out[::-1]

    def _leaves(self, thread: str) -> list[int]:
        parents = {m.parent for m in self.messages.values()}
        return sorted(
            i for i, m in self.messages.items() if m.thread == thread and i not in parents
        )

    # -- rules -------------------------------------------------------------------

    @rule(target=message_ids, thread=st.sampled_from(THREADS), content=TEXT, item=ITEM)
    def append(self, thread: str, content: str, item: object) -> int:
        new = self.store.append_message(thread, "user", content, item)
        assert new not in self.messages
        self.messages[new] = _Message(thread, self.leaf[thread], content)
        self.leaf[thread] = new
        return new

    @rule(target=message_ids, at=message_ids, content=TEXT, as_text=st.booleans())
    def fork(self, at: int, content: str, as_text: bool) -> object:
        if at not in self.messages:  # cleared since it was made
            with pytest.raises(NotFound):
                self.store.fork_at_message(str(at) if as_text else at, "assistant", content)
            return multiple()
        new = self.store.fork_at_message(str(at) if as_text else at, "assistant", content)
        thread = self.messages[at].thread
        self.messages[new] = _Message(thread, at, content)
        self.leaf[thread] = new
        return new

    @rule(message=message_ids, thread=st.sampled_from(THREADS))
    def switch_leaf(self, message: int, thread: str) -> None:
        known = self.messages.get(message)
        if known is None:
            with pytest.raises(NotFound):
                self.store.set_current_leaf_id(thread, message)
        elif known.thread != thread:
            with pytest.raises(Conflict):
                self.store.set_current_leaf_id(thread, message)
        else:
            self.store.set_current_leaf_id(thread, message)
            self.leaf[thread] = message

    @rule(message=consumes(message_ids))
    def forget(self, message: int) -> None:
        """Drop an id from the bundle, so old ids do not crowd out new ones."""

    @precondition(lambda self: bool(self.messages))
    @rule(thread=st.sampled_from(THREADS))
    def clear(self, thread: str) -> None:
        mine = [i for i, m in self.messages.items() if m.thread == thread]
        assert self.store.clear_messages(thread) == len(mine)
        for message_id in mine:
            del self.messages[message_id]
        self.leaf[thread] = None

    @rule(thread=st.sampled_from(THREADS), limit=st.none() | st.integers(0, 8))
    def list_branch(self, thread: str, limit: int | None) -> None:
        branch = self._branch(thread)
        # The newest `limit` messages up to the leaf, oldest first; 0 gives none.
        window = 500 if limit is None else limit
        expected = branch[-window:] if window else []
        got = self.store.list_messages(thread, limit)
        assert [m.id for m in got] == expected
        assert [m.content for m in got] == [self.messages[i].content for i in expected]
        assert [m.parent_entry_id for m in got] == [self.messages[i].parent for i in expected]

    # -- invariants --------------------------------------------------------------

    @invariant()
    def leaves_and_current_leaf_match(self) -> None:
        for thread in THREADS:
            assert [m.id for m in self.store.list_leaf_messages(thread)] == self._leaves(thread)
            record = self.store.get_thread(thread)
            assert record is not None and record.current_leaf_id == self.leaf[thread]

    @invariant()
    def full_branch_matches(self) -> None:
        for thread in THREADS:
            assert [m.id for m in self.store.list_messages(thread, 10_000)] == self._branch(thread)


MessageTree.TestCase.settings = settings(
    max_examples=25,
    stateful_step_count=25,
    deadline=None,
    # No example database: tests write nothing into the working tree.
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestMessageTree = MessageTree.TestCase
