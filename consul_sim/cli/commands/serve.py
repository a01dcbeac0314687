"""``consul-sim serve``: every simulated cluster on its own loopback port until Ctrl-C.

Not a Consul command: it stands in for running one ``consul agent -dev`` per cluster. Each
``-cluster NAME:PORT`` becomes a cluster of one world (default ``cluster-01:8500`` and
``cluster-02:8501``); port 0 picks a free port. It prints one ``NAME serving on URL`` line per
cluster, then waits for SIGINT or SIGTERM, stops the servers (answering any blocking query still
waiting), says goodbye in one line on stderr and exits 0. A port that is taken is reported before
anything starts, and the command exits 1.
"""

from __future__ import annotations

import errno
import os
import signal
import socket
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from types import FrameType
from typing import TYPE_CHECKING

from consul_sim.cli.command import CommandError, FlagCommand, Ui, register
from consul_sim.cli.flags import AppendSlice, FlagSet
from consul_sim.journal import DEFAULT_JOURNAL_SIZE

if TYPE_CHECKING:
    from consul_sim.server import ServedWorld
    from consul_sim.world import World

HEARTBEAT_INTERVAL = 15.0
HEARTBEAT_TIMEOUT = 120.0
"""Consul's values; ``consul_sim.world`` holds the same defaults (imported late, as it is big)."""

LOOPBACK = "127.0.0.1"


def parse_cluster_spec(spec: str) -> tuple[str, int]:
    """``NAME:PORT`` -> (name, port); raises ValueError with the sentence to print."""
    name, sep, port_text = spec.rpartition(":")
    if not sep or not name or not port_text.isdigit():
        raise ValueError(f'Invalid -cluster value "{spec}": expected NAME:PORT')
    port = int(port_text)
    if port > 65535:
        raise ValueError(f'Invalid -cluster value "{spec}": port must be between 0 and 65535')
    return name, port


def port_in_use(host: str, port: int) -> OSError | None:
    """Try the bind uvicorn will do (SO_REUSEADDR, as asyncio sets it); the error if it fails."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            return exc
    return None


def refuse_busy_ports(ports: Mapping[str, int]) -> None:
    """Before anything starts: a cluster whose port (0 is any free one) is taken is refused."""
    for name, port in ports.items():
        failure = port_in_use(LOOPBACK, port) if port else None
        if failure is not None:
            reason = "address already in use" if failure.errno == errno.EADDRINUSE else failure
            raise CommandError(f"Error! Cannot serve {name} on {LOOPBACK}:{port}: {reason}")


@contextmanager
def serving(
    ui: Ui, world: World, ports: Mapping[str, int], sim_token: str = ""
) -> Iterator[ServedWorld]:
    """Add the clusters to ``world``, serve each on its port and say where; on leaving, stop the
    servers and close the world (``serve`` and ``scenario`` both run clusters this way)."""
    from consul_sim.server import ServedWorld

    try:
        for name in ports:
            if name not in world.clusters:  # a restored world has its clusters already
                world.add_cluster(name)
        served = ServedWorld(world, dict(ports), host=LOOPBACK, sim_token=sim_token)
        try:
            served.start()
        except (OSError, RuntimeError, TimeoutError) as exc:
            raise CommandError(f"Error! Cannot start serving: {exc}") from None
        try:
            for name in ports:
                ui.output(f"{name} serving on {served.url(name)}")
            yield served
        finally:
            served.stop()
    finally:
        world.close()


@register("serve")
class Serve(FlagCommand):
    synopsis = "Serve simulated clusters on loopback ports (consul-sim only)"
    usage_text = """
Usage: consul-sim serve [options]

  Serve each simulated cluster's HTTP API on its own 127.0.0.1 port, all from
  one world, until interrupted (Ctrl-C or SIGTERM). Without -cluster it serves
  cluster-01 on 8500 and cluster-02 on 8501.

      $ consul-sim serve -cluster dc1:8500 -cluster dc2:8501
      $ CONSUL_HTTP_ADDR=127.0.0.1:8500 consul-sim kv put app/config hello
"""

    def define_flags(self, fs: FlagSet) -> None:
        self.clusters = fs.var(
            AppendSlice(),
            "cluster",
            "A cluster to serve, as `NAME:PORT` (port 0 picks a free one). Repeat the flag "
            "for several clusters.",
        )
        self.sim_token = fs.string(
            "sim-token",
            "",
            "When set, the simulator's /_sim/ control endpoints answer 403 unless the request "
            "carries this value in an X-Sim-Token header (/_sim/peerstream is not affected).",
        )
        self.clock = fs.string(
            "clock",
            "wall",
            "The world's clock: wall (real time) or virtual (time stands still unless advanced).",
        )
        self.seed = fs.integer("seed", 0, "Seed of the world's random source (IDs, jitter).")
        self.heartbeat_interval = fs.duration(
            "heartbeat-interval",
            HEARTBEAT_INTERVAL,
            "How often each end of a peering stream sends a heartbeat (Consul: 15s).",
        )
        self.heartbeat_timeout = fs.duration(
            "heartbeat-timeout",
            HEARTBEAT_TIMEOUT,
            "How long a peering stream may go without a heartbeat before it is closed and "
            "shows FAILING (Consul: 2m0s).",
        )
        self.snapshot = fs.string(
            "snapshot",
            "",
            "Start from this snapshot file (GET /_sim/snapshot, -save-on-exit, or "
            "world.snapshot()) instead of a new world: its clusters, clock, seed and every "
            "state. Each cluster is served on the port it was served on when saved, unless "
            "-cluster says otherwise. A snapshot is pickle data: load only files you trust.",
        )
        self.save_on_exit = fs.string(
            "save-on-exit",
            "",
            "On SIGINT or SIGTERM, write the world's snapshot to this file before the "
            "servers stop, so a later -snapshot run picks up where this one ended.",
        )
        self.journal_size = fs.integer(
            "journal-size",
            DEFAULT_JOURNAL_SIZE,
            "How many lines the network journal (/_sim/events) keeps; older ones fall off "
            "and are counted.",
        )

        self.strict_peer_names = fs.boolean(
            "strict-peer-names",
            False,
            "Refuse a peering token presented by a cluster whose name is not the peer name "
            "the token was generated for. Consul does not check it (any cluster holding a "
            "valid token may establish); either way /_sim/events records the mismatch.",
        )

    def execute(self, rest: list[str]) -> int:
        if rest:
            raise CommandError(f"Too many arguments (expected 0, got {len(rest)})")
        if self.clock.value not in ("wall", "virtual"):
            raise CommandError(
                f'Error! -clock must be "wall" or "virtual", got "{self.clock.value}"'
            )
        for flag_name, value in (
            ("heartbeat-interval", self.heartbeat_interval.value),
            ("heartbeat-timeout", self.heartbeat_timeout.value),
        ):
            if value <= 0:
                raise CommandError(f"Error! -{flag_name} must be positive")
        if self.journal_size.value < 1:
            raise CommandError("Error! -journal-size must be at least 1")
        from consul_sim.server import DEFAULT_CLUSTERS

        restored = self._restored() if self.snapshot.value else None
        specs: list[tuple[str, int]] = list(DEFAULT_CLUSTERS)
        if restored is not None:
            specs = [(name, _saved_port(c.http_address)) for name, c in restored.clusters.items()]
        if self.clusters.value:
            try:
                specs = [parse_cluster_spec(text) for text in self.clusters.value]
            except ValueError as exc:
                raise CommandError(f"Error! {exc}") from None
        names = [name for name, _ in specs]
        for name in names:
            if names.count(name) > 1:
                raise CommandError(f'Error! Cluster "{name}" is given more than once')
        ports = dict(specs)
        if restored is not None:
            for name in ports:
                if name not in restored.clusters:
                    restored.close()
                    raise CommandError(
                        f'Error! Snapshot {self.snapshot.value} has no cluster "{name}"'
                    )
        save_to = self.save_on_exit.value
        if save_to and not os.path.isdir(os.path.dirname(os.path.abspath(save_to))):
            raise CommandError(f"Error! Cannot save a snapshot to {save_to}: no such directory")
        refuse_busy_ports(ports)
        from consul_sim.world import World

        world = restored or World(
            clock="virtual" if self.clock.value == "virtual" else "wall",
            seed=self.seed.value if self.flags.is_set("seed") else None,
            heartbeat_interval=self.heartbeat_interval.value,
            heartbeat_timeout=self.heartbeat_timeout.value,
            journal_size=self.journal_size.value,
            strict_peer_names=self.strict_peer_names.value,
        )
        if restored is not None and self.flags.is_set("strict-peer-names"):
            restored.set_strict_peer_names(self.strict_peer_names.value)
        data = b""
        with caught_signals() as signals, serving(self.ui, world, ports, self.sim_token.value):
            if restored is None:
                world.set_baseline()  # what POST /_sim/reset returns to
            self.ctx.stdout.flush()
            signals.wait()
            if save_to:
                data = world.snapshot()  # before the servers stop: nothing is lost
        self.ui.error(goodbye(signals))
        if save_to:
            try:
                _write_atomically(save_to, data)
            except OSError as exc:
                raise CommandError(
                    f"Error! Cannot save a snapshot to {save_to}: {exc.strerror or exc}"
                ) from None
            self.ui.error(f"==> Saved the world to {save_to}")
        return 0

    def _restored(self) -> World:
        """The world in the -snapshot file; its clock, seed and heartbeats come with it."""
        path = self.snapshot.value
        for flag_name in (
            "clock",
            "seed",
            "heartbeat-interval",
            "heartbeat-timeout",
            "journal-size",
        ):
            if self.flags.is_set(flag_name):
                raise CommandError(
                    f"Error! -{flag_name} cannot be combined with -snapshot: the snapshot "
                    "holds the world's clock, seed, heartbeats and journal"
                )
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError as exc:
            raise CommandError(
                f"Error! Cannot read snapshot {path}: {exc.strerror or exc}"
            ) from None
        from consul_sim.world import World

        try:
            return World.restore(data)
        except ValueError as exc:
            raise CommandError(f"Error! Cannot restore {path}: {exc}") from None


def _saved_port(http_address: str | None) -> int:
    """The port a restored cluster was served on (any free one if it never was)."""
    if not http_address:
        return 0
    port = http_address.rpartition(":")[2]
    return int(port) if port.isdigit() else 0


def _write_atomically(path: str, data: bytes) -> None:
    """Write beside ``path`` and rename over it, so a crash never leaves half a snapshot."""
    partial = f"{path}.partial"
    with open(partial, "wb") as f:
        f.write(data)
    os.replace(partial, path)


SIGNAL_NAMES = {signal.SIGINT: "interrupt", signal.SIGTERM: "terminated"}
"""How Go's ``syscall.Signal.String()`` names them, as Consul's agent logs ``Caught signal``."""


class Signals:
    """SIGINT or SIGTERM, caught from before the servers start until after they have stopped.

    Held for the whole life of the servers, not only while waiting: a Ctrl-C during start or
    during stop then ends the wait (or is absorbed) instead of raising KeyboardInterrupt through
    the shutdown, so the user sees one goodbye line rather than a traceback. With
    ``interrupt_work`` the first signal before :meth:`wait` raises KeyboardInterrupt instead, to
    abandon the work under way (``scenario``'s walk); later ones are absorbed all the same."""

    def __init__(self, *, interrupt_work: bool = False) -> None:
        self.caught: str | None = None
        self._event = threading.Event()
        self._interrupt_work = interrupt_work
        self._waiting = False

    def on_signal(self, signum: int, frame: FrameType | None) -> None:
        if self.caught is not None:
            return
        self.caught = SIGNAL_NAMES.get(signal.Signals(signum), str(signum))
        self._event.set()
        if self._interrupt_work and not self._waiting:
            raise KeyboardInterrupt

    def stop(self, name: str) -> None:
        """End the wait as a signal would, for a reason of the caller's (``agent`` leaving)."""
        if self.caught is None:
            self.caught = name
            self._event.set()

    def wait(self) -> str:
        """Block until a signal comes (off the main thread, where no handler can be set, until
        KeyboardInterrupt); what Go would call it."""
        self._waiting = True
        try:
            self._event.wait()
        except KeyboardInterrupt:
            self.caught = self.caught or SIGNAL_NAMES[signal.SIGINT]
        return self.caught or SIGNAL_NAMES[signal.SIGINT]


@contextmanager
def caught_signals(*, interrupt_work: bool = False) -> Iterator[Signals]:
    """Route SIGINT and SIGTERM to a :class:`Signals` while the block runs (the main thread
    only: Python lets no other set handlers), then put the old handlers back."""
    signals = Signals(interrupt_work=interrupt_work)
    if threading.current_thread() is not threading.main_thread():
        yield signals
        return
    previous = {sig: signal.signal(sig, signals.on_signal) for sig in SIGNAL_NAMES}
    try:
        yield signals
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def goodbye(signals: Signals) -> str:
    """The one line ``serve`` and ``scenario -serve`` leave on stderr once everything stopped."""
    return f"==> Caught signal: {signals.caught or 'interrupt'}; stopped serving."
