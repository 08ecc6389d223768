"""threadloom as a LangGraph checkpointer: a graph's state survives, its thread is listed.

Run it with ``.venv/bin/python examples/langgraph_checkpointer.py`` after
``pip install -e '.[langgraph]' langgraph`` (or pass a database path or a
``postgresql://`` DSN as the first argument); without one it works in a temporary
folder and leaves nothing behind. No model and no network: the graph's one node
counts the turns.
"""

from __future__ import annotations

import operator
import sys
import tempfile
from pathlib import Path
from typing import Annotated, Any, TypedDict

from langgraph.graph import END, START, StateGraph

from threadloom import StateStore
from threadloom.integrations.langgraph import ThreadloomSaver


class State(TypedDict):
    turns: Annotated[list[str], operator.add]


def build(saver: ThreadloomSaver) -> Any:
    graph = StateGraph(State)
    graph.add_node("reply", lambda state: {"turns": [f"reply to turn {len(state['turns'])}"]})
    graph.add_edge(START, "reply")
    graph.add_edge("reply", END)
    return graph.compile(checkpointer=saver)


def main(target: str) -> None:
    config: Any = {"configurable": {"thread_id": "support-chat"}}
    with ThreadloomSaver.from_conn_string(target) as saver:
        build(saver).invoke({"turns": ["hello"]}, config)
    # A new saver (a new process would do the same) picks the conversation up.
    with ThreadloomSaver.from_conn_string(target) as saver:
        state = build(saver).invoke({"turns": ["and again"]}, config)
        print("state:", state["turns"])
        print("checkpoints:", len(list(saver.list(config))))
    with StateStore.open(target) as store:
        print("threadloom threads:", [t.id for t in store.list_threads()])


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(sys.argv[1])
    else:
        with tempfile.TemporaryDirectory() as folder:
            main(str(Path(folder) / "state.db"))
