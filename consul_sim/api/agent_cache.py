"""The agent cache as a ``?cached`` read sees it: ``X-Cache`` and ``Age``.

Consul answers a read made with ``?cached`` from the agent's cache (``agent/cache``): the
first request for a given query fetches it (``X-Cache: MISS``), later ones are served from the
entry (``X-Cache: HIT`` with ``Age`` in whole seconds; ``setCacheMeta`` in ``agent/http.go``).
The types behind the catalog and health service reads (``catalog-services``,
``health-services``, ``agent/cache-types``) refresh in the background with blocking queries,
so their entries are never older than the last change: the simulator, whose reads always see
the current state, answers them as that fresh entry, ``Age: 0``.

A query is one cache entry per path, query parameters (without ``cached``, and the blocking
``index``/``wait``, which the cache serves from the same entry) and token, as the cache types'
``CacheInfo`` keys them. Assumed: entries never expire (Consul drops one unused for three
days, ``DefaultCacheTTL``...), which only turns a rare MISS into a HIT.
"""

from __future__ import annotations

from starlette.requests import Request

from consul_sim.api.http import acl_token, flag

NOT_IN_KEY = frozenset({"cached", "index", "wait"})


def cache_headers(request: Request) -> dict[str, str]:
    """``X-Cache`` (and ``Age`` on a hit) for a ``?cached`` read; nothing for any other."""
    if not flag(request, "cached"):
        return {}
    state = request.app.state
    seen: set[tuple[object, ...]] | None = getattr(state, "agent_cache", None)
    if seen is None:
        seen = state.agent_cache = set()
    params = sorted((k, v) for k, v in request.query_params.multi_items() if k not in NOT_IN_KEY)
    key = (request.url.path, tuple(params), acl_token(request))
    if key in seen:
        return {"X-Cache": "HIT", "Age": "0"}
    seen.add(key)
    return {"X-Cache": "MISS"}
