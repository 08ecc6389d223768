"""Positional record constructors for the row mappers (one call per row read).

A frozen dataclass's ``__init__`` stores each field through ``object.__setattr__``;
on the rows of ``list_threads(50)`` and ``list_messages(200)`` that is a large share
of the whole call. ``python -m bench.internals`` measures it against keyword
construction and a descriptor loop; the figures are in docs/benchmarks.md
("Design measurements"). Nothing else in the library should need this.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from typing import Any, TypeVar

__all__ = ["positional_builder"]

_R = TypeVar("_R")


def positional_builder(cls: type[_R]) -> Callable[..., _R]:
    """A constructor of ``cls`` taking every field positionally, in declaration order.

    It checks nothing and applies no defaults: callers pass every field. The result
    is an ordinary instance of the frozen, slotted ``cls``: equal, hashable and
    immutable like one built by ``__init__``.

    How: the fields are stored into an instance of a private twin class with the
    same slots but no frozen ``__setattr__`` (plain slot stores), then the instance's
    ``__class__`` is switched to ``cls``, which CPython allows between classes of
    identical layout. If the switch is refused, the builder sets the slots through
    their descriptors instead.
    """
    names = [f.name for f in fields(cls)]  # type: ignore[arg-type]
    params = ", ".join(names)
    slots = getattr(cls, "__slots__", ())
    twin = type(f"_{cls.__name__}Builder", cls.__bases__, {"__slots__": slots})
    namespace: dict[str, Any] = {"_new": object.__new__, "_twin": twin, "_cls": cls}
    body = "".join(f"    self.{name} = {name}\n" for name in names)
    source = f"def build({params}):\n    self = _new(_twin)\n{body}    self.__class__ = _cls\n"
    try:
        exec(source + "    return self\n", namespace)  # the way dataclasses builds __init__
        probe = namespace["build"](*names)
        if type(probe) is not cls or [getattr(probe, n) for n in names] != names:
            raise TypeError("the twin class does not match")
    except TypeError:
        # Different layouts (a future field kind): set the slots through their descriptors.
        namespace.update({f"_set_{name}": getattr(cls, name).__set__ for name in names})
        body = "".join(f"    _set_{name}(self, {name})\n" for name in names)
        exec(f"def build({params}):\n    self = _new(_cls)\n{body}    return self\n", namespace)
    build: Callable[..., _R] = namespace["build"]
    build.__qualname__ = f"positional_builder.<{cls.__name__}>"
    return build
