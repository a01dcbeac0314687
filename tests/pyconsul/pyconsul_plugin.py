"""py-consul's Docker fixtures, replaced by ``consul-sim agent`` (``-p pyconsul_plugin``).

py-consul 1.8.0's root ``conftest.py`` starts ``hashicorp/consul:<version>`` in Docker per test
with ``CONSUL_LOCAL_CONFIG`` and ``agent -dev -client=0.0.0.0 -log-level trace``, waits for
``/v1/status/leader`` and for ``test-service`` to show in ``/v1/health/service``, then reads
the version from ``/v1/agent/self``. This plugin does the same with ``consul-sim agent -dev
-config-file FILE`` (that very JSON in a temp file), on a free loopback port instead of
``0.0.0.0``, and with one version (the Consul release the simulator follows) instead of three.
The run loads py-consul's ``tests/conftest.py`` (``acl_consul``, ``consul_obj``) unchanged and
skips the Docker root ``conftest.py`` with ``--confcutdir=tests``; the root's other two fixtures
(``_unset_consul_token``, ``consul_port``) are repeated here as they are written there.

The module has no package of its own (py-consul's suite owns the name ``tests``): the runner
puts this directory on ``PYTHONPATH``.
"""

from __future__ import annotations

import collections
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from consul_sim.version import CONSUL_VERSION

ConsulInstance = collections.namedtuple("ConsulInstance", ["container", "port", "version"])

BASE_CONFIG: dict[str, Any] = {
    "ports": {"https": -1, "dns": -1, "grpc_tls": -1},
    "performance": {"raft_multiplier": 1},
    "enable_script_checks": True,
}
"""What py-consul's ``start_consul_container`` puts in ``CONSUL_LOCAL_CONFIG``."""

START_TIMEOUT = 30.0
"""Seconds for an agent to answer; Docker's fixture allows 10, a loaded 2-core machine more."""


def _consul_sim_command() -> list[str]:
    """``consul-sim`` from the same interpreter that runs this suite."""
    return [sys.executable, "-m", "consul_sim.cli.main"]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Agent:
    """One ``consul-sim agent`` process; the ``container`` of py-consul's ``ConsulInstance``."""

    def __init__(self, config: dict[str, Any], log_path: str) -> None:
        fd, self.config_path = tempfile.mkstemp(prefix="pyconsul-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(config, f)
        self.log_path = log_path
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> int:
        for _attempt in range(3):  # another process may take the free port first
            self.port = _free_port()
            with open(self.log_path, "wb") as log:
                self.proc = subprocess.Popen(
                    [
                        *_consul_sim_command(),
                        "agent",
                        "-dev",
                        "-config-file",
                        self.config_path,
                        "-client=127.0.0.1",
                        f"-http-port={self.port}",
                        "-log-level",
                        "trace",
                    ],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            if self._wait_ready():
                return self.port
            self.stop()
        raise TimeoutError(f"consul-sim agent did not start; see {self.log_path}")

    def _wait_ready(self) -> bool:
        """py-consul's readiness checks: a leader, then ``test-service`` registered and seen."""
        assert self.proc is not None
        base = f"http://127.0.0.1:{self.port}/v1/"
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            time.sleep(0.05)
            try:
                response = requests.get(base + "status/leader", timeout=2)
                if response.status_code == 200 and response.json():
                    break
            except requests.RequestException:
                continue
        else:
            return False
        requests.put(base + "agent/service/register", json={"name": "test-service"}, timeout=5)
        response = requests.get(base + "health/service/test-service", timeout=5)
        if response.status_code == 200 and response.json():
            requests.put(base + "agent/service/deregister/test-service", timeout=5)
            return True
        return False

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def close(self) -> None:
        self.stop()
        os.unlink(self.config_path)


def _agent_version(port: int) -> str:
    response = requests.get(f"http://127.0.0.1:{port}/v1/agent/self", timeout=10)
    return str(response.json()["Config"]["Version"]).strip()


def _setup_and_teardown(
    request: pytest.FixtureRequest, acl_master_token: str | None = None
) -> Iterator[Any]:
    config = dict(BASE_CONFIG)
    if acl_master_token:
        config.update(
            {
                "primary_datacenter": "dc1",
                "acl": {"enabled": True, "tokens": {"initial_management": acl_master_token}},
            }
        )
    log_dir = os.environ.get("PYCONSUL_LOG_DIR") or tempfile.gettempdir()
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in request.node.name)
    agent = Agent(config, os.path.join(log_dir, f"{safe}.log"))
    try:
        port = agent.start()
        instance = ConsulInstance(agent, port, _agent_version(port))
        yield instance if acl_master_token is None else (instance, acl_master_token)
    finally:
        agent.close()


@pytest.fixture(scope="session", autouse=True)
def _unset_consul_token() -> None:
    if "CONSUL_HTTP_TOKEN" in os.environ:
        del os.environ["CONSUL_HTTP_TOKEN"]


@pytest.fixture(params=[CONSUL_VERSION])
def consul_instance(request: pytest.FixtureRequest) -> Iterator[Any]:
    yield from _setup_and_teardown(request)


@pytest.fixture(params=[CONSUL_VERSION])
def acl_consul_instance(request: pytest.FixtureRequest) -> Iterator[Any]:
    yield from _setup_and_teardown(request, acl_master_token=uuid.uuid4().hex)


@pytest.fixture
def consul_port(consul_instance: Any) -> tuple[int, str]:
    return consul_instance.port, consul_instance.version


OUTCOMES: dict[str, str] = {}
"""Each test's outcome as the controlling process saw it (``failed`` if any phase failed)."""


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.failed:
        OUTCOMES[report.nodeid] = "failed"
    elif report.skipped:
        OUTCOMES.setdefault(report.nodeid, "skipped")
    elif report.when == "call":
        OUTCOMES.setdefault(report.nodeid, "passed")


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Write ``{nodeid: outcome}`` to ``$PYCONSUL_RESULTS`` (the xdist controller only)."""
    path = os.environ.get("PYCONSUL_RESULTS")
    if path and not hasattr(session.config, "workerinput"):
        with open(path, "w", encoding="utf-8") as f:
            json.dump(OUTCOMES, f, indent=1, sort_keys=True)
