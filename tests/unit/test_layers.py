"""The package keeps its layers: every import points down (or sideways within a layer).

Layers, top to bottom (shared/STYLE.md, DEVELOPERS.md): the front ends (``api/``, ``cli/``,
``server``, ``scenarios/``, ``testing/``) -> the world (``world``, ``calls``, the package face)
-> the domain (``peering/``, ``config/``, ``catalog/``, ``connect/``, sessions, KV, ACLs) ->
``store/`` -> ``models/`` -> the leaves. Imports under ``if TYPE_CHECKING:`` count too: a type
that names a higher layer is still an arrow back up. A module no layer claims fails the test, so
a new module has to be placed on purpose.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "consul_sim"

LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("leaves", ("clock", "rand", "errors", "net", "netpaths", "journal", "scheduler", "jsonenc",
                "durations", "ports", "version", "meta", "gostd", "filter")),
    ("models", ("models",)),
    ("store", ("store",)),
    ("domain", ("peering", "config", "catalog", "connect", "sessions", "kvs", "acl",
                "events", "coordinates", "txn", "operator")),
    ("world", ("", "world", "calls", "snapshot", "archive", "oracles", "explain", "frontdoor",
               "faults")),
    ("front", ("api", "cli", "server", "scenarios", "testing")),
]  # fmt: skip
"""Each layer and the first name under ``consul_sim`` of the modules it holds ("" = the face)."""

WEB = ("fastapi", "starlette", "httpx", "uvicorn")


def rank(module: str) -> int | None:
    """The layer of ``consul_sim[.first[...]]``; None for a module outside the package."""
    parts = module.split(".")
    if parts[0] != "consul_sim":
        return None
    first = parts[1] if len(parts) > 1 else ""
    for position, (_name, owned) in enumerate(LAYERS):
        if first in owned:
            return position
    raise AssertionError(f"no layer holds consul_sim.{first}: add it to LAYERS in {__file__}")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def is_module(dotted: str) -> bool:
    path = PACKAGE.parent.joinpath(*dotted.split("."))
    return path.is_dir() or path.with_suffix(".py").is_file()


def type_checking_lines(tree: ast.AST) -> set[int]:
    """The lines of every ``if TYPE_CHECKING:`` block's body."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def imports(path: Path, *, typing_only: bool = True) -> list[tuple[int, str]]:
    """(line, absolute module) of every import in the file, lazy ones inside functions too;
    those under ``if TYPE_CHECKING:`` unless ``typing_only`` is False."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text(), str(path))
    skip = set() if typing_only else type_checking_lines(tree)
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if node.lineno in skip if isinstance(node, ast.stmt) else False:
            continue
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            found.append((node.lineno, module))
            # ``from consul_sim import api`` names a module; ``import World`` a class.
            found.extend(
                (node.lineno, f"{module}.{alias.name}")
                for alias in node.names
                if is_module(f"{module}.{alias.name}")
            )
    return found


def sources() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_every_module_has_a_layer() -> None:
    for path in sources():
        rank(module_name(path))


def test_no_import_runs_back_up_a_layer() -> None:
    arrows_up: list[str] = []
    for path in sources():
        here = module_name(path)
        own = rank(here)
        assert own is not None
        for line, target in imports(path):
            theirs = rank(target)
            if theirs is not None and theirs > own:
                arrows_up.append(
                    f"{path.relative_to(PACKAGE.parent)}:{line}: {LAYERS[own][0]} imports "
                    f"{target} ({LAYERS[theirs][0]})"
                )
    assert arrows_up == []


@pytest.mark.parametrize("web", WEB)
def test_below_the_front_ends_nothing_imports_a_web_package(web: str) -> None:
    """At run time, lazily inside a function too. A type named under ``TYPE_CHECKING`` is no
    import (``World``'s ``cluster.client`` is typed as the ``httpx.Client`` it returns)."""
    front = len(LAYERS) - 1
    offenders = [
        f"{path.relative_to(PACKAGE.parent)}:{line}: {target}"
        for path in sources()
        if rank(module_name(path)) != front
        for line, target in imports(path, typing_only=False)
        if target == web or target.startswith(web + ".")
    ]
    assert offenders == []


def test_importing_the_package_loads_no_web_framework() -> None:
    """``import consul_sim`` and a world with a cluster stay free of FastAPI and httpx until a
    client is asked for."""
    probe = (
        "import sys\n"
        "from consul_sim import World\n"
        "with World(clock='virtual', seed=1) as w:\n"
        "    w.add_cluster('dc1')\n"
        f"    print(sorted(m for m in {WEB!r} if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == "[]"
