"""The async benchmark runs every case and writes its section (figures are not checked)."""

from __future__ import annotations

from bench import async_api

from tests.support.pg import require_postgres
from tests.support.require import PEERS, required


def test_every_case_runs_and_the_section_names_them() -> None:
    require_postgres()
    figures = async_api.run(reps=1, ops=32, lag_seconds=0.2, pg_total=16)
    lines = "\n".join(async_api.markdown(figures))
    for name in ("append: sync", "append: async, 16 tasks", "read_branch(200): async, 1 task"):
        assert figures["normal"][name] > 0 and figures["full"][name] > 0
        assert f"| {name} |" in lines
    assert set(figures["lag"]) == {"async store", "asyncio.to_thread", "sync store on the loop"}
    assert all(f["ticks"] > 0 for f in figures["lag"].values())
    assert set(figures["postgres"]) == {1, 8, 64, 256}
    if required(PEERS) or figures["peers"]:
        assert figures["peers"]
        assert figures["full"]["append: Agents SDK add_items"] > 0
        assert figures["full"]["checkpoint: LangGraph aput/aget_tuple"] > 0
