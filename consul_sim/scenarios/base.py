"""The scenario runner: numbered steps, each one HTTP call shown as curl and its answer.

A step is what a student would type: one curl line (and, where the page shows one, the page's
``consul`` command it stands for). Three things make a walk of the peering page possible without
hiding anything behind Python:

* ``capture`` keeps a field of an answer in a shell-style variable (``TOKEN``), and later steps
  write ``$TOKEN`` in their path or body, exactly as a student's shell session would;
* ``until`` re-sends a request until its answer shows a fact, within ``timeout`` seconds,
  because replication runs on the servers' own ticker and is not there the instant a write
  answers;
* ``config_file`` sends a config entry file (HCL or JSON) the way ``consul config write`` does:
  decoded on the client with the same rules, re-encoded as JSON, ``PUT /v1/config``.

``expect`` states the facts a step is there to show; each is printed as ``ok`` or ``!``, so the
printout doubles as the check that the walk went as the page says.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import httpx

from consul_sim.config.decode import decode_entry
from consul_sim.config.hcl import parse_config
from consul_sim.scenarios.files import example

POLL_INTERVAL = 0.1
LONG_STRING = 200
"""Strings longer than this (tokens, PEM certificates) are shortened in what is printed."""

_VARIABLE = re.compile(r"\$([A-Z][A-Z0-9_]*)")
_REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Answer:
    """One HTTP answer: status, body as JSON when it is JSON (else None), and the raw text."""

    status: int
    data: Any
    text: str


@dataclass(frozen=True)
class Expect:
    """A fact an answer must show; ``says`` is how the printout words it."""

    says: str
    holds: Callable[[Answer], bool]

    def check(self, answer: Answer) -> bool:
        try:
            return bool(self.holds(answer))
        except (KeyError, IndexError, TypeError, AttributeError):
            return False


@dataclass
class Step:
    title: str
    cluster: str
    method: str
    path: str
    body: Any = None
    expect_status: int = 200
    note: str = ""
    section: str = ""
    """A heading of the page this step starts, printed above it."""
    page: str = ""
    """The command the seed page shows for this step, printed above the curl line."""
    config_file: str = ""
    """A config entry file (HCL or JSON), relative to the working directory or the repository;
    it becomes the body, as ``consul config write`` would send it."""
    capture: dict[str, str] = field(default_factory=dict)
    """Variable name -> dotted JSON field of the answer, for later steps' ``$NAME``."""
    until: Expect | None = None
    timeout: float = 10.0
    expect: tuple[Expect, ...] = ()
    show: Callable[[Any], Any] | None = None
    """What of the JSON answer to print (the rest is left out to keep the class's screen calm)."""


@dataclass
class StepResult:
    step: Step
    ok: bool
    answer: Answer | None


@dataclass
class Scenario:
    name: str
    summary: str
    clusters: tuple[str, ...]
    steps: list[Step] = field(default_factory=list)
    results: list[StepResult] = field(default_factory=list)
    variables: dict[str, str] = field(default_factory=dict)

    def walk(self, urls: dict[str, str], out: TextIO, client: httpx.Client | None = None) -> bool:
        """Run every step against ``urls`` (cluster name -> base URL); False if one misbehaved.

        A step whose variables are missing (its capture failed) is reported and skipped, so one
        failure does not bury the rest of the printout in noise.
        """
        own = client is None
        http = client or httpx.Client(timeout=10)
        self.results = []
        self.variables = {}
        try:
            print(f"== {self.name}: {self.summary}", file=out)
            for n, step in enumerate(self.steps, start=1):
                self.results.append(_run_step(http, urls, n, step, self.variables, out))
        finally:
            if own:
                http.close()
        ok = all(r.ok for r in self.results)
        print("\n== done" if ok else "\n== done, with unexpected answers (see above)", file=out)
        return ok


class _StepFailed(Exception):
    pass


def _run_step(
    http: httpx.Client,
    urls: dict[str, str],
    n: int,
    step: Step,
    variables: dict[str, str],
    out: TextIO,
) -> StepResult:
    if step.section:
        print(f"\n## {step.section}", file=out)
    print(f"\n[{n}] {step.title}  ({step.cluster})", file=out)
    try:
        body = _load_config(step.config_file) if step.config_file else step.body
        path = _substitute(step.path, variables)
        content = None
        if body is not None:
            content = body if isinstance(body, str) else json.dumps(body)
    except _StepFailed as exc:
        print(f"    ! {exc}", file=out)
        return StepResult(step, False, None)
    if step.page:
        print(f"    # the page: {step.page}", file=out)
    if step.config_file:
        print(
            f"    # consul-sim config write {step.config_file} decodes the file and sends:",
            file=out,
        )
    print(_curl(step.method, urls[step.cluster] + step.path, content), file=out)
    try:
        sent = _substitute(content, variables) if content is not None else None
    except _StepFailed as exc:
        print(f"    ! {exc}", file=out)
        return StepResult(step, False, None)

    url = urls[step.cluster] + path
    started = time.monotonic()
    tries = 0
    while True:
        tries += 1
        answer = _send(http, step.method, url, sent)
        settled = answer.status == step.expect_status and (
            step.until is None or step.until.check(answer)
        )
        if settled or step.until is None or time.monotonic() - started >= step.timeout:
            break
        time.sleep(POLL_INTERVAL)

    shown = answer.data
    if step.show is not None and answer.data is not None:
        try:
            shown = step.show(answer.data)
        except (KeyError, IndexError, TypeError, AttributeError):
            shown = answer.data
    text = json.dumps(_shorten(shown), indent=2) if answer.data is not None else answer.text
    if text:
        print(_indent(text), file=out)

    ok = True
    if step.until is not None:
        waited = time.monotonic() - started
        if step.until.check(answer):
            tried = "1 try" if tries == 1 else f"{tries} tries"
            print(f"    # waited {waited:.1f}s ({tried}) until {step.until.says}", file=out)
        else:
            print(f"    ! gave up after {waited:.1f}s: never saw {step.until.says}", file=out)
            ok = False
    if answer.status != step.expect_status:
        print(f"    ! expected HTTP {step.expect_status}, got {answer.status}", file=out)
        ok = False
    for fact in step.expect:
        if fact.check(answer):
            print(f"    ok  {fact.says}", file=out)
        else:
            print(f"    !   expected {fact.says}", file=out)
            ok = False
    for name, dotted in step.capture.items():
        value = _field(answer.data, dotted)
        if isinstance(value, str) and value:
            variables[name] = value
            print(f"    # kept the {dotted} as ${name}", file=out)
        else:
            print(f"    ! no {dotted} field in the answer to keep as ${name}", file=out)
            ok = False
    if step.note:
        for line in step.note.splitlines():
            print(f"    # {line}", file=out)
    return StepResult(step, ok, answer)


def _send(http: httpx.Client, method: str, url: str, content: str | None) -> Answer:
    r = http.request(method, url, content=content)
    data: Any = None
    if r.text:
        try:
            data = r.json()
        except ValueError:
            data = None
    return Answer(r.status_code, data, r.text)


def _curl(method: str, url: str, content: str | None) -> str:
    """The curl line a student can paste; a body using ``$VARS`` goes in an unquoted heredoc so
    the shell fills them in, anything else in single quotes."""
    if "?" in url or "&" in url:
        url = f"'{url}'"
    line = f"$ curl -s {url}" if method == "GET" else f"$ curl -s -X {method} {url}"
    if content is None:
        return line
    if _VARIABLE.search(content):
        return f"{line} -d @- <<EOF\n{content}\nEOF"
    return f"{line} -d '{content}'"


def _substitute(text: str, variables: dict[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in variables:
            raise _StepFailed(f"${name} is not set (an earlier step was to capture it)")
        return variables[name]

    return _VARIABLE.sub(value, text)


def _load_config(path: str) -> dict[str, Any]:
    """Read and decode a config entry file as ``consul config write`` does; a shipped example
    (``scenarios/peering-config.hcl``) is found in the package when not in the working
    directory or a clone, so the walk runs from anywhere."""
    candidates = [Path(path), _REPO_ROOT / path]
    for candidate in candidates:
        if candidate.is_file():
            text = candidate.read_text(encoding="utf-8")
            break
    else:
        try:
            text = example(Path(path).name)
        except FileNotFoundError:
            raise _StepFailed(f"cannot find the config file {path}") from None
    try:
        return decode_entry(parse_config(text)).content()
    except Exception as exc:  # noqa: BLE001 - any decode failure is the file's fault, say so
        raise _StepFailed(f"Failed to decode config entry input: {exc}") from None


def _field(data: Any, dotted: str) -> Any:
    for key in dotted.split("."):
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def _shorten(value: Any) -> Any:
    if isinstance(value, str) and len(value) > LONG_STRING:
        return f"{value[:32]}... ({len(value)} characters)"
    if isinstance(value, list):
        return [_shorten(v) for v in value]
    if isinstance(value, dict):
        return {k: _shorten(v) for k, v in value.items()}
    return value


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
