"""Run a scenario file's steps one by one and print them for people.

Each step prints its counter and narration (``[3/12] cluster-02 dials cluster-01.``), the
command as the user would type it (a ``consul-sim`` line, or the curl line an HTTP action
stands for), what it answered, and each expectation as ``ok`` or ``FAILED`` with what was seen
instead. On a terminal that is coloured; piped, it is plain text. The walk stops at the first
failed step, because later steps build on earlier ones, and the outcome names that step and
expectation so the command can exit non-zero with one line that says what went wrong.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any, TextIO

import httpx

from consul_sim.durations import parse_duration
from consul_sim.scenarios.spec import ScenarioSpec, StepSpec
from consul_sim.scenarios.targets import Target

__all__ = ["Outcome", "Painter", "run_scenario"]

DEFAULT_WAIT = 10.0
LONG_STRING = 120
MAX_LINES = 24
_VARIABLE = re.compile(r"\$([A-Z][A-Z0-9_]*)")
_SEVERITY = {"passing": 0, "warning": 1, "critical": 2}


@dataclass(frozen=True)
class Outcome:
    ok: bool
    steps_run: int
    failure: str = ""
    """``step 3/12 (narration): expectation`` when not ok."""


@dataclass(frozen=True)
class Result:
    """What an action answered: an HTTP status and body, or a command's exit code and output."""

    status: int | None
    code: int | None
    text: str
    data: Any = None


class Painter:
    """ANSI colour on a terminal; nothing when piped (or when NO_COLOR is set)."""

    def __init__(self, colour: bool) -> None:
        self.colour = colour

    def _wrap(self, code: str, text: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.colour else text

    def bold(self, text: str) -> str:
        return self._wrap("1", text)

    def command(self, text: str) -> str:
        return self._wrap("36", text)

    def good(self, text: str) -> str:
        return self._wrap("32", text)

    def bad(self, text: str) -> str:
        return self._wrap("31;1", text)

    def dim(self, text: str) -> str:
        return self._wrap("2", text)


class _Failed(Exception):
    pass


def run_scenario(
    spec: ScenarioSpec,
    target: Target,
    out: TextIO,
    *,
    painter: Painter | None = None,
    pause: Callable[[StepSpec], None] | None = None,
    wait: float = DEFAULT_WAIT,
) -> Outcome:
    """Walk ``spec`` against ``target``; ``pause`` is called before each step (``-step``)."""
    paint = painter or Painter(False)
    variables: dict[str, str] = {}
    total = len(spec.steps)
    print(paint.bold(f"== {spec.title}"), file=out)
    print(f"   {spec.description}", file=out)
    for step in spec.steps:
        if pause is not None:
            pause(step)
        print(f"\n{paint.bold(f'[{step.number}/{total}]')} {step.say}", file=out)
        walk = _StepWalk(step, target, out, paint, variables, wait)
        try:
            try:
                walk.run()
            except httpx.HTTPError as exc:
                walk.say(f"  {paint.bad('FAILED')}  no answer: {exc}")
                raise _Failed(f"no answer: {exc}") from None
        except _Failed as exc:
            out.flush()
            return Outcome(False, step.number, f"step {step.number}/{total} ({step.say}): {exc}")
        out.flush()
    print(paint.good(f"\n== all {total} steps went as expected"), file=out)
    return Outcome(True, total)


class _StepWalk:
    def __init__(
        self,
        step: StepSpec,
        target: Target,
        out: TextIO,
        paint: Painter,
        variables: dict[str, str],
        wait: float,
    ) -> None:
        self.step = step
        self.target = target
        self.out = out
        self.paint = paint
        self.variables = variables
        self.wait = wait
        self.retrying = False

    def say(self, line: str) -> None:
        if not self.retrying:
            print(line, file=self.out)

    def run(self) -> None:
        result = self.act()
        self.target.settle()
        if self.step.action == "http" and str(self.step.fields["http"]).upper().startswith("GET"):
            # A read may run ahead of replication on served clusters: ask again (unprinted)
            # until its answer shows what the step expects, as a person would re-run curl.
            waited = 0.0
            while waited < self.budget() and any(s for _, s in self.answer_facts(result)):
                waited += self.target.tick()
                self.retrying = True
                result = self.act()
        self.show(result)
        for what, seen in self.answer_facts(result):
            if seen is None:
                self.ok(what)
            else:
                self.fail(what, seen)
        self.capture(result)
        self.check_world()

    def budget(self) -> float:
        wait = self.step.fields.get("wait")
        return parse_duration(str(wait)) if wait is not None else self.wait

    # -- the action -------------------------------------------------------------------------
    def act(self) -> Result:
        step = self.step
        f = step.fields
        where = self.paint.dim(f"   # on {step.on} ({self.target.address(step.on)})")
        if step.action == "cli":
            line = str(f["cli"])
            self.say(f"  {self.paint.command('$ ' + line)}{where}")
            return self.command(self.expand(line))
        if step.action == "config":
            name = str(f["config"])
            self.say(f"  {self.paint.command(f'$ consul-sim config write {name}')}{where}")
            files = resources.files("consul_sim.scenarios").joinpath("examples", name)
            with resources.as_file(files) as file:
                if not file.is_file():
                    raise _Failed(f"no example config file named {name}")
                return self.command(f"consul-sim config write {shlex.quote(str(file))}")
        if step.action == "entry":
            return self.http("PUT", "/v1/config", f["entry"])
        if step.action == "http":
            method, _, path = str(f["http"]).partition(" ")
            return self.http(method.upper(), path.strip(), f.get("body"))
        if step.action == "advance":
            return self.http("POST", "/_sim/advance", {"Seconds": f["seconds"]})
        fault = str(f["fault"])
        body: dict[str, Any] = {}
        if fault in ("crash", "restart"):
            body = {"Cluster": step.on}
        elif f.get("between"):
            body = {"A": f["between"][0], "B": f["between"][1]}
        for key, wire in (
            ("latency_ms", "LatencyMs"),
            ("loss", "Loss"),
            ("duplicate", "Duplicate"),
        ):
            if key in f:
                body[wire] = f[key]
        return self.http("POST", f"/_sim/{fault}", body)

    def expand(self, text: str) -> str:
        def value(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in self.variables:
                raise _Failed(f"${name} is not set (an earlier step was to capture it)")
            return self.variables[name]

        return _VARIABLE.sub(value, text)

    def command(self, line: str) -> Result:
        argv = shlex.split(line)
        if argv and argv[0] in ("consul-sim", "consul"):
            argv = argv[1:]
        run = self.target.command(self.step.on, argv)
        return Result(None, run.code, run.stdout + run.stderr)

    def http(self, method: str, path: str, body: Any) -> Result:
        content = None if body is None else json.dumps(body)
        url = f"http://{self.target.address(self.step.on)}{path}"
        curl = f"$ curl -s {url}" if method == "GET" else f"$ curl -s -X {method} {url}"
        if content is not None:
            curl += f" -d '{content}'"
        self.say(f"  {self.paint.command(curl)}")
        sent = None if content is None else self.expand(content)
        answer = self.target.client(self.step.on).request(method, self.expand(path), content=sent)
        data: Any = None
        try:
            data = answer.json() if answer.text else None
        except ValueError:
            data = None
        return Result(answer.status_code, None, answer.text, data)

    # -- what it answered -------------------------------------------------------------------
    def show(self, result: Result) -> None:
        self.retrying = False
        if result.data is not None:
            text = json.dumps(_shorten(result.data), indent=2)
        else:
            text = "\n".join(_shorten(line) for line in result.text.splitlines())
        lines = text.splitlines()
        if len(lines) > MAX_LINES:
            lines = lines[:MAX_LINES] + [f"... ({len(lines) - MAX_LINES} more lines)"]
        if result.status is not None:
            self.say(self.paint.dim(f"    HTTP {result.status}"))
        for line in lines:
            self.say(f"    {line}")
        if result.code is not None and result.code != 0:
            self.say(self.paint.dim(f"    (exit code {result.code})"))

    def ok(self, what: str) -> None:
        self.say(f"  {self.paint.good('ok')}      {what}")

    def fail(self, what: str, seen: str) -> None:
        self.say(f"  {self.paint.bad('FAILED')}  {what}; saw {seen}")
        raise _Failed(f"{what}; saw {seen}")

    def answer_facts(self, result: Result) -> list[tuple[str, str | None]]:
        """Each expectation on the action's own answer, with what was seen when it fails."""
        expect = self.step.expect
        facts: list[tuple[str, str | None]] = []
        if "status" in expect:
            seen = None if result.status == expect["status"] else f"HTTP {result.status}"
            facts.append((f"HTTP {expect['status']}", seen))
        elif result.status is not None and result.status >= 400:
            # An error nobody expected is a failed step even when the file states nothing.
            said = _shorten(result.text.strip())
            facts.append(("an answer that is not an error", f"HTTP {result.status} {said!r}"))
        if "exit" in expect:
            seen = None if result.code == expect["exit"] else f"exit code {result.code}"
            facts.append((f"exit code {expect['exit']}", seen))
        elif result.code:
            facts.append(("exit code 0", f"exit code {result.code}"))
        wanted = expect.get("output")
        for text in [wanted] if isinstance(wanted, str) else wanted or []:
            seen = None if text in result.text else repr(_shorten(result.text.strip()))
            facts.append((f"the output says {text!r}", seen))
        for part in _blocks(expect.get("answer")):
            for dotted, value in part.items():
                # A captured value may be part of what is expected ("...external.$TD"): the
                # trust domain, a root's PEM, anything the seed decides.
                value = self.expand(value) if isinstance(value, str) else value
                got = _field(result.data, dotted)
                seen = None if got == value else json.dumps(_shorten(got))
                facts.append((f"{dotted} is {json.dumps(_shorten(value))}", seen))
        return facts

    def capture(self, result: Result) -> None:
        for name, dotted in self.step.capture.items():
            value = result.text.strip() if not dotted else _field(result.data, dotted)
            if not isinstance(value, str) or not value:
                self.fail(f"something to keep as ${name}", "nothing")
            self.variables[name] = str(value)
            kept = "the output" if not dotted else dotted
            self.say(self.paint.dim(f"    # kept {kept} as ${name}"))

    # -- facts of the world -----------------------------------------------------------------
    def check_world(self) -> None:
        facts = [
            *(self.peering_fact(f) for f in self.step.expect.get("peering", [])),
            *(self.service_fact(f) for f in self.step.expect.get("service", [])),
            *(self.call_fact(f) for f in self.step.expect.get("call", [])),
        ]
        if not facts:
            return
        budget = self.budget()
        waited = 0.0
        while True:
            seen = [(what, probe()) for what, probe in facts]
            if all(s is None for _, s in seen) or waited >= budget:
                break
            waited += self.target.tick()
        for what, failure in seen:
            if failure is None:
                self.ok(what)
            else:
                self.fail(what, failure)

    def peering_fact(self, fact: dict[str, Any]) -> tuple[str, Callable[[], str | None]]:
        on, name, state = fact.get("on", self.step.on), fact["name"], str(fact["state"])
        roots = fact.get("roots")
        client = self.target.client(on)

        def probe() -> str | None:
            answer = client.get(f"/v1/peering/{name}")
            if state == "absent":
                return None if answer.status_code == 404 else f"HTTP {answer.status_code}"
            if answer.status_code != 200:
                return f"HTTP {answer.status_code} {answer.text.strip()!r}"
            record = answer.json()
            got = record.get("State")
            if got != state:
                return f'"{got}"'
            held = len(record.get("PeerCAPems") or [])
            return None if roots is None or held == roots else f"{held} root(s)"

        if state == "absent":
            return f'{on} has no peering "{name}"', probe
        what = f'{on}\'s peering "{name}" is {state}'
        if roots is not None:
            what += f", trusting {roots} of the peer's CA roots"
        return what, probe

    def service_fact(self, fact: dict[str, Any]) -> tuple[str, Callable[[], str | None]]:
        on, name = fact.get("on", self.step.on), fact["name"]
        peer = fact.get("peer", "")
        visible = bool(fact.get("visible", True))
        health = fact.get("health")
        client = self.target.client(on)
        path = f"/v1/health/service/{name}" + (f"?peer={peer}" if peer else "")
        source = f" from {peer}" if peer else ""
        what = f'{on} {"sees" if visible else "does not see"} "{name}"{source}'
        if health:
            what += f", {health}"

        def probe() -> str | None:
            answer = client.get(path)
            if answer.status_code != 200:
                return f"HTTP {answer.status_code} {answer.text.strip()!r}"
            entries = answer.json()
            if not visible:
                return None if entries == [] else f"{len(entries)} instance(s)"
            if not entries:
                return "no instance"
            if health:
                worst = [_worst(e.get("Checks") or []) for e in entries]
                if any(w != health for w in worst):
                    return "health " + ", ".join(worst)
            return None

        return what, probe

    def call_fact(self, fact: dict[str, Any]) -> tuple[str, Callable[[], str | None]]:
        source = fact.get("from", self.step.on)
        body = {
            "Source": {"Cluster": source, "Service": fact["service"]},
            "Destination": {"Service": fact["to"]},
        }
        if fact.get("peer"):
            body["Destination"]["Peer"] = fact["peer"]
        allowed = bool(fact.get("allowed", True))
        reason = fact.get("reason", "")
        client = self.target.client(source)
        callee = f'"{fact["to"]}"' + (f" in {fact['peer']}" if fact.get("peer") else "")
        what = f'a call from "{fact["service"]}" in {source} to {callee} is '
        what += "allowed" if allowed else "refused"
        if reason:
            what += f" because {reason!r}"

        def probe() -> str | None:
            answer = client.post("/_sim/call", json=body)
            if answer.status_code != 200:
                return f"HTTP {answer.status_code} {answer.text.strip()!r}"
            data = answer.json()
            if data["Allowed"] is not allowed:
                return f"Allowed {json.dumps(data['Allowed'])}: " + "; ".join(data["Reasons"])
            if reason and not any(reason in r for r in data["Reasons"]):
                return "reasons " + json.dumps(data["Reasons"])
            return None

        return what, probe


def _blocks(value: Any) -> list[dict[str, Any]]:
    if value is None:
        return []
    return [v for v in (value if isinstance(value, list) else [value]) if isinstance(v, dict)]


def _worst(checks: list[dict[str, Any]]) -> str:
    statuses = [str(c.get("Status")) for c in checks] or ["passing"]
    return max(statuses, key=lambda s: _SEVERITY.get(s, 3))


def _field(data: Any, dotted: str) -> Any:
    for key in dotted.split("."):
        if isinstance(data, list) and key.isdigit():
            data = data[int(key)] if int(key) < len(data) else None
        elif isinstance(data, dict):
            data = data.get(key)
        else:
            return None
    return data


def _shorten(value: Any) -> Any:
    if isinstance(value, str) and len(value) > LONG_STRING:
        return f"{value[:32]}... ({len(value)} characters)"
    if isinstance(value, list):
        return [_shorten(v) for v in value]
    if isinstance(value, dict):
        return {k: _shorten(v) for k, v in value.items()}
    return value
