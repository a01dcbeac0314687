"""Bounded memory: resident memory stays flat once the journal ring is full and tombstones reap.

Two phases, each in a fresh interpreter so one does not carry the other's heap:

``kv``: one cluster on the virtual clock takes 200,000 put+delete pairs of distinct keys through
``kvs.apply`` (the domain call the HTTP handler makes), with virtual time moving 5 s every 100
pairs (10,000 s in all, so tombstones start being reaped 15m30s in and about 18,600 are alive at
any moment after that). It also times an unrelated ``?keys`` prefix read (one live key) at the
start and the end: prefix reads must not pay for the tombstones.

``net``: 1,000,000 peering-sized messages between two clusters sent through the simulated network
and delivered (two journal lines each, so the 10,000-line ring wraps 200 times), then 100 messages
whose summary is 1 MiB (a peer forging huge nonces), which the journal clips.

Resident memory is read from ``/proc/self/statm`` (the current RSS, which can also go down) at
ten points of each phase, after a ``gc.collect()``; ``ru_maxrss`` is the peak. "Growth" is RSS at
the end minus RSS at the half-way point, when the steady state has long been reached; the target
is under 10 MB for each phase. ``python benchmarks/memory.py`` runs both and prints the report.
"""

from __future__ import annotations

import gc
import json
import os
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
KV_PAIRS = 200_000
MESSAGES = 1_000_000
HUGE_MESSAGES = 100
SAMPLES = 10
TARGET_GROWTH_MB = 10.0
PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_mb() -> float:
    gc.collect()
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE / 2**20


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def kv_phase(pairs: int) -> dict[str, object]:
    from consul_sim import kvs
    from consul_sim.world import World

    samples: list[tuple[int, float, int]] = []
    with World(clock="virtual", seed=1) as world:
        cluster = world.add_cluster("dc1")
        store, scheduler = cluster.store, world.scheduler
        kvs.apply(store, scheduler, kvs.KVSRequest(op=kvs.Op.SET, key="mine/a", value=b"v"))

        def prefix_read_us() -> float:
            start = time.perf_counter()
            for _ in range(200):
                kvs.list_keys(store, "mine/")
            return (time.perf_counter() - start) / 200 * 1e6

        read_before = prefix_read_us()
        value = b"x" * 64
        step = max(1, pairs // SAMPLES)
        started = time.perf_counter()
        for i in range(pairs):
            key = f"app/{i:08}"
            kvs.apply(store, scheduler, kvs.KVSRequest(op=kvs.Op.SET, key=key, value=value))
            kvs.apply(store, scheduler, kvs.KVSRequest(op=kvs.Op.DELETE, key=key))
            if i % 100 == 99:
                world.advance(5)
            if (i + 1) % step == 0:
                samples.append((i + 1, rss_mb(), len(store.kv.graveyard)))
        elapsed = time.perf_counter() - started
        read_after = prefix_read_us()
    return {
        "samples": samples,
        "seconds": elapsed,
        "read_before_us": read_before,
        "read_after_us": read_after,
        "peak_mb": peak_mb(),
    }


@dataclass(frozen=True)
class Chatter:
    """A message the size of a peering heartbeat or small replication response."""

    nonce: str

    def summary(self) -> str:
        return f"nonce={self.nonce}"


class Sink:
    def receive(self, source: str, message: object) -> object:
        return None


def net_phase(messages: int) -> dict[str, object]:
    from consul_sim.clock import VirtualClock
    from consul_sim.net import Network
    from consul_sim.rand import SimRandom

    net = Network(VirtualClock(), SimRandom(1, "net"))
    a, b = net.attach("cluster-01", Sink()), net.attach("cluster-02", Sink())
    samples: list[tuple[int, float, int]] = []
    step = max(1, messages // SAMPLES)
    started = time.perf_counter()
    for i in range(messages):
        if i % 2:
            net.send(b, a, Chatter(f"{i:012x}"))
        else:
            net.send(a, b, Chatter(f"{i:012x}"))
        if i % 100 == 99:
            net.deliver_due(net.clock.now())
        if (i + 1) % step == 0:
            samples.append((i + 1, rss_mb(), len(net.journal)))
    net.deliver_due(net.clock.now())
    elapsed = time.perf_counter() - started
    before_huge = rss_mb()
    for i in range(HUGE_MESSAGES):
        net.send(a, b, Chatter(f"{i:04}" + "n" * 2**20))
        net.deliver_due(net.clock.now())
    after_huge = rss_mb()
    return {
        "samples": samples,
        "seconds": elapsed,
        "huge_before_mb": before_huge,
        "huge_after_mb": after_huge,
        "dropped": net.journal.dropped,
        "peak_mb": peak_mb(),
    }


def _verdict(label: str, growth: float) -> tuple[str, bool]:
    passed = growth < TARGET_GROWTH_MB
    verdict = "PASS" if passed else "ABOVE TARGET"
    return f"{label}: {growth:+.1f} MB  target < {TARGET_GROWTH_MB:g}: {verdict}", passed


def _table(
    title: str, counted: str, samples: list[tuple[int, float, int]]
) -> tuple[list[str], bool]:
    """The samples as rows, and whether RSS grew less than the target from half-way on."""
    lines = [title, f"{'done':>12}{'RSS MB':>10}{counted:>12}"]
    lines += [f"{done:>12,}{rss:>10.1f}{held:>12,}" for done, rss, held in samples]
    growth = samples[-1][1] - samples[len(samples) // 2 - 1][1]
    verdict, passed = _verdict("growth, half-way to end", growth)
    return [*lines, verdict], passed


def render(kv: dict[str, object], net: dict[str, object]) -> tuple[str, bool]:
    kv_samples, net_samples = kv["samples"], net["samples"]
    assert isinstance(kv_samples, list) and isinstance(net_samples, list)
    lines = ["memory: resident set (/proc/self/statm) as the run goes, in a fresh process each", ""]
    title = f"kv: {kv_samples[-1][0]:,} put+delete, 5 s of virtual time per 100 pairs"
    rows, kv_ok = _table(title, "tombstones", kv_samples)
    lines += rows
    lines.append(
        f"unrelated ?keys read: {kv['read_before_us']:.1f} us before, "
        f"{kv['read_after_us']:.1f} us after; peak RSS {kv['peak_mb']:.1f} MB; "
        f"{kv['seconds']:.1f} s"
    )
    lines.append("")
    title = f"net: {net_samples[-1][0]:,} messages sent and delivered, ring of 10,000 lines"
    rows, net_ok = _table(title, "lines", net_samples)
    lines += rows
    huge = float(str(net["huge_after_mb"])) - float(str(net["huge_before_mb"]))
    verdict, huge_ok = _verdict(f"{HUGE_MESSAGES} messages with a 1 MiB summary, kept", huge)
    lines.append(verdict)
    lines.append(
        f"lines dropped from the ring: {net['dropped']:,}; peak RSS {net['peak_mb']:.1f} MB; "
        f"{net['seconds']:.1f} s"
    )
    return "\n".join(lines) + "\n", kv_ok and net_ok and huge_ok


def _phase_in_child(phase: str, count: int) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--phase", phase, str(count)],
        capture_output=True,
        text=True,
        check=True,
        cwd=HERE,
    )
    result: dict[str, object] = json.loads(out.stdout)
    return result


def memory_report(kv_pairs: int = KV_PAIRS, messages: int = MESSAGES) -> tuple[str, bool]:
    return render(_phase_in_child("kv", kv_pairs), _phase_in_child("net", messages))


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--phase":
        phase = kv_phase if sys.argv[2] == "kv" else net_phase
        print(json.dumps(phase(int(sys.argv[3]))))
        sys.exit(0)
    report, passed = memory_report(
        *(int(arg) for arg in sys.argv[1:3])  # optional: pairs, messages
    )
    print(report, end="")
    sys.exit(0 if passed else 1)
