"""threadloom as an OpenAI Agents SDK session: a run is a transcript, and it branches.

Run it with ``.venv/bin/python examples/agents_session.py`` after
``pip install -e '.[agents]'`` (or pass a database path or a ``postgresql://`` DSN);
without one it works in a temporary folder and leaves nothing behind. A scripted
model stands in for OpenAI, so nothing goes over the network.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path
from typing import Any

from agents import Agent, ModelResponse, Runner, Usage, set_tracing_disabled
from agents.models.interface import Model
from openai.types.responses import ResponseOutputMessage, ResponseOutputText

from threadloom import StateStore
from threadloom.integrations.agents import ThreadloomSession

# No network: traces are not exported either.
set_tracing_disabled(True)


class EchoModel(Model):
    """Answers with how many items of history it was given."""

    async def get_response(
        self, system_instructions: Any, input: Any, *a: Any, **k: Any
    ) -> ModelResponse:
        text = f"I have seen {len(input)} items so far."
        reply = ResponseOutputMessage(
            id="m",
            type="message",
            role="assistant",
            status="completed",
            content=[ResponseOutputText(type="output_text", text=text, annotations=[])],
        )
        return ModelResponse(output=[reply], usage=Usage(requests=1), response_id=None)

    def stream_response(self, *a: Any, **k: Any) -> Any:
        raise NotImplementedError


async def main(target: str) -> None:
    agent = Agent(name="echo", instructions="Be brief.", model=EchoModel())
    session = ThreadloomSession("trip-planning", target)
    for prompt in ("Plan a weekend in Lyon", "Add a museum", "Make it cheaper"):
        result = await Runner.run(agent, prompt, session=session)
        print(f"{prompt!r} -> {result.final_output}")
    # Fork before the second question and take the conversation elsewhere.
    await session.create_branch_from_turn(2, "by-the-river")
    result = await Runner.run(agent, "Add a river walk instead", session=session)
    print("on branch by-the-river:", result.final_output)
    print(
        "branches:", [(b["branch_id"], b["message_count"]) for b in await session.list_branches()]
    )
    await session.aclose()
    with StateStore.open(target) as store:
        for message in store.list_messages("trip-planning"):
            print(f"  {message.role:>9}: {message.content}")


if __name__ == "__main__":
    if len(sys.argv) > 1:
        asyncio.run(main(sys.argv[1]))
    else:
        with tempfile.TemporaryDirectory() as folder:
            asyncio.run(main(str(Path(folder) / "state.db")))
