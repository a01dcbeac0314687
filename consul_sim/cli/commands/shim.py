"""``consul-sim shim DIR``: an executable ``consul`` for harnesses that exec it from PATH.

HashiCorp's ``sdk/testutil`` looks ``consul`` up on ``$PATH`` and runs ``consul agent
-config-file FILE`` (and ``consul version -format=json``); many other fixtures do the same. The
shim is a two-line POSIX shell script that execs this interpreter (by absolute path, so the
virtualenv need not be active) on ``consul_sim.cli.main`` with every argument, so
``PATH=DIR:$PATH`` puts the simulator in Consul's place. Not a Consul command.

An existing ``DIR/consul`` is replaced only when it is a shim this command wrote: a real
Consul binary is never overwritten.
"""

from __future__ import annotations

import os
import shlex
import stat
import sys

from consul_sim.cli.command import CommandError, FlagCommand, register

MARKER = "# consul-sim shim"


def shim_text(python: str) -> str:
    return f'#!/bin/sh\n{MARKER}\nexec {shlex.quote(python)} -m consul_sim.cli.main "$@"\n'


@register("shim")
class Shim(FlagCommand):
    synopsis = "Write an executable 'consul' that runs consul-sim (consul-sim only)"
    usage_text = """
Usage: consul-sim shim DIR

  Writes DIR/consul, an executable that forwards every argument to this
  consul-sim, for test harnesses that run "consul" from PATH:

      $ consul-sim shim ./bin
      $ PATH=$PWD/bin:$PATH consul agent -dev
"""

    def execute(self, rest: list[str]) -> int:
        if len(rest) != 1:
            raise CommandError(f"This command takes one argument: DIR (got {len(rest)})")
        directory = rest[0]
        if not os.path.isdir(directory):
            raise CommandError(f"Error! {directory} is not a directory")
        target = os.path.join(directory, "consul")
        if os.path.lexists(target) and not _is_shim(target):
            raise CommandError(f"Error! {target} exists and is not a consul-sim shim")
        python = os.path.abspath(sys.executable)
        try:
            with open(target, "w", encoding="utf-8") as f:
                f.write(shim_text(python))
            mode = os.stat(target).st_mode
            os.chmod(target, mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        except OSError as exc:
            raise CommandError(f"Error! Cannot write {target}: {exc.strerror or exc}") from None
        self.ui.output(f"Wrote {os.path.abspath(target)}: runs consul-sim with {python}")
        return 0


def _is_shim(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            head = f.read(256)
    except OSError:
        return False
    return MARKER.encode() in head
