"""An export with its own column names loads through a column mapping (`--columns`, or
`columns:` in a YAML import profile); the columns it does not use are listed as ignored."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from features import EventContractError, ImportProfile, load_events, load_import_profile
from retain.cli import app

SHOP_EXPORT = (
    "customer_id,timestamp,kind,total,country,sku\n"
    "c1,2024-05-01 10:00:00,purchase,$12.50,FR,A1\n"
    "c1,2024-05-02 11:00:00,login,,FR,\n"
    'c2,2024-05-03 12:00:00,purchase,"1,000.00",DE,B2\n'
)
MAPPING = {
    "user_id": "customer_id",
    "event_time": "timestamp",
    "event_type": "kind",
    "amount": "total",
}
FLAG = ",".join(f"{name}={column}" for name, column in MAPPING.items())


@pytest.fixture
def export(tmp_path):
    path = tmp_path / "shop.csv"
    path.write_text(SHOP_EXPORT)
    return path


def _one_line(output: str) -> str:
    return " ".join(output.split())


def test_a_renamed_export_loads_and_lists_its_extra_columns(export):
    loaded = load_events(export, import_profile=ImportProfile(columns=MAPPING))
    report = loaded.report
    assert (report.rows_read, report.rows_accepted, report.rejected) == (3, 3, {})
    assert report.ignored_columns == ("country", "sku")
    assert "ignored 2 columns (country, sku)" in report.summary()
    table = loaded.table.execute()
    assert list(table.columns) == ["user_id", "event_time", "event_type", "amount"]
    assert table.groupby("user_id")["amount"].sum().to_dict() == {"c1": 12.5, "c2": 1000.0}
    assert table["event_time"].min() == pd.Timestamp("2024-05-01 10:00:00")


def test_the_cli_flag_and_the_yaml_profile_map_the_same_way(export, tmp_path):
    runner = CliRunner()
    by_flag = runner.invoke(app, ["validate", "--events", str(export), "--columns", FLAG, "--json"])
    assert by_flag.exit_code == 0, by_flag.output
    document = json.loads(by_flag.output)
    assert (document["rows_accepted"], document["ignored_columns"]) == (3, ["country", "sku"])

    profile = tmp_path / "shop.yaml"
    profile.write_text(
        "columns:\n" + "".join(f"  {name}: {column}\n" for name, column in MAPPING.items())
    )
    assert load_import_profile(profile).columns == MAPPING
    out = tmp_path / "features.csv"
    built = runner.invoke(
        app,
        [
            *("features", "--events", str(export), "--profile", str(profile)),
            *("--as-of", "2024-06-01", "--out", str(out)),
        ],
    )
    assert built.exit_code == 0, built.output
    assert "ignored 2 columns (country, sku)" in _one_line(built.output)
    revenue = pd.read_csv(out).set_index("user_id")["revenue_total"]
    assert revenue.to_dict() == {"c1": 12.5, "c2": 1000.0}


def test_a_flag_overrides_the_profile_column_by_column():
    profile = ImportProfile(columns={**MAPPING, "amount": "sku"})
    assert profile.overridden({"amount": "total"}, strict_amounts=False).columns == MAPPING
    assert profile.overridden({}, strict_amounts=True).strict_amounts


def test_a_contract_column_in_the_file_that_the_mapping_replaces_is_ignored(tmp_path):
    path = tmp_path / "both.csv"
    path.write_text("user_id,customer_id,event_time,event_type\nold,new,2024-05-01,login\n")
    loaded = load_events(path, import_profile=ImportProfile(columns={"user_id": "customer_id"}))
    assert loaded.table.execute()["user_id"].tolist() == ["new"]
    assert loaded.report.ignored_columns == ("user_id",)


def test_a_mapping_naming_a_missing_column_fails_naming_it(export):
    with pytest.raises(EventContractError) as error:
        load_events(export, import_profile=ImportProfile(columns={**MAPPING, "user_id": "client"}))
    message = str(error.value)
    assert "'client'" in message and "user_id=client" in message
    assert "found columns: customer_id, timestamp, kind, total, country, sku" in message

    result = CliRunner().invoke(
        app, ["validate", "--events", str(export), "--columns", "user_id=client"]
    )
    assert result.exit_code == 2
    assert "the column mapping names 'client'" in _one_line(result.output)
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("flag", "message"),
    [
        ("userid=customer_id", "'userid' is not an event contract column"),
        ("user_id", "'user_id' is not contract_column=export_column"),
        ("user_id=a,user_id=b", "column mapping names 'user_id' twice"),
    ],
)
def test_malformed_mappings_are_refused_with_the_problem_named(export, flag, message):
    result = CliRunner().invoke(app, ["validate", "--events", str(export), "--columns", flag])
    assert result.exit_code == 2
    assert message in _one_line(result.output)


def test_unmapped_export_hints_at_the_mapping_and_bad_profiles_are_named(export, tmp_path):
    with pytest.raises(EventContractError, match=r"map it \(e\.g\. --columns user_id=NAME\)"):
        load_events(export)
    profile = tmp_path / "typo.yaml"
    profile.write_text("colums:\n  user_id: customer_id\n")
    result = CliRunner().invoke(
        app, ["validate", "--events", str(export), "--profile", str(profile)]
    )
    assert result.exit_code == 2
    assert f"{profile}: colums: Extra inputs are not permitted" in _one_line(result.output)


def test_a_mapping_cannot_apply_to_an_adapter_format(tmp_path):
    path = tmp_path / "cdnow.txt"
    path.write_text(" 00001 19970101  1   11.77\n")
    with pytest.raises(EventContractError, match="cannot apply to the cdnow format"):
        load_events(path, fmt="cdnow", import_profile=ImportProfile(columns=MAPPING))
