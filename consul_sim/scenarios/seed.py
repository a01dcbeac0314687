"""The seed page's walk-through (cluster-peering-technical-preview.md), as far as it is built.

Today it shows the two clusters the page talks about, each a working Consul: a service with its
health check, and the KV store. The peering steps (token, initiate, export, status, intentions,
delete) join this walk as the peering, config-entries and replication issues land.
"""

from __future__ import annotations

from consul_sim.scenarios.base import Scenario, Step, scenario


@scenario("seed")
def seed() -> Scenario:
    return Scenario(
        name="seed",
        summary="two clusters, cluster-01 and cluster-02, as the cluster peering page uses them",
        clusters=("cluster-01", "cluster-02"),
        steps=[
            Step("cluster-01 has a leader", "cluster-01", "GET", "/v1/status/leader"),
            Step("cluster-02 has a leader", "cluster-02", "GET", "/v1/status/leader"),
            Step(
                "each cluster is its own datacenter", "cluster-02", "GET", "/v1/catalog/datacenters"
            ),
            Step(
                "register the service the page exports, with a TTL health check",
                "cluster-01",
                "PUT",
                "/v1/agent/service/register",
                {
                    "Name": "service-name",
                    "ID": "service-name-1",
                    "Port": 8080,
                    "Check": {"TTL": "30s", "Status": "passing"},
                },
                note="agent writes answer 200 with an empty body",
            ),
            Step(
                "its health, as /health/service shows it",
                "cluster-01",
                "GET",
                "/v1/health/service/service-name?passing",
            ),
            Step(
                "cluster-02 does not see it (no peering yet)",
                "cluster-02",
                "GET",
                "/v1/health/service/service-name",
            ),
            Step(
                "write a key", "cluster-01", "PUT", "/v1/kv/demo/greeting", "hello from cluster-01"
            ),
            Step("read it back raw", "cluster-01", "GET", "/v1/kv/demo/greeting?raw"),
        ],
    )
