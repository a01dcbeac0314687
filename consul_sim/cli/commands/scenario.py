"""``consul-sim scenario``, ``scenario list`` and ``scenario run``: teaching scenarios.

``scenario list`` names the shipped scenario files; ``scenario run NAME|FILE`` walks one (see
``consul_sim.scenarios.runner``) on a fresh in-process world, on clusters it serves (``-serve``,
kept up afterwards for exploring), or on clusters someone already serves (``-http-addr``).
The older ``scenario [-serve] seed`` below walks the Python-coded seed page over real HTTP.


Not a Consul command. It starts the scenario's clusters on consecutive loopback ports (from
``-port``, 8500 by default, so cluster-01 answers where the page's curl expects it), walks every
step printing the curl line and the answer, and then either stops or, with ``-serve``, keeps the
clusters up until Ctrl-C so the audience can poke at them with curl or consul-sim. Ctrl-C (or
SIGTERM) stops the servers and leaves one goodbye line on stderr, as ``serve`` does; during the
walk it abandons the walk, and the command exits 1.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from consul_sim.cli.command import CommandError, FlagCommand, register
from consul_sim.cli.commands.serve import caught_signals, goodbye, refuse_busy_ports, serving
from consul_sim.cli.flags import FlagSet
from consul_sim.scenarios.base import Scenario as ScenarioDef

if TYPE_CHECKING:
    from consul_sim.scenarios.spec import ScenarioSpec as ScenarioSpecT
    from consul_sim.scenarios.spec import StepSpec as StepSpecT
    from consul_sim.scenarios.targets import Target


@register("scenario")
class Scenario(FlagCommand):
    synopsis = "Walk a teaching scenario against freshly served clusters (consul-sim only)"
    usage_text = """
Usage: consul-sim scenario [options] NAME
       consul-sim scenario list
       consul-sim scenario run [options] NAME|FILE

  The shipped scenario files: list them with "scenario list", run one with
  "scenario run" (see its -h). Without list or run: serve the clusters the
  Python-coded scenario NAME needs on 127.0.0.1, starting at -port, then walk
  its steps over HTTP, printing each request and answer. With -serve the
  clusters stay up afterwards until interrupted. Python-coded scenarios: seed.

      $ consul-sim scenario list
      $ consul-sim scenario run peering-page
      $ consul-sim scenario -serve seed
"""

    def define_flags(self, fs: FlagSet) -> None:
        self.serve = fs.boolean("serve", False, "Keep serving the clusters after the walk.")
        self.port = fs.integer("port", 8500, "Port of the first cluster; the next ones follow.")
        self.seed = fs.integer("seed", 0, "Seed of the world's random source.")

    def execute(self, rest: list[str]) -> int:
        from consul_sim.scenarios import SCENARIOS

        if len(rest) != 1:
            raise CommandError(f"Error! Expected one scenario name, got {len(rest)}")
        factory = SCENARIOS.get(rest[0])
        if factory is None:
            known = ", ".join(sorted(SCENARIOS))
            raise CommandError(f'Error! Unknown scenario "{rest[0]}" (known: {known})')
        scenario = factory()
        base = self.port.value
        ports = {name: base + i if base else 0 for i, name in enumerate(scenario.clusters)}
        refuse_busy_ports(ports)
        return self._walk(scenario, ports)

    def _walk(self, scenario: ScenarioDef, ports: dict[str, int]) -> int:
        from consul_sim.world import World

        world = World(seed=self.seed.value if self.flags.is_set("seed") else None)
        with caught_signals(interrupt_work=True) as signals:
            try:
                with serving(self.ui, world, ports) as served:
                    ok = scenario.walk({n: served.url(n) for n in ports}, self.ctx.stdout)
                    if self.serve.value:
                        self.ui.output("\nThe clusters keep serving; press Ctrl-C to stop.")
                        self.ctx.stdout.flush()
                        signals.wait()
            except KeyboardInterrupt:
                ok = False
        if signals.caught is not None:
            self.ui.error(goodbye(signals))
        return 0 if ok else 1


@register("scenario list")
class ScenarioList(FlagCommand):
    synopsis = "List the shipped teaching scenarios (consul-sim only)"
    usage_text = """
Usage: consul-sim scenario list

  Print each shipped scenario's name and one-line description; run one with
  consul-sim scenario run NAME.
"""

    def execute(self, rest: list[str]) -> int:
        from consul_sim.scenarios.load import summaries

        if rest:
            raise CommandError(f"Error! Too many arguments (expected 0, got {len(rest)})")
        rows = summaries()
        width = max(len(name) for name, _ in rows)
        for name, description in rows:
            self.ui.output(f"{name.ljust(width)}  {description}")
        return 0


@register("scenario run")
class ScenarioRun(FlagCommand):
    synopsis = "Run a teaching scenario step by step (consul-sim only)"
    usage_text = """
Usage: consul-sim scenario run [options] NAME|FILE

  Run a shipped scenario (consul-sim scenario list) or a scenario file, step by
  step, printing each step's narration, the command as you would type it, its
  answer, and each expectation as ok or FAILED. Exits 1 naming the first
  failed step. Without -serve or -http-addr it runs on a fresh in-process
  world on the virtual clock; with -serve it serves the clusters on 127.0.0.1
  (from -port, or the ports in -ports) and keeps serving until Ctrl-C; with
  -http-addr it runs against clusters already served (consul-sim serve).

      $ consul-sim scenario run peering-page
      $ consul-sim scenario run -step partition-and-heal
      $ consul-sim scenario run -serve -ports "9500 9501" peering-page
"""

    def define_flags(self, fs: FlagSet) -> None:
        self.step = fs.boolean("step", False, "Wait for Enter before each step.")
        self.serve = fs.boolean("serve", False, "Serve the clusters and keep serving afterwards.")
        self.port = fs.integer("port", 8500, "With -serve: the first cluster's port (0: any).")
        self.ports = fs.string("ports", "", "With -serve: the clusters' ports, space-separated.")
        self.http_addr = fs.string(
            "http-addr", "", "Run against served clusters; the address of any one of them."
        )
        self.seed = fs.integer("seed", 0, "Seed of the world's random source.")
        self.wait = fs.duration("wait", 10.0, "How long an expectation may take to hold.")

    def execute(self, rest: list[str]) -> int:
        from consul_sim.scenarios.load import load_scenario
        from consul_sim.scenarios.spec import ScenarioFileError

        if len(rest) != 1:
            raise CommandError(f"Error! Expected one scenario name or file, got {len(rest)}")
        try:
            spec = load_scenario(rest[0])
        except ScenarioFileError as exc:
            raise CommandError(f"Error! {exc}") from None
        if self.http_addr.value:
            return self._remote(spec, self.http_addr.value)
        if self.serve.value:
            return self._served(spec)
        return self._in_process(spec)

    # -- where it runs ----------------------------------------------------------------------
    def _seed(self) -> int | None:
        return self.seed.value if self.flags.is_set("seed") else None

    def _in_process(self, spec: ScenarioSpecT) -> int:
        from consul_sim.scenarios.load import new_world
        from consul_sim.scenarios.targets import InProcessTarget

        world = new_world(spec, seed=self._seed(), clock="virtual")
        try:
            return self._walk(spec, InProcessTarget(world, spec.clusters))
        finally:
            world.close()

    def _remote(self, spec: ScenarioSpecT, address: str) -> int:
        import httpx

        from consul_sim.scenarios.targets import HTTPTarget

        try:
            target = HTTPTarget.discover(address)
        except (ValueError, OSError, KeyError, httpx.HTTPError) as exc:
            raise CommandError(f"Error! Cannot reach the clusters at {address}: {exc}") from None
        missing = [name for name in spec.clusters if name not in target.addresses]
        if missing:
            target.close()
            raise CommandError(
                f"Error! The scenario needs clusters {address} does not serve: {', '.join(missing)}"
            )
        try:
            return self._walk(spec, target)
        finally:
            target.close()

    def _served(self, spec: ScenarioSpecT) -> int:
        from consul_sim.scenarios.load import new_world
        from consul_sim.scenarios.targets import HTTPTarget

        ports = self._ports(spec.clusters)
        refuse_busy_ports(ports)
        clock = "virtual" if spec.needs_virtual_clock else "wall"
        world = new_world(spec, seed=self._seed(), clock=clock)
        code = 1
        with caught_signals(interrupt_work=True) as signals:
            try:
                with serving(self.ui, world, ports) as served:
                    first = spec.clusters[0]
                    self.ui.output(f"Dashboard: {served.url(first)}/ui/")
                    target = HTTPTarget({n: served.url(n).removeprefix("http://") for n in ports})
                    try:
                        code = self._walk(spec, target)
                    finally:
                        target.close()
                    self.ui.output("\nThe clusters keep serving; press Ctrl-C to stop.")
                    self.ctx.stdout.flush()
                    signals.wait()
            except KeyboardInterrupt:
                code = 1
        if signals.caught is not None:
            self.ui.error(goodbye(signals))
        return code

    def _ports(self, clusters: tuple[str, ...]) -> dict[str, int]:
        if self.ports.value.strip():
            words = self.ports.value.replace(",", " ").split()
            if len(words) != len(clusters) or not all(w.isdigit() for w in words):
                raise CommandError(
                    f"Error! -ports needs {len(clusters)} port numbers, got {self.ports.value!r}"
                )
            return {name: int(w) for name, w in zip(clusters, words, strict=True)}
        base = self.port.value
        return {name: base + i if base else 0 for i, name in enumerate(clusters)}

    # -- the walk ---------------------------------------------------------------------------
    def _walk(self, spec: ScenarioSpecT, target: Target) -> int:
        from consul_sim.scenarios.runner import Painter, run_scenario

        out = self.ctx.stdout
        colour = bool(getattr(out, "isatty", lambda: False)()) and "NO_COLOR" not in self.ctx.env
        pause = self._pause if self.step.value else None
        outcome = run_scenario(
            spec, target, out, painter=Painter(colour), pause=pause, wait=self.wait.value
        )
        if not outcome.ok:
            self.ui.error(f"Scenario {spec.name} failed at {outcome.failure}")
            return 1
        return 0

    def _pause(self, step: StepSpecT) -> None:
        self.ctx.stdout.write(f"\n-- press Enter for step {step.number} --")
        self.ctx.stdout.flush()
        stream = self.ctx.stdin
        if stream is not None:
            stream.readline()
