"""The pytest plugin, used from a project of its own (``pytester``) as a user's suite uses it.

Each test writes a small test module into a temporary project and runs pytest on it in a
process of its own: the plugin arrives through its ``pytest11`` entry point, as it does for any
user (and no module state is shared with this run).
"""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.filterwarnings("default")


def test_fixtures_give_a_world_a_cluster_and_an_active_pair(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        def test_world(consul_world):
            assert consul_world.clock.virtual and consul_world.seed == 0
            assert consul_world.clusters == {}

        def test_cluster(consul_cluster):
            r = consul_cluster.client.get("/v1/catalog/datacenters")
            assert (r.status_code, r.json()) == (200, ["dc1"])

        def test_pair(peered_clusters):
            acceptor, dialer = peered_clusters
            assert (acceptor.name, dialer.name) == ("cluster-01", "cluster-02")
            for cluster, peer in ((acceptor, "cluster-02"), (dialer, "cluster-01")):
                r = cluster.client.get(f"/v1/peering/{peer}")
                assert (r.status_code, r.json()["State"]) == (200, "ACTIVE")
        """
    )
    pytester.runpytest_subprocess("-p", "no:randomly").assert_outcomes(passed=3)


def test_marker_sets_clusters_seed_and_heartbeats(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.consul_world(
            clusters=["east", "west"], seed=42, heartbeat_interval=1.0, heartbeat_timeout=5.0
        )
        def test_marked(consul_world, consul_cluster):
            assert sorted(consul_world.clusters) == ["east", "west"]
            assert consul_cluster.name == "east"
            assert consul_world.seed == 42
            assert (consul_world.heartbeat_interval, consul_world.heartbeat_timeout) == (1.0, 5.0)
            r = consul_cluster.client.get("/_sim/world")
            assert r.json()["HeartbeatInterval"] == "1s"

        @pytest.mark.consul_world(clusters=["x"], seed=42)
        def test_same_seed_same_ids(consul_world):
            return consul_world["x"].node_id

        def test_unknown_marker_argument_is_refused():
            pass
        """
    )
    result = pytester.runpytest_subprocess("--strict-markers")
    result.assert_outcomes(passed=3)
    pytester.makepyfile(
        test_bad="""
        import pytest

        @pytest.mark.consul_world(clusterz=["a"])
        def test_typo(consul_world):
            pass
        """
    )
    typo = pytester.runpytest_subprocess("test_bad.py")
    typo.assert_outcomes(errors=1)
    typo.stdout.fnmatch_lines(["*@pytest.mark.consul_world got unknown arguments: clusterz*"])


def test_factory_hands_out_fresh_worlds_under_given(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        from hypothesis import given, settings, strategies as st

        seen = []  # the worlds themselves: an id() can be reused once a world is collected

        @settings(max_examples=25, deadline=None)
        @given(value=st.binary(max_size=8))
        def test_each_example_gets_its_own_world(consul_world_factory, value):
            with consul_world_factory(clusters=["a", "b"], peered=True) as world:
                assert all(world is not earlier for earlier in seen)
                seen.append(world)
                b = world["b"].client
                assert b.get("/v1/peering/a").json()["State"] == "ACTIVE"
                assert b.get("/v1/kv/k").status_code == 404  # nothing from an earlier example
                assert b.put("/v1/kv/k", content=value).text == "true"
        """
    )
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(passed=1)
    assert "FailedHealthCheck" not in result.stdout.str()


def test_failure_report_shows_the_seed_and_the_journal(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.consul_world(seed=1234)
        def test_fails(peered_clusters):
            assert peered_clusters[0].name == "nope"

        def test_passes(peered_clusters):
            pass
        """
    )
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(passed=1, failed=1)
    out = result.stdout.str()
    assert out.count("consul-sim world") == 1
    section = out[out.index("consul-sim world") :]
    assert "seed: 1234\nclusters: cluster-01, cluster-02\nlast 20 journal entries:\n" in section
    lines = re.findall(r"^#\d+ t=\S+ cluster-0[12] -> cluster-0[12] \w+ .*$", section, re.M)
    assert 1 <= len(lines) <= 20


@pytest.mark.slow
def test_consul_server_serves_the_world_on_free_loopback_ports(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
        import httpx

        def test_served(consul_server):
            address = consul_server.address("cluster-01")
            host, _, port = address.rpartition(":")
            assert host == "127.0.0.1" and int(port) > 0
            r = httpx.get(f"http://{address}/v1/catalog/datacenters", timeout=10)
            assert (r.status_code, r.json()) == (200, ["cluster-01"])
            assert consul_server.address("cluster-02") != address
        """
    )
    pytester.runpytest_subprocess().assert_outcomes(passed=1)


@pytest.mark.slow
def test_the_fixtures_are_safe_under_xdist(pytester: pytest.Pytester) -> None:
    """Two xdist workers each build their own session factory and servers: no shared file,
    port or world, so parallel tests neither collide nor see each other's writes."""
    pytester.makepyfile(
        """
        import httpx
        import pytest

        @pytest.mark.parametrize("i", range(6))
        def test_factory(consul_world_factory, i):
            with consul_world_factory(clusters=["a", "b"], peered=True) as world:
                b = world["b"].client
                assert b.get("/v1/peering/a").json()["State"] == "ACTIVE"
                assert b.get("/v1/kv/k").status_code == 404
                assert b.put("/v1/kv/k", content=str(i)).text == "true"

        @pytest.mark.parametrize("i", range(4))
        def test_server(consul_server, i):
            address = consul_server.address("cluster-01")
            key = f"http://{address}/v1/kv/k"
            assert httpx.get(key, timeout=10).status_code == 404
            assert httpx.put(key, content=str(i), timeout=10).text == "true"
        """
    )
    result = pytester.runpytest_subprocess("-p", "xdist", "-n", "2")
    result.assert_outcomes(passed=10)
    assert "2 workers" in result.stdout.str()
