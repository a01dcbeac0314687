"""PUT/GET/DELETE /v1/config for service-resolver, service-splitter and service-router.

Validation sentences are those of Consul's ``agent/structs/config_entry_discoverychain.go`` (and
its CE file for Enterprise-only fields); the cross-entry refusals come from compiling the chains
a write touches (``agent/consul/state/config_entry.go``, ``discoverychain/compile.go``). Every
refusal is the RPC's 500 and leaves the store as it was.
"""

from __future__ import annotations

from typing import Any

import pytest

from consul_sim.world import Cluster


def put(cluster: Cluster, body: dict[str, Any] | str) -> tuple[int, str]:
    if isinstance(body, str):
        r = cluster.client.put("/v1/config", content=body)
    else:
        r = cluster.client.put("/v1/config", json=body)
    return r.status_code, r.text


def read(cluster: Cluster, kind: str, name: str) -> tuple[int, Any]:
    r = cluster.client.get(f"/v1/config/{kind}/{name}")
    return r.status_code, r.json() if r.status_code == 200 else r.text


def resolver(**fields: Any) -> dict[str, Any]:
    return {"Kind": "service-resolver", "Name": "web", **fields}


HTTP_WEB = {"Kind": "service-defaults", "Name": "web", "Protocol": "http"}


# -- service-resolver -----------------------------------------------------------------------------
def test_resolver_with_peer_failover_is_stored_in_consuls_shape(dc1: Cluster) -> None:
    body = resolver(
        ConnectTimeout="15s",
        RequestTimeout="1m30s",
        DefaultSubset="v1",
        Subsets={"v1": {"Filter": "Service.Meta.version == v1", "OnlyPassing": True}},
        Failover={"*": {"Targets": [{"Peer": "cluster-01"}, {"Service": "web-backup"}]}},
    )
    assert put(dc1, body) == (200, "true")
    status, stored = read(dc1, "service-resolver", "web")
    assert status == 200
    assert list(stored)[:2] == ["ConnectTimeout", "RequestTimeout"]  # Go's MarshalJSON order
    assert stored == {
        "ConnectTimeout": "15s",
        "RequestTimeout": "1m30s",
        "Kind": "service-resolver",
        "Name": "web",
        "DefaultSubset": "v1",
        "Subsets": {"v1": {"Filter": "Service.Meta.version == v1", "OnlyPassing": True}},
        "Failover": {"*": {"Targets": [{"Peer": "cluster-01"}, {"Service": "web-backup"}]}},
        "CreateIndex": stored["CreateIndex"],
        "ModifyIndex": stored["CreateIndex"],
    }


def test_resolver_written_as_hcl_with_snake_case_keys(dc1: Cluster) -> None:
    hcl = """
Kind = "service-resolver"
Name = "web"
connect_timeout = "5s"
redirect {
  service = "web"
  peer    = "cluster-01"
}
"""
    assert dc1.config.write(hcl) is True
    status, stored = read(dc1, "service-resolver", "web")
    assert status == 200
    assert stored["ConnectTimeout"] == "5s"
    assert stored["Redirect"] == {"Service": "web", "Peer": "cluster-01"}


def test_resolver_duration_that_does_not_parse_is_a_decode_error(dc1: Cluster) -> None:
    assert put(dc1, resolver(ConnectTimeout="soon")) == (
        400,
        "Request decoding failed: 1 error(s) decoding:\n\n"
        "* error decoding 'ConnectTimeout': time: invalid duration \"soon\"",
    )


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"Name": ""}, "Name is required"),
        (
            {"Subsets": {"V1": {}}},
            'Subset "V1" is invalid: must be 63 characters or fewer, begin or end with lower '
            "case alphanumeric characters, and contain lower case alphanumeric characters or "
            "'-' in between",
        ),
        (
            {"Subsets": {"v1": {"Filter": "Service.Meta.version =="}}},
            'Filter for subset "v1" is not a valid expression: 1:24 (23): no match found, '
            'expected: "-", "0", "\\"", "`", [ \\t\\r\\n], [1-9] or [a-zA-Z]',
        ),
        ({"DefaultSubset": "v2"}, 'DefaultSubset "v2" is not a valid subset'),
        (
            {"Redirect": {"Service": "a"}, "Failover": {"*": {"Service": "b"}}},
            "Redirect and Failover cannot both be set",
        ),
        ({"Redirect": {}}, "Redirect is empty"),
        (
            {"Redirect": {"Service": "web", "Peer": "p", "ServiceSubset": "v1"}},
            "Redirect.Peer cannot be set with Redirect.ServiceSubset",
        ),
        (
            {"Redirect": {"Service": "web", "Peer": "p", "Datacenter": "dc2"}},
            "Redirect.Peer cannot be set with Redirect.Datacenter",
        ),
        ({"Redirect": {"Peer": "p"}}, "Redirect.Peer defined without Redirect.Service"),
        (
            {"Redirect": {"Namespace": "ns1"}},
            "Redirect: Setting Namespace requires Consul Enterprise",
        ),
        ({"Failover": {"v1": {"Service": "b"}}}, 'Bad Failover["v1"]: not a valid subset subset'),
        (
            {"Failover": {"*": {}}},
            'Bad Failover["*"]: one of Service, ServiceSubset, Namespace, Targets, or '
            "Datacenters is required",
        ),
        (
            {"Failover": {"*": {"Service": "b", "Targets": [{"Peer": "p"}]}}},
            'Bad Failover["*"]: Targets cannot be set with Service',
        ),
        (
            {"Failover": {"*": {"Datacenters": ["dc2"], "Targets": [{"Peer": "p"}]}}},
            'Bad Failover["*"]: Targets cannot be set with Datacenters',
        ),
        (
            {"Failover": {"*": {"Targets": [{"Peer": "p", "ServiceSubset": "v1"}]}}},
            'Bad Failover["*"].Targets[0]: Peer cannot be set with ServiceSubset',
        ),
        (
            {"Failover": {"*": {"Targets": [{"Peer": "p", "Datacenter": "dc2"}]}}},
            'Bad Failover["*"].Targets[0]: Peer cannot be set with Datacenter',
        ),
        (
            {"Failover": {"*": {"Targets": [{"Partition": "ap1"}]}}},
            'Bad Failover["*"].Targets[0]: Setting Partition requires Consul Enterprise',
        ),
        (
            {"Failover": {"*": {"Service": "b", "Policy": {"Mode": "something"}}}},
            'Bad Failover["*"]: Setting failover policies requires Consul Enterprise',
        ),
        (
            {"Failover": {"*": {"Datacenters": [""]}}},
            'Bad Failover["*"].Datacenters: found empty datacenter',
        ),
        ({"ConnectTimeout": "-1s"}, "Bad ConnectTimeout '-1s', must be >= 0"),
        (
            {"PrioritizeByLocality": {"Mode": "failover"}},
            "Prioritize-by-locality requires Consul Enterprise ",
        ),
        (
            {"LoadBalancer": {"Policy": "fastest"}},
            'Bad LoadBalancer policy: "fastest" is not supported',
        ),
        (
            {"LoadBalancer": {"Policy": "random", "HashPolicies": [{"Field": "header"}]}},
            "Bad LoadBalancer configuration: HashPolicies specified for non-hash-based Policy: "
            '"random"',
        ),
        (
            {"LoadBalancer": {"Policy": "maglev", "HashPolicies": [{"Field": "header"}]}},
            'Bad LoadBalancer HashPolicy[0]: Field "header" was specified without a FieldValue',
        ),
    ],
)
def test_resolver_validation_is_consuls_500(
    dc1: Cluster, fields: dict[str, Any], message: str
) -> None:
    assert put(dc1, resolver(**fields)) == (500, message)
    assert read(dc1, "service-resolver", fields.get("Name", "web") or "web")[0] == 404


# -- service-splitter -----------------------------------------------------------------------------
def test_splitter_needs_an_http_protocol(dc1: Cluster) -> None:
    splitter = {
        "Kind": "service-splitter",
        "Name": "web",
        "Splits": [{"Weight": 90}, {"Weight": 10, "Service": "web-v2"}],
    }
    assert put(dc1, splitter) == (
        500,
        'discovery chain "web" uses a protocol "tcp" that does not permit advanced routing or '
        "splitting behavior",
    )
    assert put(dc1, HTTP_WEB) == (200, "true")
    assert put(dc1, splitter) == (
        500,
        'discovery chain "web" uses inconsistent protocols; service "web-v2" has "tcp" which '
        'is not "http"',
    )
    proxy = {"Kind": "proxy-defaults", "Name": "global", "Config": {"protocol": "http"}}
    assert put(dc1, proxy) == (200, "true")
    assert put(dc1, splitter) == (200, "true")
    status, stored = read(dc1, "service-splitter", "web")
    assert status == 200
    assert stored["Splits"] == [{"Weight": 90}, {"Weight": 10, "Service": "web-v2"}]


def test_splitter_weights_must_sum_to_100(dc1: Cluster) -> None:
    assert put(dc1, HTTP_WEB) == (200, "true")
    body = {
        "Kind": "service-splitter",
        "Name": "web",
        "Splits": [{"Weight": 33.333}, {"Weight": 33.333, "ServiceSubset": "v2"}],
    }
    assert put(dc1, body) == (500, "the sum of all split weights must be 100, not 66.660000")
    body["Splits"] = []
    assert put(dc1, body) == (500, "no splits configured")
    body["Splits"] = [{"Weight": 50}, {"Weight": 50, "Service": "web"}]
    assert put(dc1, body) == (
        500,
        'split destination occurs more than once: service="web", subset="", namespace="", '
        'partition=""',
    )


def test_splitter_weight_is_rounded_to_a_hundredth_of_a_percent(dc1: Cluster) -> None:
    assert put(dc1, HTTP_WEB) == (200, "true")
    assert put(dc1, {**HTTP_WEB, "Name": "web-v2"}) == (200, "true")
    body = {
        "Kind": "service-splitter",
        "Name": "web",
        "Splits": [{"Weight": 33.334}, {"Weight": "66.666", "Service": "web-v2"}],
    }
    assert put(dc1, body) == (200, "true")
    _, stored = read(dc1, "service-splitter", "web")
    assert stored["Splits"] == [{"Weight": 33.33}, {"Weight": 66.67, "Service": "web-v2"}]


# -- service-router -------------------------------------------------------------------------------
def test_router_routes_and_validation(dc1: Cluster) -> None:
    assert put(dc1, HTTP_WEB) == (200, "true")
    assert put(dc1, {**HTTP_WEB, "Name": "admin"}) == (200, "true")
    router = {
        "Kind": "service-router",
        "Name": "web",
        "Routes": [
            {
                "Match": {"HTTP": {"PathPrefix": "/admin", "Methods": ["get"]}},
                "Destination": {"Service": "admin", "RequestTimeout": "3s", "NumRetries": 2},
            }
        ],
    }
    assert put(dc1, router) == (200, "true")
    _, stored = read(dc1, "service-router", "web")
    assert stored["Routes"] == [
        {
            "Match": {"HTTP": {"PathPrefix": "/admin", "Methods": ["GET"]}},
            "Destination": {"RequestTimeout": "3s", "Service": "admin", "NumRetries": 2},
        }
    ]
    bad = {"Kind": "service-router", "Name": "web", "Routes": [{"Match": {"HTTP": {}}}]}
    cases = [
        ({"PathExact": "x"}, "Route[0] PathExact doesn't start with '/': \"x\""),
        (
            {"PathExact": "/x", "PathPrefix": "/y"},
            "Route[0] should only contain at most one of PathExact, PathPrefix, or PathRegex",
        ),
        ({"Header": [{"Exact": "a"}]}, "Route[0] Header[0] missing required Name field"),
        (
            {"Header": [{"Name": "a"}]},
            "Route[0] Header[0] should only contain one of Present, Exact, Prefix, Suffix, or "
            "Regex",
        ),
        ({"Methods": ["FETCH"]}, 'Route[0] Methods contains an invalid method "FETCH"'),
        ({"Methods": ["GET", "get"]}, 'Route[0] Methods contains "GET" more than once'),
    ]
    for match, message in cases:
        bad["Routes"] = [{"Match": {"HTTP": match}}]
        assert put(dc1, bad) == (500, message)
    bad["Routes"] = [{"Destination": {"PrefixRewrite": "/"}}]
    assert put(dc1, bad) == (
        500,
        "Route[0] cannot make use of PrefixRewrite without configuring either PathExact or "
        "PathPrefix",
    )
    assert read(dc1, "service-router", "web")[1] == stored


def test_service_defaults_cannot_drop_the_protocol_a_router_needs(dc1: Cluster) -> None:
    assert put(dc1, HTTP_WEB) == (200, "true")
    router = {"Kind": "service-router", "Name": "web", "Routes": []}
    assert put(dc1, router) == (200, "true")
    message = (
        'discovery chain "web" uses a protocol "tcp" that does not permit advanced routing or '
        "splitting behavior"
    )
    assert put(dc1, {**HTTP_WEB, "Protocol": "tcp"}) == (500, message)
    r = dc1.client.delete("/v1/config/service-defaults/web")
    assert (r.status_code, r.text) == (500, message)
    assert read(dc1, "service-defaults", "web")[1]["Protocol"] == "http"


def test_circular_redirects_are_refused(dc1: Cluster) -> None:
    a_to_b = {"Kind": "service-resolver", "Name": "a", "Redirect": {"Service": "b"}}
    assert put(dc1, a_to_b) == (200, "true")
    assert put(dc1, {"Kind": "service-resolver", "Name": "b", "Redirect": {"Service": "a"}}) == (
        500,
        # Consul checks the chains of "b" and of "a" (whose redirect names "b") in map order;
        # the simulator takes them sorted, so the chain of "a" reports the loop.
        "detected circular resolver redirect: [a.default.default.dc1 -> b.default.default.dc1 "
        "-> a.default.default.dc1]",
    )


def test_exported_service_cannot_redirect_to_a_peer(dc1: Cluster) -> None:
    exports = {
        "Kind": "exported-services",
        "Name": "default",
        "Services": [{"Name": "web", "Consumers": [{"Peer": "cluster-02"}]}],
    }
    assert put(dc1, exports) == (200, "true")
    redirect = resolver(Redirect={"Service": "web", "Peer": "cluster-03"})
    assert put(dc1, redirect) == (
        500,
        'peer exported service "web" contains cross-peer resolver redirect',
    )
    assert put(dc1, resolver(Failover={"*": {"Targets": [{"Peer": "cluster-03"}]}})) == (
        200,
        "true",
    )


def test_chain_kinds_list_and_delete(dc1: Cluster) -> None:
    assert put(dc1, resolver(ConnectTimeout="1s")) == (200, "true")
    r = dc1.client.get("/v1/config/service-resolver")
    assert [e["Name"] for e in r.json()] == ["web"]
    r = dc1.client.delete("/v1/config/service-resolver/web")
    assert (r.status_code, r.text) == (200, "{}")
    assert dc1.client.get("/v1/config/service-resolver").json() == []


def test_writing_a_redirect_needs_read_on_the_service_it_sends_to(dc1: Cluster) -> None:
    secure = dc1.world.add_cluster("dc2", acl_default_policy="deny")
    accessor, secret = secure.acl.create_token({"service:web": "write"})
    headers = {"X-Consul-Token": secret}
    body = resolver(Redirect={"Service": "api"})
    r = secure.client.put("/v1/config", json=body, headers=headers)
    assert (r.status_code, r.text) == (
        403,
        f"Permission denied: token with AccessorID '{accessor}' lacks permission 'service:read' "
        'on "api"',
    )
    _, secret = secure.acl.create_token({"service:web": "write", "service:api": "read"})
    r = secure.client.put("/v1/config", json=body, headers={"X-Consul-Token": secret})
    assert (r.status_code, r.text) == (200, "true")


def test_service_defaults_cannot_leave_l7_intentions_on_tcp(dc1: Cluster) -> None:
    assert put(dc1, HTTP_WEB) == (200, "true")
    l7 = {
        "Kind": "service-intentions",
        "Name": "web",
        "Sources": [
            {
                "Name": "frontend",
                "Permissions": [{"Action": "allow", "HTTP": {"PathPrefix": "/"}}],
            }
        ],
    }
    assert put(dc1, l7) == (200, "true")
    message = (
        'service "web" has protocol "tcp", which is incompatible with L7 intentions permissions'
    )
    assert put(dc1, {**HTTP_WEB, "Protocol": "tcp"}) == (500, message)
    r = dc1.client.delete("/v1/config/service-defaults/web")
    assert (r.status_code, r.text) == (500, message)
    assert put(dc1, {**HTTP_WEB, "Protocol": "grpc"}) == (200, "true")
