"""The network's journal: every message between clusters, as lines a person can read.

It is a ring: it keeps the last ``journal_size`` lines and counts the ones that fell off, so a
long run (heartbeats every few seconds for days, or a peer flooding the stream) holds a bounded
amount of memory, and a reader that asks for lines since a seq learns how many it missed instead
of silently getting fewer (``/_sim/events?since=``'s ``Dropped``).
"""

from __future__ import annotations

import functools
import itertools
import marshal
from collections import deque
from collections.abc import Iterator
from typing import NamedTuple, overload

_MARSHAL_VERSION = 2
"""marshal's version 2 writes every string by value (versions 3 and up write references whose
placement follows objects' reference counts and interning), so the packed journal is the same
bytes for the same lines, as a world snapshot promises (:mod:`consul_sim.snapshot`)."""


class JournalEntry(NamedTuple):
    """One line of the teaching log. ``source``/``destination`` are peering addresses;
    ``source_cluster``/``destination_cluster`` the names behind them ("" when nobody).

    A named tuple rather than a dataclass: a world snapshot holds thousands of lines, and
    tuples pack into one blob and come back from it at C speed (see :meth:`Journal.__getstate__`).
    """

    seq: int
    at: float
    source: str
    destination: str
    kind: str
    outcome: str
    summary: str = ""
    source_cluster: str = ""
    destination_cluster: str = ""
    message_seq: int = 0
    """The queued message this line is about (0 for synchronous calls)."""

    def render(self) -> dict[str, object]:
        return {
            "Seq": self.seq,
            "At": self.at,
            "Source": self.source_cluster or self.source,
            "Destination": self.destination_cluster or self.destination,
            "Kind": self.kind,
            "Outcome": self.outcome,
            "Summary": self.summary,
            "Message": self.message_seq,
        }


_entry = functools.partial(tuple.__new__, JournalEntry)
"""A line from its packed tuple of fields, without a Python-level call per line."""


DEFAULT_JOURNAL_SIZE = 10_000
"""How many journal lines a world keeps unless told otherwise. A peered pair at Consul's 15 s
heartbeat writes about 16 lines a minute when idle, so 10,000 lines is over ten hours of a quiet
pair, or the whole story of a scenario that exports hundreds of services. A line is a few hundred
bytes, so a full ring is a few MB; with every text field at ``JOURNAL_TEXT_LIMIT`` (a peer that
sends huge messages) it stays under 40 MB."""

JOURNAL_TEXT_LIMIT = 512
"""The longest text a journal line keeps per field (summary, outcome, addresses, kind). A
message's summary or a refusal's wording can carry what a remote peer sent (a forged 1 MiB nonce
or error), and the line outlives the message; the rest is cut and counted, not kept."""


def clip(text: str, limit: int = JOURNAL_TEXT_LIMIT) -> str:
    """``text`` cut to ``limit`` characters, saying how many more there were."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text) - limit} more characters)"


def clipped(entry: JournalEntry) -> JournalEntry:
    """The entry with every text field within :data:`JOURNAL_TEXT_LIMIT` (itself when it is)."""
    texts = (
        entry.source,
        entry.destination,
        entry.kind,
        entry.outcome,
        entry.summary,
        entry.source_cluster,
        entry.destination_cluster,
    )
    if all(len(text) <= JOURNAL_TEXT_LIMIT for text in texts):
        return entry
    return entry._replace(
        source=clip(entry.source),
        destination=clip(entry.destination),
        kind=clip(entry.kind),
        outcome=clip(entry.outcome),
        summary=clip(entry.summary),
        source_cluster=clip(entry.source_cluster),
        destination_cluster=clip(entry.destination_cluster),
    )


class Journal:
    """The network's journal: a ring of the last ``size`` lines, oldest first.

    Lines carry consecutive seqs (the network numbers them), so the ones after a given seq are
    found by position, and the ones that fell off are counted rather than guessed: a reader
    polling ``since`` its last seq (``/_sim/events?since=``) learns how many it missed. Indexing
    and slicing see the lines still held, like a list of them; code that remembers a position
    (``len(journal)``) and slices from it later misses lines once the ring is full, so remember
    :attr:`last_seq` and call :meth:`since` instead.
    """

    def __init__(self, size: int = DEFAULT_JOURNAL_SIZE) -> None:
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError(f"journal size must be a whole number of at least 1, got {size!r}")
        self.size = size
        self._lines: deque[JournalEntry] = deque(maxlen=size)
        self.dropped = 0
        """How many lines fell off the ring since the world began."""
        self._packed: bytes | None = None
        """The lines as :meth:`__getstate__` last packed them, until the next append: a world
        snapshotted again unchanged (a reset baseline, a fork of a fork) packs them once."""

    def __getstate__(self) -> dict[str, object]:
        """The lines packed as one marshal blob of plain tuples: a snapshot of a busy world
        holds thousands of lines, and written one object per field they were a third of what
        the pickler visited (and their rebuilding most of a restore)."""
        if self._packed is None:
            self._packed = marshal.dumps(list(map(tuple, self._lines)), _MARSHAL_VERSION)
        return {"size": self.size, "dropped": self.dropped, "lines": self._packed}

    def __setstate__(self, state: dict[str, object]) -> None:
        size, dropped, packed = state["size"], state["dropped"], state["lines"]
        assert isinstance(size, int) and isinstance(dropped, int) and isinstance(packed, bytes)
        self.size, self.dropped, self._packed = size, dropped, packed
        self._lines = deque(map(_entry, marshal.loads(packed)), maxlen=size)

    def append(self, entry: JournalEntry) -> None:
        self._packed = None
        if len(self._lines) == self.size:
            self.dropped += 1
        self._lines.append(clipped(entry))

    @property
    def last_seq(self) -> int:
        """The seq of the newest line (0 before any)."""
        return self._lines[-1].seq if self._lines else 0

    def since(self, seq: int) -> tuple[int, list[JournalEntry]]:
        """The lines held with a seq above ``seq``, and how many lines above it fell off."""
        if not self._lines:
            return 0, []
        first = self._lines[0].seq
        missed = max(0, first - 1 - seq)
        start = max(0, seq - first + 1)
        return missed, list(itertools.islice(self._lines, start, None))

    def last(self, n: int) -> list[JournalEntry]:
        """The newest ``n`` lines held, oldest first."""
        if n <= 0:
            return []
        return list(itertools.islice(self._lines, max(0, len(self._lines) - n), None))

    def __len__(self) -> int:
        return len(self._lines)

    def __iter__(self) -> Iterator[JournalEntry]:
        return iter(self._lines)

    @overload
    def __getitem__(self, index: int) -> JournalEntry: ...

    @overload
    def __getitem__(self, index: slice) -> list[JournalEntry]: ...

    def __getitem__(self, index: int | slice) -> JournalEntry | list[JournalEntry]:
        if isinstance(index, slice):
            return list(self._lines)[index]
        return self._lines[index]
