"""``consul-sim``'s entry point: build the context, load the command table, dispatch.

``main()`` with no arguments is the console script (``sys.argv``, real streams, ``os.environ``);
tests pass ``argv`` and capture ``stdout``/``stderr``, give an ``env`` mapping, and inject a
``client_factory`` such as ``lambda url: cluster.client`` to reach an in-process cluster.
"""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Mapping
from typing import IO, TextIO

from consul_sim.cli.command import CLI, ClientFactory, Context, load_commands

__all__ = ["main"]


def main(
    argv: list[str] | None = None,
    *,
    client_factory: ClientFactory | None = None,
    env: Mapping[str, str] | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    stdin: IO[bytes] | IO[str] | None = None,
) -> int:
    """Run one command line and return its exit code (Consul's: 0, 1, or 127 for no command)."""
    args = sys.argv[1:] if argv is None else list(argv)
    if stdin is None:
        stdin = getattr(sys.stdin, "buffer", sys.stdin)
    ctx = Context(
        stdout=stdout if stdout is not None else sys.stdout,
        stderr=stderr if stderr is not None else sys.stderr,
        stdin=stdin,
        env=os.environ if env is None else env,
        client_factory=client_factory,
    )
    # `agent` alone (no help flag before it) loads only its own module: see load_commands.
    only = "agent" if args[:1] == ["agent"] else None
    code = CLI(args, load_commands(only), ctx).run()
    if argv is None:
        # The process ends next. Its interpreter would spend ~0.4 s at exit collecting the
        # object graph that pydantic, FastAPI and uvicorn built (longer than serve's whole
        # shutdown); frozen, that graph is left for the OS to reclaim. Streams still flush.
        gc.freeze()
    return code


if __name__ == "__main__":
    raise SystemExit(main())
