"""``consul-sim scenario``: serve a fresh world and walk a teaching scenario over real HTTP.

Not a Consul command. It starts the scenario's clusters on consecutive loopback ports (from
``-port``, 8500 by default, so cluster-01 answers where the page's curl expects it), walks every
step printing the curl line and the answer, and then either stops or, with ``-serve``, keeps the
clusters up until Ctrl-C so the audience can poke at them with curl or consul-sim.
"""

from __future__ import annotations

import errno

from consul_sim.cli.command import FlagCommand, register
from consul_sim.cli.commands.serve import LOOPBACK, _wait_for_signal, port_in_use
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

    def run(self, args: list[str]) -> int:
        from consul_sim.scenarios import SCENARIOS

        rest = self.parse(args)
        if rest is None:
            return 1
        if len(rest) != 1:
            self.ui.error(f"Error! Expected one scenario name, got {len(rest)}")
            return 1
        factory = SCENARIOS.get(rest[0])
        if factory is None:
            known = ", ".join(sorted(SCENARIOS))
            self.ui.error(f'Error! Unknown scenario "{rest[0]}" (known: {known})')
            return 1
        scenario = factory()
        base = self.port.value
        ports = {name: base + i if base else 0 for i, name in enumerate(scenario.clusters)}
        for name, port in ports.items():
            failure = port_in_use(LOOPBACK, port) if port else None
            if failure is not None:
                reason = "address already in use" if failure.errno == errno.EADDRINUSE else failure
                self.ui.error(f"Error! Cannot serve {name} on {LOOPBACK}:{port}: {reason}")
                return 1
        return self._walk(scenario, ports)

    def _walk(self, scenario: ScenarioDef, ports: dict[str, int]) -> int:
        from consul_sim.server import ServedWorld
        from consul_sim.world import World

        seed = self.seed.value if self.flags.is_set("seed") else None
        world = World(seed=seed)
        try:
            for name in ports:
                world.add_cluster(name)
            served = ServedWorld(world, ports, host=LOOPBACK)
            try:
                served.start()
            except (OSError, RuntimeError, TimeoutError) as exc:
                self.ui.error(f"Error! Cannot start serving: {exc}")
                return 1
            try:
                for name in ports:
                    self.ui.output(f"{name} serving on {served.url(name)}")
                ok = scenario.walk({n: served.url(n) for n in ports}, self.ctx.stdout)
                if self.serve.value:
                    self.ui.output("\nThe clusters keep serving; press Ctrl-C to stop.")
                    self.ctx.stdout.flush()
                    _wait_for_signal()
            finally:
                served.stop()
        finally:
            world.close()
        return 0 if ok else 1
