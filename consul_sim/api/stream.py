"""/_sim/stream: the world as server-sent events, for the dashboard at ``/ui/``.

Not a Consul API. Consul's own UI polls blocking queries per cluster; the dashboard shows the
whole simulated world at once, so it reads one stream: a ``world`` event (what ``/_sim/world``
answers, plus each cluster's services and their health, and which cluster each peering points
at) when the world changed, at least every :data:`KEEPALIVE` seconds, and a ``journal`` event
per journal line, in order, whose ``id`` is the line's seq (a browser that reconnects sends it
back as ``Last-Event-ID`` and misses nothing the ring still holds; a ``Dropped`` line stands for
what it no longer holds, as on ``/_sim/events``).

The generator takes the world lock only to copy what it sends, never while it waits, and it
polls the server's closing event (:func:`consul_sim.api.http.closing_event`) so stopping the
server ends every stream within one :data:`POLL` instead of leaving uvicorn waiting on it.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import Request
from starlette.responses import Response, StreamingResponse

from consul_sim.api.http import ConsulRouter, closing_event, cluster_of
from consul_sim.api.openapi import Answer, Op, Param
from consul_sim.api.sim import gap_line, parse_since, world_view
from consul_sim.clock import rfc3339
from consul_sim.world import Cluster, World

router = ConsulRouter()

POLL = 0.1
"""Wall seconds between looks at the journal: new lines reach the page within this."""
SUMMARY_EVERY = 0.5
"""Wall seconds between rebuilding the world summary (sent only when it changed)."""
KEEPALIVE = 10.0
"""Wall seconds after which the summary is sent again unchanged, so a proxy or the browser
does not take a quiet stream for a dead one."""
BATCH = 500
"""Journal lines sent per poll at most; a flood reaches the page over several polls."""
BACKLOG = 200
"""Journal lines a new stream starts with when it names no ``since``."""

SEVERITY = {"passing": 0, "warning": 1, "critical": 2}


def _health(cluster: Cluster) -> list[dict[str, Any]]:
    """Each local service with its instance count and its worst check, as ``/v1/health``
    aggregates it (node checks count for every service on the node): Consul's
    ``AggregatedStatus`` in ``api/health.go``. A service with no checks is passing."""
    tables = cluster.store.catalog
    out = []
    for name in sorted(tables.service_names("")):
        status = "passing"
        instances = tables.instances("", name)
        for row, service in instances:
            for check in row.service_checks("") + row.service_checks(service.id):
                if SEVERITY.get(check.status, 2) > SEVERITY[status]:
                    status = check.status if check.status in SEVERITY else "critical"
        out.append({"Name": name, "Instances": len(instances), "Status": status})
    return out


def _remotes(world: World) -> dict[tuple[str, str], str]:
    """(cluster, peering name) -> the local cluster at the other end. Peerings pair up by ID
    (a side's ``PeerID`` names the other's ``ID``, or the other's names its own); a dialer
    that has not heard back yet is found by the acceptor address in its token."""
    ids: dict[str, str] = {}
    pointing: dict[str, str] = {}
    owners = {c.peering_address: name for name, c in world.clusters.items()}
    for name, cluster in world.clusters.items():
        owners.update(dict.fromkeys(filter(None, [cluster.http_address]), name))
        for record in cluster.peering.table.list():
            ids[record.id] = name
            if record.peer_id:
                pointing[record.peer_id] = name
    out: dict[tuple[str, str], str] = {}
    for name, cluster in world.clusters.items():
        for record in cluster.peering.table.list():
            remote = ids.get(record.peer_id) if record.peer_id else None
            remote = remote or pointing.get(record.id)
            if remote is None:
                remote = next(
                    (owners[a] for a in record.peer_server_addresses if a in owners), None
                )
            if remote is not None and remote != name:
                out[(name, record.name)] = remote
    return out


def dashboard_view(world: World) -> dict[str, Any]:
    """``/_sim/world`` with services, health and each peering's remote cluster."""
    with world.lock:
        view = world_view(world)
        remotes = _remotes(world)
        for cluster in view["Clusters"]:
            name = cluster["Name"]
            cluster["Services"] = _health(world.clusters[name])
            for peering in cluster["Peerings"]:
                peering["Remote"] = remotes.get((name, peering["Name"]))
        view["LastEvent"] = world.network.journal.last_seq
        return view


def _since(request: Request, world: World) -> int:
    raw = request.headers.get("last-event-id") or request.query_params.get("since")
    if raw is None or raw == "":
        with world.lock:
            return max(world.network.journal.last_seq - BACKLOG, 0)
    return parse_since(raw)


def _event(kind: str, data: object, seq: int | None = None) -> str:
    head = f"id: {seq}\n" if seq is not None else ""
    return f"{head}event: {kind}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def _journal(world: World, since: int) -> tuple[int, list[str]]:
    """The events for journal lines after ``since`` (at most :data:`BATCH`), and the new
    ``since``. Copied under the lock; sent after it is let go."""
    with world.lock:
        journal = world.network.journal
        missed, entries = journal.since(since)
        entries = entries[:BATCH]
        lines = [{**e.render(), "At": rfc3339(e.at)} for e in entries]
        size = journal.size
    out = []
    if missed and lines:
        gap = gap_line(since, missed, size, str(lines[0]["At"]))
        out.append(_event("journal", gap, int(str(gap["Seq"]))))
    for line in lines:
        out.append(_event("journal", line, int(str(line["Seq"]))))
    if lines:
        since = int(str(lines[-1]["Seq"]))
    return since, out


async def _events(world: World, since: int, closing: threading.Event | None) -> AsyncIterator[str]:
    sent_summary = ""
    sent_at = built_at = float("-inf")
    yield "retry: 1000\n\n"
    while closing is None or not closing.is_set():
        now = time.monotonic()
        if now - built_at >= SUMMARY_EVERY:
            built_at = now
            summary = json.dumps(dashboard_view(world), separators=(",", ":"))
            if summary != sent_summary or now - sent_at >= KEEPALIVE:
                sent_summary, sent_at = summary, now
                yield f"event: world\ndata: {summary}\n\n"
        since, lines = _journal(world, since)
        if lines:
            yield "".join(lines)
            if len(lines) >= BATCH:
                built_at = float("-inf")
                continue
        await asyncio.sleep(POLL)


@router.endpoint(
    "/_sim/stream",
    "GET",
    doc=Op(
        "the world and its journal as server-sent events, for /ui/ (simulator only)",
        (Param("since", "start after this journal sequence number (default: the last 200)"),),
        answers=(Answer(200, "`world` and `journal` events", "text/event-stream"),),
        errors=(400,),
    ),
)
async def stream(request: Request) -> Response:
    world = cluster_of(request).world
    since = _since(request, world)
    return StreamingResponse(
        _events(world, since, closing_event()),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
