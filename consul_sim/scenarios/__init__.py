"""Teaching scenarios: scripted walks over the HTTP API of served clusters, printed as they go.

Each scenario talks to the clusters over real HTTP, exactly as a student's curl or CLI would, so
what it prints is what anyone pointing a client at the same ports sees.
"""

from consul_sim.scenarios import seed
from consul_sim.scenarios.base import SCENARIOS, Answer, Expect, Scenario, Step, StepResult

__all__ = ["SCENARIOS", "Answer", "Expect", "Scenario", "Step", "StepResult", "seed"]
