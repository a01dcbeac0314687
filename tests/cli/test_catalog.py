"""``consul-sim catalog services|nodes``: Consul's listings and its empty-result line."""

from __future__ import annotations

from consul_sim.world import Cluster
from tests.cli.conftest import Run


def register(dc1: Cluster, body: dict[str, object]) -> None:
    r = dc1.client.put("/v1/catalog/register", json=body)
    assert r.status_code == 200, r.text


def test_services_are_listed_sorted_one_a_line(run: Run, dc1: Cluster) -> None:
    register(dc1, {"Node": "n2", "Address": "10.0.0.2", "Service": {"Service": "web"}})
    result = run("catalog", "services")
    assert (result.code, result.stdout, result.stderr) == (0, "consul\nweb\n", "")


def test_services_with_tags_are_a_tabwriter_table(run: Run, dc1: Cluster) -> None:
    register(
        dc1,
        {"Node": "n2", "Address": "10.0.0.2", "Service": {"Service": "web", "Tags": ["v2", "a"]}},
    )
    result = run("catalog", "services", "-tags")
    # tabwriter pads every tab-terminated cell, the empty tag list's row too
    assert (result.code, result.stdout) == (0, "consul      \nweb         a,v2\n")


def test_services_of_a_node_and_no_match(run: Run, dc1: Cluster) -> None:
    register(dc1, {"Node": "n2", "Address": "10.0.0.2", "Service": {"Service": "web"}})
    assert run("catalog", "services", "-node", "n2").stdout == "web\n"
    result = run("catalog", "services", "-node", "nobody")
    assert (result.code, result.stdout, result.stderr) == (
        0,
        "",
        "No services match the given query - try expanding your search.\n",
    )
    result = run("catalog", "services", "-node-meta", "rack=r9")
    assert result.stderr == "No services match the given query - try expanding your search.\n"


def test_nodes_are_columnized_with_short_ids(run: Run, dc1: Cluster) -> None:
    register(
        dc1,
        {
            "Node": "n2",
            "ID": "abcdef01-2345-6789-abcd-ef0123456789",
            "Address": "10.0.0.2",
            "NodeMeta": {"rack": "r1"},
        },
    )
    short = dc1.node_id.split("-")[0]
    result = run("catalog", "nodes")
    assert (result.code, result.stderr) == (0, "")
    assert result.stdout == (
        "Node        ID        Address    DC\n"
        f"dc1-server  {short}  127.0.0.1  dc1\n"
        "n2          abcdef01  10.0.0.2   dc1\n"
    )
    result = run("catalog", "nodes", "-node-meta", "rack=r1", "-detailed")
    assert result.stdout == (
        "Node  ID                                    Address   DC   TaggedAddresses  Meta\n"
        "n2    abcdef01-2345-6789-abcd-ef0123456789  10.0.0.2  dc1                   rack=r1\n"
    )


def test_nodes_of_a_service_and_a_filter(run: Run, dc1: Cluster) -> None:
    register(dc1, {"Node": "n2", "Address": "10.0.0.2", "Service": {"Service": "web"}})
    assert run("catalog", "nodes", "-service", "web").stdout.splitlines()[1].startswith("n2 ")
    result = run("catalog", "nodes", "-filter", 'Node == "nope"')
    assert (result.code, result.stdout, result.stderr) == (
        0,
        "",
        "No nodes match the given query - try expanding your search.\n",
    )


def test_too_many_arguments(run: Run) -> None:
    result = run("catalog", "nodes", "extra")
    assert (result.code, result.stderr) == (1, "Too many arguments (expected 0, got 1)\n")
