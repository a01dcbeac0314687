"""Run ``consul-sim`` commands the way a user would, against an in-process cluster."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

import pytest

from consul_sim.cli.main import main
from consul_sim.world import Cluster, World


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str


Run = Callable[..., Result]


@pytest.fixture
def world() -> Iterator[World]:
    w = World(clock="virtual", seed=7)
    try:
        yield w
    finally:
        w.close()


@pytest.fixture
def dc1(world: World) -> Cluster:
    return world.add_cluster("dc1")


@pytest.fixture
def run(dc1: Cluster) -> Run:
    """``run("kv", "get", "k")``: main() with captured streams, talking to ``dc1`` in-process."""

    def invoke(
        *argv: str, env: Mapping[str, str] | None = None, stdin: bytes | None = None
    ) -> Result:
        out, err = io.StringIO(), io.StringIO()
        code = main(
            list(argv),
            client_factory=lambda url: dc1.client,
            env={} if env is None else env,
            stdout=out,
            stderr=err,
            stdin=io.BytesIO(stdin or b""),
        )
        return Result(code, out.getvalue(), err.getvalue())

    return invoke
