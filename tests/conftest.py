"""Fixtures shared by the whole suite.

``store`` is the contract fixture: every test that takes it runs on each backend in
``BACKENDS`` (SQLite always; PostgreSQL where its backend registers itself here).
Each test gets a fresh database: a file in a temp folder, or a fresh PostgreSQL schema.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.async_face import async_backends
from threadloom import StateStore


#: Clock that tests can pin: a fixed start, +1 per reading (like the fixtures' faketime).
class StepClock:
    """A deterministic clock: ``start``, ``start + 1``, ... one step per reading."""

    def __init__(self, start: int = 1_748_779_200) -> None:
        self.next = start

    def __call__(self) -> int:
        value = self.next
        self.next += 1
        return value


StoreFactory = Callable[..., StateStore]


def _sqlite_factory(tmp_path: Path) -> Iterator[StoreFactory]:
    opened: list[StateStore] = []

    def make(**options: object) -> StateStore:
        store = StateStore.open(tmp_path / f"db{len(opened)}" / "state.db", **options)  # type: ignore[arg-type]
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


#: backend name -> factory fixture generator. The PostgreSQL tests add theirs.
BACKENDS: dict[str, Callable[[Path], Iterator[StoreFactory]]] = {"sqlite": _sqlite_factory}

try:  # the PostgreSQL backend's test support registers "postgres" and "postgres-pool"
    import importlib

    _pg = importlib.import_module("tests.support.pg")
    BACKENDS.update(_pg.BACKENDS)
except ImportError:  # pragma: no cover - until the backend exists
    pass


#: The same backends, every call going through ``AsyncStateStore`` (its threads,
#: routing, blocks and iterators); the core contract modules below run on them too.
ASYNC_BACKENDS = async_backends(
    {name: BACKENDS[name] for name in ("sqlite", "postgres", "postgres-pool") if name in BACKENDS}
)
ASYNC_CONTRACT_MODULES = frozenset(
    {"test_store_api", "test_workflows", "test_snapshot", "test_error_types", "test_branch_walk"}
)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "make_store" not in metafunc.fixturenames:
        return
    names = sorted(BACKENDS)
    if metafunc.module.__name__.rsplit(".", 1)[-1] in ASYNC_CONTRACT_MODULES:
        names += sorted(ASYNC_BACKENDS)
    metafunc.parametrize("make_store", names, indirect=True)


@pytest.fixture
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreFactory]:
    """A factory of fresh stores on the parametrized backend."""
    factory = BACKENDS.get(request.param) or ASYNC_BACKENDS[request.param]
    yield from factory(tmp_path)


@pytest.fixture
def store(make_store: StoreFactory) -> StateStore:
    """A fresh store on each backend (the contract suite's fixture)."""
    return make_store()


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[StateStore]:
    """A fresh SQLite store in a temp folder."""
    with StateStore.open(tmp_path / "state.db") as s:
        yield s


@pytest.fixture
def clock() -> StepClock:
    """A deterministic step clock."""
    return StepClock()
