"""``consul-sim agent``: one simulated cluster started the way ``consul agent`` starts.

A drop-in for ``consul agent -dev`` or ``consul agent -config-file FILE`` in test harnesses
(HashiCorp's ``sdk/testutil``, py-consul's fixtures). Configuration is read and merged by
:mod:`consul_sim.cli.agentconfig`; an error there is printed as ``command/agent/agent.go`` prints
it (``==> `` and the loader's sentence) and the command exits 1. Then the agent prints Consul's
startup block, serves the cluster's HTTP API on ``addresses.http``/``client_addr`` and
``ports.http`` (``-1``: no HTTP listener), and writes log lines in hclog's format until SIGINT or
SIGTERM, or ``PUT /v1/agent/leave``, stops it within a second. Exit codes are Consul's: a signal
that does not leave (a server's default, ``skip_leave_on_interrupt``/``leave_on_terminate``)
exits 1, a leave exits 0.

Only HTTP is served (on the gRPC TLS port too, else the gRPC port: the peering address, see
``peering_port``): DNS, gRPC, gRPC-TLS, Serf and server RPC ports are accepted and printed
like Consul prints them, and one log line says they are not opened.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import TYPE_CHECKING, Any

from consul_sim.cli.agentconfig import AgentConfig, AgentConfigError, load_agent_config
from consul_sim.cli.command import FlagCommand, register
from consul_sim.cli.commands.serve import caught_signals
from consul_sim.cli.flags import AppendSlice, Bool, FlagSet, Int, OptBool, OptString
from consul_sim.cli.servicefile import ServiceFileError, load_service_files
from consul_sim.gostd import quote as go_quote
from consul_sim.ports import listen_tcp
from consul_sim.version import BUILD_DATE, CONSUL_VERSION

if TYPE_CHECKING:
    from consul_sim.api.agent_ops import AgentControl
    from consul_sim.world import Cluster

LOG_LEVELS = ("trace", "debug", "info", "warn", "error")
LEVEL_RANK = {name: i for i, name in enumerate(LOG_LEVELS)}
LEVEL_TAG = {"trace": "TRACE", "debug": "DEBUG", "info": "INFO", "warn": "WARN", "error": "ERROR"}


ALLOWED_LOG_LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERR", "ERROR")
"""``logging/logger.go``'s ``allowedLogLevels``, matched in any case."""


def valid_log_level(level: str) -> bool:
    """``logging.ValidateLogLevel``."""
    return level.upper() in ALLOWED_LOG_LEVELS


def log_line(level: str, name: str, message: str, **fields: object) -> str:
    """hclog's text format: ``2006-01-02T15:04:05.000Z [INFO]  agent: message: k=v``."""
    now = time.time()
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}Z"
    tag = f"[{LEVEL_TAG[level]}]".ljust(7)
    kv = " ".join(f"{k}={v}" for k, v in fields.items())
    return f"{stamp} {tag} {name}: {message}" + (f": {kv}" if kv else "")


def _go_bool(value: bool) -> str:
    return "true" if value else "false"


@register("agent")
class Agent(FlagCommand):
    synopsis = "Runs a Consul agent"
    usage_text = """
Usage: consul-sim agent [options]

  Starts one simulated Consul agent (a bootstrapped server of its own
  datacenter) and serves its HTTP API until interrupted. Reads Consul's agent
  configuration: -config-file, -config-dir and -hcl are merged as Consul
  merges them; keys consul-sim does not simulate are accepted with a warning.

      $ consul-sim agent -dev
      $ consul-sim agent -config-file server.json
"""

    def define_flags(self, fs: FlagSet) -> None:
        self.dev = fs.boolean("dev", False, "Starts the agent in development mode.")
        self.config_paths = AppendSlice()
        fs.var(
            self.config_paths,
            "config-file",
            "A config file to use. Can be either .hcl or .json format. Can be specified "
            "multiple times.",
        )
        fs.var(
            self.config_paths,
            "config-dir",
            "Path to a directory to read configuration files from. This will read every file "
            "ending in '.json' or '.hcl' as configuration in this directory in alphabetical "
            "order. Can be specified multiple times.",
        )
        self.hcl = fs.var(
            AppendSlice(),
            "hcl",
            "hcl config fragment. Can be specified multiple times.",
        )
        self.strings = {
            name: fs.var(OptString(), name, usage)
            for name, usage in (
                ("datacenter", "Datacenter of the agent."),
                ("node", "Name of this node. Must be unique in the cluster."),
                ("node-id", "A unique ID for this node across space and time."),
                ("bind", "Sets the bind address for cluster communication."),
                ("client", "Sets the address to bind for client access (HTTP)."),
                ("log-level", "Log level of the agent."),
                ("data-dir", "Path to a data directory to store agent state."),
            )
        }
        self.ints = {
            name: fs.var(_OptInt(), name, usage)
            for name, usage in (
                ("http-port", "Sets the HTTP API port to listen on."),
                ("dns-port", "DNS port to use (not served by consul-sim)."),
                ("grpc-port", "Sets the gRPC API port to listen on (not served)."),
                ("serf-lan-port", "Sets the Serf LAN port to listen on (not served)."),
            )
        }
        self.bools = {
            name: fs.var(OptBool(), name, usage)
            for name, usage in (
                ("server", "Switches agent to server mode."),
                ("bootstrap", "Sets server to bootstrap mode."),
                ("ui", "Enables the built-in static web UI server."),
            )
        }
        self.local_checks = fs.var(
            Bool(False),
            "enable-local-checks",
            "consul-sim only: run registered HTTP and TCP checks for real, polling on the "
            "cluster's clock (off by default, which keeps tests deterministic).",
        )

    def flag_values(self) -> dict[str, Any]:
        """The flags as the config keys they set (``command/agent/flags.go``)."""
        keys = {
            "datacenter": "datacenter",
            "node": "node_name",
            "node-id": "node_id",
            "bind": "bind_addr",
            "client": "client_addr",
            "log-level": "log_level",
            "data-dir": "data_dir",
        }
        out: dict[str, Any] = {}
        for flag, key in keys.items():
            value = self.strings[flag]
            if value.is_set:
                out[key] = value.value
        ports = {
            "http-port": "http",
            "dns-port": "dns",
            "grpc-port": "grpc",
            "serf-lan-port": "serf_lan",
        }
        for flag, key in ports.items():
            number = self.ints[flag]
            if number.is_set:
                out.setdefault("ports", {})[key] = number.number
        for flag in ("server", "bootstrap", "ui"):
            b = self.bools[flag]
            if b.is_set:
                out[flag] = b.value
        return out

    def execute(self, rest: list[str]) -> int:
        if rest:
            self.ui.error(f"==> Unexpected extra arguments: [{' '.join(rest)}]")
            return 1
        try:
            cfg = load_agent_config(
                list(self.config_paths.value),
                hcl=list(self.hcl.value),
                flags=self.flag_values(),
                dev=self.dev.value,
            )
        except AgentConfigError as exc:
            self.ui.error(f"==> {exc}")
            return 1
        if not valid_log_level(cfg.log_level):
            self.ui.error(
                f"==> Invalid log level: {cfg.log_level}. Valid log levels are: "
                f"[{' '.join(ALLOWED_LOG_LEVELS)}]"
            )
            return 1
        if self.local_checks.value:
            cfg.enable_local_checks = True
        try:
            services = load_service_files(list(self.config_paths.value)).services
        except ServiceFileError as exc:
            self.ui.error(f"==> {exc}")
            return 1
        return AgentRun(self, cfg, services).run()


class _OptInt(OptString):
    """An integer flag that remembers whether it was given."""

    def set(self, text: str) -> None:
        Int().set(text)  # Go's ParseInt errors
        super().set(text)

    @property
    def number(self) -> int:
        return int(self.value or 0)


def peering_port(cfg: AgentConfig) -> int:
    """Where this agent takes peer streams, and so the port in the tokens it generates: the
    gRPC TLS port when set, else the plaintext gRPC port (``GetLocalServerAddresses`` in
    ``agent/consul/peering_backend.go``); -1 when neither is, and the HTTP port serves them."""
    tls = cfg.ports.get("grpc_tls", -1)
    return tls if tls > 0 else cfg.ports.get("grpc", -1)


class AgentRun:
    """One agent's life: build the cluster, serve it, log, wait for a signal or a leave."""

    def __init__(
        self, command: Agent, cfg: AgentConfig, services: list[dict[str, Any]] | None = None
    ) -> None:
        self.command = command
        self.services = list(services or [])
        self.loaded_services: list[str] = [
            str(b.get("ID") or b.get("Name") or "") for b in self.services
        ]
        """IDs of the services the config files defined, which a reload replaces."""
        self.ui = command.ui
        self.cfg = cfg
        name = cfg.log_level.lower()
        self.level = LEVEL_RANK.get("error" if name == "err" else name, LEVEL_RANK["info"])
        self._lock = threading.Lock()
        self.control: AgentControl | None = None

    def log(self, level: str, name: str, message: str, **fields: object) -> None:
        line = log_line(level, name, message, **fields)
        if self.control is not None:
            self.control.publish(level, line)
        if LEVEL_RANK[level] < self.level:
            return
        with self._lock:
            self.ui.output(line)
            self.command.ctx.stdout.flush()

    def run(self) -> int:
        cfg = self.cfg
        host, port = cfg.http_addr, cfg.http_port
        if host.startswith("unix://"):
            self.ui.error(f"==> consul-sim serves HTTP on TCP only, not {host}")
            return 1
        listening: dict[str, socket.socket] = {}
        if port > 0:
            # Listen before importing the web stack (a second or more on a loaded machine):
            # sdk/testutil's waitForAPI allows two seconds, and a connection made meanwhile
            # waits in the backlog for its answer instead of being refused.
            try:
                listening[cfg.datacenter] = listen_tcp(host, port)
            except OSError:
                self.ui.error(
                    f"==> Error starting agent: listen tcp {host}:{port}: bind: address already "
                    "in use"
                )
                return 1
        try:
            return self._serve(listening)
        finally:
            for sock in listening.values():
                sock.close()

    def _serve(self, listening: dict[str, socket.socket]) -> int:
        cfg = self.cfg
        host, port = cfg.http_addr, cfg.http_port
        from consul_sim.server import ServedWorld
        from consul_sim.world import World

        world = World(clock="wall")
        cluster = world.add_cluster(
            cfg.datacenter,
            node_name=cfg.node_name,
            node_id=cfg.node_id,
            node_meta=cfg.node_meta,
            acl_default_policy=cfg.acl_default_policy if cfg.acl_enabled else None,
            acl_initial_management=cfg.acl_initial_management,
            ca_cluster_id=cfg.ca_cluster_id,
            connect_enabled=cfg.connect_enabled,
        )
        cluster.agent.enable_remote_script_checks = cfg.enable_script_checks
        refused = self._register_services(cluster)
        if refused:
            world.close()
            self.ui.error(f"==> Error starting agent: {refused}")
            return 1
        left = threading.Event()
        served: ServedWorld | None = None
        try:
            with caught_signals() as signals:
                self._register_control(cluster, left, signals)
                if port > 0:
                    peer_port = peering_port(cfg)
                    served = ServedWorld(
                        world,
                        {cfg.datacenter: port},
                        host=host,
                        listening=listening,
                        peer_ports={cfg.datacenter: peer_port} if peer_port > 0 else None,
                    )
                    listening.clear()
                    try:
                        served.start()
                    except (OSError, RuntimeError, TimeoutError) as exc:
                        self.ui.error(f"==> Error starting agent: {exc}")
                        return 1
                self._startup_lines(cluster)
                if served is not None and cfg.datacenter in served.peer_port_errors:
                    self.log(
                        "warn",
                        "agent",
                        "peering served on the HTTP port: cannot listen on the gRPC port",
                        error=served.peer_port_errors[cfg.datacenter],
                    )
                checker = self._start_checker(world, cluster) if cfg.enable_local_checks else None
                self.log("info", "agent", "Consul agent running!")
                caught = signals.wait()
                code = 0 if left.is_set() else self._exit_code(caught)
                if checker is not None:
                    checker.stop()
                self.log("info", "agent", "Requesting shutdown")
                if served is not None:
                    served.stop()
                    served = None
                self.log("info", "agent", "shutdown complete")
        finally:
            if served is not None:
                served.stop()
            world.close()
        return code

    def _register_services(self, cluster: Cluster) -> str:
        """The ``service``/``services`` of the config files, registered as the agent's own
        (``agent.loadServices``): through the agent API with the cluster's management token,
        since local definitions are trusted. The first refusal, or "" when all went in."""
        headers = {"X-Consul-Token": cluster.acl.management_token} if cluster.acl.enabled else {}
        for body in self.services:
            r = cluster.client.put("/v1/agent/service/register", json=body, headers=headers)
            if r.status_code != 200:
                name = body.get("Name") or body.get("ID") or ""
                return f"Failed to register service {go_quote(str(name))}: {r.text.strip()}"
        return ""

    def _reload_services(self, cluster: Cluster, services: list[dict[str, Any]]) -> None:
        """``Agent.reloadConfigInternal`` unloads the services the old files defined and
        loads the new files' (``unloadServices``/``loadServices``, ``agent/agent.go``): here
        on the event-loop thread the reload request runs on, so through the agent's domain
        object rather than its HTTP API. A definition the agent refuses fails the reload with
        the agent's sentence, as Consul's does."""
        from consul_sim.models.agent import ServiceDefinition
        from consul_sim.models.base import decode_body

        definitions = [decode_body(ServiceDefinition, b, root="", strict=True) for b in services]
        with cluster.store.lock:
            for service_id in self.loaded_services:
                if cluster.agent.service(service_id) is not None:
                    cluster.agent.deregister_service(service_id)
            self.loaded_services = []
            for sd in definitions:
                cluster.agent.register_service(sd, replace_existing_checks=False)
                self.loaded_services.append(sd.id or sd.name)
        self.services = list(services)

    def _exit_code(self, caught: str) -> int:
        """``command/agent/agent.go``: a signal leaves gracefully (exit 0) only on SIGINT without
        ``skip_leave_on_interrupt`` or SIGTERM with ``leave_on_terminate``; both default to
        what a server wants (no leave), and otherwise the agent exits 1 at once. Leaving here is
        instant: there are no peers to tell."""
        cfg = self.cfg
        self.log("info", "agent", "Caught", signal=caught)
        graceful = (caught == "interrupt" and not cfg.skip_leave_on_interrupt) or (
            caught == "terminated" and cfg.leave_on_terminate
        )
        if not graceful:
            self.log("info", "agent", "Graceful shutdown disabled. Exiting")
            return 1
        self.log("info", "agent", "Gracefully shutting down agent...")
        self.log("info", "agent", "Graceful exit completed")
        return 0

    def _register_control(self, cluster: Cluster, left: threading.Event, signals: Any) -> None:
        """What the agent endpoints reach back into: reload, leave and the log."""
        from consul_sim.api.agent_ops import AgentControl, attach_control

        def leave() -> None:
            left.set()
            signals.stop("leave")

        def reload() -> None:
            cfg = load_agent_config(
                list(self.command.config_paths.value),
                hcl=list(self.command.hcl.value),
                flags=self.command.flag_values(),
                dev=self.command.dev.value,
            )
            services = load_service_files(list(self.command.config_paths.value)).services
            self.log("info", "agent", "Reloading configuration...")
            self._reload_services(cluster, services)
            cluster.agent.enable_remote_script_checks = cfg.enable_script_checks
            self.cfg.enable_script_checks = cfg.enable_script_checks
            self.cfg.log_level = cfg.log_level

        self.control = AgentControl(
            reload=reload,
            leave=leave,
            log=self.log,
            prometheus_retention=self.cfg.prometheus_retention,
            config=self.cfg,
        )
        attach_control(cluster, self.control)

    def _start_checker(self, world: Any, cluster: Cluster) -> Any:
        from consul_sim.api.checkrunner import CheckRunner

        runner = CheckRunner(world, cluster, log=self.log)
        runner.start()
        return runner

    def _startup_lines(self, cluster: Cluster) -> None:
        """``command/agent/agent.go``'s block, with the ports as configured."""
        cfg = self.cfg
        p = cfg.ports
        out = self.ui.output
        advertise = cfg.bind_addr if cfg.bind_addr not in ("0.0.0.0", "::") else cluster.address
        out("==> Starting Consul agent...")
        out(f"              Version: '{CONSUL_VERSION}'")
        out(f"           Build Date: '{BUILD_DATE}'")
        out(f"              Node ID: '{cluster.node_id}'")
        out(f"            Node name: '{cluster.node_name}'")
        out(f"           Datacenter: '{cfg.datacenter}' (Segment: '<all>')")
        out(f"               Server: {_go_bool(cfg.server)} (Bootstrap: {_go_bool(cfg.bootstrap)})")
        out(
            f"          Client Addr: [{cfg.client_addr}] (HTTP: {p.get('http', -1)}, HTTPS: "
            f"{p.get('https', -1)}, gRPC: {p.get('grpc', -1)}, gRPC-TLS: {p.get('grpc_tls', -1)}, "
            f"DNS: {p.get('dns', -1)})"
        )
        out(
            f"         Cluster Addr: {advertise} (LAN: {p.get('serf_lan', -1)}, WAN: "
            f"{p.get('serf_wan', -1)})"
        )
        out("    Gossip Encryption: false")
        out("     Auto-Encrypt-TLS: false")
        out(f"         ACLs Enabled: {_go_bool(cfg.acl_enabled)}")
        out(
            "            HTTPS TLS: Verify Incoming: false, Verify Outgoing: false, "
            "Min Version: TLSv1_2"
        )
        out("             gRPC TLS: Verify Incoming: false, Min Version: TLSv1_2")
        out(
            "     Internal RPC TLS: Verify Incoming: false, Verify Outgoing: false (Verify "
            "Hostname: false), Min Version: TLSv1_2"
        )
        out("")
        out("==> Log data will now stream in as it occurs:\n")
        for warning in cfg.warnings:
            self.log("warn", "agent", warning)
        others = [
            f"{label} ({p[key]})"
            for key, label in (
                ("dns", "DNS"),
                ("grpc", "gRPC"),
                ("grpc_tls", "gRPC-TLS"),
                ("serf_lan", "Serf LAN"),
                ("serf_wan", "Serf WAN"),
                ("server", "server RPC"),
            )
            if p.get(key, -1) > 0
        ]
        if others:
            self.log(
                "warn",
                "agent",
                f"consul-sim serves HTTP only; these ports are not opened: {', '.join(others)}",
            )
        if cfg.http_port > 0:
            self.log(
                "info",
                "agent",
                "Started HTTP server",
                address=f"{cfg.http_addr}:{cfg.http_port}",
                network="tcp",
            )
        else:
            self.log("warn", "agent", "HTTP is disabled (ports.http = -1); nothing is served")
        self.log("info", "agent.server", "cluster leadership acquired")
        self.log("info", "agent.server", "New leader elected", payload=cluster.node_name)
        self.log("info", "agent", "Synced node info")
        self.command.ctx.stdout.flush()
