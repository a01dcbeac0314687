"""consul-sim services register|deregister: flags, HCL/JSON files, Consul's messages."""

from __future__ import annotations

import builtins
import json
from pathlib import Path
from typing import Any

import pytest

from consul_sim.cli import servicefile
from consul_sim.world import Cluster
from tests.cli.conftest import Run


def agent_services(dc1: Cluster) -> dict[str, Any]:
    response = dc1.client.get("/v1/agent/services")
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def agent_checks(dc1: Cluster) -> dict[str, Any]:
    response = dc1.client.get("/v1/agent/checks")
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


# -- register from flags --------------------------------------------------------------------------
def test_register_from_flags_prints_the_name_and_registers(run: Run, dc1: Cluster) -> None:
    result = run(
        "services", "register", "-name=web", "-port", "8080", "-address", "10.0.0.5",
        "-tag", "v1", "-tag", "blue", "-meta", "team=edge", "-meta", "tier=1",
    )  # fmt: skip
    assert (result.code, result.stdout, result.stderr) == (0, "Registered service: web\n", "")
    web = agent_services(dc1)["web"]
    assert web["ID"] == "web"
    assert web["Port"] == 8080
    assert web["Address"] == "10.0.0.5"
    assert web["Tags"] == ["v1", "blue"]
    assert web["Meta"] == {"team": "edge", "tier": "1"}


def test_register_with_id_and_tagged_address(run: Run, dc1: Cluster) -> None:
    result = run(
        "services", "register", "-name", "web", "-id", "web-1",
        "-tagged-address", "lan=127.0.0.1:1234", "-tagged-address", "v6=[2001:db8::12]:1234",
    )  # fmt: skip
    assert result.stdout == "Registered service: web\n"
    web = agent_services(dc1)["web-1"]
    assert web["Service"] == "web"
    assert web["TaggedAddresses"]["lan"] == {"Address": "127.0.0.1", "Port": 1234}
    assert web["TaggedAddresses"]["v6"] == {"Address": "2001:db8::12", "Port": 1234}


def test_register_with_a_tagged_address_lacking_a_port_is_refused(run: Run, dc1: Cluster) -> None:
    result = run("services", "register", "-name", "web", "-tagged-address", "lan=10.0.0.1")
    assert (result.code, result.stdout) == (1, "")
    assert result.stderr == "Invalid Tagged Address: address 10.0.0.1: missing port in address\n"
    assert agent_services(dc1) == {}


def test_register_needs_a_file_or_flags(run: Run) -> None:
    result = run("services", "register")
    assert (result.code, result.stderr) == (
        1,
        "Service registration requires at least one argument or flags.\n",
    )


def test_register_refuses_name_together_with_files(run: Run) -> None:
    result = run("services", "register", "-name", "web", "web.json")
    assert (result.code, result.stderr) == (
        1,
        "Service registration requires arguments or -id, not both.\n",
    )


def test_register_reports_the_agents_refusal(run: Run) -> None:
    result = run("services", "register", "-name", "bad", "-address", "0.0.0.0")
    assert result.code == 1
    assert result.stderr == (
        'Error registering service "bad": Unexpected response code: 400 (Invalid service address)\n'
    )


# -- register from files --------------------------------------------------------------------------
def test_register_from_json_file_with_a_check(run: Run, dc1: Cluster, tmp_path: Path) -> None:
    path = tmp_path / "web.json"
    path.write_text(json.dumps({"Service": {"Name": "web", "Port": 80, "Check": {"TTL": "10s"}}}))
    result = run("services", "register", str(path))
    assert (result.code, result.stdout, result.stderr) == (0, "Registered service: web\n", "")
    assert agent_services(dc1)["web"]["Port"] == 80
    check = agent_checks(dc1)["service:web"]
    assert check["Name"] == "Service 'web' check"
    assert check["Status"] == "critical"
    assert check["Type"] == "ttl"


def test_register_and_deregister_open_each_file_once(
    run: Run, dc1: Cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "dir").mkdir()
    single, member = tmp_path / "web.json", tmp_path / "dir" / "db.hcl"
    single.write_text(json.dumps({"Service": {"Name": "web"}}))
    member.write_text('service { name = "db" }')
    opened: list[str] = []

    def counting_open(file: Any, *args: Any, **kwargs: Any) -> Any:
        opened.append(str(file))
        return builtins.open(file, *args, **kwargs)

    monkeypatch.setattr(servicefile, "open", counting_open, raising=False)
    for verb, line in (("register", "Registered service"), ("deregister", "Deregistered service")):
        result = run("services", verb, str(single), str(tmp_path / "dir"))
        assert (result.code, result.stdout) == (0, f"{line}: web\n{line}: db\n")
    assert opened == [str(single), str(member)] * 2


def test_register_from_hcl_file_registers_services_then_service(
    run: Run, dc1: Cluster, tmp_path: Path
) -> None:
    path = tmp_path / "all.hcl"
    path.write_text(
        """
# the web tier
service {
  name = "web"
  id   = "web-1"
  port = 8080
  tags = ["v1"]
  meta {
    version = "1.2"
  }
  check {
    id  = "web-ttl"
    ttl = "30s"
  }
}

services {
  name = "db"
  port = 5432
}

services {
  name = "cache"   // no port
}
"""
    )
    result = run("services", "register", str(path))
    assert result.code == 0, result.stderr
    assert result.stdout == (
        "Registered service: db\nRegistered service: cache\nRegistered service: web\n"
    )
    services = agent_services(dc1)
    assert set(services) == {"web-1", "db", "cache"}
    assert services["web-1"]["Meta"] == {"version": "1.2"}
    assert services["web-1"]["Tags"] == ["v1"]
    assert agent_checks(dc1)["web-ttl"]["ServiceID"] == "web-1"


def test_register_combines_flags_with_what_the_file_leaves_empty(
    run: Run, dc1: Cluster, tmp_path: Path
) -> None:
    path = tmp_path / "web.hcl"
    path.write_text('service {\n  name = "web"\n  tags = ["file"]\n  meta = { a = "file" }\n}\n')
    result = run(
        "services", "register", "-port", "9090", "-tag", "flag", "-meta", "a=flag",
        "-meta", "b=flag", str(path),
    )  # fmt: skip
    assert result.stdout == "Registered service: web\n"
    web = agent_services(dc1)["web"]
    assert web["Port"] == 9090
    assert web["Tags"] == ["file", "flag"]
    assert web["Meta"] == {"a": "flag", "b": "flag"}


def test_register_from_a_directory_skips_other_extensions_with_a_warning(
    run: Run, dc1: Cluster, tmp_path: Path
) -> None:
    (tmp_path / "b.json").write_text('{"service": {"name": "bravo"}}')
    (tmp_path / "a.hcl").write_text('service { name = "alpha" }')
    (tmp_path / "notes.txt").write_text("not a service")
    result = run("services", "register", str(tmp_path))
    assert result.code == 0
    assert result.stdout == "Registered service: alpha\nRegistered service: bravo\n"
    assert result.stderr == (
        f"skipping file {tmp_path / 'notes.txt'}, extension must be .hcl or .json, "
        "or config format must be set\n"
    )
    assert set(agent_services(dc1)) == {"alpha", "bravo"}


def test_register_with_an_unknown_key_reports_consuls_multierror(
    run: Run, dc1: Cluster, tmp_path: Path
) -> None:
    path = tmp_path / "web.json"
    path.write_text('{"service": {"name": "web", "bogus": 1}}')
    result = run("services", "register", str(path))
    assert (result.code, result.stdout) == (1, "")
    assert result.stderr == (
        f"Error: failed to parse {path}: 1 error occurred:\n"
        "\t* invalid config key service.bogus\n\n\n"
    )
    assert agent_services(dc1) == {}


def test_register_with_a_file_of_unknown_extension_is_refused(run: Run, tmp_path: Path) -> None:
    path = tmp_path / "web.yaml"
    path.write_text("service: {}")
    result = run("services", "register", str(path))
    assert (result.code, result.stderr) == (
        1,
        f"Error: file {path} has unknown extension; must be .hcl or .json, "
        "or config format must be set\n",
    )


def test_register_with_a_missing_file_reports_the_open_error(run: Run, tmp_path: Path) -> None:
    path = tmp_path / "absent.json"
    result = run("services", "register", str(path))
    assert (result.code, result.stderr) == (
        1,
        f"Error: config: Open failed on {path}. open {path}: no such file or directory\n",
    )


def test_register_with_malformed_json_reports_gos_decode_error(run: Run, tmp_path: Path) -> None:
    path = tmp_path / "web.json"
    path.write_text('{"service": {"name": "web",}}')
    result = run("services", "register", str(path))
    assert result.code == 1
    assert result.stderr == (
        f"Error: failed to parse {path}: invalid character '}}' looking for beginning of "
        "object key string\n"
    )


def test_register_with_malformed_hcl_reports_the_position(run: Run, tmp_path: Path) -> None:
    path = tmp_path / "web.hcl"
    path.write_text("service {\n  name = \n}\n")
    result = run("services", "register", str(path))
    assert result.code == 1
    assert result.stderr.startswith(f"Error: failed to parse {path}: At 2:")


def test_register_of_a_nameless_service_reports_the_agents_error(run: Run, tmp_path: Path) -> None:
    path = tmp_path / "anon.json"
    path.write_text('{"service": {"port": 80}}')
    result = run("services", "register", str(path))
    assert result.code == 1
    assert result.stderr == (
        'Error registering service "": Unexpected response code: 400 (Missing service name)\n'
    )


# -- deregister -----------------------------------------------------------------------------------
def test_deregister_by_id(run: Run, dc1: Cluster) -> None:
    run("services", "register", "-name", "web", "-id", "web-1")
    result = run("services", "deregister", "-id", "web-1")
    assert (result.code, result.stdout, result.stderr) == (0, "Deregistered service: web-1\n", "")
    assert agent_services(dc1) == {}


def test_deregister_by_file_uses_id_or_else_name(run: Run, dc1: Cluster, tmp_path: Path) -> None:
    path = tmp_path / "both.hcl"
    path.write_text('services {\n  name = "web"\n  id = "web-1"\n}\nservices { name = "db" }\n')
    assert run("services", "register", str(path)).code == 0
    result = run("services", "deregister", str(path))
    assert result.stdout == "Deregistered service: web-1\nDeregistered service: db\n"
    assert agent_services(dc1) == {}


def test_deregister_of_an_unknown_id_reports_the_agents_404(run: Run) -> None:
    result = run("services", "deregister", "-id", "nope")
    assert result.code == 1
    assert result.stderr == (
        'Error deregistering service "": Unexpected response code: 404 (Unknown service ID '
        '"nope". Ensure that the service ID is passed, not the service name.)\n'
    )


def test_deregister_argument_errors(run: Run) -> None:
    assert run("services", "deregister").stderr == (
        "Service deregistration requires at least one argument or -id.\n"
    )
    both = run("services", "deregister", "-id", "x", "web.json")
    assert (both.code, both.stderr) == (
        1,
        "Service deregistration requires arguments or -id, not both.\n",
    )


def test_register_from_file_carries_named_ports(run: Run, dc1: Cluster, tmp_path: Path) -> None:
    """A definition's ``ports`` list (the config-file form of api/agent.go ``ServicePorts``), as
    the Go client's TestAPI_AgentReload_MultiPort writes it."""
    path = tmp_path / "redis.json"
    path.write_text(
        '{"service":{"name":"redis", "ports": [{ "name": "http", "port": 8080, "default": true },'
        ' { "name": "metrics", "port": 9090 }], "Meta": {"some": "meta"}}}'
    )
    result = run("services", "register", str(path))
    assert (result.code, result.stdout, result.stderr) == (0, "Registered service: redis\n", "")
    redis = agent_services(dc1)["redis"]
    assert (redis["Port"], redis["Meta"]) == (0, {"some": "meta"})
    assert redis["Ports"] == [
        {"Name": "http", "Port": 8080, "Default": True},
        {"Name": "metrics", "Port": 9090, "Default": False},
    ]
