"""A real LangGraph graph on the saver: state survives, threads show up, the oracle reads it."""

from __future__ import annotations

import operator
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Annotated, TypedDict

from tests.integrations.conftest import need

need("langgraph.graph", "adapters-test")

from langchain_core.runnables import RunnableConfig  # noqa: E402
from langgraph.graph import END, START, StateGraph  # noqa: E402

from threadloom import StateStore  # noqa: E402
from threadloom.integrations.langgraph import ThreadloomSaver  # noqa: E402


class State(TypedDict):
    turns: Annotated[list[str], operator.add]


def _graph(saver: ThreadloomSaver):  # type: ignore[no-untyped-def]
    builder = StateGraph(State)
    builder.add_node("echo", lambda state: {"turns": [f"echo {len(state['turns'])}"]})
    builder.add_edge(START, "echo")
    builder.add_edge("echo", END)
    return builder.compile(checkpointer=saver)


def test_state_persists_across_savers_and_the_thread_is_listed(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    config: RunnableConfig = {"configurable": {"thread_id": "conv-1"}}
    with ThreadloomSaver.from_conn_string(str(db)) as saver:
        _graph(saver).invoke({"turns": ["hi"]}, config)
    with ThreadloomSaver.from_conn_string(str(db)) as saver:
        out = _graph(saver).invoke({"turns": ["again"]}, config)
        history = list(saver.list(config))
    assert out["turns"] == ["hi", "echo 1", "again", "echo 3"]
    assert len(history) >= 4
    with StateStore.open(db) as store:
        assert [t.id for t in store.list_threads()] == ["conv-1"]
        assert store.get_thread("conv-1") is not None


def test_delete_thread_removes_the_threadloom_thread(tmp_path: Path) -> None:
    config: RunnableConfig = {"configurable": {"thread_id": "gone"}}
    with ThreadloomSaver.from_conn_string(str(tmp_path / "s.db")) as saver:
        _graph(saver).invoke({"turns": ["x"]}, config)
        saver.delete_thread("gone")
        assert saver.get_tuple(config) is None
        assert saver.store.get_thread("gone") is None


def test_import_threadloom_imports_no_framework() -> None:
    code = (
        "import sys, threadloom, threadloom.integrations\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "('langgraph', 'langchain_core', 'agents', 'google')]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_original_schema_is_intact(tmp_path: Path) -> None:
    """The adapters' tables are threadloom's own; the original's tables are untouched."""
    db = tmp_path / "state.db"
    with ThreadloomSaver.from_conn_string(str(db)) as saver:
        _graph(saver).invoke({"turns": ["x"]}, {"configurable": {"thread_id": "t"}})
    with sqlite3.connect(db) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"threadloom_graph_checkpoints", "threadloom_graph_writes", "threadloom_kv"} <= tables


def test_the_original_opens_a_database_the_saver_wrote(tmp_path: Path) -> None:
    from tests.support.ops import run_oracle
    from tests.support.shared import require_oracle

    oracle = require_oracle()
    db = tmp_path / "state.db"
    with ThreadloomSaver.from_conn_string(str(db)) as saver:
        _graph(saver).invoke({"turns": ["x"]}, {"configurable": {"thread_id": "lg-1"}})
    answers = run_oracle(oracle, db, [{"op": "get_thread", "id": "lg-1"}, {"op": "list_threads"}])
    assert answers[0]["ok"]["id"] == "lg-1"
    assert [t["id"] for t in answers[1]["ok"]] == ["lg-1"]


def test_a_message_graph_reads_as_a_transcript_and_forks_on_time_travel(tmp_path: Path) -> None:
    """``show`` displays a graph's messages: they are mirrored as the thread's branch."""
    from langchain_core.messages import AIMessage, HumanMessage
    from langgraph.graph import MessagesState

    def reply(state: MessagesState) -> dict[str, list[AIMessage]]:
        return {"messages": [AIMessage(content=f"reply {len(state['messages'])}")]}

    builder = StateGraph(MessagesState)
    builder.add_node("reply", reply)
    builder.add_edge(START, "reply")
    builder.add_edge("reply", END)
    config: RunnableConfig = {"configurable": {"thread_id": "chat"}}
    with ThreadloomSaver.from_conn_string(str(tmp_path / "state.db")) as saver:
        graph = builder.compile(checkpointer=saver)
        graph.invoke(MessagesState(messages=[HumanMessage("hi")]), config)
        graph.invoke(MessagesState(messages=[HumanMessage("more")]), config)
        store = saver.store
        assert [(m.role, m.content) for m in store.list_messages("chat")] == [
            ("user", "hi"),
            ("assistant", "reply 1"),
            ("user", "more"),
            ("assistant", "reply 3"),
        ]
        # Time travel: resume from the checkpoint after the first reply, say something else.
        first_turn = next(
            s.config for s in graph.get_state_history(config) if len(s.values["messages"]) == 2
        )
        graph.invoke(MessagesState(messages=[HumanMessage("instead")]), first_turn)
        assert [m.content for m in store.list_messages("chat")] == [
            "hi",
            "reply 1",
            "instead",
            "reply 3",
        ]
        assert len(store.list_leaf_messages("chat")) == 2  # the first future is kept
