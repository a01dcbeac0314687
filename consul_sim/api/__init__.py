"""The HTTP face of a cluster: one FastAPI app per cluster, one router per Consul area.

Routers are thin: parse the request, call the domain, render. Everything Consul does the same way
on every endpoint (query options, blocking, headers, errors, method guards) lives in ``http``.
"""
