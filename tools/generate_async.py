"""Generate the async store's methods from the synchronous store's signatures.

One implementation, two faces: every public method of :class:`threadloom.StateStore`
and :class:`threadloom.WorkflowStore` gets an async twin with the same signature,
docstring and return type, whose body runs the synchronous method on one of the async
store's threads. Nothing is written twice by hand; this script writes
``src/threadloom/aio/_generated.py`` and ``--check`` (run by the tests) fails when that
file is stale.

Usage: ``python tools/generate_async.py [--check]`` (``make generate``).
"""

from __future__ import annotations

import argparse
import ast
import builtins
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "src" / "threadloom"
OUTPUT = PACKAGE / "aio" / "_generated.py"

#: Written by hand in ``aio/core.py``: opening, closing, blocks, properties.
HAND_WRITTEN = frozenset(
    {"open", "close", "db_path", "backend", "transaction", "snapshot", "workflows"}
)
#: Small writes that may share one commit with others queued beside them (SQLite's
#: writer thread); every other write runs alone (it may manage its own transactions,
#: like ``migrate`` or a batched maintenance run).
GROUPABLE = frozenset(
    {
        "upsert_thread",
        "mark_archived",
        "mark_unarchived",
        "delete_thread",
        "set_thread_memory_mode",
        "upsert_thread_goal",
        "delete_thread_goal",
        "record_thread_goal_usage",
        "record_thread_goal_continuation",
        "append_message",
        "fork_at_message",
        "set_current_leaf_id",
        "clear_messages",
        "persist_dynamic_tools",
        "save_checkpoint",
        "delete_checkpoint",
        "upsert_job",
        "delete_job",
    }
)
#: Calls that only read run on reader threads; everything else is a write.
READ_PREFIXES = (
    "get_",
    "list_",
    "load_",
    "find_",
    "iter_",
    "search",
    "count_",
    "session_index_",
    "schema_info",
)


@dataclass
class Face:
    """One synchronous class and the async class generated for it."""

    sync_class: str
    async_class: str
    base: str
    target: str  # the attribute holding the synchronous object
    sources: list[tuple[str, str]]  # (module path relative to the package, class name)
    doc: str
    imports: dict[str, str] = field(default_factory=dict)  # name -> module


FACES = [
    Face(
        "StateStore",
        "AsyncStateStore",
        "AsyncStoreCore",
        "_store",
        [("store.py", "StateStore")],
        "Durable state of agent sessions, async: every :class:`~threadloom.StateStore`\n"
        "method, awaitable, with the same arguments, records and errors.\n\n"
        "Open one with :meth:`open` (or :meth:`wrap` a ``StateStore``); use it with\n"
        "``async with``. Calls run on threads the store owns, never on the event loop.",
    ),
    Face(
        "WorkflowStore",
        "AsyncWorkflowStore",
        "AsyncWorkflowCore",
        "_workflows",
        [
            ("workflows/_recording.py", "RecordingMixin"),
            ("workflows/workflow_store.py", "WorkflowStore"),
        ],
        "Workflow traces, async: every :class:`~threadloom.WorkflowStore` method,\n"
        "awaitable. Get it as ``AsyncStateStore.workflows``.",
    ),
]


def _module_name(relative: str) -> str:
    parts = Path(relative).with_suffix("").parts
    return ".".join(("threadloom", *parts))


def _import_table(tree: ast.Module, module: str) -> dict[str, str]:
    """Every name a module imports or defines, mapped to where to import it from."""
    table: dict[str, str] = {}
    package = module.rsplit(".", 1)[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                table[alias.asname or alias.name] = ""  # a plain ``import name``
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                table[alias.asname or alias.name] = base
    for node in tree.body:
        if isinstance(node, ast.ClassDef | ast.FunctionDef):
            table.setdefault(node.name, module)
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    table.setdefault(target.id, module)
    return table


def _names(node: ast.AST | None) -> set[str]:
    if node is None:
        return set()
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _forward(args: ast.arguments) -> str:
    """The call arguments that pass a signature's parameters on unchanged."""
    parts = [a.arg for a in (*args.posonlyargs, *args.args)[1:]]
    if args.vararg:
        parts.append(f"*{args.vararg.arg}")
    parts += [f"{a.arg}={a.arg}" for a in args.kwonlyargs]
    if args.kwarg:
        parts.append(f"**{args.kwarg.arg}")
    return ", ".join(parts)


def _method(face: Face, node: ast.FunctionDef, table: dict[str, str]) -> str:
    args = node.args
    signature = ast.unparse(args)
    returns = ast.unparse(node.returns) if node.returns is not None else "None"
    used = set()
    for part in (*args.posonlyargs, *args.args, *args.kwonlyargs):
        used |= _names(part.annotation)
    used |= _names(args.vararg.annotation if args.vararg else None)
    used |= _names(args.kwarg.annotation if args.kwarg else None)
    for default in (*args.defaults, *args.kw_defaults):
        used |= _names(default)
    used |= _names(node.returns)
    for name in used:
        if hasattr(builtins, name) or name == "self":
            continue
        if name not in table:
            raise SystemExit(f"{face.sync_class}.{node.name}: cannot resolve {name!r}")
        face.imports[name] = table[name]
    doc = ast.get_docstring(node) or f"Async twin of :meth:`{face.sync_class}.{node.name}`."
    doc_text = textwrap.indent(f'"""{doc}\n"""', " " * 8).lstrip()
    # Bound, so a subclass of the synchronous store keeps its overrides.
    call = f"self.{face.target}.{node.name}"
    forward = _forward(args)
    if forward:
        call += f", {forward}"
    if node.name.startswith("iter_") and returns.startswith("Iterator["):
        face.imports["AsyncIterator"] = "collections.abc"
        return (
            f"    def {node.name}({signature}) -> Async{returns}:\n"
            f"        {doc_text}\n"
            f"        return self._iterate({call})\n"
        )
    if node.name.startswith(READ_PREFIXES):
        runner = "_read"
    elif face.sync_class == "StateStore" and node.name in GROUPABLE:
        runner = "_write"
    else:
        runner = "_write_alone"
    result: str = f"    async def {node.name}({signature}) -> {returns}:\n        {doc_text}\n"
    if returns == "None":
        return result + f"        await self.{runner}({call})\n"
    return result + f"        return await self.{runner}({call})\n"


def _public_methods(tree: ast.Module, class_name: str) -> list[ast.FunctionDef]:
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == class_name:
            found = []
            for item in node.body:
                if not isinstance(item, ast.FunctionDef) or item.name.startswith("_"):
                    continue
                if item.name in HAND_WRITTEN or item.decorator_list:
                    continue
                found.append(item)
            return found
    raise SystemExit(f"class {class_name} not found")


def generate() -> str:
    """The generated module's text, formatted by ruff."""
    classes = []
    for face in FACES:
        face.imports[face.base] = "threadloom.aio.core"
        body = []
        seen: set[str] = set()
        for relative, class_name in face.sources:
            path = PACKAGE / relative
            tree = ast.parse(path.read_text(encoding="utf-8"))
            table = _import_table(tree, _module_name(relative))
            for node in _public_methods(tree, class_name):
                if node.name in seen:
                    continue
                seen.add(node.name)
                body.append(_method(face, node, table))
        doc = textwrap.indent(f'"""{face.doc}\n"""', "    ")
        classes.append(f"class {face.async_class}({face.base}):\n{doc}\n\n" + "\n".join(body))
    by_module: dict[str, set[str]] = {}
    for face in FACES:
        for name, module in face.imports.items():
            by_module.setdefault(module, set()).add(name)
    imports = "\n".join(
        f"from {module} import {', '.join(sorted(names))}"
        for module, names in sorted(by_module.items())
        if module
    )
    imports += "".join(f"\nimport {name}" for name in sorted(by_module.get("", ())))
    text = (
        '"""The async store\'s methods, generated from the synchronous store\'s signatures.\n\n'
        "Do not edit: run ``make generate`` (``python tools/generate_async.py``) after\n"
        "changing a public method of ``StateStore`` or ``WorkflowStore``; a test fails\n"
        'while this file is stale.\n"""\n\n'
        "# ruff: noqa: F401\n"
        "from __future__ import annotations\n\n"
        f"{imports}\n\n"
        '__all__ = ["AsyncStateStore", "AsyncWorkflowStore"]\n\n\n' + "\n\n".join(classes)
    )
    return _format(text)


def _format(text: str) -> str:
    ruff = Path(sys.executable).parent / "ruff"
    command = [str(ruff) if ruff.exists() else "ruff"]
    fixed = (
        subprocess.run(
            [
                *command,
                "check",
                "--fix",
                "--quiet",
                "--select",
                "I",
                "--stdin-filename",
                str(OUTPUT),
                "-",
            ],
            input=text,
            capture_output=True,
            text=True,
            cwd=ROOT,
        ).stdout
        or text
    )
    done = subprocess.run(
        [*command, "format", "--stdin-filename", str(OUTPUT), "-"],
        input=fixed,
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return done.stdout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the file is stale")
    options = parser.parse_args(argv)
    text = generate()
    current = OUTPUT.read_text(encoding="utf-8") if OUTPUT.exists() else ""
    if options.check:
        if text != current:
            print(
                f"{OUTPUT.relative_to(ROOT)} is stale: run `make generate` and commit it",
                file=sys.stderr,
            )
            return 1
        return 0
    if text != current:
        OUTPUT.write_text(text, encoding="utf-8")
        print(f"wrote {OUTPUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
