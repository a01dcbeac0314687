"""The one error a filter raises, carrying the body and status Consul answers with.

Consul wraps every filter-construction error as ``Failed to create boolean expression evaluator:
<bexpr error>`` (go-bexpr ``filter.go`` ``CreateFilter``, called from the catalog, health and
agent endpoints of hashicorp/consul). ``agent/http.go`` (``wrap``/``handleErr``) has no special
case for it, so the answer is HTTP 500 with that text as a plain body; hashicorp/consul issue
#7338 shows exactly such a body with status 500.
"""

from __future__ import annotations

from consul_sim.errors import ConsulError

__all__ = ["EVALUATOR_ERROR_PREFIX", "FilterError"]

EVALUATOR_ERROR_PREFIX = "Failed to create boolean expression evaluator: "


class FilterError(ConsulError):
    """A filter Consul refuses: ``message`` is the exact body Consul sends, with ``status_code``.

    ``reason`` is the bare go-bexpr error, without the ``Failed to create ...`` prefix.
    """

    status_code: int = 500

    def __init__(self, reason: str, *, status_code: int = 500) -> None:
        super().__init__(EVALUATOR_ERROR_PREFIX + reason, status_code)
        self.reason = reason
