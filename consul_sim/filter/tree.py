"""The tree a filter parses to: match expressions joined by ``and``, ``or`` and ``not``.

Both parsers build it (:mod:`.fastparse` for well-formed input, the PEG engine of :mod:`.grammar`
for the rest) and :mod:`.evaluate` walks it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from consul_sim.filter.regex import GoRegexp


class Op(Enum):
    """bexpr match operators; the value is Go's ``MatchOperator.String()``."""

    EQUAL = "Equal"
    NOT_EQUAL = "Not Equal"
    IN = "In"
    NOT_IN = "Not In"
    IS_EMPTY = "Is Empty"
    IS_NOT_EMPTY = "Is Not Empty"
    MATCHES = "Matches"
    NOT_MATCHES = "Not Matches"


@dataclass(slots=True, eq=False)
class MatchNode:
    """``Selector Op Value`` (or ``Value in Selector``); ``raw`` is None for ``is [not] empty``.

    ``regex`` is filled in when the filter is compiled, for ``matches`` operators only.
    """

    selector: tuple[str, ...]
    op: Op
    raw: str | None
    regex: GoRegexp | None = field(default=None)

    @property
    def selector_text(self) -> str:
        return ".".join(self.selector)


@dataclass(slots=True, eq=False)
class NotNode:
    operand: Node


@dataclass(slots=True, eq=False)
class BinaryNode:
    is_and: bool
    left: Node
    right: Node


Node = MatchNode | NotNode | BinaryNode
