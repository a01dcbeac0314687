"""``consul-sim agent`` as harnesses start it: a config file in, Consul's API out.

The harness test writes the JSON HashiCorp's ``sdk/testutil`` (``server.go``) writes for
``NewTestServerConfigT`` - ``json.Marshal`` of its ``TestServerConfig`` with the defaults of
``defaultServerConfig`` - execs ``agent -config-file``, and waits the way that harness waits:
``/v1/status/leader`` answering, ``/v1/catalog/nodes`` with ``X-Consul-KnownLeader: true`` and
``X-Consul-Index`` >= 2, an active root in ``/v1/agent/connect/ca/roots``, and the node's
``serfHealth`` check in ``/v1/health/node/<node>``. Its ``privilegedGet`` sends the
``acl.tokens.master`` token when one is configured.
"""

from __future__ import annotations

import base64
import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from consul_sim.cli.main import main

REPO = Path(__file__).resolve().parents[2]
CLUSTER_ID = "11111111-2222-3333-4444-555555555555"
SHUTDOWN_LIMIT = 1.0
EXIT_MARGIN = 4.0
READY_TIMEOUT = 20.0


def free_ports(n: int) -> list[int]:
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def sdk_testutil_config(tmp: Path, *, master: str = "") -> tuple[dict[str, Any], Path]:
    """``json.Marshal(defaultServerConfig(t))`` with ``DataDir`` set, as ``server.go`` writes it
    (fields in struct order; ``Connect`` is a map, so its keys are sorted)."""
    node_id = str(uuid.uuid4())
    p = free_ports(8)
    acl: dict[str, Any] = {"tokens": {}}
    if master:
        acl = {"enabled": True, "default_policy": "deny", "tokens": {"master": master}}
    cfg: dict[str, Any] = {
        "node_name": f"node-{node_id}",
        "node_id": node_id,
        "performance": {"raft_multiplier": 1},
        "bootstrap": True,
        "server": True,
        "data_dir": str(tmp / "data"),
        "segments": None,
        "disable_update_check": True,
        "log_level": "debug",
        "bind_addr": "127.0.0.1",
        "addresses": {},
        "ports": {
            "dns": p[0],
            "http": p[1],
            "https": p[2],
            "serf_lan": p[3],
            "serf_wan": p[4],
            "server": p[5],
            "grpc": p[6],
            "grpc_tls": p[7],
        },
        "acl": acl,
        "connect": {"ca_config": {"cluster_id": CLUSTER_ID}, "enabled": True},
        "skip_leave_on_interrupt": True,
        "peering": {"enabled": True},
    }
    path = tmp / "config.json"
    path.write_text(json.dumps(cfg, separators=(",", ":")))
    return cfg, path


def launch(*argv: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "consul_sim.cli.main", *argv],
        cwd=REPO,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.communicate()


def wait_like_testutil(base: str, node: str, token: str = "") -> None:
    headers = {"X-Consul-Token": token} if token else {}
    deadline = time.monotonic() + READY_TIMEOUT
    steps = ["api", "leader", "ca", "serf"]
    while steps:
        assert time.monotonic() < deadline, f"not ready: {steps[0]}"
        try:
            if steps[0] == "api":
                httpx.get(f"{base}/v1/status/leader", headers=headers)
            elif steps[0] == "leader":
                r = httpx.get(f"{base}/v1/catalog/nodes", headers=headers)
                assert r.status_code == 200, r.text
                if r.headers["X-Consul-KnownLeader"] != "true":
                    raise AssertionError("no leader")
                if int(r.headers["X-Consul-Index"]) < 2:
                    raise AssertionError("index < 2")
            elif steps[0] == "ca":
                r = httpx.get(f"{base}/v1/agent/connect/ca/roots", headers=headers)
                roots = r.json()
                assert r.status_code == 200 and roots["ActiveRootID"] and roots["Roots"]
            else:
                r = httpx.get(f"{base}/v1/health/node/{node}", headers=headers)
                assert any(c["CheckID"] == "serfHealth" for c in r.json())
        except httpx.TransportError:
            time.sleep(0.05)
            continue
        steps.pop(0)


@pytest.mark.slow
@pytest.mark.parametrize("master", ["", "root-token"], ids=["acl-off", "acl-master"])
def test_sdk_testutil_config_starts_and_the_harness_finds_the_trust_domain(
    tmp_path: Path, master: str
) -> None:
    cfg, path = sdk_testutil_config(tmp_path, master=master)
    base = f"http://127.0.0.1:{cfg['ports']['http']}"
    proc = launch("agent", "-config-file", str(path))
    try:
        wait_like_testutil(base, cfg["node_name"], master)
        headers = {"X-Consul-Token": master} if master else {}
        roots = httpx.get(f"{base}/v1/connect/ca/roots", headers=headers).json()
        assert roots["TrustDomain"] == f"{CLUSTER_ID}.consul"
        nodes = httpx.get(f"{base}/v1/catalog/nodes", headers=headers).json()
        assert [(n["Node"], n["ID"]) for n in nodes] == [(cfg["node_name"], cfg["node_id"])]
        if master:
            anonymous = httpx.put(f"{base}/v1/kv/x", content=b"v")
            assert (anonymous.status_code, anonymous.text) == (
                403,
                "Permission denied: anonymous token lacks permission 'key:write' on \"x\". The "
                "anonymous token is used implicitly when a request does not specify a token.",
            )
            assert httpx.put(f"{base}/v1/kv/x", content=b"v", headers=headers).text == "true"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=SHUTDOWN_LIMIT + EXIT_MARGIN)
        # skip_leave_on_interrupt: Consul logs that graceful shutdown is off and exits 1.
        assert proc.returncode == 1, err
        assert out.startswith("==> Starting Consul agent...\n")
        assert f"            Node name: '{cfg['node_name']}'\n" in out
        assert " [INFO]  agent: Caught: signal=interrupt\n" in out
        assert " [INFO]  agent: Graceful shutdown disabled. Exiting\n" in out
    finally:
        stop(proc)


@pytest.mark.slow
def test_a_request_made_as_soon_as_the_port_accepts_is_answered(tmp_path: Path) -> None:
    """sdk/testutil's waitForAPI gives the agent two seconds and keeps only the last probe's
    outcome: the agent listens before loading its web stack, so the first connection it
    accepts waits in the backlog and gets its answer instead of a reset."""
    cfg, path = sdk_testutil_config(tmp_path)
    port = cfg["ports"]["http"]
    proc = launch("agent", "-config-file", str(path))
    try:
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            assert time.monotonic() < deadline, "the agent never listened"
            try:
                sock = socket.create_connection(("127.0.0.1", port), timeout=READY_TIMEOUT)
                break
            except ConnectionRefusedError:
                time.sleep(0.01)
        with sock:
            sock.sendall(b"GET /v1/status/leader HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
        head, _, body = answer.partition(b"\r\n\r\n")
        assert json.loads(body).startswith("127.0.0.1:")
    finally:
        stop(proc)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("sig", "hcl", "code"),
    [
        (signal.SIGINT, "", 1),
        (signal.SIGTERM, "", 1),
        (signal.SIGINT, "skip_leave_on_interrupt = false", 0),
        (signal.SIGTERM, "leave_on_terminate = true", 0),
    ],
    ids=["SIGINT", "SIGTERM", "SIGINT-leave", "SIGTERM-leave"],
)
def test_agent_stops_within_a_second_of_a_signal(sig: signal.Signals, hcl: str, code: int) -> None:
    """A server skips the leave and exits 1; with a leave configured it exits 0."""
    port = free_ports(1)[0]
    extra = ["-hcl", hcl] if hcl else []
    proc = launch("agent", "-dev", "-http-port", str(port), "-node", "n1", *extra)
    try:
        assert proc.stdout is not None
        while "Synced node info" not in (line := proc.stdout.readline()):
            assert line, proc.communicate()
        sent = time.monotonic()
        proc.send_signal(sig)
        while "shutdown complete" not in (line := proc.stdout.readline()):
            assert line, proc.communicate()
        stopped = time.monotonic() - sent
        proc.communicate(timeout=EXIT_MARGIN)
        assert proc.returncode == code
        assert stopped < SHUTDOWN_LIMIT, f"shutdown took {stopped:.3f}s"
    finally:
        stop(proc)


@pytest.mark.slow
def test_agent_leave_answers_then_shuts_the_agent_down() -> None:
    port = free_ports(1)[0]
    proc = launch("agent", "-dev", "-http-port", str(port))
    try:
        assert proc.stdout is not None
        while "Synced node info" not in (line := proc.stdout.readline()):
            assert line, proc.communicate()
        r = httpx.put(f"http://127.0.0.1:{port}/v1/agent/leave")
        assert (r.status_code, r.text) == (200, "null")
        out, _ = proc.communicate(timeout=SHUTDOWN_LIMIT + EXIT_MARGIN)
        assert proc.returncode == 0
        assert " [INFO]  agent: shutdown complete\n" in out
        assert "Caught" not in out
    finally:
        stop(proc)


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err, env={})
    return code, out.getvalue(), err.getvalue()


def test_agent_refuses_an_unknown_config_key_with_consuls_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.hcl"
    path.write_text('datacenter = "dc1"\nnot_a_key = true\n')
    assert run("agent", "-dev", "-config-file", str(path)) == (
        1,
        "",
        f"==> failed to parse {path}: 1 error occurred:\n\t* invalid config key not_a_key\n\n\n",
    )


def test_agent_refuses_a_bad_log_level() -> None:
    assert run("agent", "-dev", "-log-level", "loud") == (
        1,
        "",
        "==> Invalid log level: loud. Valid log levels are: [TRACE DEBUG INFO WARN ERR ERROR]\n",
    )


def test_version_json_has_consuls_shape() -> None:
    code, out, err = run("version", "-format=json")
    assert (code, err) == (0, "")
    info = json.loads(out)
    assert list(info) == ["Version", "Revision", "Prerelease", "BuildDate", "RPC"]
    assert info["RPC"] == {"Default": 2, "Min": 2, "Max": 3}
    assert out.startswith('{\n   "Version": "')


def started(*argv: str) -> tuple[subprocess.Popen[str], str]:
    """An agent on a free port, once it has said it is in sync; and its base URL."""
    port = free_ports(1)[0]
    proc = launch("agent", "-dev", "-http-port", str(port), *argv)
    assert proc.stdout is not None
    while "Synced node info" not in (line := proc.stdout.readline()):
        assert line, proc.communicate()
    return proc, f"http://127.0.0.1:{port}"


SCRIPT_CHECK = {"Name": "disk", "Args": ["/bin/true"], "Interval": "10s", "Status": "warning"}


@pytest.mark.slow
def test_script_checks_follow_enable_script_checks_across_a_reload(tmp_path: Path) -> None:
    config = tmp_path / "agent.hcl"
    config.write_text("enable_script_checks = true\n")
    proc, base = started("-config-file", str(config))
    try:
        r = httpx.put(f"{base}/v1/agent/check/register", json=SCRIPT_CHECK)
        assert (r.status_code, r.text) == (200, "")
        checks = httpx.get(f"{base}/v1/agent/checks").json()
        assert checks["disk"]["Status"] == "warning"  # not run: the status stays as set
        debug = httpx.get(f"{base}/v1/agent/self").json()["DebugConfig"]
        assert (debug["EnableRemoteScriptChecks"], debug["DevMode"]) == (True, True)

        config.write_text("enable_script_checks = false\n")
        assert httpx.put(f"{base}/v1/agent/reload").text == "null"
        r = httpx.put(f"{base}/v1/agent/check/register", json={**SCRIPT_CHECK, "Name": "cpu"})
        assert (r.status_code, r.text) == (
            500,
            "Scripts are disabled on this agent from remote calls; to enable, configure "
            "'enable_script_checks' to true",
        )
        config.write_text("bogus = 1\n")
        r = httpx.put(f"{base}/v1/agent/reload")
        assert (r.status_code, r.text) == (
            500,
            f"failed to parse {config}: 1 error occurred:\n\t* invalid config key bogus\n\n",
        )
    finally:
        stop(proc)


@pytest.mark.slow
def test_local_checks_turn_critical_when_the_app_stops(tmp_path: Path) -> None:
    app = socket.socket()
    app.bind(("127.0.0.1", 0))
    app.listen()
    address = f"127.0.0.1:{app.getsockname()[1]}"
    proc, base = started("-enable-local-checks")
    try:
        check = {"Name": "app", "TCP": address, "Interval": "1s"}
        assert httpx.put(f"{base}/v1/agent/check/register", json=check).status_code == 200
        deadline = time.monotonic() + 10
        status = ""
        while status != "passing" and time.monotonic() < deadline:
            status = httpx.get(f"{base}/v1/agent/checks").json()["app"]["Status"]
            time.sleep(0.1)
        assert status == "passing"
        app.close()
        while status != "critical" and time.monotonic() < deadline:
            status = httpx.get(f"{base}/v1/agent/checks").json()["app"]["Status"]
            time.sleep(0.1)
        output = httpx.get(f"{base}/v1/agent/checks").json()["app"]["Output"]
        assert (status, output) == ("critical", f"dial tcp {address}: connect: connection refused")
    finally:
        app.close()
        stop(proc)


def test_agent_refuses_extra_arguments() -> None:
    assert run("agent", "-dev", "x", "y") == (1, "", "==> Unexpected extra arguments: [x y]\n")


@pytest.mark.slow
def test_services_in_config_files_are_registered_at_start(tmp_path: Path) -> None:
    config = tmp_path / "web.hcl"
    config.write_text(
        'acl {\n  enabled = true\n  default_policy = "deny"\n'
        '  tokens { initial_management = "root" }\n}\n'
        'service {\n  name = "web"\n  port = 8080\n  tags = ["v1"]\n'
        '  check { id = "web-ttl"\n ttl = "30s" }\n}\n'
    )
    proc, base = started("-config-file", str(config))
    try:
        headers = {"X-Consul-Token": "root"}
        services = httpx.get(f"{base}/v1/agent/services", headers=headers).json()
        assert (services["web"]["Port"], services["web"]["Tags"]) == (8080, ["v1"])
        checks = httpx.get(f"{base}/v1/agent/checks", headers=headers).json()
        assert checks["web-ttl"]["Status"] == "critical"
    finally:
        stop(proc)


def test_a_service_consul_would_refuse_stops_the_start(tmp_path: Path) -> None:
    config = tmp_path / "bad.json"
    config.write_text('{"service": {"port": 80}}')
    assert run("agent", "-dev", "-http-port", "-1", "-config-file", str(config)) == (
        1,
        "",
        '==> Error starting agent: Failed to register service "": Missing service name\n',
    )


@pytest.mark.slow
def test_peering_token_names_the_grpc_tls_address_and_a_peer_dials_it(tmp_path: Path) -> None:
    """Consul's token carries the server's gRPC TLS address (``GetLocalServerAddresses``), not
    its HTTP one; another agent establishing with that token reaches the peering through it."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    cfg_a, path_a = sdk_testutil_config(tmp_path / "a")
    cfg_b, path_b = sdk_testutil_config(tmp_path / "b")
    cfg_b["datacenter"] = "dc2"  # one CA cluster ID: the datacenter tells the servers apart
    path_b.write_text(json.dumps(cfg_b))
    procs = [launch("agent", "-config-file", str(p)) for p in (path_a, path_b)]
    try:
        base_a = f"http://127.0.0.1:{cfg_a['ports']['http']}"
        base_b = f"http://127.0.0.1:{cfg_b['ports']['http']}"
        wait_like_testutil(base_a, cfg_a["node_name"])
        wait_like_testutil(base_b, cfg_b["node_name"])
        r = httpx.post(f"{base_a}/v1/peering/token", json={"PeerName": "b"})
        assert r.status_code == 200, r.text
        token = json.loads(base64.b64decode(r.json()["PeeringToken"]))
        assert token["ServerAddresses"] == [f"127.0.0.1:{cfg_a['ports']['grpc_tls']}"]
        r = httpx.post(
            f"{base_b}/v1/peering/establish",
            json={"PeerName": "a", "PeeringToken": r.json()["PeeringToken"]},
        )
        assert (r.status_code, r.text) == (200, "{}")
        deadline = time.monotonic() + READY_TIMEOUT
        while httpx.get(f"{base_a}/v1/peering/b").json()["State"] != "ACTIVE":
            assert time.monotonic() < deadline, "the peering never became active"
            time.sleep(0.1)
    finally:
        for proc in procs:
            stop(proc)


@pytest.mark.slow
def test_reload_loads_the_services_the_config_files_now_define(tmp_path: Path) -> None:
    """As the Go client's TestAPI_AgentReload: a service written into a config file after
    start is registered by PUT /v1/agent/reload; one the files no longer define goes."""
    cfg, path = sdk_testutil_config(tmp_path)
    extra = tmp_path / "reload.json"
    extra.write_text("{}")
    base = f"http://127.0.0.1:{cfg['ports']['http']}"
    proc = launch("agent", "-config-file", str(path), "-config-file", str(extra))
    try:
        wait_like_testutil(base, cfg["node_name"])
        extra.write_text('{"service":{"name":"redis", "port":1234, "Meta": {"some": "meta"}}}')
        r = httpx.put(f"{base}/v1/agent/reload")
        assert (r.status_code, r.text) == (200, "null")
        redis = httpx.get(f"{base}/v1/agent/services").json()["redis"]
        assert (redis["Port"], redis["Meta"]) == (1234, {"some": "meta"})
        extra.write_text('{"service":{"name":"db", "port":5432}}')
        assert httpx.put(f"{base}/v1/agent/reload").status_code == 200
        assert sorted(httpx.get(f"{base}/v1/agent/services").json()) == ["db"]
    finally:
        stop(proc)


@pytest.mark.slow
def test_connect_disabled_in_the_config_file_turns_the_ca_endpoints_off(tmp_path: Path) -> None:
    """What the api package's ``TestAPI_ConnectCARoots_empty`` configures: ``connect.enabled``
    false, and the roots reads answer ``ErrConnectNotEnabled``."""
    cfg, path = sdk_testutil_config(tmp_path)
    cfg["connect"] = {"enabled": False}
    path.write_text(json.dumps(cfg))
    base = f"http://127.0.0.1:{cfg['ports']['http']}"
    proc = launch("agent", "-config-file", str(path))
    try:
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            assert time.monotonic() < deadline, "agent never answered"
            try:
                r = httpx.get(f"{base}/v1/agent/connect/ca/roots")
                break
            except httpx.TransportError:
                time.sleep(0.05)
        expected = (500, "Connect must be enabled in order to use this endpoint")
        assert (r.status_code, r.text) == expected
        r = httpx.get(f"{base}/v1/connect/ca/roots")
        assert (r.status_code, r.text) == expected
    finally:
        stop(proc)
