"""Consul's ``?filter=`` expression language (HashiCorp go-bexpr v0.1.2) over JSON objects.

What Consul does with a filter (researched in the sources named; summarised in our own words):

* An empty ``filter`` parameter means no filtering at all.
* Every error building the filter answers **HTTP 500** with the plain body ``Failed to create
  boolean expression evaluator: <bexpr error>`` (bexpr ``filter.go`` ``CreateFilter``; Consul's
  ``agent/http.go`` has no special case for it), e.g. ``Failed to create boolean expression
  evaluator: 1:4 (3): no match found, expected: "!=", ".", "==", "[", [ \\t\\r\\n] or
  [a-zA-Z0-9_]`` for ``?filter=foo`` (hashicorp/consul issue #7338 shows this body).
* When a client agent forwards the request to a server, Consul's connection pool prefixes
  ``rpc error making call: `` (``agent/pool/pool.go``); agent-local endpoints never carry it. The
  simulator answers every request as the server itself, so no body carries that prefix.

How the simulator serves it: ``api/http.py`` ``apply_filter`` compiles the expression with the
endpoint's field names and filters the rendered objects; a ``FilterError`` raised while
compiling *or* while filtering reaches the client as its ``message`` (prefix included) with
status 500. ``/v1/agent/checks`` compiles without field names (Consul builds that filter without
a type), so an unknown selector there is not refused; a type error (``Status is empty``) only
shows once a check is there to filter, and then carries the prefix like every other filter error.

The package, one concern a module:

* ``errors`` - ``FilterError`` and the evaluator prefix;
* ``peg`` - a PEG interpreter with pigeon's error bookkeeping;
* ``grammar`` - bexpr's grammar as rules for that engine, and the expression tree;
* ``regex`` - Go's regexp syntax checked with Go's error wording, matched by RE2 in linear time;
* ``evaluate`` - validation, coercion, operators, ``Filter`` and ``compile_filter``.
"""

from __future__ import annotations

from consul_sim.filter.errors import FilterError
from consul_sim.filter.evaluate import Filter, compile_filter

__all__ = ["Filter", "FilterError", "compile_filter"]
