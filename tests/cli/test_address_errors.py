"""Every command that talks to an agent, pointed at an address it cannot use, says so in one
line on stderr and exits 1: never a traceback.

As in Consul, opening the client never checks the address (``api.NewClient`` takes any host);
the first call fails with what Go's ``http.Client`` says when it dials, and each command words
that failure as it words any failed call. The reasons are the ones Go 1.26's client gives for
the same ``url.URL{Host: ...}``."""

from __future__ import annotations

import io
import socket
from collections.abc import Mapping
from pathlib import Path

import pytest

from consul_sim.cli.main import main

pytestmark = pytest.mark.slow

SERVICE_DEFAULTS = 'Kind = "service-defaults"\nName = "web"\nProtocol = "http"\n'

COMMANDS: dict[str, tuple[str, ...]] = {
    "kv get": ("kv", "get", "app/k"),
    "kv put": ("kv", "put", "app/k", "v"),
    "kv delete": ("kv", "delete", "app/k"),
    "services register": ("services", "register", "-name", "web"),
    "services deregister": ("services", "deregister", "-id", "web"),
    "config read": ("config", "read", "-kind", "service-defaults", "-name", "web"),
    "config list": ("config", "list", "-kind", "service-defaults"),
    "config delete": ("config", "delete", "-kind", "service-defaults", "-name", "web"),
    "config write": ("config", "write", "{file}"),
    "peering generate-token": ("peering", "generate-token", "-name", "p"),
    "peering establish": ("peering", "establish", "-name", "p", "-peering-token", "e30="),
    "peering initiate": ("peering", "initiate", "-peer", "p", "-token", "e30="),
    "peering list": ("peering", "list"),
    "peering read": ("peering", "read", "-name", "p"),
    "peering delete": ("peering", "delete", "-name", "p"),
    "peering exported-services": ("peering", "exported-services", "-name", "p"),
}


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


PORT = closed_port()

BAD_ADDRESSES: dict[str, tuple[str, Mapping[str, str], str]] = {
    # name: (-http-addr value or "" for none, environment, the end of the one line)
    "non-numeric port": ("host:xx", {}, ": dial tcp: lookup host:xx: no such host"),
    "colons only": (":::", {}, ": dial tcp [::]:80: connect: "),
    "open bracket": ("http://[::1", {}, ": dial tcp: address [[:]:1: unexpected '[' in address"),
    "port out of range": ("127.0.0.1:99999", {}, ": dial tcp: address 99999: invalid port"),
    "scheme and no host": ("http://", {}, ": http: no Host in request URL"),
    "unreachable port": (
        f"127.0.0.1:{PORT}",
        {},
        f": dial tcp 127.0.0.1:{PORT}: connect: connection refused",
    ),
    "CONSUL_HTTP_ADDR garbage": (
        "",
        {"CONSUL_HTTP_ADDR": "not an address"},
        ": dial tcp: lookup not an address: no such host",
    ),
    "unknown scheme": ("ftp://127.0.0.1:8500", {}, ": Unknown protocol scheme: ftp"),
}


@pytest.mark.parametrize("address", BAD_ADDRESSES, ids=list(BAD_ADDRESSES))
@pytest.mark.parametrize("command", COMMANDS, ids=list(COMMANDS))
def test_a_bad_agent_address_is_one_line_and_exit_1(
    command: str, address: str, tmp_path: Path
) -> None:
    entry = tmp_path / "web.hcl"
    entry.write_text(SERVICE_DEFAULTS)
    flag, env, reason = BAD_ADDRESSES[address]
    argv = [arg.replace("{file}", str(entry)) for arg in COMMANDS[command]]
    if flag:
        argv.insert(len(command.split()), f"-http-addr={flag}")
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, env=env, stdout=out, stderr=err, stdin=io.BytesIO())
    line = err.getvalue()
    assert (code, out.getvalue()) == (1, ""), line
    assert line.count("\n") == 1 and line.endswith("\n"), line
    assert line.startswith("Error"), line
    assert reason in line, line


@pytest.mark.parametrize(
    ("flag", "line"),
    [
        (
            "host:xx",
            'Error querying Consul agent: Get "http://host:xx/v1/kv/app/k": '
            "dial tcp: lookup host:xx: no such host\n",
        ),
        (
            "a b:80",
            'Error querying Consul agent: Get "http://a%20b:80/v1/kv/app/k": '
            "dial tcp: lookup a b: no such host\n",
        ),
        (
            "http://127.0.0.1:99999/prefix",
            'Error querying Consul agent: Get "http://127.0.0.1:99999/prefix/v1/kv/app/k": '
            "dial tcp: address 99999: invalid port\n",
        ),
        (
            f"127.0.0.1:{PORT}",
            f'Error querying Consul agent: Get "http://127.0.0.1:{PORT}/v1/kv/app/k?dc=dc9": '
            f"dial tcp 127.0.0.1:{PORT}: connect: connection refused\n",
        ),
    ],
    ids=["non-numeric port", "space in host", "prefix and bad port", "refused"],
)
def test_kv_get_words_a_bad_address_as_consul_does(flag: str, line: str) -> None:
    err = io.StringIO()
    argv = ["kv", "get", f"-http-addr={flag}", "app/k"]
    if "refused" in line:
        argv.insert(2, "-datacenter=dc9")
    code = main(argv, env={}, stdout=io.StringIO(), stderr=err)
    assert (code, err.getvalue()) == (1, line)


def test_an_empty_http_addr_falls_back_to_the_environment_as_go_does() -> None:
    err = io.StringIO()
    env = {"CONSUL_HTTP_ADDR": f"127.0.0.1:{PORT}"}
    code = main(["kv", "get", "-http-addr=", "k"], env=env, stdout=io.StringIO(), stderr=err)
    assert (code, err.getvalue()) == (
        1,
        f'Error querying Consul agent: Get "http://127.0.0.1:{PORT}/v1/kv/k": '
        f"dial tcp 127.0.0.1:{PORT}: connect: connection refused\n",
    )
