"""PUT /v1/txn: a thin handler over :mod:`consul_sim.txn`.

As Consul's ``agent/txn_endpoint.go``: a transaction with no write is a read (``Txn.Read``:
query options parsed, leader headers set, no index); any other is applied through Raft
(``Txn.Apply``: only ``?dc`` and the token are read). Errors in the answer make it a 409 with
the same JSON body.
"""

from __future__ import annotations

from fastapi import Request
from starlette.responses import Response

from consul_sim.api.http import (
    ConsulRouter,
    authorizer,
    check_dc,
    cluster_of,
    flag,
    json_response,
    query_options,
)
from consul_sim.api.openapi import DC, JSON, OBJECT, OBJECTS, PRETTY, Answer, Body, Op, ok
from consul_sim.txn import decode, is_write, run

router = ConsulRouter()

LEADER_HEADERS = {"X-Consul-Knownleader": "true", "X-Consul-Lastcontact": "0"}


@router.endpoint(
    "/v1/txn",
    "PUT",
    doc=Op(
        "apply up to 64 KV, Node, Service and Check operations, all or nothing",
        (DC, PRETTY),
        Body(schema=OBJECTS),
        (
            ok(OBJECT),
            Answer(409, "an operation failed: its errors, and nothing was applied", JSON, OBJECT),
        ),
        errors=(400, 403, 413, 500),
    ),
)
async def txn(request: Request) -> Response:
    cluster = cluster_of(request)
    ops = decode(await request.body())
    if any(is_write(op) for op in ops):
        check_dc(request, cluster)
        headers: dict[str, str] = {}
        pretty = flag(request, "pretty")
    else:
        opts = query_options(request, cluster)
        headers = dict(LEADER_HEADERS)
        pretty = opts.pretty
    authz = authorizer(request, cluster)
    outcome = run(cluster.store, cluster.world.scheduler, cluster.datacenter, ops, authz)
    status = 409 if outcome.conflict else 200
    return json_response(outcome.render(), pretty=pretty, headers=headers, status_code=status)
