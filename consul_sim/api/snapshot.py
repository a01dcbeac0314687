"""/v1/snapshot: this cluster's state as Consul's snapshot archive, and restoring one.

``GET`` answers the archive (:mod:`consul_sim.archive`) with its Raft index in
``X-Consul-Index``; ``PUT`` restores one from the body and answers an empty 200. Both need
``acl:write`` when ACLs are on, a management token (``agent/consul/snapshot_endpoint.go``
checks the one snapshot permission, which reading gets you all of the ACLs). A refused archive
is Consul's 500 with the archive's error sentence, and changes nothing.
"""

from __future__ import annotations

from fastapi import Request
from starlette.responses import Response

from consul_sim import archive
from consul_sim.api.http import ConsulRouter, authorizer, check_dc, cluster_of, meta_headers
from consul_sim.api.openapi import DC, EMPTY_OK, STALE, Answer, Body, Op
from consul_sim.errors import ConsulError

router = ConsulRouter()

ARCHIVE_MEDIA = "application/octet-stream"
ARCHIVE = Body(
    schema={"type": "string", "format": "binary"},
    media=ARCHIVE_MEDIA,
    description="an archive from GET /v1/snapshot (gzip'd tar: meta.json, state.bin, SHA256SUMS)",
)


@router.endpoint(
    "/v1/snapshot",
    "GET",
    "PUT",
    doc={
        "GET": Op(
            "this cluster's state as Consul's snapshot archive",
            (DC, STALE),
            answers=(Answer(200, "the archive's bytes", ARCHIVE_MEDIA, {"type": "string"}),),
            errors=(403, 500),
        ),
        "PUT": Op(
            "restore this cluster's state from an archive",
            (DC,),
            ARCHIVE,
            (EMPTY_OK,),
            errors=(403, 500),
        ),
    },
)
async def snapshot(request: Request) -> Response:
    cluster = cluster_of(request)
    check_dc(request, cluster)
    authorizer(request, cluster).require("acl", "write")
    world = cluster.world
    if request.method == "GET":
        with world.lock:
            index, data = archive.save(cluster)
        return Response(data, headers=meta_headers(index), media_type=ARCHIVE_MEDIA)
    body = await request.body()
    try:
        with world.lock:
            archive.restore(cluster, body)
    except archive.ArchiveError as exc:
        raise ConsulError(str(exc), 500) from None
    return Response(status_code=200, headers=meta_headers(None))
