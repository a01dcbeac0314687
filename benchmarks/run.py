"""``make bench``: consul-sim's benchmarks, every section by default (``--section NAME`` picks).

``startup``: ``import consul_sim`` and a new world's first in-process request (:mod:`startup`).
``health``: req/s of ``GET /v1/health/service/web``, consul-sim vs a bare FastAPI app (below).
``convergence`` and ``pair``: the in-process replication benchmarks of :mod:`replication` (one
health change converging with 10 and 10,000 exported services; a peered pair created, exported
and settled). Their reports follow the health table in ``benchmarks/results/latest.txt``.
``memory``: resident memory through 200,000 KV put+delete and 1,000,000 network messages, which
must stay flat once tombstones reap and the journal ring is full (:mod:`memory`).
``toolkit``: a peered pair from ``consul_world_factory``, and snapshot + restore of a world with
1,000 services (:mod:`toolkit`).
``machine``: steps per second of ``consul_sim.testing.PeeringMachine`` with every invariant on
(:mod:`machine`; target 300).

consul-sim holds 10 instances of ``web`` (one node each, registered through
``/v1/catalog/register`` with a passing check). The baseline is a bare FastAPI app answering the
exact bytes consul-sim answered, on uvicorn with the same settings, so the ratio measures what
consul-sim's own path costs (routing guard, query options, store read, rendering, JSON, Consul's
headers) on top of the framework. Each server runs in its own process; the load generator runs
here. Rounds alternate the order of the two contenders; the headline ratio is the median of the
per-round ratios, each comparing two runs made back to back, because throughput on a shared
machine drifts by tens of percent from one run to the next.

When the ratio is below the target (or with ``--profile``), one more consul-sim run happens under
cProfile on the server's loop thread, and the functions it spends its time in are reported.

Only loopback addresses are used; every process started here is stopped here, also on errors and
Ctrl-C. The table goes to stdout and to ``benchmarks/results/latest.txt``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import io
import os
import platform
import pstats
import queue
import statistics
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import httpx
import uvicorn
from loadgen import ClientKind, LoadResult, run_load
from machine import machine_report
from memory import memory_report
from replication import convergence_report, pair_report
from startup import startup_report
from toolkit import toolkit_report

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
HOST = "127.0.0.1"
HEALTH_PATH = "/v1/health/service/web"
TARGET_RATIO = 0.7
START_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0
SECTIONS = ("startup", "health", "convergence", "pair", "memory", "toolkit", "machine")


class ServerProcess:
    """One ``serve.py`` child: started in its own session (so a Ctrl-C reaches only us),
    stopped by closing its stdin, killed if it does not go."""

    def __init__(self, label: str, args: list[str]) -> None:
        self.label = label
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "serve.py"), *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        self._lines: queue.Queue[str | None] = queue.Queue()
        assert self.proc.stdout is not None
        threading.Thread(target=self._pump, args=(self.proc.stdout,), daemon=True).start()
        first = self._read(START_TIMEOUT)
        if not first.startswith("PORT "):
            raise RuntimeError(f"{label}: unexpected first line {first!r}")
        self.port = int(first.split()[1])

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _pump(self, stream: IO[str]) -> None:
        for line in stream:
            self._lines.put(line.rstrip("\n"))
        self._lines.put(None)

    def _read(self, timeout: float) -> str:
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(f"{self.label}: no answer in {timeout:.0f}s") from None
        if line is None:
            raise RuntimeError(f"{self.label}: server exited (code {self.proc.wait()})")
        return line

    def command(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        if (answer := self._read(START_TIMEOUT)) != "OK":
            raise RuntimeError(f"{self.label}: {line!r} answered {answer!r}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(OSError):
                assert self.proc.stdin is not None
                self.proc.stdin.close()
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(STOP_TIMEOUT)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


@contextlib.contextmanager
def server_process(label: str, args: list[str]) -> Iterator[ServerProcess]:
    server = ServerProcess(label, args)
    try:
        yield server
    finally:
        server.stop()


def register_instances(port: int, count: int) -> None:
    """``count`` nodes, one ``web`` instance each, each with a passing service check."""
    with httpx.Client(base_url=f"http://{HOST}:{port}", timeout=10.0) as client:
        for i in range(count):
            body = {
                "Node": f"web-node-{i:02d}",
                "Address": f"10.0.0.{i + 1}",
                "Service": {"ID": f"web-{i:02d}", "Service": "web", "Port": 8080},
                "Check": {
                    "CheckID": f"web-{i:02d}-alive",
                    "Name": "web alive",
                    "Status": "passing",
                    "ServiceID": f"web-{i:02d}",
                },
            }
            response = client.put("/v1/catalog/register", json=body)
            if response.status_code != 200 or response.json() is not True:
                raise RuntimeError(f"register failed: {response.status_code} {response.text}")


def fetch_body(port: int, count: int) -> bytes:
    """The exact bytes consul-sim answers, checked to be the 10 passing instances."""
    with httpx.Client(base_url=f"http://{HOST}:{port}", timeout=10.0) as client:
        response = client.get(HEALTH_PATH)
        if response.status_code != 200:
            raise RuntimeError(f"{HEALTH_PATH}: {response.status_code} {response.text}")
        entries = response.json()
        if len(entries) != count or len(client.get(HEALTH_PATH + "?passing").json()) != count:
            raise RuntimeError(f"{HEALTH_PATH}: expected {count} passing instances")
        return response.content


def measure(
    server: ServerProcess, body: bytes, args: argparse.Namespace, client: ClientKind
) -> LoadResult:
    result = run_load(
        server.label,
        HOST,
        server.port,
        HEALTH_PATH,
        body,
        connections=args.connections,
        warmup=args.warmup,
        duration=args.duration,
        server_pid=server.pid,
        client=client,
    )
    print(
        f"  {server.label:<13} {result.rps:9.0f} req/s  ({result.requests} requests, "
        f"{result.errors} errors)",
        flush=True,
    )
    return result


def profile_sim(
    sim: ServerProcess, body: bytes, args: argparse.Namespace, client: ClientKind
) -> str:
    """One more consul-sim run under cProfile; the report of where its loop thread went."""
    stats_path = RESULTS / "sim.prof"
    sim.command("profile-start")
    try:
        result = run_load(
            "consul-sim (profiled)",
            HOST,
            sim.port,
            HEALTH_PATH,
            body,
            connections=args.connections,
            warmup=0.0,
            duration=args.duration,
            server_pid=sim.pid,
            client=client,
        )
    finally:
        sim.command(f"profile-stop {stats_path}")
    out = io.StringIO()
    out.write(
        f"cProfile of consul-sim's loop thread over {result.requests} requests "
        f"({result.rps:.0f} req/s under the profiler); full stats in {stats_path}\n"
    )
    stats = pstats.Stats(str(stats_path), stream=out)
    stats.sort_stats("tottime")
    out.write("\n-- top functions by own time --\n")
    stats.print_stats(25)
    stats.sort_stats("cumulative")
    out.write("\n-- consul_sim functions by cumulative time --\n")
    stats.print_stats("consul_sim", 25)
    return out.getvalue()


def summary(results: list[list[LoadResult]]) -> tuple[float, float, float, float, float]:
    """Median and best req/s of each contender, and the median of the per-round ratios.

    The ratio of each round compares two runs made back to back, so slow drift on a shared
    machine cancels out of it; its median is the headline figure.
    """
    sim = [rnd[0].rps for rnd in results]
    bare = [rnd[1].rps for rnd in results]
    ratios = [s / b if b else 0.0 for s, b in zip(sim, bare, strict=True)]
    return (
        statistics.median(sim),
        max(sim),
        statistics.median(bare),
        max(bare),
        statistics.median(ratios),
    )


def table(
    results: list[list[LoadResult]], body: bytes, args: argparse.Namespace, client: ClientKind
) -> tuple[str, float]:
    sim_median, sim_best, bare_median, bare_best, ratio = summary(results)
    lines = [
        f"consul-sim benchmark: GET {HEALTH_PATH} ({args.instances} instances, "
        f"{len(body):,}-byte body)",
        f"date {datetime.datetime.now().isoformat(timespec='seconds')}; Python "
        f"{platform.python_version()}; uvicorn {uvicorn.__version__} (1 worker, log level "
        f"warning, no access log); {os.cpu_count()} CPUs",
        f"client: {client}, keep-alive, {args.connections} connections, "
        f"{args.duration:g} s per run after {args.warmup:g} s warm-up, {args.rounds} rounds "
        "(order alternates)",
        "",
        f"{'server':<14}{'round':>5}{'requests':>10}{'req/s':>9}{'p50 ms':>8}{'p99 ms':>8}"
        f"{'srv CPU':>9}{'cli CPU':>9}{'errors':>8}",
    ]
    for number, rnd in enumerate(results, start=1):
        for r in rnd:
            server_cpu = f"{r.server_cpu:.0%}" if r.server_cpu is not None else "n/a"
            lines.append(
                f"{r.label:<14}{number:>5}{r.requests:>10}{r.rps:>9.0f}"
                f"{r.percentile_ms(50):>8.2f}{r.percentile_ms(99):>8.2f}"
                f"{server_cpu:>9}{r.client_cpu:>9.0%}{r.errors:>8}"
            )
    verdict = "meets target" if ratio >= TARGET_RATIO else "BELOW TARGET"
    lines += [
        "",
        f"{'':<14}{'median req/s':>14}{'best req/s':>12}",
        f"{'consul-sim':<14}{sim_median:>14.0f}{sim_best:>12.0f}",
        f"{'bare FastAPI':<14}{bare_median:>14.0f}{bare_best:>12.0f}",
        "",
        f"ratio consul-sim / bare (median of per-round ratios) = {ratio:.2f} "
        f"(target >= {TARGET_RATIO:.2f}): {verdict}",
    ]
    errors = sum(r.errors for rnd in results for r in rnd)
    if errors:
        lines.append(f"WARNING: {errors} replies were not 200 with the expected body")
    return "\n".join(lines) + "\n", ratio


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=3.0, help="seconds measured per run")
    parser.add_argument("--warmup", type=float, default=0.5, help="seconds of warm-up per run")
    parser.add_argument("--connections", type=int, default=16, help="concurrent connections")
    parser.add_argument("--rounds", type=int, default=5, help="runs per contender")
    parser.add_argument("--instances", type=int, default=10, help="instances of web")
    parser.add_argument("--client", choices=("raw", "httpx"), default="raw")
    profile = parser.add_mutually_exclusive_group()
    profile.add_argument("--profile", action="store_true", help="always profile consul-sim")
    profile.add_argument("--no-profile", action="store_true", help="never profile")
    parser.add_argument(
        "--section",
        action="append",
        choices=SECTIONS,
        help="run only this section (repeatable; default: all)",
    )
    parser.add_argument(
        "--convergence-samples", type=int, default=21, help="health changes timed per size"
    )
    parser.add_argument("--pair-samples", type=int, default=30, help="peered pairs timed")
    parser.add_argument("--startup-samples", type=int, default=15, help="fresh interpreters timed")
    args = parser.parse_args(argv)
    sections = args.section or list(SECTIONS)
    RESULTS.mkdir(exist_ok=True)
    reports: list[str] = []
    if "startup" in sections:
        print("startup: import consul_sim and a first in-process request ...", flush=True)
        reports.append(startup_report(args.startup_samples)[0])
    if "health" in sections:
        reports.append(health_section(args))
    if "convergence" in sections:
        print("convergence: one health change with 10 and 10,000 exported services ...", flush=True)
        reports.append(convergence_report(args.convergence_samples)[0])
    if "pair" in sections:
        print("pair: a peered pair created, exported and settled ...", flush=True)
        reports.append(pair_report(args.pair_samples)[0])
    if "memory" in sections:
        print("memory: 200,000 KV put+delete and 1,000,000 network messages ...", flush=True)
        reports.append(memory_report()[0])
    if "toolkit" in sections:
        print(
            "toolkit: consul_world_factory and a 1,000-service snapshot round trip ...", flush=True
        )
        reports.append(toolkit_report()[0])
    if "machine" in sections:
        print("machine: PeeringMachine steps per second, every invariant on ...", flush=True)
        reports.append(machine_report()[0])
    report = "\n".join(reports)
    print()
    print(report, end="")
    (RESULTS / "latest.txt").write_text(report)
    print(f"\nwritten to {(RESULTS / 'latest.txt').relative_to(HERE.parent)}")
    return 0


def health_section(args: argparse.Namespace) -> str:
    client: ClientKind = "httpx" if args.client == "httpx" else "raw"
    body_file = RESULTS / "body.json"

    with server_process("consul-sim", ["sim"]) as sim:
        register_instances(sim.port, args.instances)
        body = fetch_body(sim.port, args.instances)
        body_file.write_bytes(body)
        with server_process("bare FastAPI", ["bare", "--body", str(body_file)]) as bare:
            results: list[list[LoadResult]] = []
            for number in range(args.rounds):
                print(f"round {number + 1}/{args.rounds}", flush=True)
                order = [sim, bare] if number % 2 == 0 else [bare, sim]
                by_label = {s.label: measure(s, body, args, client) for s in order}
                results.append([by_label["consul-sim"], by_label["bare FastAPI"]])
        report, ratio = table(results, body, args, client)
        if args.profile or (ratio < TARGET_RATIO and not args.no_profile):
            print("profiling consul-sim ...", flush=True)
            report += "\n" + profile_sim(sim, body, args, client)
    return report


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted; servers stopped", file=sys.stderr)
        sys.exit(130)
