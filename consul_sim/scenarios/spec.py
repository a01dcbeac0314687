"""A scenario file, read: a title, a description, the clusters, and steps a teacher wrote.

The format is HCL (read by :func:`consul_sim.config.hcl.load_hcl`, the same reader config entry
files go through), because a teacher writing one already writes HCL for Consul::

    title       = "Peer two clusters"
    description = "One line for `consul-sim scenario list`."
    clusters    = ["cluster-01", "cluster-02"]      # the default
    include     = ["peer"]                          # shared opening steps (library/parts/)

    step {
      say = "cluster-01 makes a peering token for cluster-02."
      on  = "cluster-01"                             # default: the first cluster
      cli = "consul-sim peering generate-token -peer=cluster-02"
      capture = "TOKEN"                              # its output, as $TOKEN in later steps
    }

A step has exactly one action: ``cli`` (a ``consul-sim`` command line), ``http`` (``"METHOD
/path"`` with an optional ``body``), ``config`` (an example file name or an inline ``entry``
object, sent as ``consul config write`` sends it), ``fault`` (``partition``, ``heal``, ``link``,
``hold``, ``release`` with ``between = [A, B]``; ``crash``, ``restart`` on ``on``) or
``advance`` (a Go duration of virtual time). Its ``expect`` blocks say what must then hold:
``status``, ``exit``, ``output`` (a substring of what was printed), ``answer`` (dotted JSON
fields and their values, in which ``$NAME`` stands for a captured value), and world facts
checked once replication has caught up: ``peering`` (its state on a cluster, or ``absent``),
``service`` (visible or not, with its health) and ``call`` (``/_sim/call``'s verdict and a
reason it gives).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from consul_sim.config.hcl import load_hcl
from consul_sim.durations import parse_duration
from consul_sim.scenarios.files import part_file, part_names

__all__ = ["ScenarioFileError", "ScenarioSpec", "StepSpec", "parse_scenario"]

DEFAULT_CLUSTERS = ("cluster-01", "cluster-02")
ACTIONS = ("cli", "http", "config", "entry", "fault", "advance")
PAIR_FAULTS = ("partition", "heal", "link", "hold", "release")
ONE_FAULTS = ("crash", "restart")
WORLD_FACTS = ("peering", "service", "call")
FACT_KEYS = {
    "peering": ({"name", "state"}, {"on", "roots"}),
    "service": ({"name"}, {"on", "peer", "visible", "health"}),
    "call": ({"service", "to"}, {"from", "peer", "allowed", "reason"}),
}
"""Each world fact's required and optional keys."""
STEP_KEYS = {
    "say", "on", "expect", "capture", "wait", "body", "between",
    "latency_ms", "loss", "duplicate", *ACTIONS,
}  # fmt: skip
ANSWER_FACTS = ("status", "exit", "output", "answer")


class ScenarioFileError(ValueError):
    """A scenario file that cannot be run; ``str()`` names the file and what is wrong."""


@dataclass(frozen=True)
class StepSpec:
    number: int
    say: str
    on: str
    action: str
    """One of ``ACTIONS`` (``entry`` is an inline config entry)."""
    fields: dict[str, Any]
    expect: dict[str, Any] = field(default_factory=dict)
    """``ANSWER_FACTS`` keys to a value; ``WORLD_FACTS`` keys to a list of blocks."""
    capture: dict[str, str] = field(default_factory=dict)
    """Variable -> dotted answer field (``""`` for a command's whole output)."""


@dataclass(frozen=True)
class ScenarioSpec:
    name: str
    title: str
    description: str
    clusters: tuple[str, ...]
    steps: tuple[StepSpec, ...]
    heartbeat_interval: float | None = None
    heartbeat_timeout: float | None = None

    @property
    def needs_virtual_clock(self) -> bool:
        """A scenario that moves time can only run on a world whose clock it may move."""
        return any(step.action == "advance" for step in self.steps)


def parse_scenario(name: str, text: str) -> ScenarioSpec:
    """Read a scenario file; a mistake is a :class:`ScenarioFileError` naming the step."""
    try:
        data = load_hcl(text)
    except Exception as exc:  # noqa: BLE001 - any parse failure is the file's, say where
        raise ScenarioFileError(f"{name}: not valid HCL: {exc}") from None
    unknown = set(data) - {
        "title",
        "description",
        "clusters",
        "step",
        "heartbeat_interval",
        "heartbeat_timeout",
        "include",
    }
    if unknown:
        raise ScenarioFileError(f"{name}: unknown top-level keys: {', '.join(sorted(unknown))}")
    title = _text(data, "title", name)
    clusters = tuple(data.get("clusters") or DEFAULT_CLUSTERS)
    if not all(isinstance(c, str) and c for c in clusters):
        raise ScenarioFileError(f"{name}: clusters must be a list of names")
    blocks = [*_included(name, data.get("include") or []), *(data.get("step") or [])]
    if not blocks:
        raise ScenarioFileError(f"{name}: a scenario needs at least one step block")
    steps = tuple(_step(name, n, block, clusters) for n, block in enumerate(blocks, start=1))
    return ScenarioSpec(
        name=name,
        title=title,
        description=_text(data, "description", name),
        clusters=clusters,
        steps=steps,
        heartbeat_interval=_duration(data, "heartbeat_interval", name),
        heartbeat_timeout=_duration(data, "heartbeat_timeout", name),
    )


def _included(name: str, parts: Any) -> list[Any]:
    """The steps of each shipped part ``include`` names, in order, before the file's own."""
    if not isinstance(parts, list):
        raise ScenarioFileError(f"{name}: include is a list of part names")
    blocks: list[Any] = []
    for part in parts:
        text = part_file(str(part))
        if text is None:
            known = ", ".join(part_names())
            raise ScenarioFileError(f'{name}: no part named "{part}" to include (known: {known})')
        blocks.extend(load_hcl(text).get("step") or [])
    return blocks


def _text(data: dict[str, Any], key: str, where: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ScenarioFileError(f"{where}: {key} is required (a string)")
    return " ".join(value.split())


def _duration(data: dict[str, Any], key: str, where: str) -> float | None:
    value = data.get(key)
    if value is None:
        return None
    try:
        return parse_duration(str(value))
    except ValueError as exc:
        raise ScenarioFileError(f"{where}: {key}: {exc}") from None


def _step(name: str, n: int, block: Any, clusters: tuple[str, ...]) -> StepSpec:
    where = f"{name}: step {n}"
    if not isinstance(block, dict):
        raise ScenarioFileError(f"{where}: a step is a block")
    say = _text(block, "say", where)
    on = block.get("on", clusters[0])
    if on not in clusters:
        raise ScenarioFileError(f'{where}: on = "{on}" is not one of {", ".join(clusters)}')
    actions = [a for a in ACTIONS if a in block]
    if len(actions) != 1:
        raise ScenarioFileError(
            f"{where}: a step has exactly one of {', '.join(ACTIONS)} (found {len(actions)})"
        )
    action = actions[0]
    stray = set(block) - STEP_KEYS
    if stray:
        raise ScenarioFileError(f"{where}: unknown keys: {', '.join(sorted(stray))}")
    fields = {k: v for k, v in block.items() if k not in ("say", "on", "expect", "capture")}
    if action == "fault":
        fault = block["fault"]
        if fault in PAIR_FAULTS:
            between = block.get("between")
            if fault != "heal" or between is not None:
                if not (isinstance(between, list) and len(between) == 2):
                    raise ScenarioFileError(f"{where}: fault {fault} needs between = [A, B]")
                if any(c not in clusters for c in between):
                    raise ScenarioFileError(f"{where}: between names a cluster not in clusters")
        elif fault not in ONE_FAULTS:
            known = ", ".join(PAIR_FAULTS + ONE_FAULTS)
            raise ScenarioFileError(f'{where}: unknown fault "{fault}" (known: {known})')
    if action == "advance":
        fields["seconds"] = _duration(block, "advance", where)
    if action == "http":
        method, _, path = str(block["http"]).partition(" ")
        if not path.startswith("/"):
            raise ScenarioFileError(f'{where}: http = "METHOD /path", got "{block["http"]}"')
    expect: dict[str, Any] = {}
    for part in block.get("expect") or []:
        for key, value in part.items():
            if key in WORLD_FACTS:
                expect.setdefault(key, []).extend(value if isinstance(value, list) else [value])
            elif key in ANSWER_FACTS:
                expect[key] = value
            else:
                known = ", ".join(ANSWER_FACTS + WORLD_FACTS)
                raise ScenarioFileError(f'{where}: unknown expectation "{key}" (known: {known})')
    for kind, (required, optional) in FACT_KEYS.items():
        for fact in expect.get(kind, []):
            if not isinstance(fact, dict):
                raise ScenarioFileError(f"{where}: a {kind} expectation is a block")
            missing, extra = required - set(fact), set(fact) - required - optional
            if missing or extra:
                raise ScenarioFileError(
                    f"{where}: a {kind} expectation needs {', '.join(sorted(required))}"
                    f" and may have {', '.join(sorted(optional))}"
                )
            if fact.get("on", fact.get("from", on)) not in clusters:
                raise ScenarioFileError(f"{where}: an expectation names a cluster not in clusters")
    capture = block.get("capture")
    captures: dict[str, str]
    if capture is None:
        captures = {}
    elif isinstance(capture, str):
        captures = {capture: ""}
    elif isinstance(capture, list) and capture and isinstance(capture[0], dict):
        captures = {str(k): str(v) for part in capture for k, v in part.items()}
    elif isinstance(capture, dict):
        captures = {str(k): str(v) for k, v in capture.items()}
    else:
        raise ScenarioFileError(f"{where}: capture is a name or a block of NAME = field")
    return StepSpec(n, say, str(on), action, fields, expect, captures)
