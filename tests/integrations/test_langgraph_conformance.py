"""LangGraph's official conformance suite on threadloom, every capability, each backend.

``langgraph-checkpoint-conformance`` runs every base test (put, put_writes, get_tuple,
list, delete_thread) and every extended one (delete_for_runs, copy_thread, prune) for
the capabilities the saver overrides; all eight must be detected and pass. The suite
calls the async methods; a second run drives the sync ones through the same tests.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest

from tests.conftest import StoreFactory
from tests.integrations.conftest import need

need("langgraph.checkpoint.conformance", "adapters-test")

from langgraph.checkpoint.conformance import checkpointer_test, validate  # noqa: E402
from langgraph.checkpoint.conformance.report import CapabilityReport  # noqa: E402

from threadloom.integrations.langgraph import ThreadloomSaver  # noqa: E402

ALL = {
    "put",
    "put_writes",
    "get_tuple",
    "list",
    "delete_thread",
    "delete_for_runs",
    "copy_thread",
    "prune",
}


class SyncDriven(ThreadloomSaver):
    """The saver with each async method calling its sync twin, so the suite tests those."""

    async def aget_tuple(self, config: Any) -> Any:
        return self.get_tuple(config)

    async def alist(self, config: Any, **kwargs: Any) -> AsyncIterator[Any]:
        for item in self.list(config, **kwargs):
            yield item

    async def aput(self, *args: Any) -> Any:
        return self.put(*args)

    async def aput_writes(self, *args: Any, **kwargs: Any) -> None:
        self.put_writes(*args, **kwargs)

    async def adelete_thread(self, thread_id: str) -> None:
        self.delete_thread(thread_id)

    async def adelete_for_runs(self, run_ids: Sequence[str]) -> None:
        self.delete_for_runs(run_ids)

    async def acopy_thread(self, source: str, target: str) -> None:
        self.copy_thread(source, target)

    async def aprune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        self.prune(thread_ids, strategy=strategy)


def _run(saver_type: type[ThreadloomSaver], make_store: StoreFactory) -> CapabilityReport:
    @checkpointer_test(name=f"{saver_type.__name__}")
    async def factory() -> AsyncIterator[ThreadloomSaver]:
        saver = saver_type(make_store())
        yield saver
        await saver.aclose()

    return asyncio.run(validate(factory))


def _check(report: CapabilityReport) -> None:
    results = report.results
    failures = {cap: r.failures for cap, r in results.items() if not r.passed}
    assert failures == {}, report.to_dict() if hasattr(report, "to_dict") else failures
    assert {cap for cap, r in results.items() if r.detected} == ALL
    assert all(r.tests_passed > 0 and r.tests_failed == 0 for r in results.values())


@pytest.mark.parametrize("saver_type", [ThreadloomSaver, SyncDriven], ids=["async", "sync"])
def test_conformance_every_capability(
    make_store: StoreFactory, saver_type: type[ThreadloomSaver]
) -> None:
    _check(_run(saver_type, make_store))
