"""Teaching scenarios: narrated walks through peering, printed step by step as they run.

The shipped scenarios are HCL files in ``library/`` (``consul-sim scenario list``), run by
:mod:`consul_sim.scenarios.runner`; the example config files they and the README use are in
``examples/``, read from anywhere with :func:`example`. ``seed`` is the older Python-coded walk
of the page over real HTTP (``consul-sim scenario -serve seed``).
"""

from consul_sim.scenarios import seed
from consul_sim.scenarios.base import SCENARIOS, Answer, Expect, Scenario, Step, StepResult
from consul_sim.scenarios.files import example, example_names, library_names

__all__ = [
    "SCENARIOS",
    "Answer",
    "Expect",
    "Scenario",
    "Step",
    "StepResult",
    "example",
    "example_names",
    "library_names",
    "seed",
]
