"""A simulated product: event logs with known behaviour, campaigns with known effects, and a
replay of the window after a cutoff under any decision table.

Why a package of its own, beside and not inside `features`: the simulator is a test bed (the
demo, the tests, the benchmarks, notebooks), not production code. It knows the truth the
models try to learn, so nothing in features, training or serving may import it
(tests/test_layering.py checks it).
"""

from simulator.campaigns import CampaignPlan, truth_path
from simulator.drift import DriftConfig
from simulator.policy_replay import ACTION_TRUTH, expected_uplift, policy_profit, replay
from simulator.simulation import SimulationConfig, iter_chunks, simulate_events, write_simulation

__all__ = [
    "ACTION_TRUTH",
    "CampaignPlan",
    "DriftConfig",
    "SimulationConfig",
    "expected_uplift",
    "iter_chunks",
    "policy_profit",
    "replay",
    "simulate_events",
    "truth_path",
    "write_simulation",
]
