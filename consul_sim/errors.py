"""The one Consul error tree.

Consul answers every error as a plain-text body holding Consul's sentence, with a status code
chosen in one place (``agent/http.go``). The domain raises these; ``consul_sim.api.errors``
renders them; the CLI prints ``Error ...`` lines from the same messages. Keeping the status on the
class means a router never decides a status code itself.

    ConsulError (500)
    ├── BadRequest (400)          malformed parameters or bodies, HTTP-layer validation
    ├── PermissionDenied (403)    ACL denials
    ├── NotFound (404)            a missing resource the endpoint reports (may carry no body)
    ├── MethodNotAllowed (405)    carries the methods the path accepts
    ├── RequestTooLarge (413)
    └── RPCError (500)            an error that crossed Consul's gRPC boundary, rendered
                                  ``rpc error: code = <Code> desc = <message>``
"""

from __future__ import annotations


class ConsulError(Exception):
    """An error Consul reports to its caller: a status code and Consul's exact sentence."""

    status_code: int = 500

    def __init__(self, message: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status_code is not None:
            self.status_code = status_code

    def __str__(self) -> str:
        return self.message


class BadRequest(ConsulError):
    status_code = 400


class PermissionDenied(ConsulError):
    status_code = 403


class NotFound(ConsulError):
    status_code = 404

    def __init__(self, message: str = "") -> None:
        super().__init__(message)


class MethodNotAllowed(ConsulError):
    status_code = 405

    def __init__(self, method: str, allowed: tuple[str, ...]) -> None:
        super().__init__(f"method {method} not allowed")
        self.allowed = allowed

    @property
    def allow_header(self) -> str:
        """Consul lists OPTIONS first, then the registered methods, comma-joined without spaces."""
        return ",".join(("OPTIONS", *self.allowed))


class RequestTooLarge(ConsulError):
    status_code = 413


class RPCError(ConsulError):
    """An error from a server RPC: Consul's HTTP layer passes the gRPC client string through."""

    status_code = 500

    def __init__(self, code: str, desc: str) -> None:
        super().__init__(f"rpc error: code = {code} desc = {desc}")
        self.code = code
        self.desc = desc


NO_PATH_TO_DATACENTER = "No path to datacenter"

CONNECT_NOT_ENABLED = "Connect must be enabled in order to use this endpoint"
"""``structs.ErrConnectNotEnabled``: the Connect RPCs return it first when ``connect.enabled`` is
off, and ``agent/http.go``'s error handler, matching no typed case, answers it as a 500."""
