"""``consul version``: Consul's version block for the release consul-sim answers as."""

from __future__ import annotations

import json

from consul_sim.cli.command import CommandError, FlagCommand, register
from consul_sim.cli.flags import FlagSet, consul_usage
from consul_sim.version import BUILD_DATE, CONSUL_VERSION, REVISION

RPC_DEFAULT, RPC_MIN, RPC_MAX = 2, 2, 3
"""Consul's RPC protocol versions (``DefaultRPCProtocol``, ``ProtocolVersionMin/Max``)."""


def _sim_version() -> str:
    from consul_sim import __version__

    return __version__


@register("version")
class Version(FlagCommand):
    synopsis = "Prints the Consul version"
    usage_text = """
Usage: consul-sim version [options]
"""

    def define_flags(self, fs: FlagSet) -> None:
        self.format = fs.string("format", "pretty", "Output format {pretty|json}")

    def help(self) -> str:
        # Consul renders this help without its flags.
        return consul_usage(self.usage_text, None)

    def execute(self, rest: list[str]) -> int:
        if self.format.value == "json":
            info = {
                "Version": CONSUL_VERSION,
                "Revision": REVISION,
                "Prerelease": "",
                "BuildDate": BUILD_DATE,
                "RPC": {"Default": RPC_DEFAULT, "Min": RPC_MIN, "Max": RPC_MAX},
            }
            self.ui.output(json.dumps(info, indent=3))
            return 0
        if self.format.value != "pretty":
            raise CommandError(f"Unknown format: {self.format.value}")
        supplement = ""
        if RPC_DEFAULT < RPC_MAX:
            supplement = (
                f" (agent will automatically use protocol >{RPC_DEFAULT} when speaking to "
                "compatible agents)"
            )
        self.ui.output(
            f"Consul v{CONSUL_VERSION}\n"
            f"Revision {REVISION}\n"
            f"Build Date {BUILD_DATE}\n"
            f"Protocol {RPC_DEFAULT} spoken by default, understands {RPC_MIN} to {RPC_MAX}"
            f"{supplement}\n"
            f"consul-sim v{_sim_version()}\n"
        )
        return 0
