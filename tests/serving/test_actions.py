"""The action catalogue: the default playbook loads, and bad catalogues say what is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from serving.decisions.actions import (
    NO_ACTION,
    Action,
    CatalogueError,
    EffectSpec,
    load_catalogue,
    parse_catalogue,
)
from serving.decisions.segments import STAGES, TIERS


def _action(**overrides) -> dict:
    base = {
        "id": "nudge",
        "label": "Nudge",
        "channel": "push",
        "cost": 1.0,
        "stages": ["active"],
        "tiers": ["low"],
        "effect": {"default": 0.1},
    }
    return base | overrides


def _write(tmp_path: Path, actions: list[dict], **extra) -> Path:
    path = tmp_path / "playbook.yaml"
    path.write_text(yaml.safe_dump({"actions": actions, **extra}), encoding="utf-8")
    return path


def _problems(tmp_path: Path, actions: list[dict], **extra) -> tuple[str, list[str]]:
    path = _write(tmp_path, actions, **extra)
    with pytest.raises(CatalogueError) as caught:
        load_catalogue(path)
    assert str(path) in str(caught.value)
    return str(caught.value), caught.value.problems


def test_default_catalogue_loads_with_the_playbook_ids():
    catalogue = load_catalogue()
    for required in ("welcome_offer", "habit_nudge", "vip_care", "referral_incentive"):
        assert required in catalogue.ids
    assert "winback_offer" in catalogue.ids
    assert catalogue.ids[-1] == NO_ACTION
    assert catalogue.get("vip_care").capacity is not None
    assert "at_risk" in catalogue.get("vip_care").stages
    assert set(catalogue.get("winback_offer").stages) == {"dormant", "churned"}
    assert catalogue.get("referral_incentive").tiers == ["low"]
    nothing = catalogue.get(NO_ACTION)
    assert nothing.cost == 0 and nothing.effect.default == 0
    assert set(nothing.stages) == set(STAGES) and set(nothing.tiers) == set(TIERS)


def test_load_catalogue_reads_a_given_file(tmp_path):
    catalogue = load_catalogue(_write(tmp_path, [_action(), _action(id="call", cost=9)]))
    assert catalogue.ids == ("nudge", "call", NO_ACTION)
    assert catalogue.get("call").cost == 9.0
    with pytest.raises(KeyError, match="unknown action 'mail'"):
        catalogue.get("mail")


def test_negative_cost_names_file_action_and_field(tmp_path):
    text, problems = _problems(tmp_path, [_action(id="vip", cost=-1)])
    assert problems == [
        "action 'vip': field 'cost': Input should be greater than or equal to 0 (got -1)"
    ]
    assert "playbook.yaml" in text


def test_unknown_stage_is_rejected(tmp_path):
    _, problems = _problems(tmp_path, [_action(stages=["active", "dormnt"])])
    assert len(problems) == 1
    assert problems[0].startswith("action 'nudge': field 'stages.1': Input should be 'new'")
    assert "'dormnt'" in problems[0]


def test_min_risk_above_max_risk_is_rejected(tmp_path):
    _, problems = _problems(tmp_path, [_action(min_risk=0.8, max_risk=0.2)])
    assert problems == [
        "action 'nudge': field 'max_risk': min_risk (0.8) must be <= max_risk (0.2)"
    ]


def test_duplicate_and_reserved_ids_are_rejected(tmp_path):
    _, problems = _problems(tmp_path, [_action(), _action(label="Again")])
    assert problems == [
        "action 'nudge': field 'id': duplicate action id 'nudge': ids must be unique"
    ]
    _, problems = _problems(tmp_path, [_action(id=NO_ACTION, cost=0)])
    assert problems == [
        "action 'no_action': field 'id': 'no_action' is reserved and always available; remove it"
    ]


def test_unknown_keys_are_rejected_everywhere(tmp_path):
    _, problems = _problems(tmp_path, [_action(colour="red")], owner="crm")
    assert sorted(problems) == [
        "action 'nudge': unknown key 'colour'",
        "catalogue: unknown key 'owner'",
    ]
    _, problems = _problems(tmp_path, [_action(effect={"default": 0.1, "max": 0.2})])
    assert problems == ["action 'nudge': unknown key 'max'"]


def test_every_error_gets_its_own_line(tmp_path):
    bad = [_action(id="a", cost=-2), _action(id="b", capacity=-1, cooldown_days=-3)]
    text, problems = _problems(tmp_path, bad)
    assert len(problems) == 3
    assert text.count("\n") == 3  # header line + one line per problem
    assert {p.split(":")[0] for p in problems} == {"action 'a'", "action 'b'"}
    assert any("field 'capacity'" in p for p in problems)
    assert any("field 'cooldown_days'" in p for p in problems)


def test_action_without_a_valid_id_is_named_by_position(tmp_path):
    _, problems = _problems(tmp_path, [_action(), {"label": "x"}])
    assert all(p.startswith("action #2: field '") for p in problems)
    assert any("field 'id': Field required" in p for p in problems)


def test_bad_effects_are_rejected(tmp_path):
    _, problems = _problems(tmp_path, [_action(effect={"default": 1.5})])
    assert problems[0].startswith("action 'nudge': field 'effect.default': Input should be less")
    _, problems = _problems(
        tmp_path, [_action(effect={"default": 0.1, "by_segment": {"active/gold": 0.2}})]
    )
    assert len(problems) == 1 and "unknown segment 'active/gold'" in problems[0]
    assert "field 'effect.by_segment'" in problems[0]


def test_file_level_errors_name_the_file(tmp_path):
    with pytest.raises(CatalogueError, match="cannot read file"):
        load_catalogue(tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("actions: [\n", encoding="utf-8")
    with pytest.raises(CatalogueError, match=r"broken\.yaml") as caught:
        load_catalogue(broken)
    assert "not valid YAML" in str(caught.value)
    with pytest.raises(CatalogueError, match="expected a mapping"):
        parse_catalogue([_action()], source="inline")


def test_effect_lookup_goes_from_specific_to_default():
    effect = EffectSpec(
        default=0.1, by_segment={"at_risk/high": 0.4, "at_risk/*": 0.3, "*/high": 0.2}
    )
    assert effect.for_segment("at_risk", "high") == 0.4
    assert effect.for_segment("at_risk", "mid") == 0.3
    assert effect.for_segment("active", "high") == 0.2
    assert effect.for_segment("active", "low") == 0.1
    action = Action.model_validate(_action(effect=0.25))  # bare number = one effect everywhere
    assert action.effect.default == 0.25 and action.effect.by_segment == {}
    table = Action.model_validate(_action(effect=effect.model_dump())).effect_table()
    assert table[STAGES.index("at_risk"), TIERS.index("high")] == 0.4
    assert table[STAGES.index("new"), TIERS.index("none")] == 0.1


def test_default_catalogue_caps_contacts_across_actions():
    cap = load_catalogue().frequency_cap
    assert cap is not None
    assert (cap.max_contacts, cap.days) == (2, 30)


def test_frequency_cap_is_optional_and_read_from_the_file(tmp_path):
    assert load_catalogue(_write(tmp_path, [_action()])).frequency_cap is None
    capped = load_catalogue(
        _write(tmp_path, [_action()], frequency_cap={"max_contacts": 3, "days": 7})
    )
    assert capped.frequency_cap is not None
    assert (capped.frequency_cap.max_contacts, capped.frequency_cap.days) == (3, 7)
    assert parse_catalogue({"actions": [], "frequency_cap": None}).frequency_cap is None


def test_bad_frequency_caps_name_the_field(tmp_path):
    _, problems = _problems(tmp_path, [_action()], frequency_cap={"max_contacts": 0, "days": 30})
    assert problems == [
        "frequency_cap: field 'max_contacts': Input should be greater than or equal to 1 (got 0)"
    ]
    _, problems = _problems(tmp_path, [_action()], frequency_cap={"max_contacts": 2, "days": 0})
    assert problems == [
        "frequency_cap: field 'days': Input should be greater than or equal to 1 (got 0)"
    ]
    _, problems = _problems(tmp_path, [_action()], frequency_cap={"max_contacts": 2})
    assert problems == ["frequency_cap: field 'days': Field required"]
    _, problems = _problems(tmp_path, [_action()], frequency_cap={"max_contacts": 1.5, "days": 7})
    assert len(problems) == 1
    assert problems[0].startswith("frequency_cap: field 'max_contacts': Input should be a valid")


def test_frequency_cap_rejects_unknown_keys_and_non_mappings(tmp_path):
    cap = {"max_contacts": 2, "days": 30, "weeks": 4}
    _, problems = _problems(tmp_path, [_action()], frequency_cap=cap)
    assert problems == ["frequency_cap: unknown key 'weeks'"]
    _, problems = _problems(tmp_path, [_action()], frequency_cap=5)
    assert len(problems) == 1
    assert problems[0].startswith("frequency_cap: Input should be a valid dictionary")
    assert problems[0].endswith("(got 5)")
