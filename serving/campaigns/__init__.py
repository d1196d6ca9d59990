"""The closed loop: outcomes of logged campaigns, effect estimates by segment, uplift models and
the effects file that turns what was learned into a catalogue.

Why separate from decisions: it learns the inputs (effects) the policy decides with, from
campaigns the policy already ran.
"""

from __future__ import annotations

from serving.campaigns.effects import EffectsConfig, learn_effects, log_run
from serving.campaigns.effects_file import (
    EffectsFile,
    EffectsFileError,
    build_effects_file,
    dump_effects,
    learned_catalogue,
    load_effects,
)
from serving.campaigns.estimates import EstimationConfig
from serving.campaigns.outcomes import with_log_scores
from serving.campaigns.uplift import TwoModelUplift

__all__ = [
    "EffectsConfig",
    "EffectsFile",
    "EffectsFileError",
    "EstimationConfig",
    "TwoModelUplift",
    "build_effects_file",
    "dump_effects",
    "learn_effects",
    "learned_catalogue",
    "load_effects",
    "log_run",
    "with_log_scores",
]
