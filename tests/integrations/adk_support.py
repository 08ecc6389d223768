"""A scripted ADK model (no network) and a runnable agent loop for a process."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncGenerator

from google.adk.agents import LlmAgent
from google.adk.models.base_llm import BaseLlm
from google.adk.models.llm_request import LlmRequest
from google.adk.models.llm_response import LlmResponse
from google.adk.runners import Runner
from google.genai import types

from threadloom.integrations.adk import ThreadloomSessionService


class ScriptedLlm(BaseLlm):
    """Answers with the number of user turns it was shown."""

    model: str = "scripted"

    async def generate_content_async(
        self, llm_request: LlmRequest, stream: bool = False
    ) -> AsyncGenerator[LlmResponse, None]:
        users = [c for c in llm_request.contents if c.role == "user"]
        text = f"turn {len(users)}; history {len(llm_request.contents)} contents"
        yield LlmResponse(content=types.Content(role="model", parts=[types.Part(text=text)]))


async def run_turns(db: str, session_id: str, prompts: list[str]) -> list[str]:
    service = ThreadloomSessionService(db)
    agent = LlmAgent(name="scripted", model=ScriptedLlm(), instruction="answer")
    runner = Runner(agent=agent, app_name="app", session_service=service)
    if await service.get_session(app_name="app", user_id="u", session_id=session_id) is None:
        await service.create_session(app_name="app", user_id="u", session_id=session_id)
    outputs: list[str] = []
    try:
        for prompt in prompts:
            message = types.Content(role="user", parts=[types.Part(text=prompt)])
            async for ev in runner.run_async(
                user_id="u", session_id=session_id, new_message=message
            ):
                if ev.content and ev.content.parts and ev.author == "scripted":
                    outputs.append("".join(p.text or "" for p in ev.content.parts))
    finally:
        await service.close()
    return outputs


if __name__ == "__main__":
    db, sid, *prompts = sys.argv[1:]
    print(json.dumps(asyncio.run(run_turns(db, sid, prompts))))
