"""A scripted model for the Agents SDK (no network): each turn answers with the next
reply, calling a tool first when the reply says so; and a runnable loop for a process."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from agents import Agent, ModelResponse, Runner, Usage, function_tool, set_tracing_disabled
from agents.models.interface import Model
from openai.types.responses import (
    ResponseFunctionToolCall,
    ResponseOutputMessage,
    ResponseOutputText,
)

from threadloom.integrations.agents import ThreadloomSession


@function_tool
def count_items(words: str) -> str:
    """Count the words."""
    return str(len(words.split()))


# No network: traces are not exported either.
set_tracing_disabled(True)


class ScriptedModel(Model):
    """Answers every turn from the conversation so far: the turn's number and what it saw."""

    async def get_response(
        self, system_instructions: Any, input: Any, *args: Any, **kwargs: Any
    ) -> ModelResponse:
        items = input if isinstance(input, list) else [{"role": "user", "content": input}]
        users = [i for i in items if isinstance(i, dict) and i.get("role") == "user"]
        last = items[-1] if items else {}
        if (
            isinstance(last, dict)
            and last.get("role") == "user"
            and "count" in str(last.get("content"))
        ):
            call = ResponseFunctionToolCall(
                type="function_call",
                call_id=f"call-{len(items)}",
                name="count_items",
                arguments=json.dumps({"words": str(last.get("content"))}),
                id=f"fc-{len(items)}",
                status="completed",
            )
            output: list[Any] = [call]
        else:
            text = f"turn {len(users)}; history {len(items)} items"
            output = [
                ResponseOutputMessage(
                    id=f"msg-{len(items)}",
                    type="message",
                    role="assistant",
                    status="completed",
                    content=[ResponseOutputText(type="output_text", text=text, annotations=[])],
                )
            ]
        return ModelResponse(
            output=output, usage=Usage(requests=1, total_tokens=10), response_id=None
        )

    def stream_response(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError


def agent() -> Agent[Any]:
    return Agent(name="scripted", instructions="answer", model=ScriptedModel(), tools=[count_items])


async def run_turns(db: str, session_id: str, prompts: list[str]) -> list[str]:
    session = ThreadloomSession(session_id, db)
    try:
        outputs = []
        for prompt in prompts:
            result = await Runner.run(agent(), prompt, session=session)
            outputs.append(str(result.final_output))
        return outputs
    finally:
        await session.aclose()


if __name__ == "__main__":
    db, session_id, *prompts = sys.argv[1:]
    print(json.dumps(asyncio.run(run_turns(db, session_id, prompts))))
