"""/_sim: fault injection and time for the whole world, on every cluster's port.

Not a Consul API: it stands in for pulling cables and killing servers, so a person at a
terminal (or a test in another language) can partition two clusters, slow a link, crash one and
watch peering go FAILING and come back. Bodies are JSON with Consul-style keys (``A``, ``B``,
``Cluster``, ``LatencyMs``, ``Seconds``), matched case-insensitively as Consul's decoder does;
anything wrong is a plain-text 400 that says what.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from fastapi import Request
from starlette.responses import Response

from consul_sim.api.http import ConsulRouter, cluster_of, flag, json_response
from consul_sim.api.openapi import (
    NUMBER,
    OBJECT,
    OBJECTS,
    PRETTY,
    Answer,
    Body,
    Op,
    Param,
    ok,
)
from consul_sim.clock import VirtualClock, rfc3339
from consul_sim.durations import format_duration
from consul_sim.errors import BadRequest
from consul_sim.models.base import DecodeError, parse_json
from consul_sim.models.peering_state import shown_state
from consul_sim.snapshot import header
from consul_sim.world import World

router = ConsulRouter()

CLUSTER = {"type": "string", "description": "a cluster's name"}
PAIR = {"type": "object", "required": ["A", "B"], "properties": {"A": CLUSTER, "B": CLUSTER}}
LINK = {
    "type": "object",
    "required": ["A", "B"],
    "properties": {
        "A": CLUSTER,
        "B": CLUSTER,
        "LatencyMs": {"type": "number", "minimum": 0},
        "Loss": {"type": "number", "minimum": 0, "maximum": 1},
        "Duplicate": {"type": "number", "minimum": 0, "maximum": 1},
    },
}
ONE = {"type": "object", "required": ["Cluster"], "properties": {"Cluster": CLUSTER}}
ADVANCE = {"type": "object", "required": ["Seconds"], "properties": {"Seconds": NUMBER}}


async def _body(request: Request, *, allow_empty: bool = False) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        if allow_empty:
            return {}
        raise BadRequest("Request body is required")
    try:
        data = parse_json(raw)
    except DecodeError as exc:
        raise BadRequest(f"Request decode failed: {exc}") from None
    if not isinstance(data, dict):
        raise BadRequest("Request body must be a JSON object")
    return {str(k).lower(): v for k, v in data.items()}


def _control(summary: str, body: Body | None) -> Op:
    """A fault or time control: a JSON body, and the world as it stands after it."""
    world = ok(OBJECT, "the world as it now stands, as GET /_sim/world shows it")
    return Op(summary, (PRETTY,), body, (world,), errors=(400,))


def _cluster_name(world: World, body: dict[str, Any], key: str) -> str:
    value = body.get(key.lower())
    if value is None or value == "":
        raise BadRequest(f"Missing {key}: the name of a cluster is required")
    if not isinstance(value, str):
        raise BadRequest(f"{key} must be a cluster name (a string)")
    if value not in world.clusters:
        known = ", ".join(sorted(world.clusters))
        raise BadRequest(f'Unknown cluster "{value}" (known: {known})')
    return value


def _pair(world: World, body: dict[str, Any]) -> tuple[str, str]:
    a, b = _cluster_name(world, body, "A"), _cluster_name(world, body, "B")
    if a == b:
        raise BadRequest("A and B must be two different clusters")
    return a, b


def _number(body: dict[str, Any], key: str, *, upper: float | None = None) -> float | None:
    value = body.get(key.lower())
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise BadRequest(f"{key} must be a number")
    if value < 0 or (upper is not None and value > upper):
        bound = f"between 0 and {upper:g}" if upper is not None else "at least 0"
        raise BadRequest(f"{key} must be {bound}, got {value}")
    return float(value)


def world_view(world: World) -> dict[str, Any]:
    """Clusters with their peerings' shown state, every link that is not default, the clock."""
    with world.lock:
        network = world.network
        clusters = []
        for name in sorted(world.clusters):
            cluster = world.clusters[name]
            service = cluster.peering
            peerings = []
            for record in service.table.list():
                stream = service.tracker.get(record.id)
                status = stream.render() if stream is not None else None
                peerings.append(
                    {
                        "Name": record.name,
                        "ID": record.id,
                        "State": shown_state(record.state, stream).value,
                        "Connected": bool(stream is not None and stream.connected),
                        "ImportedServices": status["ImportedServices"] if status else None,
                        "ExportedServices": status["ExportedServices"] if status else None,
                    }
                )
            clusters.append(
                {
                    "Name": name,
                    "Datacenter": cluster.datacenter,
                    "Crashed": name in network.crashed,
                    "PeeringAddress": cluster.peering_address,
                    "HTTPAddress": cluster.http_address,
                    "Peerings": peerings,
                }
            )
        links = [
            {"A": a, "B": b, **settings.render()}
            for (a, b), settings in sorted(network.links.items())
            if not settings.is_default
        ]
        return {
            "Clock": {
                "Kind": "virtual" if isinstance(world.clock, VirtualClock) else "wall",
                "Now": rfc3339(world.clock.now()),
            },
            "Seed": world.seed,
            "HeartbeatInterval": format_duration(world.heartbeat_interval),
            "HeartbeatTimeout": format_duration(world.heartbeat_timeout),
            "Clusters": clusters,
            "Links": links,
            "InFlight": network.in_flight(),
            "Held": network.held(),
            "LastEvent": network.journal[-1].seq if network.journal else 0,
        }


def _answer(request: Request, world: World) -> Response:
    return json_response(world_view(world), pretty=flag(request, "pretty"))


@router.endpoint(
    "/_sim/world",
    "GET",
    doc=Op(
        "the world: clusters, peerings, links, the clock (simulator only)",
        (PRETTY,),
        answers=(ok(OBJECT),),
        errors=(),
    ),
)
async def get_world(request: Request) -> Response:
    return _answer(request, cluster_of(request).world)


@router.endpoint(
    "/_sim/events",
    "GET",
    doc=Op(
        "the network journal after a sequence number (simulator only)",
        (Param("since", "a journal sequence number (0 for all)"), PRETTY),
        answers=(ok(OBJECTS),),
        errors=(400,),
    ),
)
async def events(request: Request) -> Response:
    world = cluster_of(request).world
    since = parse_since(request.query_params.get("since", "0") or "0")
    with world.lock:
        journal = world.network.journal
        missed, entries = journal.since(since)
        body = [{**e.render(), "At": rfc3339(e.at)} for e in entries]
        if missed:
            body.insert(0, gap_line(since, missed, journal.size, rfc3339(entries[0].at)))
    return json_response(
        body, pretty=flag(request, "pretty"), headers={DROPPED_HEADER: str(missed)}
    )


DROPPED_HEADER = "X-Sim-Dropped"
"""On every ``/_sim/events`` answer: how many lines after ``since`` fell off the journal."""


def parse_since(raw: str) -> int:
    """A journal sequence number from ``?since=`` (or an SSE ``Last-Event-ID``): 0 or more."""
    try:
        since = int(raw)
        if since < 0:
            raise ValueError
    except ValueError:
        raise BadRequest(f'Invalid since: "{raw}" is not a journal sequence number') from None
    return since


def gap_line(since: int, missed: int, size: int, at: str) -> dict[str, object]:
    """The line that stands, first in the list, for lines after ``since`` that the ring no
    longer holds. It has every key a journal line has (a client that reads the list today keeps
    working and sees it), a ``Seq`` just before the first line held (so ``since=<last Seq>``
    still pages on), and ``Dropped``, the count. ``At`` is the first held line's time: the
    missing lines happened no later."""
    return {
        "Seq": since + missed,
        "At": at,
        "Source": "",
        "Destination": "",
        "Kind": "Dropped",
        "Outcome": f"dropped: {missed} journal lines fell off the ring (it keeps {size})",
        "Summary": "",
        "Message": 0,
        "Dropped": missed,
    }


@router.endpoint(
    "/_sim/partition",
    "POST",
    doc=_control(
        "cut the link between two clusters",
        Body(schema=PAIR),
    ),
)
async def partition(request: Request) -> Response:
    world = cluster_of(request).world
    world.partition(*_pair(world, await _body(request)))
    return _answer(request, world)


@router.endpoint(
    "/_sim/heal",
    "POST",
    doc=_control(
        "restore one link (A, B) or, with no body, every link",
        Body(schema=PAIR, required=False),
    ),
)
async def heal(request: Request) -> Response:
    world = cluster_of(request).world
    body = await _body(request, allow_empty=True)
    if body:
        world.heal(*_pair(world, body))
    else:
        world.heal()
    return _answer(request, world)


@router.endpoint(
    "/_sim/link",
    "POST",
    doc=_control(
        "set a link's latency, loss and duplication",
        Body(schema=LINK),
    ),
)
async def link(request: Request) -> Response:
    world = cluster_of(request).world
    body = await _body(request)
    a, b = _pair(world, body)
    latency_ms = _number(body, "LatencyMs")
    loss = _number(body, "Loss", upper=1)
    duplicate = _number(body, "Duplicate", upper=1)
    world.set_link(
        a,
        b,
        latency=latency_ms / 1000 if latency_ms is not None else None,
        loss=loss,
        duplicate=duplicate,
    )
    return _answer(request, world)


@router.endpoint(
    "/_sim/hold",
    "POST",
    doc=_control(
        "hold messages between two clusters until released",
        Body(schema=PAIR),
    ),
)
async def hold(request: Request) -> Response:
    world = cluster_of(request).world
    world.hold(*_pair(world, await _body(request)))
    return _answer(request, world)


@router.endpoint(
    "/_sim/release",
    "POST",
    doc=_control(
        "deliver what a hold kept back",
        Body(schema=PAIR),
    ),
)
async def release(request: Request) -> Response:
    world = cluster_of(request).world
    world.release(*_pair(world, await _body(request)))
    return _answer(request, world)


@router.endpoint(
    "/_sim/crash",
    "POST",
    doc=_control(
        "crash a cluster: it stops answering its peers",
        Body(schema=ONE),
    ),
)
async def crash(request: Request) -> Response:
    world = cluster_of(request).world
    world.crash(_cluster_name(world, await _body(request), "Cluster"))
    return _answer(request, world)


@router.endpoint(
    "/_sim/restart",
    "POST",
    doc=_control(
        "restart a crashed cluster",
        Body(schema=ONE),
    ),
)
async def restart(request: Request) -> Response:
    world = cluster_of(request).world
    world.restart(_cluster_name(world, await _body(request), "Cluster"))
    return _answer(request, world)


@router.endpoint(
    "/_sim/advance",
    "POST",
    doc=_control(
        "move the virtual clock forward (virtual-clock worlds only)",
        Body(schema=ADVANCE),
    ),
)
async def advance(request: Request) -> Response:
    world = cluster_of(request).world
    if not isinstance(world.clock, VirtualClock):
        raise BadRequest("advance needs a world on the virtual clock (serve -clock virtual)")
    seconds = _number(await _body(request), "Seconds")
    if seconds is None:
        raise BadRequest("Missing Seconds: how far to move the virtual clock")
    world.advance(seconds)
    return _answer(request, world)


SNAPSHOT_MEDIA = "application/octet-stream"
SNAPSHOT = Body(
    schema={"type": "string", "format": "binary"},
    media=SNAPSHOT_MEDIA,
    description="a snapshot from GET /_sim/snapshot (or world.snapshot()) of this version",
)


@router.endpoint(
    "/_sim/snapshot",
    "GET",
    "PUT",
    doc={
        "GET": Op(
            "the whole world as a snapshot, to PUT back later (simulator only)",
            answers=(Answer(200, "the snapshot's bytes", SNAPSHOT_MEDIA, {"type": "string"}),),
            errors=(),
        ),
        "PUT": _control("replace the world, in place, with a snapshot's", SNAPSHOT),
    },
)
async def snapshot(request: Request) -> Response:
    """``GET`` hands out ``world.snapshot()``; ``PUT`` loads one in place, and every cluster
    of the snapshot answers on the port of its name from then on. The bytes are pickle:
    restoring them runs code, so only load snapshots from a trusted source."""
    world = cluster_of(request).world
    if request.method == "GET":
        return Response(world.snapshot(), media_type=SNAPSHOT_MEDIA)
    data = await request.body()
    if not data:
        raise BadRequest("Request body is required: a snapshot from GET /_sim/snapshot")
    _load(world, data, world.load)
    return _answer(request, world)


@router.endpoint(
    "/_sim/reset",
    "POST",
    doc=_control("bring the world back to the state it was created or restored in", None),
)
async def reset(request: Request) -> Response:
    world = cluster_of(request).world
    _load(world, world.baseline, lambda _data: world.reset())
    return _answer(request, world)


def _load(world: World, data: bytes, load: Callable[[bytes], None]) -> None:
    """Load ``data`` unless it is no snapshot of this version, or lacks a cluster this world
    has (its port would answer for nothing): both a 400 that says why."""
    try:
        clusters = header(data)["Clusters"]
        missing = sorted(set(world.clusters) - set(clusters))
        if missing:
            held = ", ".join(clusters) or "none"
            raise BadRequest(f'Snapshot has no cluster "{missing[0]}" (it holds: {held})')
        load(data)
    except ValueError as exc:
        raise BadRequest(f"Invalid snapshot: {exc}") from None


EXPLANATION = {
    "type": "object",
    "properties": {
        "Visible": {"type": "boolean"},
        "Reasons": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "Code": {"type": "string"},
                    "Holds": {"type": "boolean"},
                    "Text": {"type": "string"},
                },
            },
        },
    },
}
EXPLAIN_PARAMS = ("service", "source", "consumer")


@router.endpoint(
    "/_sim/explain",
    "GET",
    doc=Op(
        "why a service of one cluster is or is not visible in another (simulator only)",
        (
            Param("service", "the service's name", required=True),
            Param("source", "the cluster that registers (and would export) it", required=True),
            Param("consumer", "the cluster that would import it", required=True),
            Param("token", "the consumer-side ACL token a reader would use"),
            PRETTY,
        ),
        answers=(ok(EXPLANATION),),
        errors=(400,),
    ),
)
async def explain(request: Request) -> Response:
    """The answer of ``world.explain`` (:mod:`consul_sim.explain`); a missing parameter or an
    unknown cluster is a plain-text 400."""
    world = cluster_of(request).world
    params = request.query_params
    for name in EXPLAIN_PARAMS:
        if not params.get(name):
            raise BadRequest(
                f"Missing {name}: /_sim/explain?service=web&source=cluster-01&consumer=cluster-02"
            )
    answer = world.explain(
        service=params["service"],
        source=params["source"],
        consumer=params["consumer"],
        token=params.get("token") or request.headers.get("X-Consul-Token", ""),
    )
    return json_response(answer.render(), pretty=flag(request, "pretty"))
