"""The async store is generated from the synchronous one, and kept in step with it."""

from __future__ import annotations

import inspect
import subprocess
import sys
from pathlib import Path

import pytest

from threadloom import AsyncStateStore, AsyncWorkflowStore, StateStore, WorkflowStore

ROOT = Path(__file__).resolve().parent.parent


def test_generated_module_is_current() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "generate_async.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr


def _public(cls: type) -> dict[str, object]:
    return {
        name: member
        for name, member in inspect.getmembers(cls)
        if not name.startswith("_") and (inspect.isfunction(member) or isinstance(member, property))
    }


@pytest.mark.parametrize(
    ("sync_cls", "async_cls"),
    [(StateStore, AsyncStateStore), (WorkflowStore, AsyncWorkflowStore)],
)
def test_every_public_method_has_a_twin_with_the_same_parameters(
    sync_cls: type, async_cls: type
) -> None:
    sync_members = _public(sync_cls)
    async_members = _public(async_cls)
    missing = sorted(set(sync_members) - set(async_members))
    assert not missing, f"{async_cls.__name__} lacks {missing}"
    for name, member in sync_members.items():
        twin = async_members[name]
        if isinstance(member, property):
            assert isinstance(twin, property), name
            continue
        if name == "open":  # the async open takes `workers` as well
            continue
        sync_sig = inspect.signature(member)  # type: ignore[arg-type]
        async_sig = inspect.signature(twin)  # type: ignore[arg-type]
        assert list(sync_sig.parameters) == list(async_sig.parameters), name
        for param, twin_param in zip(
            sync_sig.parameters.values(), async_sig.parameters.values(), strict=True
        ):
            assert (param.kind, param.default) == (twin_param.kind, twin_param.default), (
                name,
                param.name,
            )


def test_data_methods_are_awaitable_and_iterators_are_async() -> None:
    for name, member in _public(StateStore).items():
        twin = getattr(AsyncStateStore, name)
        if isinstance(member, property) or name in {"db_path", "transaction", "snapshot"}:
            continue
        if name.startswith("iter_"):
            assert inspect.isfunction(twin) and not inspect.iscoroutinefunction(twin), name
        else:
            assert inspect.iscoroutinefunction(twin) or inspect.ismethod(twin), name
