"""Find a scenario by name (a shipped one) or path (a teacher's own file), and the world for it."""

from __future__ import annotations

from pathlib import Path

from consul_sim.peering.context import HEARTBEAT_INTERVAL, HEARTBEAT_TIMEOUT
from consul_sim.scenarios.files import library_file, library_names
from consul_sim.scenarios.spec import ScenarioFileError, ScenarioSpec, parse_scenario
from consul_sim.world import World

__all__ = ["load_scenario", "new_world", "summaries"]


def load_scenario(name_or_file: str) -> ScenarioSpec:
    """A shipped scenario's name, else a path to an ``.hcl`` file; ScenarioFileError if neither."""
    text = library_file(name_or_file)
    if text is not None:
        return parse_scenario(name_or_file, text)
    path = Path(name_or_file)
    if not path.is_file():
        known = ", ".join(library_names())
        raise ScenarioFileError(
            f'Unknown scenario "{name_or_file}": neither a shipped one ({known}) nor a file'
        )
    return parse_scenario(path.stem, path.read_text(encoding="utf-8"))


def summaries() -> list[tuple[str, str]]:
    """Each shipped scenario's name and one-line description, for ``scenario list``."""
    return [(name, load_scenario(name).description) for name in library_names()]


def new_world(spec: ScenarioSpec, *, seed: int | None, clock: str) -> World:
    """A world with the scenario's heartbeat settings (its clusters are added by the target)."""
    return World(
        clock="virtual" if clock == "virtual" else "wall",
        seed=seed,
        heartbeat_interval=spec.heartbeat_interval or HEARTBEAT_INTERVAL,
        heartbeat_timeout=spec.heartbeat_timeout or HEARTBEAT_TIMEOUT,
    )
