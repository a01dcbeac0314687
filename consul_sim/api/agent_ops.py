"""/v1/agent reload, leave, force-leave, metrics and monitor: the agent's own operations.

Handlers follow ``agent/agent_endpoint.go``:

- ``PUT /v1/agent/reload`` (``AgentReload``, ``agent:write`` on the node) re-reads the agent's
  configuration; a failure is a 500 with the loader's sentence (``Agent.ReloadConfig`` returns
  it as is). Answers 200 ``null``.
- ``PUT /v1/agent/leave`` (``AgentLeave``, ``agent:write``) leaves gracefully and shuts the
  agent down; under ``consul-sim serve`` (several clusters in one process) it answers and the
  cluster keeps running, as there is no agent process to end.
- ``PUT /v1/agent/force-leave/:node`` (``AgentForceLeave``, ``operator:write``) takes ``?prune``
  and ``?wan``. The server removes the name from each Serf pool it is a member of (LAN: the
  name; WAN: ``<name>.<dc>``, or the name as given with ``?wan``) and, when no pool knows it,
  fails with ``agent: No node found with name '<name>'``, a plain error and so a 500
  (``removeFailedNode`` in ``agent/consul/server_ce.go``). A dev server's pools hold only
  itself, so only its own name answers 200 (``?wan`` is assumed to search the same way).
- ``GET /v1/agent/metrics`` (``AgentMetrics``, ``agent:read``) answers go-metrics'
  ``MetricsSummary``; ``?format=prometheus`` answers the text exposition format when
  ``telemetry.prometheus_retention_time`` is positive, else an empty 200 whose
  ``X-Consul-Reason`` says ``Prometheus is not enabled since its retention time is not
  positive`` (the handler's 415 ``CodeWithPayloadError`` carries no body, and ``wrap`` in
  ``agent/http.go`` returns before writing its status).
- ``GET /v1/agent/monitor`` (``AgentMonitor``, ``agent:read`` on the node) validates ``?loglevel``
  (``Unknown log level: X``, 400) and streams log lines until the client goes away; here the lines
  are the agent's own log and the world's network journal.

``consul-sim agent`` attaches an :class:`AgentControl` to its cluster so reload and leave reach
the running command; without one (``serve``, in-process worlds) reload re-reads nothing.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import re
import resource
import shutil
import socket
import threading
import time
import weakref
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fastapi import Request
from starlette.responses import Response, StreamingResponse

from consul_sim.api.http import (
    ConsulRouter,
    authorizer,
    closing_event,
    cluster_of,
    flag,
    json_response,
)
from consul_sim.api.openapi import OBJECT, PRETTY, STRING, Answer, Op, Param, ok
from consul_sim.clock import rfc3339
from consul_sim.errors import BadRequest, ConsulError
from consul_sim.ports import SERF_LAN_PORT, SERF_WAN_PORT

if TYPE_CHECKING:
    from consul_sim.world import Cluster

router = ConsulRouter()

NULL = {"type": "null"}
"""What these writes answer: Go's handler returns a nil object, encoded ``null``."""

LogFn = Callable[..., None]

POLL = 0.1
"""Wall seconds between a monitor's looks for new lines."""
LOG_KEEP = 1000
"""Agent log lines kept for monitors that start later."""

NO_PROMETHEUS = "Prometheus is not enabled since its retention time is not positive"

LEVELS = {"trace": 0, "debug": 1, "info": 2, "warn": 3, "error": 4, "off": 5}


@dataclass
class AgentControl:
    """What a running ``consul-sim agent`` lends its endpoints."""

    reload: Callable[[], None] | None = None
    leave: Callable[[], None] | None = None
    log: LogFn | None = None
    prometheus_retention: str = ""
    config: Any = None
    lines: deque[tuple[int, str, str]] = field(default_factory=lambda: deque(maxlen=LOG_KEEP))
    seq: int = 0

    def publish(self, level: str, line: str) -> None:
        """Keep one agent log line for ``/v1/agent/monitor``."""
        self.seq += 1
        self.lines.append((self.seq, level, line))


_CONTROLS: weakref.WeakKeyDictionary[Cluster, AgentControl] = weakref.WeakKeyDictionary()
_MONITORS: dict[str, int] = {}
_MONITORS_LOCK = threading.Lock()


def attach_control(cluster: Cluster, control: AgentControl) -> None:
    _CONTROLS[cluster] = control


def control_of(cluster: Cluster) -> AgentControl | None:
    return _CONTROLS.get(cluster)


def open_monitors(cluster: Cluster) -> int:
    """How many ``/v1/agent/monitor`` streams of this cluster are still running."""
    with _MONITORS_LOCK:
        return _MONITORS.get(cluster.name, 0)


def running_config(cluster: Cluster) -> dict[str, dict[str, Any]]:
    """What ``/v1/agent/self`` says differently when ``consul-sim agent`` was configured:
    ``Config`` and ``DebugConfig`` fields (the sanitized ``RuntimeConfig``) a harness reads."""
    control = control_of(cluster)
    cfg = control.config if control is not None else None
    if cfg is None:
        return {"Config": {}, "DebugConfig": {}}
    p = cfg.ports
    primary = cfg.primary_datacenter or cfg.datacenter
    debug = {
        "ACLsEnabled": cfg.acl_enabled,
        "ACLResolverSettings": {
            "ACLDefaultPolicy": cfg.acl_default_policy,
            "ACLDownPolicy": cfg.acl_down_policy,
            "ACLsEnabled": cfg.acl_enabled,
            "Datacenter": cfg.datacenter,
            "NodeName": cluster.node_name,
        },
        "BindAddr": cfg.bind_addr,
        "ClientAddrs": [cfg.client_addr],
        "DataDir": cfg.data_dir,
        "DevMode": cfg.dev,
        "DNSPort": p.get("dns", -1),
        "EnableLocalScriptChecks": cfg.enable_local_script_checks,
        "EnableRemoteScriptChecks": cluster.agent.enable_remote_script_checks,
        "GRPCPort": p.get("grpc", -1),
        "GRPCTLSPort": p.get("grpc_tls", -1),
        "HTTPSPort": p.get("https", -1),
        "PrimaryDatacenter": primary,
        "SerfPortLAN": p.get("serf_lan", -1),
        "SerfPortWAN": p.get("serf_wan", -1),
        "ServerPort": p.get("server", -1),
    }
    return {"Config": {"PrimaryDatacenter": primary}, "DebugConfig": debug}


def _null() -> Response:
    return json_response(None)


@router.endpoint(
    "/v1/agent/reload",
    "PUT",
    doc=Op("re-read the agent's configuration files", (), answers=(ok(NULL),), errors=(403, 500)),
)
async def reload(request: Request) -> Response:
    cluster = cluster_of(request)
    authorizer(request, cluster).require("agent", "write", cluster.node_name)
    control = control_of(cluster)
    if control is not None and control.reload is not None:
        try:
            control.reload()
        except Exception as exc:  # noqa: BLE001 - the loader's sentence, as Consul reports it
            raise ConsulError(str(exc)) from None
    return _null()


@router.endpoint(
    "/v1/agent/leave",
    "PUT",
    doc=Op("leave the cluster gracefully and shut down", (), answers=(ok(NULL),), errors=(403,)),
)
async def leave(request: Request) -> Response:
    cluster = cluster_of(request)
    authorizer(request, cluster).require("agent", "write", cluster.node_name)
    control = control_of(cluster)
    if control is not None and control.leave is not None:
        # After the answer is written, as Consul's agent answers before it shuts down.
        asyncio.get_running_loop().call_later(0.05, control.leave)
    return _null()


@router.endpoint(
    "/v1/agent/force-leave/{node}",
    "PUT",
    doc=Op(
        "force a failed node out of the gossip pool",
        (
            Param("prune", "also forget the node at once"),
            Param("wan", "the WAN pool"),
        ),
        answers=(ok(NULL),),
        errors=(400, 403, 500),
    ),
)
async def force_leave(request: Request) -> Response:
    cluster = cluster_of(request)
    authorizer(request, cluster).require("operator", "write")
    node = request.path_params["node"]
    if not _in_serf_pools(cluster, node):
        raise ConsulError(f"agent: No node found with name '{node}'")
    control = control_of(cluster)
    if control is not None and control.log is not None:
        control.log("info", "agent", "Force leaving node", node=node)
    return _null()


def _in_serf_pools(cluster: Cluster, node: str) -> bool:
    """``removeFailedNode``'s search: the name in the LAN pool, or in the WAN pool as
    ``<name>.<dc>`` (the suffix added when missing). A dev server's pools hold only itself."""
    dc_suffix = f".{cluster.datacenter}"
    wan_node = node if node.endswith(dc_suffix) else node + dc_suffix
    return node == cluster.node_name or wan_node == cluster.node_name + dc_suffix


# -- metrics -------------------------------------------------------------------------------------
def _gauges(cluster: Cluster) -> list[tuple[str, float]]:
    """The usage gauges a dev server reports (``agent/consul/usagemetrics``)."""
    store = cluster.store
    with store.lock:
        rows = store.catalog.rows("")
        names = store.catalog.service_names("")
        instances = sum(len(store.catalog.instances("", name)) for name in names)
        kv_entries = len(store.kv.keys(""))
    return [
        ("consul.state.nodes", float(len(rows))),
        ("consul.state.services", float(len(names))),
        ("consul.state.service_instances", float(instances)),
        ("consul.state.kv_entries", float(kv_entries)),
        *_runtime_gauges(),
    ]


def _runtime_gauges() -> list[tuple[str, float]]:
    """go-metrics' runtime statistics (``EmitRuntimeStats``): plain ``SetGauge`` keys, which
    get the host name inserted after the service name while ``telemetry.disable_hostname`` is
    false, Consul's default (``EnableHostname``, ``agent/lib/telemetry.go``). The Go client's
    ``TestAPI_AgentMetrics`` looks for ``consul.<hostname>.runtime.alloc_bytes``. Python's
    figures stand in for Go's: threads for goroutines, the peak resident set for the heap."""
    host = socket.gethostname()
    alloc = float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    return [
        (f"consul.{host}.runtime.num_goroutines", float(threading.active_count())),
        (f"consul.{host}.runtime.alloc_bytes", alloc),
    ]


def _interval_start(now: float) -> str:
    """go-metrics' inmem interval (10 s) start, as Go prints a UTC ``time.Time``."""
    start = now - now % 10
    return time.strftime("%Y-%m-%d %H:%M:%S +0000 UTC", time.gmtime(start))


def _retention_positive(text: str) -> bool:
    if not text:
        return False
    from consul_sim.durations import DurationError, parse_duration

    try:
        return parse_duration(text) > 0
    except DurationError:
        return False


@router.endpoint(
    "/v1/agent/metrics",
    "GET",
    doc=Op(
        "the agent's in-memory metrics",
        (Param("format", "`prometheus` for the text exposition format"), PRETTY),
        answers=(ok(OBJECT),),
        errors=(403,),
    ),
)
async def metrics(request: Request) -> Response:
    cluster = cluster_of(request)
    authorizer(request, cluster).require("agent", "read", cluster.node_name)
    gauges = _gauges(cluster)
    if request.query_params.get("format") == "prometheus":
        control = control_of(cluster)
        if control is None or not _retention_positive(control.prometheus_retention):
            # A CodeWithPayloadError(415) with no object: agent/http.go's wrap adds the
            # reason header and returns before WriteHeader, so Go answers an empty 200.
            return Response(
                status_code=200,
                headers={"X-Consul-Default-Acl-Policy": "allow", "X-Consul-Reason": NO_PROMETHEUS},
            )
        text = "".join(
            f"# HELP {n} {n}\n# TYPE {n} gauge\n{n} {v:g}\n"
            # go-metrics' prometheus sink: every character outside [a-zA-Z0-9_] becomes "_".
            for n, v in ((re.sub(r"[^a-zA-Z0-9_]", "_", name), value) for name, value in gauges)
        )
        return Response(text, media_type="text/plain; version=0.0.4; charset=utf-8")
    summary = {
        "Timestamp": _interval_start(time.time()),
        # Go encodes a whole float32 without a fraction ("Value": 1).
        "Gauges": [
            {"Name": n, "Value": int(v) if v.is_integer() else v, "Labels": {}} for n, v in gauges
        ],
        "Points": [],
        "Counters": [],
        "Samples": [],
    }
    return json_response(summary, pretty=flag(request, "pretty"))


# -- monitor -------------------------------------------------------------------------------------
def _level(raw: str) -> int | None:
    """``logging.ValidateLogLevel``: TRACE, DEBUG, INFO, WARN, ERR or ERROR in any case."""
    name = raw.lower()
    if name == "err":
        name = "error"
    return LEVELS.get(name) if name != "off" else None


def _journal_lines(cluster: Cluster, since: int) -> tuple[int, list[str]]:
    world = cluster.world
    with world.lock:
        _missed, entries = world.network.journal.since(since)
        lines = [
            f"{rfc3339(e.at)} [INFO]  agent.sim.net: {e.kind}: "
            f"from={e.source_cluster or e.source} to={e.destination_cluster or e.destination} "
            f"outcome={e.outcome}" + (f" summary={e.summary!r}" if e.summary else "")
            for e in entries
        ]
        last = entries[-1].seq if entries else since
    return last, lines


_HCLOG_LINE = re.compile(r"^(\S+) \[([A-Z]+)\]\s+([^:]+): (.*)$")
_HCLOG_FIELDS = re.compile(r"^(.*?): ((?:[\w.-]+=\S*)(?: [\w.-]+=\S*)*)$")


def _as_json(line: str) -> str:
    """One log line as hclog's JSON format writes it (``?logjson``): ``@level``,
    ``@message``, ``@module``, ``@timestamp`` and the line's ``key=value`` fields."""
    m = _HCLOG_LINE.match(line)
    if m is None:
        return json.dumps({"@message": line}, separators=(",", ":"))
    stamp, level, module, rest = m.groups()
    record: dict[str, str] = {"@level": level.lower(), "@message": rest, "@module": module}
    fields = _HCLOG_FIELDS.match(rest)
    if fields is not None:
        record["@message"] = fields.group(1)
        for pair in fields.group(2).split(" "):
            key, _, value = pair.partition("=")
            record[key] = value
    record["@timestamp"] = stamp
    return json.dumps(record, separators=(",", ":"))


async def _monitor_lines(
    cluster: Cluster,
    level: int,
    closing: threading.Event | None,
    since: tuple[int, int],
    as_json: bool = False,
) -> AsyncIterator[str]:
    """Lines after ``since`` (journal seq, agent log seq), taken when the request came in:
    the headers go out before this runs, and a line written meanwhile must not be lost."""
    control = control_of(cluster)
    journal_since, agent_since = since
    with _MONITORS_LOCK:
        _MONITORS[cluster.name] = _MONITORS.get(cluster.name, 0) + 1
    try:
        while closing is None or not closing.is_set():
            out: list[str] = []
            if control is not None:
                for seq, line_level, line in list(control.lines):
                    if seq > agent_since and LEVELS.get(line_level, 2) >= level:
                        out.append(line)
                agent_since = control.seq
            if level <= LEVELS["info"]:
                journal_since, lines = _journal_lines(cluster, journal_since)
                out.extend(lines)
            if out:
                yield "".join(f"{_as_json(line) if as_json else line}\n" for line in out)
            await asyncio.sleep(POLL)
    finally:
        with _MONITORS_LOCK:
            _MONITORS[cluster.name] -= 1


@router.endpoint(
    "/v1/agent/monitor",
    "GET",
    doc=Op(
        "stream the agent's log lines until the client disconnects",
        (Param("loglevel", "the lowest level shown (default INFO)"), Param("logjson", "JSON")),
        answers=(Answer(200, "log lines as they occur", "text/plain", dict(STRING)),),
        errors=(400, 403),
    ),
)
async def monitor(request: Request) -> Response:
    cluster = cluster_of(request)
    authorizer(request, cluster).require("agent", "read", cluster.node_name)
    raw = request.query_params.get("loglevel") or "INFO"
    level = _level(raw)
    if level is None:
        raise BadRequest(f"Unknown log level: {raw}")
    with cluster.world.lock:
        journal_since = cluster.world.network.journal.last_seq
    control = control_of(cluster)
    since = (journal_since, control.seq if control is not None else 0)
    return StreamingResponse(
        _monitor_lines(cluster, level, closing_event(), since, flag(request, "logjson")),
        media_type="text/plain",
        headers={"X-Consul-Default-Acl-Policy": "allow"},
    )


# -- join ------------------------------------------------------------------------------------------
@router.endpoint(
    "/v1/agent/join/{address:path}",
    "PUT",
    doc=Op(
        "join the agent to a gossip pool at an address",
        (Param("wan", "the WAN pool"),),
        answers=(ok(NULL),),
        errors=(400, 403, 500),
    ),
)
async def join(request: Request) -> Response:
    """``AgentJoin`` (``agent/agent_endpoint.go``): ``agent:write`` on the agent's node, then a
    Serf join. A simulated agent gossips with no one, so only its own Serf address (the one
    ``/v1/agent/self`` advertises; Serf's default port when none is given) joins; any other
    fails as Serf fails when no node answers (``Failed to join``, in a multierror, 500).
    Assumed: the refusal names a refused connection."""
    cluster = cluster_of(request)
    authorizer(request, cluster).require("agent", "write", cluster.node_name)
    wan = flag(request, "wan")
    port = SERF_WAN_PORT if wan else SERF_LAN_PORT
    address = request.path_params["address"]
    target = address if ":" in address else f"{address}:{port}"
    if target != f"{cluster.address}:{port}":
        raise ConsulError(
            f"1 error occurred:\n\t* Failed to join {target}: dial tcp {target}: "
            "connect: connection refused\n\n"
        )
    return _null()


# -- host ------------------------------------------------------------------------------------------
def _host_info() -> dict[str, Any]:
    """``debug.CollectHostInfo`` (``agent/debug/host.go``): gopsutil's memory, CPU, host and
    root-disk figures (lowerCamel keys, as gopsutil encodes them) and the collection time in
    Unix nanoseconds. Here the figures are the machine's as Python's standard library sees
    them; a figure it cannot read is left out, and ``Errors`` is null as when nothing failed."""
    uname = platform.uname()
    disk = shutil.disk_usage("/")
    pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    return {
        "Memory": {
            "total": pages,
            "available": available,
            "used": pages - available,
            "usedPercent": 100.0 * (pages - available) / pages if pages else 0.0,
        },
        "CPU": [{"cpu": i, "modelName": uname.processor} for i in range(os.cpu_count() or 1)],
        "Host": {
            "hostname": socket.gethostname(),
            "os": uname.system.lower(),
            "kernelVersion": uname.release,
            "kernelArch": uname.machine,
        },
        "Disk": {
            "path": "/",
            "total": disk.total,
            "free": disk.free,
            "used": disk.used,
            "usedPercent": 100.0 * disk.used / disk.total if disk.total else 0.0,
        },
        "CollectionTime": time.time_ns(),
        "Errors": None,
    }


@router.endpoint(
    "/v1/agent/host",
    "GET",
    doc=Op("the host the agent runs on", (PRETTY,), answers=(ok(OBJECT),), errors=(403,)),
)
async def host(request: Request) -> Response:
    """``AgentHost`` (``agent/agent_endpoint.go``): ``operator:read``, then the host's figures."""
    cluster = cluster_of(request)
    authorizer(request, cluster).require("operator", "read")
    return json_response(_host_info(), pretty=flag(request, "pretty"))
