"""Real HTTP and TCP checks for ``consul-sim agent -enable-local-checks`` (off by default).

The simulator normally leaves a check's status where it was registered, so tests stay
deterministic. With this runner the agent probes what its HTTP and TCP checks name, each on its
``Interval`` measured on the cluster's clock, and records the verdict as Consul's checkers do
(``agent/checks/check.go``): ``CheckHTTP`` passes on 2xx, warns on 429 and is critical otherwise,
with the output ``HTTP GET URL: 200 OK Output: BODY``; ``CheckTCP`` passes when the connection
opens (``TCP connect ADDR: Success``) and is critical with the dial error otherwise. The probing
happens here, on a thread of the front end, never in the domain, which only records results.
"""

from __future__ import annotations

import socket
import threading
from typing import TYPE_CHECKING

import httpx

from consul_sim.durations import DurationError, parse_duration
from consul_sim.models.catalog import CRITICAL, PASSING, WARNING

if TYPE_CHECKING:
    from consul_sim.api.agent_ops import LogFn
    from consul_sim.models.agent import CheckType
    from consul_sim.world import Cluster, World

POLL = 0.05
"""Wall seconds between looks for checks that are due."""
DEFAULT_TIMEOUT = 10.0
"""Consul's default check timeout."""
BODY_LIMIT = 4096
"""What ``CheckHTTP`` keeps of a response body (``BufSize``)."""


def _seconds(text: str, default: float) -> float:
    try:
        value = parse_duration(text) if text else default
    except DurationError:
        return default
    return value if value > 0 else default


def probe_http(ct: CheckType) -> tuple[str, str]:
    method = ct.method or "GET"
    timeout = _seconds(str(ct.timeout), DEFAULT_TIMEOUT)
    headers = [(k, v) for k, values in ct.header.items() for v in values]
    try:
        with httpx.Client(
            timeout=timeout,
            follow_redirects=not ct.disable_redirects,
            verify=not ct.tls_skip_verify,
        ) as client:
            resp = client.request(method, ct.http, headers=headers, content=ct.body or None)
    except httpx.HTTPError as exc:
        return CRITICAL, f'{method.title()} "{ct.http}": {_dial_error(ct.http, exc)}'
    body = resp.content[:BODY_LIMIT].decode("utf-8", errors="replace")
    output = f"HTTP {method} {ct.http}: {resp.status_code} {resp.reason_phrase} Output: {body}"
    if 200 <= resp.status_code < 300:
        return PASSING, output
    if resp.status_code == 429:
        return WARNING, output
    return CRITICAL, output


def _dial_error(url: str, exc: Exception) -> str:
    """Go's ``*url.Error`` text for a refused connection; other failures as httpx says."""
    text = str(exc)
    if "refused" in text.lower():
        parsed = httpx.URL(url)
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        return f"dial tcp {parsed.host}:{port}: connect: connection refused"
    return text or type(exc).__name__


def probe_tcp(ct: CheckType) -> tuple[str, str]:
    host, _, port = ct.tcp.rpartition(":")
    timeout = _seconds(str(ct.timeout), DEFAULT_TIMEOUT)
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            pass
    except ConnectionRefusedError:
        return CRITICAL, f"dial tcp {ct.tcp}: connect: connection refused"
    except (OSError, ValueError) as exc:
        return CRITICAL, f"dial tcp {ct.tcp}: {exc}"
    return PASSING, f"TCP connect {ct.tcp}: Success"


class CheckRunner:
    """Probe one cluster's HTTP and TCP checks until stopped."""

    def __init__(self, world: World, cluster: Cluster, *, log: LogFn | None = None) -> None:
        self.world = world
        self.cluster = cluster
        self.log = log
        self._due: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="consul-sim-checks", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2.0)

    def _run(self) -> None:
        while not self._stop.wait(POLL):
            self.run_due()

    def run_due(self) -> int:
        """Probe every check whose interval has come round; returns how many were probed."""
        with self.world.lock:
            now = self.world.clock.now()
            due = [
                (check_id, local.definition)
                for check_id, local in sorted(self.cluster.agent.checks.items())
                if local.definition.check_type() in ("http", "tcp")
                and self._due.get(check_id, 0.0) <= now
            ]
            for gone in set(self._due) - set(self.cluster.agent.checks):
                del self._due[gone]
        for check_id, ct in due:
            status, output = probe_http(ct) if ct.check_type() == "http" else probe_tcp(ct)
            with self.world.lock:
                self.cluster.agent.record_check_result(check_id, status, output)
                self._due[check_id] = now + _seconds(str(ct.interval), 10.0)
            if self.log is not None and status != PASSING:
                self.log("warn", "agent", "Check is now critical", check=check_id)
        return len(due)
