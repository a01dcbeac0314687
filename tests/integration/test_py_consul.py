"""py-consul, unchanged, against consul-sim on a real loopback port.

These tests are the contract that an existing client cannot tell consul-sim from Consul: every
call goes through py-consul (requests over a socket), and every assertion is on what Consul itself
answers (catalog-health-replication.md §0-§6 and §9). The world runs on the wall clock because
the client waits in real time: a blocking read has to wake on a write from another thread, and a
TTL check has to expire while nobody is calling.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import consul
import pytest

from consul_sim.server import ServedWorld
from consul_sim.world import World

pytestmark = pytest.mark.slow

SERVER_RPC_ADDRESS = "127.0.0.1:8300"


@dataclass(frozen=True)
class Agent:
    """A served dev-mode agent as a client sees it."""

    port: int
    node_name: str
    client: Any  # consul.Consul: py-consul ships no type information

    def new_client(self) -> Any:
        """A second client for another thread (a requests session is not thread-safe)."""
        return consul.Consul(host="127.0.0.1", port=self.port)


def close_client(client: Any) -> None:
    """py-consul's close() leaves its requests session open; close its sockets ourselves."""
    client.http.session.close()


@pytest.fixture
def agent() -> Iterator[Agent]:
    world = World(seed=1)
    cluster = world.add_cluster("dc1")
    served = ServedWorld(world, {"dc1": 0}).start()
    port = served.ports["dc1"]
    client = consul.Consul(host="127.0.0.1", port=port)
    try:
        yield Agent(port=port, node_name=cluster.node_name, client=client)
    finally:
        close_client(client)
        served.stop()
        world.close()


def check_by_id(checks: list[dict[str, Any]], check_id: str) -> dict[str, Any]:
    found = [c for c in checks if c["CheckID"] == check_id]
    assert len(found) == 1, f"{check_id!r} in {[c['CheckID'] for c in checks]}"
    return found[0]


def register_web(client: Any, node: str, address: str, service_id: str, port: int) -> None:
    """A catalog registration the way py-consul's docs show it: service plus a passing check."""
    assert client.catalog.register(
        node,
        address,
        service={"Service": "web", "ID": service_id, "Port": port, "Tags": ["v1"]},
        check={
            "CheckID": f"{service_id}-alive",
            "Name": "web alive",
            "Status": "passing",
            "ServiceID": service_id,
        },
    )


# -- status -------------------------------------------------------------------------------------
def test_status_leader_is_the_server_rpc_address(agent: Agent) -> None:
    assert agent.client.status.leader() == SERVER_RPC_ADDRESS


def test_status_peers_lists_the_single_raft_server(agent: Agent) -> None:
    assert agent.client.status.peers() == [SERVER_RPC_ADDRESS]


# -- kv -----------------------------------------------------------------------------------------
def test_kv_put_then_get_returns_value_flags_and_index(agent: Agent) -> None:
    kv = agent.client.kv
    assert kv.put("app/cfg", "hello", flags=42) is True

    index, entry = kv.get("app/cfg")

    assert entry["Key"] == "app/cfg"
    assert entry["Value"] == b"hello"
    assert entry["Flags"] == 42
    assert entry["LockIndex"] == 0
    assert "Session" not in entry
    assert entry["CreateIndex"] == entry["ModifyIndex"]
    assert int(index) == entry["ModifyIndex"]


def test_kv_put_with_no_value_stores_null(agent: Agent) -> None:
    kv = agent.client.kv
    assert kv.put("marker", None) is True

    _, entry = kv.get("marker")

    assert entry["Value"] is None
    assert entry["Flags"] == 0


def test_kv_get_of_missing_key_is_none_with_an_index(agent: Agent) -> None:
    index, entry = agent.client.kv.get("missing")

    assert entry is None
    assert int(index) >= 1


def test_kv_cas_writes_only_at_the_current_modify_index(agent: Agent) -> None:
    kv = agent.client.kv
    assert kv.put("k", "v1") is True
    _, entry = kv.get("k")
    current = entry["ModifyIndex"]

    assert kv.put("k", "stale", cas=current - 1) is False
    assert kv.put("k", "again", cas=0) is False
    assert kv.get("k")[1]["Value"] == b"v1"

    assert kv.put("k", "v2", cas=current) is True
    _, entry = kv.get("k")
    assert entry["Value"] == b"v2"
    assert entry["ModifyIndex"] > current
    assert entry["CreateIndex"] < entry["ModifyIndex"]


def test_kv_cas_zero_creates_an_absent_key(agent: Agent) -> None:
    assert agent.client.kv.put("fresh", "v", cas=0) is True

    assert agent.client.kv.get("fresh")[1]["Value"] == b"v"


def test_kv_delete_with_stale_cas_keeps_the_key(agent: Agent) -> None:
    kv = agent.client.kv
    assert kv.put("k", "v") is True
    current = kv.get("k")[1]["ModifyIndex"]

    assert kv.delete("k", cas=current - 1) is False
    assert (kv.get("k")[1]["Value"], kv.get("k")[1]["ModifyIndex"]) == (b"v", current)

    assert kv.delete("k", cas=current) is True
    assert kv.get("k")[1] is None


def test_kv_recurse_returns_every_key_under_the_prefix_sorted(agent: Agent) -> None:
    kv = agent.client.kv
    for key in ("a/c/d", "ab", "a/b", "b"):
        assert kv.put(key, key.upper()) is True

    _, entries = kv.get("a", recurse=True)

    assert [e["Key"] for e in entries] == ["a/b", "a/c/d", "ab"]
    assert [e["Value"] for e in entries] == [b"A/B", b"A/C/D", b"AB"]


def test_kv_keys_with_separator_cut_after_the_prefix(agent: Agent) -> None:
    kv = agent.client.kv
    for key in ("a/b", "a/c/d", "ab"):
        assert kv.put(key, "x") is True

    assert kv.get("", keys=True, separator="/")[1] == ["a/", "ab"]
    assert kv.get("a/", keys=True, separator="/")[1] == ["a/b", "a/c/"]
    assert kv.get("a/", keys=True)[1] == ["a/b", "a/c/d"]


def test_kv_keys_on_empty_store_is_an_empty_list(agent: Agent) -> None:
    assert agent.client.kv.get("", keys=True)[1] == []


def test_kv_delete_recurse_removes_only_the_prefix(agent: Agent) -> None:
    kv = agent.client.kv
    for key in ("a/b", "a/c/d", "ab"):
        assert kv.put(key, "x") is True

    assert kv.delete("a/", recurse=True) is True

    assert kv.get("a/b")[1] is None
    assert kv.get("a/c/d")[1] is None
    assert kv.get("ab")[1]["Value"] == b"x"


def test_kv_delete_of_single_key_returns_true(agent: Agent) -> None:
    kv = agent.client.kv
    assert kv.put("gone", "x") is True

    assert kv.delete("gone") is True
    assert kv.delete("gone") is True
    assert kv.get("gone")[1] is None


def test_kv_blocking_get_returns_when_another_client_writes(agent: Agent) -> None:
    kv = agent.client.kv
    assert kv.put("watched", "before") is True
    index, _ = kv.get("watched")
    outcome: dict[str, Any] = {}

    def watch() -> None:
        watcher = agent.new_client()
        started = time.monotonic()
        try:
            outcome["result"] = watcher.kv.get("watched", index=index, wait="5s")
        except Exception as exc:  # re-raised in the test thread below
            outcome["error"] = exc
        finally:
            outcome["elapsed"] = time.monotonic() - started
            close_client(watcher)

    thread = threading.Thread(target=watch)
    thread.start()
    time.sleep(0.3)
    assert kv.put("watched", "after") is True
    thread.join(timeout=10)

    assert not thread.is_alive()
    if "error" in outcome:
        raise outcome["error"]
    new_index, entry = outcome["result"]
    assert entry["Value"] == b"after"
    assert int(new_index) > int(index)
    assert 0.25 <= outcome["elapsed"] < 2.0


# -- agent and health ---------------------------------------------------------------------------
def test_agent_service_register_shows_in_agent_services(agent: Agent) -> None:
    registered = agent.client.agent.service.register(
        "api", service_id="api-1", port=8080, tags=["v1"], check=consul.Check.ttl("10s")
    )
    assert registered is True

    services = agent.client.agent.services()

    assert set(services) == {"api-1"}
    service = services["api-1"]
    expected = {
        "ID": "api-1",
        "Service": "api",
        "Tags": ["v1"],
        "Meta": {},
        "Port": 8080,
        "Address": "",
        "Weights": {"Passing": 1, "Warning": 1},
        "EnableTagOverride": False,
        "Datacenter": "dc1",
    }
    assert {k: service.get(k) for k in expected} == expected
    assert "Kind" not in service


def test_agent_ttl_check_starts_critical_with_derived_id_and_name(agent: Agent) -> None:
    assert agent.client.agent.service.register(
        "api", service_id="api-1", port=8080, tags=["v1"], check=consul.Check.ttl("10s")
    )

    index, checks = agent.client.health.checks("api")

    assert int(index) >= 1
    assert len(checks) == 1
    check = checks[0]
    expected = {
        "Node": agent.node_name,
        "CheckID": "service:api-1",
        "Name": "Service 'api' check",
        "Status": "critical",
        "Notes": "",
        "Output": "",
        "ServiceID": "api-1",
        "ServiceName": "api",
        "ServiceTags": ["v1"],
        "Type": "ttl",
        "ExposedPort": 0,
    }
    assert {k: check.get(k) for k in expected} == expected
    assert "PeerName" not in check


def test_agent_ttl_pass_makes_the_instance_pass(agent: Agent) -> None:
    client = agent.client
    assert client.agent.service.register(
        "api", service_id="api-1", port=8080, check=consul.Check.ttl("10s")
    )
    assert client.health.service("api", passing=True)[1] == []

    assert client.agent.check.ttl_pass("service:api-1", "ok") is True

    check = check_by_id(client.health.checks("api")[1], "service:api-1")
    assert check["Status"] == "passing"
    assert check["Output"] == "ok"
    _, nodes = client.health.service("api", passing=True)
    assert len(nodes) == 1
    entry = nodes[0]
    assert set(entry) == {"Node", "Service", "Checks"}
    assert entry["Node"]["Node"] == agent.node_name
    assert entry["Node"]["Address"] == "127.0.0.1"
    assert entry["Node"]["Datacenter"] == "dc1"
    assert entry["Service"]["ID"] == "api-1"
    assert entry["Service"]["Service"] == "api"
    assert entry["Service"]["Port"] == 8080
    assert entry["Service"]["Tags"] == []
    assert entry["Service"]["PeerName"] == ""
    assert [c["CheckID"] for c in entry["Checks"]] == ["serfHealth", "service:api-1"]


def test_health_node_lists_node_and_service_checks(agent: Agent) -> None:
    client = agent.client
    assert client.agent.service.register("api", service_id="api-1", check=consul.Check.ttl("10s"))

    index, checks = client.health.node(agent.node_name)

    assert int(index) >= 1
    assert sorted(c["CheckID"] for c in checks) == ["serfHealth", "service:api-1"]
    serf = check_by_id(checks, "serfHealth")
    assert serf["Name"] == "Serf Health Status"
    assert serf["Status"] == "passing"
    assert serf["Output"] == "Agent alive and reachable"
    assert serf["ServiceID"] == ""
    assert client.health.node("no-such-node")[1] == []


def test_health_state_filters_checks_by_status(agent: Agent) -> None:
    client = agent.client
    assert client.agent.service.register("api", service_id="api-1", check=consul.Check.ttl("10s"))

    critical = [c["CheckID"] for c in client.health.state("critical")[1]]
    passing = [c["CheckID"] for c in client.health.state("passing")[1]]
    every = sorted(c["CheckID"] for c in client.health.state("any")[1])

    assert critical == ["service:api-1"]
    assert passing == ["serfHealth"]
    assert every == ["serfHealth", "service:api-1"]
    assert client.health.state("warning")[1] == []


def test_ttl_check_expires_to_critical_with_last_output(agent: Agent) -> None:
    client = agent.client
    assert client.agent.service.register("api", service_id="api-1", check=consul.Check.ttl("1s"))
    assert client.agent.check.ttl_pass("service:api-1", "ok") is True
    passed_at = time.monotonic()
    time.sleep(0.5)
    assert check_by_id(client.health.checks("api")[1], "service:api-1")["Status"] == "passing"

    check = check_by_id(client.health.checks("api")[1], "service:api-1")
    while check["Status"] == "passing" and time.monotonic() - passed_at < 3.0:
        time.sleep(0.1)
        check = check_by_id(client.health.checks("api")[1], "service:api-1")

    assert time.monotonic() - passed_at >= 1.0
    assert check["Status"] == "critical"
    assert check["Output"].startswith("TTL expired")
    assert check["Output"] == "TTL expired (last output before timeout follows): ok"
    assert client.health.service("api", passing=True)[1] == []


# -- catalog ------------------------------------------------------------------------------------
def test_catalog_datacenters_is_the_local_dc(agent: Agent) -> None:
    assert agent.client.catalog.datacenters() == ["dc1"]


def test_catalog_register_shows_in_nodes_services_and_service(agent: Agent) -> None:
    client = agent.client
    register_web(client, "n1", "10.0.0.1", "web-1", 80)

    _, nodes = client.catalog.nodes()
    assert [n["Node"] for n in nodes] == [agent.node_name, "n1"]
    n1 = nodes[1]
    assert (n1["Address"], n1["Datacenter"]) == ("10.0.0.1", "dc1")
    assert "PeerName" not in n1

    _, services = client.catalog.services()
    assert services == {"consul": [], "web": ["v1"]}

    index, instances = client.catalog.service("web")
    assert int(index) >= n1["ModifyIndex"]
    assert len(instances) == 1
    instance = instances[0]
    expected = {
        "Node": "n1",
        "Address": "10.0.0.1",
        "Datacenter": "dc1",
        "ServiceKind": "",
        "ServiceID": "web-1",
        "ServiceName": "web",
        "ServiceTags": ["v1"],
        "ServiceAddress": "",
        "ServicePort": 80,
        "ServiceWeights": {"Passing": 1, "Warning": 1},
        "ServiceMeta": {},
        "ServiceEnableTagOverride": False,
        "ServiceProxy": {"Mode": "", "MeshGateway": {}, "Expose": {}},
        "ServiceConnect": {},
    }
    assert {k: instance.get(k) for k in expected} == expected
    assert "PeerName" not in instance


def test_catalog_node_lists_its_services_by_id(agent: Agent) -> None:
    client = agent.client
    register_web(client, "n1", "10.0.0.1", "web-1", 80)

    _, found = client.catalog.node("n1")

    assert set(found) == {"Node", "Services"}
    assert found["Node"]["Node"] == "n1"
    assert found["Node"]["Address"] == "10.0.0.1"
    assert set(found["Services"]) == {"web-1"}
    service = found["Services"]["web-1"]
    assert (service["Service"], service["Port"], service["Tags"]) == ("web", 80, ["v1"])
    assert client.catalog.node("nope")[1] is None


def test_health_service_of_catalog_instance_carries_its_check(agent: Agent) -> None:
    client = agent.client
    register_web(client, "n1", "10.0.0.1", "web-1", 80)

    _, nodes = client.health.service("web", passing=True)

    assert len(nodes) == 1
    checks = nodes[0]["Checks"]
    assert [c["CheckID"] for c in checks] == ["web-1-alive"]
    assert checks[0]["Status"] == "passing"
    assert checks[0]["ServiceName"] == "web"
    assert checks[0]["Type"] == ""


def test_catalog_deregister_service_then_node(agent: Agent) -> None:
    client = agent.client
    register_web(client, "n1", "10.0.0.1", "web-1", 80)
    register_web(client, "n1", "10.0.0.1", "web-2", 81)

    assert client.catalog.deregister("n1", service_id="web-1") is True
    assert [s["ServiceID"] for s in client.catalog.service("web")[1]] == ["web-2"]
    assert [c["CheckID"] for c in client.health.checks("web")[1]] == ["web-2-alive"]

    assert client.catalog.deregister("n1") is True
    assert client.catalog.service("web")[1] == []
    assert client.catalog.node("n1")[1] is None
    assert client.health.checks("web")[1] == []
    assert client.catalog.services()[1] == {"consul": []}
    assert [n["Node"] for n in client.catalog.nodes()[1]] == [agent.node_name]


def test_catalog_services_index_grows_after_register(agent: Agent) -> None:
    client = agent.client
    before, _ = client.catalog.services()
    register_web(client, "n1", "10.0.0.1", "web-1", 80)
    after, _ = client.catalog.services()

    assert int(before) >= 1
    assert int(after) > int(before)
