"""One seeded random source for every generated ID, secret and jitter.

Each cluster draws from its own stream derived from ``(world seed, cluster name)``, so adding a
cluster does not change the IDs another cluster generates, and the same seed replays a run.
"""

from __future__ import annotations

import hashlib
import random
import secrets
import uuid


class SimRandom:
    def __init__(self, seed: int | str | None = None, stream: str = "") -> None:
        if seed is None:
            seed = secrets.randbits(64)
        self.seed = seed
        digest = hashlib.sha256(f"{seed}/{stream}".encode()).digest()
        self._random = random.Random(int.from_bytes(digest[:16], "big"))

    def derive(self, stream: str) -> SimRandom:
        """A child stream, independent of how much the parent has been used."""
        return SimRandom(self.seed, stream)

    def uuid(self) -> str:
        return str(uuid.UUID(int=self._random.getrandbits(128), version=4))

    def token_bytes(self, n: int) -> bytes:
        return self._random.getrandbits(8 * n).to_bytes(n, "big")

    def hex(self, n: int) -> str:
        return self.token_bytes(n).hex()

    def random(self) -> float:
        return self._random.random()

    def uniform(self, a: float, b: float) -> float:
        return self._random.uniform(a, b)

    def randint(self, a: int, b: int) -> int:
        return self._random.randint(a, b)

    def shuffle(self, items: list[object]) -> None:
        self._random.shuffle(items)
