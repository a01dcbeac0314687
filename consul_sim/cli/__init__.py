"""The ``consul-sim`` command line: Consul's commands, flags, outputs and exit codes.

``main(argv)`` runs one command and returns its exit code. Everything it touches can be injected
(streams, environment, and a ``client_factory`` returning the ``httpx.Client`` to use), so tests
drive it against an in-process cluster with no socket. Modules: ``flags`` (Go's flag package and
Consul's usage text), ``command`` (the command table and mitchellh/cli-style dispatch), ``http``
(Consul's HTTP flags and a Go-``api``-style client), ``commands/`` (one module per group).
"""

from __future__ import annotations

from typing import Any

__all__ = ["main"]


def main(argv: list[str] | None = None, **options: Any) -> int:
    """``consul_sim.cli.main.main``, imported on call so ``python -m consul_sim.cli.main`` works."""
    from consul_sim.cli.main import main as run

    return run(argv, **options)
