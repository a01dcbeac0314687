"""/v1/agent reload, leave, force-leave, metrics and monitor, driven over HTTP.

Statuses, bodies and ACL checks follow ``agent/agent_endpoint.go``; the monitor's stream is
exercised on a real socket (an in-process client reads a body to its end, and this one has
none)."""

from __future__ import annotations

import json
import re
import socket
import time

import httpx
import pytest

from consul_sim.api.agent_ops import AgentControl, attach_control, open_monitors
from consul_sim.server import ServedWorld
from consul_sim.world import Cluster, World

ANON = ". The anonymous token is used implicitly when a request does not specify a token."


@pytest.fixture
def locked(world: World) -> Cluster:
    return world.add_cluster("secure", acl_default_policy="deny", acl_initial_management="root")


@pytest.mark.parametrize("path", ["/v1/agent/reload", "/v1/agent/leave"])
def test_reload_and_leave_answer_null(client: httpx.Client, path: str) -> None:
    r = client.put(path)
    assert (r.status_code, r.text) == (200, "null")


def test_reload_runs_the_agents_reloader_and_reports_its_failure(dc1: Cluster) -> None:
    calls: list[str] = []
    attach_control(dc1, AgentControl(reload=lambda: calls.append("reload")))
    assert dc1.client.put("/v1/agent/reload").text == "null"
    assert calls == ["reload"]

    def broken() -> None:
        raise ValueError("failed to parse x.hcl: boom")

    attach_control(dc1, AgentControl(reload=broken))
    r = dc1.client.put("/v1/agent/reload")
    assert (r.status_code, r.text) == (500, "failed to parse x.hcl: boom")


def test_reload_and_leave_need_agent_write(locked: Cluster) -> None:
    for path in ("/v1/agent/reload", "/v1/agent/leave"):
        r = locked.client.put(path)
        assert (r.status_code, r.text) == (
            403,
            "Permission denied: anonymous token lacks permission 'agent:write' on "
            f'"{locked.node_name}"{ANON}',
        )
        assert locked.client.put(path, headers={"X-Consul-Token": "root"}).status_code == 200


def test_force_leave_needs_a_serf_member_and_operator_write(dc1: Cluster, locked: Cluster) -> None:
    r = dc1.client.put("/v1/agent/force-leave/gone-node?prune")
    assert (r.status_code, r.text) == (500, "agent: No node found with name 'gone-node'")
    r = dc1.client.put(f"/v1/agent/force-leave/{dc1.node_name}?prune")
    assert (r.status_code, r.text) == (200, "null")
    r = dc1.client.put(f"/v1/agent/force-leave/{dc1.node_name}.{dc1.datacenter}")
    assert (r.status_code, r.text) == (200, "null")
    r = locked.client.put("/v1/agent/force-leave/gone-node")
    assert (r.status_code, r.text) == (
        403,
        f"Permission denied: anonymous token lacks permission 'operator:write'{ANON}",
    )


def test_metrics_answer_go_metrics_summary(client: httpx.Client) -> None:
    client.put("/v1/kv/a", content=b"1")
    r = client.get("/v1/agent/metrics")
    assert r.status_code == 200
    body = r.json()
    assert list(body) == ["Timestamp", "Gauges", "Points", "Counters", "Samples"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d0 \+0000 UTC", body["Timestamp"])
    gauges = {g["Name"]: g["Value"] for g in body["Gauges"]}
    assert gauges["consul.state.nodes"] == 1
    assert gauges["consul.state.services"] == 1
    assert gauges["consul.state.kv_entries"] == 1
    host = socket.gethostname()
    assert gauges[f"consul.{host}.runtime.alloc_bytes"] > 0
    assert gauges[f"consul.{host}.runtime.num_goroutines"] >= 1
    assert all(g["Labels"] == {} for g in body["Gauges"])


def test_prometheus_metrics_need_a_retention_time(dc1: Cluster) -> None:
    r = dc1.client.get("/v1/agent/metrics?format=prometheus")
    assert (r.status_code, r.text) == (200, "")
    assert r.headers["X-Consul-Reason"] == (
        "Prometheus is not enabled since its retention time is not positive"
    )
    assert "content-type" not in r.headers
    attach_control(dc1, AgentControl(prometheus_retention="60s"))
    r = dc1.client.get("/v1/agent/metrics?format=prometheus")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert "# TYPE consul_state_nodes gauge\nconsul_state_nodes 1\n" in r.text


def test_metrics_need_agent_read(locked: Cluster) -> None:
    r = locked.client.get("/v1/agent/metrics")
    assert (r.status_code, r.text) == (
        403,
        "Permission denied: anonymous token lacks permission 'agent:read' on "
        f'"{locked.node_name}"{ANON}',
    )


@pytest.mark.parametrize("level", ["loud", "warning", "off"])
def test_monitor_refuses_an_unknown_log_level(client: httpx.Client, level: str) -> None:
    r = client.get(f"/v1/agent/monitor?loglevel={level}")
    assert (r.status_code, r.text) == (400, f"Unknown log level: {level}")


def test_monitor_needs_agent_read(locked: Cluster) -> None:
    r = locked.client.get("/v1/agent/monitor")
    assert (r.status_code, r.text) == (
        403,
        "Permission denied: anonymous token lacks permission 'agent:read' on "
        f'"{locked.node_name}"{ANON}',
    )


@pytest.mark.slow
def test_monitor_streams_log_lines_and_ends_when_the_client_leaves() -> None:
    world = World(clock="wall", seed=3)
    cluster = world.add_cluster("dc1")
    control = AgentControl()
    attach_control(cluster, control)
    served = ServedWorld(world, {"dc1": 0}).start()
    try:
        url = served.url("dc1")
        with httpx.Client(base_url=url, timeout=5.0) as http:
            with http.stream("GET", "/v1/agent/monitor?loglevel=warn") as stream:
                assert stream.status_code == 200
                control.publish("info", "2025-01-01T00:00:00.000Z [INFO]  agent: hidden")
                control.publish("warn", "2025-01-01T00:00:00.000Z [WARN]  agent: shown")
                lines = stream.iter_lines()
                assert next(lines) == "2025-01-01T00:00:00.000Z [WARN]  agent: shown"
                # The server is not stalled by the open stream.
                assert http.get("/v1/status/leader").status_code == 200
                assert open_monitors(cluster) == 1
        deadline = time.monotonic() + 5.0
        while open_monitors(cluster) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert open_monitors(cluster) == 0
    finally:
        served.stop()
        world.close()


def test_join_takes_the_agents_own_serf_address_and_refuses_others(
    client: httpx.Client, locked: Cluster
) -> None:
    """What the Go client's TestAPI_AgentJoin does: join the address /v1/agent/self
    advertises. A simulated agent has no one else to gossip with."""
    own = client.get("/v1/agent/self").json()["DebugConfig"]["SerfAdvertiseAddrLAN"]
    own = own.removeprefix("tcp://")
    r = client.put(f"/v1/agent/join/{own}")
    assert (r.status_code, r.text) == (200, "null")
    r = client.put("/v1/agent/join/10.9.9.9")
    assert (r.status_code, r.text) == (
        500,
        "1 error occurred:\n\t* Failed to join 10.9.9.9:8301: dial tcp 10.9.9.9:8301: "
        "connect: connection refused\n\n",
    )
    r = locked.client.put(f"/v1/agent/join/{own}")
    assert (r.status_code, r.text) == (
        403,
        f"Permission denied: anonymous token lacks permission 'agent:write' on "
        f'"{locked.node_name}"{ANON}',
    )


def test_host_answers_the_machines_figures_for_operator_read(
    client: httpx.Client, locked: Cluster
) -> None:
    body = client.get("/v1/agent/host").json()
    assert list(body) == ["Memory", "CPU", "Host", "Disk", "CollectionTime", "Errors"]
    assert body["Host"]["hostname"] == socket.gethostname()
    assert body["CollectionTime"] > 0 and body["Memory"]["total"] > 0
    r = locked.client.get("/v1/agent/host")
    assert (r.status_code, r.text) == (
        403,
        f"Permission denied: anonymous token lacks permission 'operator:read'{ANON}",
    )


@pytest.mark.slow
def test_monitor_json_shows_the_service_sync_a_register_logs() -> None:
    """What the Go client's TestAPI_AgentMonitor(JSON) waits for: registering a service logs
    the local state's sync, and ``?logjson`` gives each line as hclog's JSON."""
    from consul_sim.cli.commands.agent import log_line

    world = World(clock="wall", seed=3)
    cluster = world.add_cluster("dc1")
    control = AgentControl()
    control.log = lambda level, name, message, **fields: control.publish(
        level, log_line(level, name, message, **fields)
    )
    attach_control(cluster, control)
    served = ServedWorld(world, {"dc1": 0}).start()
    try:
        with httpx.Client(base_url=served.url("dc1"), timeout=5.0) as http:
            with http.stream("GET", "/v1/agent/monitor?loglevel=debug&logjson") as stream:
                assert stream.status_code == 200
                r = http.put("/v1/agent/service/register", json={"Name": "redis"})
                assert r.status_code == 200
                record = json.loads(next(stream.iter_lines()))
        assert {k: record[k] for k in ("@level", "@message", "@module", "service")} == {
            "@level": "info",
            "@message": "Synced service",
            "@module": "agent",
            "service": "redis",
        }
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", record["@timestamp"])
    finally:
        served.stop()
        world.close()
