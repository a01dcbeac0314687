"""Where the shipped scenario files and example config files live: inside the package.

They are package data (``pyproject.toml``), read through :mod:`importlib.resources`, so a
scenario or ``example("peering-config.hcl")`` works from any working directory and from an
installed wheel, not only from a clone. ``scenarios/`` at the top of the repository links to the
same example files for the README's shell commands.
"""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable

__all__ = [
    "example",
    "example_names",
    "library_file",
    "library_names",
    "part_file",
    "part_names",
]

_PACKAGE = "consul_sim.scenarios"
SUFFIX = ".hcl"


def _folder(name: str) -> Traversable:
    return resources.files(_PACKAGE).joinpath(name)


def _names(folder: str) -> list[str]:
    return sorted(entry.name for entry in _folder(folder).iterdir() if entry.name.endswith(SUFFIX))


def example_names() -> list[str]:
    """The example config files (``peering-config.hcl`` ...), sorted."""
    return _names("examples")


def example(name: str) -> str:
    """The text of a shipped example config file, e.g. ``example("peering-config.hcl")``."""
    entry = _folder("examples").joinpath(name)
    if name not in example_names() or not entry.is_file():
        known = ", ".join(example_names())
        raise FileNotFoundError(f'No example named "{name}" (known: {known})')
    return entry.read_text(encoding="utf-8")


def library_names() -> list[str]:
    """The shipped scenarios' names (file names without ``.hcl``), sorted."""
    return [name.removesuffix(SUFFIX) for name in _names("library")]


def library_file(name: str) -> str | None:
    """The text of the shipped scenario ``name``, or None when there is none."""
    if name not in library_names():
        return None
    return _folder("library").joinpath(name + SUFFIX).read_text(encoding="utf-8")


def part_names() -> list[str]:
    """Shared opening steps a scenario may ``include`` (``peer``, ``export``), sorted."""
    return [name.removesuffix(SUFFIX) for name in _names("library/parts")]


def part_file(name: str) -> str | None:
    """The text of the shipped part ``name``, or None when there is none."""
    if name not in part_names():
        return None
    return _folder("library/parts").joinpath(name + SUFFIX).read_text(encoding="utf-8")
