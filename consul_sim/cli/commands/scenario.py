"""``consul-sim scenario``: serve a fresh world and walk a teaching scenario over real HTTP.

Not a Consul command. It starts the scenario's clusters on consecutive loopback ports (from
``-port``, 8500 by default, so cluster-01 answers where the page's curl expects it), walks every
step printing the curl line and the answer, and then either stops or, with ``-serve``, keeps the
clusters up until Ctrl-C so the audience can poke at them with curl or consul-sim. Ctrl-C (or
SIGTERM) stops the servers and leaves one goodbye line on stderr, as ``serve`` does; during the
walk it abandons the walk, and the command exits 1.
"""

from __future__ import annotations

from consul_sim.cli.command import CommandError, FlagCommand, register
from consul_sim.cli.commands.serve import caught_signals, goodbye, refuse_busy_ports, serving
from consul_sim.cli.flags import FlagSet
from consul_sim.scenarios.base import Scenario as ScenarioDef


@register("scenario")
class Scenario(FlagCommand):
    synopsis = "Walk a teaching scenario against freshly served clusters (consul-sim only)"
    usage_text = """
Usage: consul-sim scenario [options] NAME

  Serve the clusters scenario NAME needs on 127.0.0.1, starting at -port, then
  walk its steps over HTTP, printing each request and answer. With -serve the
  clusters stay up afterwards until interrupted. Scenarios: seed.

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
