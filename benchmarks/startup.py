"""Start-up cost: ``import consul_sim``, and the first in-process request of a new world.

Each sample is a fresh interpreter (``python -c``), so nothing is cached in memory: it times
``import consul_sim`` with ``time.perf_counter`` around the import, then, in the same process,
``World(clock="virtual")``, ``add_cluster("dc1")`` and the first ``GET /v1/status/leader``
through ``cluster.client`` (which loads the in-process front door, FastAPI and httpx, and builds
the validators it touches). Interpreter start-up itself is not counted. The figures are medians
over the samples; the targets are issue 8's (150 ms and 400 ms on the project's 2-core machine).
``python -X importtime -c 'import consul_sim'`` shows where an import's time goes.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys

TARGET_IMPORT_MS = 150.0
TARGET_FIRST_REQUEST_MS = 400.0

PROBE = """
import json, time
t0 = time.perf_counter()
import consul_sim
t1 = time.perf_counter()
world = consul_sim.World(clock="virtual", seed=1)
cluster = world.add_cluster("dc1")
answer = cluster.client.get("/v1/status/leader")
t2 = time.perf_counter()
assert answer.status_code == 200, answer.text
world.close()
print(json.dumps({"import": (t1 - t0) * 1000, "first": (t2 - t1) * 1000}))
"""


def sample() -> tuple[float, float]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=60
    )
    figures = json.loads(out.stdout)
    return figures["import"], figures["first"]


def startup_report(samples: int) -> tuple[str, bool]:
    sample()  # a warm-up: the OS page cache, .pyc files
    runs = [sample() for _ in range(samples)]
    imports = [r[0] for r in runs]
    firsts = [r[1] for r in runs]
    import_ms, first_ms = statistics.median(imports), statistics.median(firsts)
    ok = import_ms < TARGET_IMPORT_MS and first_ms < TARGET_FIRST_REQUEST_MS
    lines = [
        "start-up: a fresh interpreter per sample (interpreter start-up not counted)",
        f"{samples} samples; median (min-max) ms",
        "",
        f"import consul_sim                        {import_ms:7.1f} "
        f"({min(imports):.1f}-{max(imports):.1f})  target < {TARGET_IMPORT_MS:g}: "
        + ("PASS" if import_ms < TARGET_IMPORT_MS else "ABOVE TARGET"),
        f"world, cluster and first client request  {first_ms:7.1f} "
        f"({min(firsts):.1f}-{max(firsts):.1f})  target < {TARGET_FIRST_REQUEST_MS:g}: "
        + ("PASS" if first_ms < TARGET_FIRST_REQUEST_MS else "ABOVE TARGET"),
    ]
    return "\n".join(lines) + "\n", ok


if __name__ == "__main__":
    report, passed = startup_report(int(sys.argv[1]) if len(sys.argv) > 1 else 15)
    print(report, end="")
    sys.exit(0 if passed else 1)
