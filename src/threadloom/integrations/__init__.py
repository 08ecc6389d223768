"""Framework adapters: threadloom behind the stores that agent frameworks expect.

Each adapter is its own module and optional extra, imported only when asked for
(``import threadloom`` imports no framework):

- :mod:`threadloom.integrations.langgraph`: ``ThreadloomSaver``, a LangGraph
  checkpointer (extra ``langgraph``).
- :mod:`threadloom.integrations.agents`: ``ThreadloomSession``, an OpenAI Agents SDK
  session (extra ``agents``).
- :mod:`threadloom.integrations.adk`: ``ThreadloomSessionService``, a Google ADK
  session service (extra ``adk``).
"""

__all__: list[str] = []
