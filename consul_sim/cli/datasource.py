"""Consul's ``command/helpers`` data sources: where a command's input comes from.

``kv put KEY DATA`` takes ``@FILE``, ``-`` for stdin, or the data itself
(``helpers.LoadDataSource``); ``config write``/``config delete -filename`` take a file path or
``-`` and nothing else (``helpers.LoadDataSourceNoRaw``). Both read files and stdin the same way
and word a failure the same way; each command puts its own prefix in front (``Error! `` or
``Failed to load data: ``).
"""

from __future__ import annotations

import os

from consul_sim.cli.command import Context
from consul_sim.cli.goformat import go_os_error

__all__ = ["DataSourceError", "load_data_source", "load_data_source_no_raw"]


class DataSourceError(ValueError):
    """The input could not be read; ``str()`` is Consul's sentence."""


def _load_file(path: str) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except OSError as exc:
        raise DataSourceError(f"Failed to read file: {go_os_error('open', exc)}") from None


def _load_stdin(ctx: Context) -> bytes:
    try:
        return ctx.read_stdin()
    except OSError as exc:
        raise DataSourceError(f"Failed to read stdin: {exc}") from None


def load_data_source(data: str, ctx: Context) -> bytes:
    """``LoadDataSource``: ``@FILE`` is the file, ``-`` stdin, anything else itself ("" too)."""
    if data.startswith("@"):
        return _load_file(data[1:])
    if data == "-":
        return _load_stdin(ctx)
    return os.fsencode(data)


def load_data_source_no_raw(source: str, ctx: Context) -> bytes:
    """``LoadDataSourceNoRaw``: ``-`` is stdin, anything else a file path, empty refused."""
    if not source:
        raise DataSourceError("Failed to load data: must specify a file path or '-' for stdin")
    if source == "-":
        return _load_stdin(ctx)
    return _load_file(source)
