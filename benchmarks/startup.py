"""Start-up cost: ``import consul_sim``, and the first in-process request of a new world.

Each sample is a fresh interpreter (``python -c``), so nothing is cached in memory. It times,
with ``time.perf_counter``: ``import consul_sim`` (the package face, whose names load on first
use); ``from consul_sim import World`` (the world and the domain a cluster is made of); then
``World(clock="virtual")``, ``add_cluster("dc1")`` and the first ``GET /v1/status/leader``
through ``cluster.client`` (which loads the in-process front door, FastAPI and httpx, and builds
the validators it touches). Interpreter start-up itself is not counted. The figures are medians
over the samples; the targets are issue 8's (150 ms to import, held against both of the first
two figures, and 400 ms to the first answer, on the project's 2-core machine).
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
from consul_sim import World
t2 = time.perf_counter()
world = World(clock="virtual", seed=1)
cluster = world.add_cluster("dc1")
answer = cluster.client.get("/v1/status/leader")
t3 = time.perf_counter()
assert answer.status_code == 200, answer.text
world.close()
print(json.dumps({"import": (t1 - t0) * 1000, "world": (t2 - t0) * 1000,
                  "first": (t3 - t2) * 1000}))
"""


ROWS = (
    ("import", "import consul_sim", TARGET_IMPORT_MS),
    ("world", "from consul_sim import World", TARGET_IMPORT_MS),
    ("first", "World, add_cluster, first client answer", TARGET_FIRST_REQUEST_MS),
)


def sample() -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=60
    )
    figures: dict[str, float] = json.loads(out.stdout)
    return figures


def startup_report(samples: int) -> tuple[str, bool]:
    sample()  # a warm-up: the OS page cache, .pyc files
    runs = [sample() for _ in range(samples)]
    lines = [
        "start-up: a fresh interpreter per sample (interpreter start-up not counted)",
        f"{samples} samples; median (min-max) ms",
        "",
    ]
    ok = True
    for key, label, target in ROWS:
        values = [run[key] for run in runs]
        median = statistics.median(values)
        passed = median < target
        ok = ok and passed
        lines.append(
            f"{label:<42}{median:7.1f} ({min(values):.1f}-{max(values):.1f})  "
            f"target < {target:g}: " + ("PASS" if passed else "ABOVE TARGET")
        )
    return "\n".join(lines) + "\n", ok


if __name__ == "__main__":
    report, passed = startup_report(int(sys.argv[1]) if len(sys.argv) > 1 else 15)
    print(report, end="")
    sys.exit(0 if passed else 1)
