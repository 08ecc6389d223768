"""threadloom as a Google ADK session service: sessions are threads, events messages.

Run it with ``.venv/bin/python examples/adk_session_service.py`` after
``pip install -e '.[adk]'`` (or pass a database path or a ``postgresql://`` DSN);
without one it works in a temporary folder and leaves nothing behind. A scripted
model stands in for Gemini, so nothing goes over the network.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from collections.abc import AsyncGenerator
from pathlib import Path

from google.adk.agents import LlmAgent
from google.adk.models.base_llm import BaseLlm
from google.adk.models.llm_request import LlmRequest
from google.adk.models.llm_response import LlmResponse
from google.adk.runners import Runner
from google.genai import types

from threadloom import StateStore
from threadloom.integrations.adk import ThreadloomSessionService


class CountingLlm(BaseLlm):
    """Answers with the number of turns in the conversation."""

    model: str = "counting"

    async def generate_content_async(
        self, llm_request: LlmRequest, stream: bool = False
    ) -> AsyncGenerator[LlmResponse, None]:
        turns = sum(1 for c in llm_request.contents if c.role == "user")
        text = f"This is turn {turns}."
        yield LlmResponse(content=types.Content(role="model", parts=[types.Part(text=text)]))


async def main(target: str) -> None:
    service = ThreadloomSessionService(target)
    runner = Runner(
        agent=LlmAgent(name="counter", model=CountingLlm(), instruction="Count."),
        app_name="demo",
        session_service=service,
    )
    await service.create_session(
        app_name="demo", user_id="ada", session_id="chat-1", state={"user:lang": "en"}
    )
    for prompt in ("Hello", "Still there?"):
        message = types.Content(role="user", parts=[types.Part(text=prompt)])
        async for event in runner.run_async(
            user_id="ada", session_id="chat-1", new_message=message
        ):
            if event.author == "counter" and event.content and event.content.parts:
                print(f"{prompt!r} -> {event.content.parts[0].text}")
    session = await service.get_session(app_name="demo", user_id="ada", session_id="chat-1")
    assert session is not None
    print("events:", len(session.events), "state:", session.state)
    await service.close()
    with StateStore.open(target) as store:
        for message in store.list_messages("chat-1"):
            print(f"  {message.role:>8}: {message.content}")


if __name__ == "__main__":
    if len(sys.argv) > 1:
        asyncio.run(main(sys.argv[1]))
    else:
        with tempfile.TemporaryDirectory() as folder:
            asyncio.run(main(str(Path(folder) / "state.db")))
