"""The decision files a service decides with, read and checked from its settings.

Why a module of its own: `retain serve` reads them before the server starts, so that a bad
playbook, effects file, contact history or segmentation fails there in one line; it needs only
the decisions package for that, not the scoring state a worker builds (serving/api/state.py),
whose imports (MLflow, LightGBM, the scoring pipeline) cost about a CPU second more.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from serving.api.settings import ServiceSettings
from serving.decisions import (
    ActionCatalogue,
    ContactHistory,
    Segmentation,
    load_catalogue,
    load_contacts,
    load_segmentation,
)

log = logging.getLogger("retain.service")

__all__ = ["DecisionFiles", "read_decision_files"]


@dataclass(frozen=True)
class DecisionFiles:
    """What a scoring run decides with besides the models: the settings' files, read and checked.

    Built the way `retain score` builds its ScoringConfig (retain/commands/decision_flags.py), so
    the service and the CLI decide with the same economics: the catalogue with learned effects in
    place of the priors, the segmentation with the threshold on top, the contact history.
    """

    catalogue: ActionCatalogue
    segmentation: Segmentation
    contacts: ContactHistory | None = None


def read_decision_files(settings: ServiceSettings) -> DecisionFiles:
    """Read the catalogue, effects, segmentation and contact history the settings name.

    Raises a ValueError (CatalogueError, EffectsFileError, SegmentationError,
    ContactHistoryError) whose message names the file and the problem.
    """
    catalogue = load_catalogue(settings.catalogue)
    if settings.effects is not None:
        # Here: the campaigns package (uplift models, estimators) costs ~1.3 CPU s to import,
        # paid by the start-up check and every worker only when an effects file is used.
        from serving.campaigns import learned_catalogue, load_effects

        catalogue, skipped = learned_catalogue(catalogue, load_effects(settings.effects))
        if skipped:
            log.warning(
                "%s: effects for actions not in the catalogue ignored: %s",
                settings.effects,
                ", ".join(skipped),
            )
    segmentation = load_segmentation(
        settings.segments, at_risk_threshold=settings.at_risk_threshold
    )
    contacts = None
    if settings.contacts is not None:
        contacts = load_contacts(settings.contacts, catalogue)
        log.info("%s", contacts.report.summary())
    return DecisionFiles(catalogue=catalogue, segmentation=segmentation, contacts=contacts)
