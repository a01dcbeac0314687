"""How consul-sim finds a command, shows help and version, and reaches the agent."""

from __future__ import annotations

import io
import socket
from pathlib import Path

import httpx
import pytest

from consul_sim.cli.main import main
from consul_sim.world import Cluster
from tests.cli.conftest import Result, Run


def run_with(argv: list[str], env: dict[str, str], seen: list[str], dc1: Cluster) -> Result:
    out, err = io.StringIO(), io.StringIO()

    def factory(url: str) -> httpx.Client:
        seen.append(url)
        return dc1.client

    code = main(argv, client_factory=factory, env=env, stdout=out, stderr=err)
    return Result(code, out.getvalue(), err.getvalue())


# -- dispatch -------------------------------------------------------------------------------------
def test_no_command_prints_the_command_list_and_exits_127(run: Run) -> None:
    result = run()
    assert result.code == 127
    assert result.stdout.startswith(
        "Usage: consul-sim [--version] [--help] <command> [<args>]\n\nAvailable commands are:\n"
    )
    assert "    kv          Interact with the key-value store\n" in result.stdout
    assert "    services    " in result.stdout
    assert "    serve       " in result.stdout
    assert result.stderr == ""


def test_unknown_command_exits_127(run: Run) -> None:
    result = run("bogus", "thing")
    assert result.code == 127
    assert "Available commands are:" in result.stdout


def test_help_flag_alone_prints_the_command_list_and_exits_0(run: Run) -> None:
    result = run("--help")
    assert result.code == 0
    assert result.stdout.startswith("Usage: consul-sim [--version]")


def test_group_command_prints_its_help_and_subcommands_and_exits_1(run: Run) -> None:
    result = run("kv")
    assert result.code == 1
    assert result.stdout.startswith("Usage: consul-sim kv <subcommand> [options] [args]\n")
    assert result.stdout.endswith(
        "\n\nSubcommands:\n"
        "    delete    Removes data from the KV store\n"
        "    get       Retrieves or lists data from the KV store\n"
        "    put       Sets or updates data in the KV store\n"
    )


def test_command_help_goes_to_stdout_with_flag_groups_and_exits_0(run: Run) -> None:
    result = run("kv", "get", "-h")
    assert result.code == 0
    assert result.stderr == ""
    assert result.stdout.startswith("Usage: consul-sim kv get [options] [KEY_OR_PREFIX]\n")
    assert "\nHTTP API Options\n\n  -ca-file=<value>\n" in result.stdout
    assert "\n  -http-addr=<address>\n" in result.stdout
    assert "\nCommand Options\n\n  -base64\n" in result.stdout
    assert "\n  -separator=<string>\n" in result.stdout
    assert result.stdout.endswith("\n")
    # help anywhere before "--" wins, even after positional arguments
    assert run("kv", "get", "key", "--help").code == 0


def test_flags_before_the_command_are_refused(run: Run) -> None:
    result = run("-recurse", "kv", "get", "k")
    assert result.code == 1
    assert result.stdout.startswith(
        "Invalid flags before the subcommand. If these flags are for\n"
        "the subcommand, please put them after the subcommand.\n\n"
        "Usage: consul-sim kv get"
    )


def test_unknown_flag_prints_gos_error_and_usage_on_stderr(run: Run) -> None:
    result = run("kv", "get", "-x", "k")
    assert (result.code, result.stdout) == (1, "")
    lines = result.stderr.splitlines()
    assert lines[:3] == ["flag provided but not defined: -x", "Usage:", "  -base64"]
    assert "  -http-addr address" in lines


def test_version_prints_consuls_block_and_the_simulator(run: Run) -> None:
    expected = (
        "Consul v1.21.0\n"
        "Revision consul-sim\n"
        "Build Date 2025-06-01T00:00:00Z\n"
        "Protocol 2 spoken by default, understands 2 to 3 (agent will automatically use "
        "protocol >2 when speaking to compatible agents)\n"
        "consul-sim v0.1.0\n"
        "\n"
    )
    assert run("version").stdout == expected
    assert run("-v").stdout == expected
    assert run("--version").code == 0


def test_version_json_format(run: Run) -> None:
    result = run("version", "-format=json")
    assert result.code == 0
    assert '"Version": "1.21.0"' in result.stdout
    assert run("version", "-format=yaml").stderr == "Unknown format: yaml\n"


# -- reaching the agent ---------------------------------------------------------------------------
def test_consul_http_addr_from_the_environment_is_used(dc1: Cluster) -> None:
    seen: list[str] = []
    result = run_with(["kv", "put", "k", "v"], {"CONSUL_HTTP_ADDR": "10.1.2.3:9500"}, seen, dc1)
    assert result.code == 0
    assert seen == ["http://10.1.2.3:9500"]


def test_http_addr_flag_overrides_the_environment_and_accepts_a_scheme(dc1: Cluster) -> None:
    seen: list[str] = []
    env = {"CONSUL_HTTP_ADDR": "10.1.2.3:9500"}
    run_with(["kv", "get", "-http-addr=https://127.0.0.1:8501", "k"], env, seen, dc1)
    run_with(["kv", "get", "-http-addr", "127.0.0.1:8502", "k"], {}, seen, dc1)
    run_with(["kv", "get", "k"], {}, seen, dc1)
    run_with(["kv", "get", "k"], {"CONSUL_HTTP_SSL": "true"}, seen, dc1)
    assert seen == [
        "https://127.0.0.1:8501",
        "http://127.0.0.1:8502",
        "http://127.0.0.1:8500",
        "https://127.0.0.1:8500",
    ]


def test_an_unknown_scheme_is_refused(dc1: Cluster) -> None:
    result = run_with(["kv", "get", "-http-addr=ftp://host:1", "k"], {}, [], dc1)
    assert (result.code, result.stderr) == (
        1,
        "Error connecting to Consul agent: Unknown protocol scheme: ftp\n",
    )


_CONNECTING = "Error connecting to Consul agent"
_CONNECT = "Error connect to Consul agent"


@pytest.mark.parametrize(
    ("argv", "sentence"),
    [
        (["kv", "get", "k"], _CONNECTING),
        (["kv", "put", "k", "v"], _CONNECTING),
        (["kv", "delete", "k"], _CONNECTING),
        (["services", "register", "-name", "web"], _CONNECTING),
        (["services", "deregister", "-id", "web"], _CONNECTING),
        (["config", "read", "-kind", "mesh", "-name", "mesh"], _CONNECT),
        (["config", "list", "-kind", "mesh"], _CONNECT),
        (["config", "delete", "-kind", "mesh", "-name", "mesh"], _CONNECT),
        (["peering", "generate-token", "-name", "p"], _CONNECT),
        (["peering", "establish", "-name", "p", "-peering-token", "t"], _CONNECTING),
        (["peering", "initiate", "-peer", "p", "-token", "t"], _CONNECTING),
        (["peering", "list"], _CONNECT),
        (["peering", "read", "-name", "p"], _CONNECT),
        (["peering", "exported-services", "-name", "p"], _CONNECT),
        (["peering", "delete", "-name", "p"], _CONNECTING),
    ],
)
def test_each_command_words_the_connection_error_as_consul_does(
    argv: list[str], sentence: str, dc1: Cluster
) -> None:
    """Consul's commands spell it two ways (``connecting to`` in kv, services and some peering
    commands, ``connect to`` in config and the others); each keeps its own."""
    result = run_with([*argv[:2], "-http-addr=ftp://h:1", *argv[2:]], {}, [], dc1)
    assert result == Result(1, "", f"{sentence}: Unknown protocol scheme: ftp\n")


def test_token_datacenter_and_stale_travel_with_the_request(dc1: Cluster, tmp_path: Path) -> None:
    requests: list[httpx.Request] = []
    dc1.client.event_hooks["request"].append(requests.append)
    run_with(["kv", "get", "-stale", "-datacenter=dc1", "-token=secret", "k"], {}, [], dc1)
    run_with(["kv", "put", "k", "v"], {"CONSUL_HTTP_TOKEN": "from-env"}, [], dc1)
    token_file = tmp_path / "token"
    token_file.write_text("from-file\n")
    run_with(["kv", "delete", f"-token-file={token_file}", "-token=flag", "k"], {}, [], dc1)
    get, put, delete = requests
    assert get.headers["X-Consul-Token"] == "secret"
    assert get.url.params["dc"] == "dc1"
    assert get.url.params["stale"] == ""
    assert put.headers["X-Consul-Token"] == "from-env"
    assert "stale" not in put.url.params
    assert delete.headers["X-Consul-Token"] == "from-file"


def test_a_missing_token_file_is_reported(dc1: Cluster, tmp_path: Path) -> None:
    missing = tmp_path / "none"
    result = run_with(["kv", "get", f"-token-file={missing}", "k"], {}, [], dc1)
    assert result.stderr == (
        f"Error connecting to Consul agent: Error loading token file {missing} : "
        f"open {missing}: no such file or directory\n"
    )


def test_an_agent_that_is_not_listening_gives_gos_dial_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    out, err = io.StringIO(), io.StringIO()
    code = main(
        ["kv", "get", "app/cfg"],
        env={"CONSUL_HTTP_ADDR": f"127.0.0.1:{port}"},
        stdout=out,
        stderr=err,
    )
    assert code == 1
    assert err.getvalue() == (
        f'Error querying Consul agent: Get "http://127.0.0.1:{port}/v1/kv/app/cfg": '
        f"dial tcp 127.0.0.1:{port}: connect: connection refused\n"
    )


def test_require_flags_reports_the_first_missing_flag_in_consuls_words() -> None:
    from consul_sim.cli.command import Context, FlagCommand
    from consul_sim.cli.flags import FlagSet

    class Establish(FlagCommand):
        def define_flags(self, fs: FlagSet) -> None:
            fs.string("name", "", "peer name")
            fs.string("peering-token", "", "token")

        def run(self, args: list[str]) -> int:
            if self.parse(args) is None or not self.require_flags("name", "peering-token"):
                return 1
            return 0

    err = io.StringIO()
    ctx = Context(stdout=io.StringIO(), stderr=err, stdin=None, env={})
    assert Establish(ctx).run([]) == 1
    assert Establish(ctx).run(["-name", "dc2"]) == 1
    assert Establish(ctx).run(["-name", "dc2", "-peering-token=abc"]) == 0
    assert err.getvalue() == (
        "Missing the required -name flag\nMissing the required -peering-token flag\n"
    )


def test_run_checks_required_flags_then_prints_a_command_error_and_exits_1() -> None:
    from consul_sim.cli.command import CommandError, Context, FlagCommand
    from consul_sim.cli.flags import FlagSet

    class Echo(FlagCommand):
        required_flags = ("name",)

        def define_flags(self, fs: FlagSet) -> None:
            self.name = fs.string("name", "", "who")

        def execute(self, rest: list[str]) -> int:
            if rest:
                raise CommandError(f"Too many arguments (expected 0, got {len(rest)})")
            self.ui.output(self.name.value)
            return 0

    out, err = io.StringIO(), io.StringIO()
    ctx = Context(stdout=out, stderr=err, stdin=None, env={})
    assert Echo(ctx).run([]) == 1
    assert Echo(ctx).run(["-name", "dc2", "extra"]) == 1
    assert Echo(ctx).run(["-name", "dc2"]) == 0
    assert Echo(ctx).run(["-nope"]) == 1
    assert out.getvalue() == "dc2\n"
    assert err.getvalue().startswith(
        "Missing the required -name flag\nToo many arguments (expected 0, got 1)\n"
        "flag provided but not defined: -nope\n"
    )
