"""The scenario runner: numbered steps, each one HTTP call shown as curl and its answer."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

import httpx


@dataclass
class Step:
    title: str
    cluster: str
    method: str
    path: str
    body: Any = None
    expect_status: int = 200
    note: str = ""


@dataclass
class Scenario:
    name: str
    summary: str
    clusters: tuple[str, ...]
    steps: list[Step] = field(default_factory=list)

    def walk(self, urls: dict[str, str], out: TextIO, client: httpx.Client | None = None) -> bool:
        """Run every step against ``urls`` (cluster name -> base URL); False if one misbehaved."""
        own = client is None
        http = client or httpx.Client(timeout=10)
        ok = True
        try:
            print(f"== {self.name}: {self.summary}", file=out)
            for n, step in enumerate(self.steps, start=1):
                ok = _run_step(http, urls, n, step, out) and ok
        finally:
            if own:
                http.close()
        print("== done" if ok else "== done, with unexpected answers (see above)", file=out)
        return ok


def _run_step(http: httpx.Client, urls: dict[str, str], n: int, step: Step, out: TextIO) -> bool:
    url = urls[step.cluster] + step.path
    print(f"\n[{n}] {step.title}  ({step.cluster})", file=out)
    curl = f"$ curl -s -X {step.method} {url}"
    content = None
    if step.body is not None:
        content = step.body if isinstance(step.body, str) else json.dumps(step.body)
        curl += f" -d '{content}'"
    print(curl, file=out)
    r = http.request(step.method, url, content=content)
    text = r.text
    try:
        text = json.dumps(r.json(), indent=2) if text else ""
    except ValueError:
        pass
    if text:
        print(_indent(text), file=out)
    if step.note:
        print(f"    # {step.note}", file=out)
    if r.status_code != step.expect_status:
        print(f"    ! expected HTTP {step.expect_status}, got {r.status_code}", file=out)
        return False
    return True


def _indent(text: str, limit: int = 40) -> str:
    lines = text.splitlines()
    if len(lines) > limit:
        lines = lines[:limit] + [f"... ({len(lines) - limit} more lines)"]
    return "\n".join("    " + line for line in lines)


SCENARIOS: dict[str, Callable[[], Scenario]] = {}


def scenario(name: str) -> Callable[[Callable[[], Scenario]], Callable[[], Scenario]]:
    def register(factory: Callable[[], Scenario]) -> Callable[[], Scenario]:
        SCENARIOS[name] = factory
        return factory

    return register
