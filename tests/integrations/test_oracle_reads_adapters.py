"""The original (``seed-oracle``) opens a database all three adapters wrote and reads it."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.integrations.conftest import need
from tests.support.ops import run_oracle
from tests.support.shared import require_oracle

need("agents", "agents")
need("google.adk.sessions", "adk")
need("langgraph.checkpoint.base", "langgraph")

from google.adk.events.event import Event  # noqa: E402
from google.genai import types  # noqa: E402

from threadloom import StateStore  # noqa: E402
from threadloom.integrations.adk import ThreadloomSessionService  # noqa: E402
from threadloom.integrations.agents import ThreadloomSession  # noqa: E402
from threadloom.integrations.langgraph import ThreadloomSaver  # noqa: E402


def test_the_original_reads_what_the_adapters_wrote(tmp_path: Path) -> None:
    oracle = require_oracle()
    db = tmp_path / "state.db"
    with StateStore.open(db) as store:
        session = ThreadloomSession("agents-chat", store)
        items = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]
        asyncio.run(session.add_items(items))
        asyncio.run(session.create_branch_from_turn(1, "again"))
        asyncio.run(session.aclose())

        service = ThreadloomSessionService(store)
        adk = asyncio.run(service.create_session(app_name="a", user_id="u", session_id="adk-chat"))
        event = Event(
            author="user", content=types.Content(role="user", parts=[types.Part(text="yo")])
        )
        asyncio.run(service.append_event(adk, event))
        asyncio.run(service.close())

        saver = ThreadloomSaver(store)
        config = {"configurable": {"thread_id": "graph-chat", "checkpoint_ns": ""}}
        from langgraph.checkpoint.base import empty_checkpoint

        saver.put(config, empty_checkpoint(), {"source": "input", "step": -1}, {})  # type: ignore[arg-type]

    answers = run_oracle(
        oracle,
        db,
        [
            {"op": "list_threads"},
            {"op": "list_messages", "thread_id": "adk-chat"},
            {"op": "list_leaf_messages", "thread_id": "agents-chat"},
            {"op": "get_thread", "id": "graph-chat"},
        ],
    )
    assert all("ok" in a for a in answers), answers
    assert {t["id"] for t in answers[0]["ok"]} == {"agents-chat", "adk-chat", "graph-chat"}
    assert [m["content"] for m in answers[1]["ok"]] == ["yo"]
    assert [m["content"] for m in answers[2]["ok"]] == ["hello"]
    assert answers[3]["ok"]["model_provider"] == "langgraph"
