"""consul-sim config write|read|list|delete with the discovery-chain kinds, from HCL files."""

from __future__ import annotations

from pathlib import Path

from consul_sim.world import Cluster
from tests.cli.conftest import Result, Run

RESOLVER_HCL = b"""
Kind           = "service-resolver"
Name           = "web"
ConnectTimeout = "15s"

Failover = {
  "*" = {
    Targets = [
      { Peer = "cluster-01" },
    ]
  }
}
"""


def test_write_read_list_delete_a_resolver(run: Run, dc1: Cluster, tmp_path: Path) -> None:
    path = tmp_path / "web-resolver.hcl"
    path.write_bytes(RESOLVER_HCL)
    assert run("config", "write", str(path)) == Result(
        0, "Config entry written: service-resolver/web\n", ""
    )
    index = dc1.client.get("/v1/config/service-resolver/web").json()["ModifyIndex"]
    assert run("config", "read", "-kind", "service-resolver", "-name", "web") == Result(
        0,
        "{\n"
        '    "ConnectTimeout": "15s",\n'
        '    "Kind": "service-resolver",\n'
        '    "Name": "web",\n'
        '    "Failover": {\n'
        '        "*": {\n'
        '            "Targets": [\n'
        "                {\n"
        '                    "Peer": "cluster-01"\n'
        "                }\n"
        "            ]\n"
        "        }\n"
        "    },\n"
        f'    "CreateIndex": {index},\n'
        f'    "ModifyIndex": {index}\n'
        "}\n",
        "",
    )
    assert run("config", "list", "-kind", "service-resolver") == Result(0, "web\n", "")
    assert run("config", "delete", "-kind", "service-resolver", "-name", "web") == Result(
        0, "Config entry deleted: service-resolver/web\n", ""
    )
    assert run("config", "list", "-kind", "service-resolver") == Result(0, "", "")


def test_write_of_a_splitter_on_a_tcp_service_is_the_servers_500(run: Run) -> None:
    body = b'Kind = "service-splitter"\nName = "web"\nSplits = [{ Weight = 100 }]\n'
    assert run("config", "write", "-", stdin=body) == Result(
        1,
        "",
        "Error writing config entry service-splitter/web: Unexpected response code: 500 "
        '(discovery chain "web" uses a protocol "tcp" that does not permit advanced routing '
        "or splitting behavior)\n",
    )
