"""Commands, the table they register into, and the dispatcher that mirrors mitchellh/cli.

A command module (one per command group, under ``consul_sim/cli/commands/``) defines
``Command`` subclasses and registers each under its full name with ``@register("kv get")``;
``load_commands()`` imports every module in that package, so adding a group means adding one
file. The dispatcher (``CLI``) reproduces how ``consul`` finds and runs a command: the longest
registered prefix of the arguments names it, ``-h``/``-help``/``--help`` anywhere before ``--``
prints its help on stdout (exit 0), an unknown command prints the command list (exit 127), flags
before the command are refused, and a command returning ``RUN_RESULT_HELP`` prints its help and
exits 1 (what ``consul kv`` does).
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, ClassVar, TextIO, TypeVar

from consul_sim.cli.flags import FlagError, FlagSet, consul_usage

if TYPE_CHECKING:
    import httpx

__all__ = [
    "CLI",
    "ClientFactory",
    "Command",
    "CommandError",
    "Context",
    "FlagCommand",
    "GroupCommand",
    "RUN_RESULT_HELP",
    "Ui",
    "group",
    "load_commands",
    "register",
    "registered_commands",
]

RUN_RESULT_HELP = -18511
"""mitchellh/cli's sentinel: the dispatcher prints the command's help and exits 1."""

ClientFactory = Callable[[str], "httpx.Client"]
"""Given the agent's base URL (``http://127.0.0.1:8500``), return the client to talk to it."""


@dataclass
class Context:
    """What a command may touch: its streams, its environment and how to reach an agent."""

    stdout: TextIO
    stderr: TextIO
    stdin: IO[bytes] | IO[str] | None
    env: Mapping[str, str]
    client_factory: ClientFactory | None = None
    app_name: str = "consul-sim"
    ui: Ui = field(init=False)

    def __post_init__(self) -> None:
        self.ui = Ui(self.stdout, self.stderr)

    def read_stdin(self) -> bytes:
        stream = self.stdin
        if stream is None:
            return b""
        data = stream.read()
        return data.encode() if isinstance(data, str) else data


class Ui:
    """mitchellh/cli's BasicUi: ``output``/``info`` to stdout, ``error``/``warn`` to stderr."""

    def __init__(self, stdout: TextIO, stderr: TextIO) -> None:
        self.stdout = stdout
        self.stderr = stderr

    def output(self, text: str | bytes) -> None:
        _write_line(self.stdout, text)

    info = output

    def error(self, text: str | bytes) -> None:
        _write_line(self.stderr, text)

    warn = error


def _write_line(stream: TextIO, text: str | bytes) -> None:
    """Write one line; bytes go to the raw buffer when there is one (KV values may be binary)."""
    if isinstance(text, bytes):
        buffer = getattr(stream, "buffer", None)
        if buffer is not None:
            stream.flush()
            buffer.write(text + b"\n")
            buffer.flush()
            return
        text = text.decode("utf-8", errors="replace")
    stream.write(text + "\n")


class Command(ABC):
    """One ``consul`` command: ``run`` returns the exit code, ``help`` is its ``-h`` text."""

    synopsis: ClassVar[str] = ""
    hidden: ClassVar[bool] = False

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.ui = ctx.ui

    @abstractmethod
    def run(self, args: list[str]) -> int: ...

    @abstractmethod
    def help(self) -> str: ...


class CommandError(Exception):
    """A command's refusal: ``str()`` is the line printed on stderr, and the command exits 1.

    Consul's commands end every failed check or call with ``c.UI.Error(msg); return 1``; a
    command body raises this instead and ``FlagCommand.run`` says the rest once.
    """


class FlagCommand(Command):
    """A command with a Go flag set; ``help`` renders its usage text and flags as Consul does.

    ``run`` is the opening every Consul command's ``Run`` repeats - parse the flags, insist on the
    required ones - followed by ``execute``, the command's own part.
    """

    usage_text: ClassVar[str] = ""
    required_flags: ClassVar[tuple[str, ...]] = ()
    """Flags that must not be left empty, checked in this order right after parsing."""

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.flags = FlagSet()
        self.define_flags(self.flags)

    def define_flags(self, fs: FlagSet) -> None:
        """Declare the command's own flags on ``fs``."""

    def parse(self, args: list[str]) -> list[str] | None:
        """The positional arguments, or None when parsing failed (already reported on stderr)."""
        try:
            return self.flags.parse(args, self.ctx.stderr)
        except FlagError:
            return None

    def require_flags(self, *names: str) -> bool:
        """Consul's check for mandatory flags, in the order given: the first one left empty
        gets ``Missing the required -NAME flag`` on stderr and the caller returns 1."""
        for name in names:
            if not self.flags.formal[name].value.string():
                self.ui.error(f"Missing the required -{name} flag")
                return False
        return True

    def run(self, args: list[str]) -> int:
        """Parse (the flag package reports its own errors), check ``required_flags``, then
        ``execute``; a ``CommandError`` from it goes to stderr and the exit code is 1."""
        rest = self.parse(args)
        if rest is None or not self.require_flags(*self.required_flags):
            return 1
        try:
            return self.execute(rest)
        except CommandError as exc:
            self.ui.error(str(exc))
            return 1

    def execute(self, rest: list[str]) -> int:
        """The command's own work on its positional arguments ``rest``; returns the exit code."""
        raise NotImplementedError(f"{type(self).__name__} overrides neither run nor execute")

    def help(self) -> str:
        return consul_usage(self.usage_text, self.flags)


class GroupCommand(Command):
    """A command that only groups subcommands (``consul kv``): running it shows its help."""

    usage_text: ClassVar[str] = ""

    def run(self, args: list[str]) -> int:
        return RUN_RESULT_HELP

    def help(self) -> str:
        return self.usage_text.strip()


class _MissingParent(Command):
    """mitchellh/cli's stand-in for a parent nobody registered (``foo`` of ``foo bar``)."""

    def run(self, args: list[str]) -> int:
        return RUN_RESULT_HELP

    def help(self) -> str:
        return "This command is accessed by using one of the subcommands below."


CommandFactory = Callable[[Context], Command]

_REGISTRY: dict[str, CommandFactory] = {}


C = TypeVar("C", bound=type[Command])


def register(name: str) -> Callable[[C], C]:
    """Class decorator: make the command reachable as ``consul-sim <name>``."""

    def deco(cls: C) -> C:
        key = " ".join(name.split())
        if key in _REGISTRY:
            raise ValueError(f"command {key!r} registered twice")
        _REGISTRY[key] = cls
        return cls

    return deco


def group(name: str, synopsis: str, usage: str) -> None:
    """Register a grouping command such as ``kv`` with its synopsis and help text."""
    cls = type(
        f"{name.title().replace(' ', '')}Group",
        (GroupCommand,),
        {"synopsis": synopsis, "usage_text": usage},
    )
    register(name)(cls)


def load_commands(only: str | None = None) -> dict[str, CommandFactory]:
    """Import every module of ``consul_sim.cli.commands`` (each registers its commands), or with
    ``only`` just that module: ``consul-sim agent`` must listen within two seconds of starting
    (sdk/testutil's ``waitForAPI``), and the other groups' imports cost it most of a second."""
    from consul_sim.cli import commands

    names = [m.name for m in pkgutil.iter_modules(commands.__path__)]
    for name in sorted(names) if only is None else [only]:
        importlib.import_module(f"{commands.__name__}.{name}")
    return dict(_REGISTRY)


def registered_commands() -> dict[str, CommandFactory]:
    return dict(_REGISTRY)


# -- the dispatcher -------------------------------------------------------------------------------


class CLI:
    """mitchellh/cli ``CLI.Run`` for a nested command table (``HelpWriter`` is stdout)."""

    def __init__(
        self,
        args: list[str],
        commands: Mapping[str, CommandFactory],
        ctx: Context,
        *,
        version_command: str | None = "version",
    ) -> None:
        self.args = list(args)
        self.ctx = ctx
        self.version_command = version_command
        self.commands: dict[str, CommandFactory] = {
            " ".join(k.split()): v for k, v in commands.items()
        }
        self._fill_missing_parents()
        self.nested = any(" " in k for k in self.commands)
        self.subcommand = ""
        self.subcommand_args: list[str] = []
        self.top_flags: list[str] = []
        self.is_help = False
        self.is_version = False
        self._process_args()

    def _fill_missing_parents(self) -> None:
        for key in list(self.commands):
            parts = key.split(" ")
            for n in range(1, len(parts)):
                parent = " ".join(parts[:n])
                self.commands.setdefault(parent, _MissingParent)

    def _process_args(self) -> None:
        for i, arg in enumerate(self.args):
            if arg == "--":
                break
            if arg in ("-h", "-help", "--help"):
                self.is_help = True
                continue
            if not self.subcommand:
                if arg in ("-v", "-version", "--version"):
                    self.is_version = True
                    continue
                if arg.startswith("-"):
                    self.top_flags.append(arg)
            if not self.subcommand and arg and not arg.startswith("-"):
                self.subcommand = arg
                consumed = i
                if self.nested:
                    search = " ".join(self.args[i:])
                    longest = self._longest_prefix(search)
                    if longest and re.match(re.escape(longest) + r"( |$)", search):
                        self.subcommand = longest
                        consumed = i + longest.count(" ")
                self.subcommand_args = self.args[consumed + 1 :]

    def _longest_prefix(self, search: str) -> str:
        best = ""
        for key in self.commands:
            if search.startswith(key) and len(key) > len(best):
                best = key
        return best

    # -- running
    def run(self) -> int:
        out = self.ctx.stdout
        if self.is_version and self.version_command in self.commands:
            return self.commands[self.version_command](self.ctx).run([])
        if self.is_help and not self.subcommand:
            out.write(self.basic_help(self._help_commands("")) + "\n")
            return 0
        factory = self.commands.get(self.subcommand) if self.subcommand else None
        if factory is None:
            out.write(self.basic_help(self._help_commands(self._parent())) + "\n")
            return 127
        command = factory(self.ctx)
        if self.is_help:
            self._command_help(command)
            return 0
        if self.top_flags:
            out.write(
                "Invalid flags before the subcommand. If these flags are for\n"
                "the subcommand, please put them after the subcommand.\n\n"
            )
            self._command_help(command)
            return 1
        code = command.run(self.subcommand_args)
        if code == RUN_RESULT_HELP:
            self._command_help(command)
            return 1
        return code

    def _parent(self) -> str:
        sub = self.subcommand.rstrip(" ")
        idx = sub.rfind(" ")
        return "" if idx == -1 else sub[:idx]

    def _help_commands(self, prefix: str) -> dict[str, CommandFactory]:
        """Immediate, visible subcommands of ``prefix`` ("" is the root)."""
        if prefix and not prefix.endswith(" "):
            prefix += " "
        found: dict[str, CommandFactory] = {}
        for key, factory in self.commands.items():
            if not key.startswith(prefix) or " " in key[len(prefix) :]:
                continue
            if factory(self.ctx).hidden:
                continue
            found[key] = factory
        return found

    def basic_help(self, commands: Mapping[str, CommandFactory]) -> str:
        """mitchellh/cli BasicHelpFunc."""
        app = self.ctx.app_name
        text = f"Usage: {app} [--version] [--help] <command> [<args>]\n\nAvailable commands are:\n"
        width = max((len(k) for k in commands), default=0)
        for key in sorted(commands):
            synopsis = commands[key](self.ctx).synopsis
            text += f"    {key.ljust(width)}    {synopsis}\n"
        return text

    def _command_help(self, command: Command) -> None:
        text = command.help()
        if self.nested:
            subs = self._help_commands(self.subcommand)
            if subs:
                longest = max(len(k) for k in subs)
                text += "\n\nSubcommands:"
                for key in sorted(subs):
                    name = key[key.rfind(" ") + 1 :]
                    aligned = name + " " * (longest - len(key))
                    text += f"\n    {aligned}    {subs[key](self.ctx).synopsis}"
        self.ctx.stdout.write(text + "\n")
