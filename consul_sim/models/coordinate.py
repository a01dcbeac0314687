"""Network coordinates: Serf's ``coordinate.Coordinate`` and the update request that carries one.

Serf's Vivaldi coordinate has eight dimensions by default, an error estimate, an adjustment and
a height (``serf/coordinate/coordinate.go``); a new one sits at the origin with error 1.5 and
height 10 microseconds (``NewCoordinate`` with ``DefaultConfig``). Go's struct has no JSON tags,
so the fields are written as named.
"""

from __future__ import annotations

import math
from typing import ClassVar

from pydantic import Field

from consul_sim.models.base import ConsulModel

DIMENSIONALITY = 8
"""Serf's default ``Dimensionality``: a coordinate of any other length is incompatible."""
INITIAL_ERROR = 1.5
"""Serf's default ``VivaldiErrorMax``: a new coordinate's error."""
MIN_HEIGHT = 1.0e-5
"""Serf's default ``HeightMin`` (10 microseconds): a new coordinate's height."""


class Coord(ConsulModel):
    go_name: ClassVar[str] = "Coordinate"

    vec: list[float] = Field(default_factory=lambda: [0.0] * DIMENSIONALITY)
    error: float = INITIAL_ERROR
    adjustment: float = 0.0
    height: float = MIN_HEIGHT

    def is_valid(self) -> bool:
        """Serf's ``IsValid``: every component is a finite number."""
        values = [*self.vec, self.error, self.adjustment, self.height]
        return all(math.isfinite(v) for v in values)

    def render(self) -> dict[str, object]:
        return {
            "Vec": list(self.vec),
            "Error": self.error,
            "Adjustment": self.adjustment,
            "Height": self.height,
        }


class CoordinateUpdateRequest(ConsulModel):
    """The body of ``PUT /v1/coordinate/update`` (``structs.CoordinateUpdateRequest``);
    ``Coord`` is a pointer in Go, so a body without one carries none."""

    go_name: ClassVar[str] = "CoordinateUpdateRequest"

    node: str = ""
    segment: str = ""
    coord: Coord | None = None
