"""`mlctl init` keeps personal data out of the features: found by column name and by value patterns."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml
from test_init import classification_frame, init, run

from mlctl.stages.init.personal import by_name, by_values, detect, protected
from mlctl.stages.init.roles import PERSONAL, analyse


def column(name: str, values) -> pd.Series:
    return pd.Series(list(values), name=name)


@pytest.mark.parametrize(
    ("name", "found"),
    [
        ("first_name", "name"),
        ("LastName", "name"),
        ("Surname", "name"),
        ("customer name", "name"),
        ("name", "name"),
        ("e-mail", "e-mail"),
        ("EmailAddress", "e-mail"),
        ("mobile_phone", "phone"),
        ("home_address", "street address"),
        ("date_of_birth", "date of birth"),
        ("DOB", "date of birth"),
        ("ssn", "national id"),
        ("national_id_number", "national id"),
    ],
)
def test_names_that_say_personal_data(name, found):
    assert found in by_name(name)


@pytest.mark.parametrize("name", ["product_name", "x1", "amount", "colour", "signup", "file_name", "region"])
def test_names_that_do_not(name):
    assert by_name(name) is None


def test_values_that_look_like_personal_data():
    rng = np.random.default_rng(0)
    n = 60
    assert "e-mail" in by_values(column("c", (f"p{i}@mail.example.com" for i in range(n))))
    assert "phone" in by_values(column("c", (f"+44 20 {v}" for v in rng.integers(1000_0000, 9999_9999, n))))
    assert "phone" in by_values(column("c", (f"06-{v}" for v in rng.integers(1000_0000, 9999_9999, n))))
    ssn = (f"{a}-{b % 90 + 10}-{c + 1000}" for a, b, c in rng.integers(100, 999, (n, 3)))
    assert "national id" in by_values(column("c", ssn))
    streets = (
        f"{v} {w} Avenue" for v, w in zip(rng.integers(1, 400, n), rng.choice(["Elm", "Park", "Lake"], n), strict=True)
    )
    assert "street address" in by_values(column("c", streets))
    first = ["Ann", "Bob", "Cy", "Di", "Ed", "Flo", "Gus", "Hal", "Ida", "Jo"]
    people = [f"{a} {b}" for a in first for b in ["Ng", "Li", "Oz", "Roe", "Kay", "Poe"]]  # 60 different people
    assert "name" in by_values(column("c", people))


def test_dates_and_numbers_are_not_phone_numbers():
    days = pd.date_range("2021-01-01", periods=80)
    assert detect(column("when", days.strftime("%Y-%m-%d"))) is None  # ISO dates: 8 digits with dashes
    assert detect(column("when", days.strftime("%d.%m.%Y"))) is None
    assert detect(column("when", days.strftime("%Y-%m-%d %H:%M"))) is None
    assert detect(column("amount", (str(v) for v in np.random.default_rng(1).integers(10**6, 10**9, 80)))) is None
    assert detect(column("city", ["New York", "Los Angeles", "San Diego"] * 20)) is None  # few distinct values


def test_analyse_lists_personal_columns_with_the_reason():
    roles = {r.name: r for r in analyse(classification_frame(), "outcome")}
    for name in ("first_name", "last_name", "email", "phone"):
        assert roles[name].where == PERSONAL and roles[name].excluded, roles[name]
        assert roles[name].reason.startswith("personal data:")
    assert "by its name" in roles["email"].reason
    assert not roles["x1"].excluded and not roles["signup"].excluded


def test_init_writes_personal_data_and_keep_warns(tmp_path):
    data = tmp_path / "people.csv"
    frame = classification_frame(200).rename(columns={"email": "contact"})  # found by its values only
    frame.to_csv(data, index=False)
    result = init(str(tmp_path / "p"), "--data", str(data), "--target", "outcome", "--yes", "--quick", "--json")
    assert result.exit_code == 0, result.output
    params = yaml.safe_load((tmp_path / "p" / "params.yaml").read_text())
    assert {"first_name", "last_name", "contact", "phone"} <= set(params["validate"]["personal_data"])
    text = (tmp_path / "p" / "params.yaml").read_text()
    assert "an e-mail address (by its values)" in text  # the reason, in the excluded block and the list
    schema = (tmp_path / "p" / "data" / "schema.yaml").read_text()
    assert "personal data" in schema
    kept = init(str(tmp_path / "k"), "--data", str(data), "--target", "outcome", "--yes", "--quick", "--keep", "phone")
    assert kept.exit_code == 0, kept.output
    params = yaml.safe_load((tmp_path / "k" / "params.yaml").read_text())
    assert "phone" not in params["validate"]["personal_data"]
    assert "'phone' is a model feature although it looks like personal data" in kept.text
    report = json.loads(result.stdout)
    shown = {r["name"]: r for r in report["analysis"]["roles"]}
    assert shown["contact"]["where"] == PERSONAL and shown["contact"]["excluded"]


def with_protected(n: int = 300) -> pd.DataFrame:
    rng = np.random.default_rng(5)
    frame = classification_frame(n)
    frame["Gender"] = rng.choice(["F", "M"], n)
    frame["state"] = rng.choice(["married", "single", "divorced"], n)  # marital status, by its values
    frame["age"] = rng.integers(18, 90, n)
    return frame


def test_protected_attributes_by_name_and_values():
    roles = {r.name: r for r in analyse(with_protected(), "outcome")}
    assert roles["Gender"].role == "protected" and roles["Gender"].where == "train.forbidden"
    assert "gender (by its name)" in roles["Gender"].reason
    assert roles["state"].role == "protected" and "marital status (by its values)" in roles["state"].reason
    assert roles["age"].role == "protected"
    assert roles["colour"].role == "feature"  # red/green/blue: no protected attribute
    assert protected(pd.Series(["x", "y"] * 10, name="usage")) is None  # "usage" is no "age"


def test_init_sets_the_sensitive_column_and_the_fairness_gap(tmp_path):
    data = tmp_path / "people.csv"
    with_protected().to_csv(data, index=False)
    result = init(str(tmp_path / "p"), "--data", str(data), "--target", "outcome", "--yes", "--quick", "--json")
    assert result.exit_code == 0, result.output
    params = yaml.safe_load((tmp_path / "p" / "params.yaml").read_text())
    assert params["evaluate"]["sensitive"] == "Gender"  # the first with few groups (age has 72)
    assert params["gate"]["max_fairness_gap"] == 0.2
    assert {"Gender", "state", "age"} <= set(params["train"]["forbidden"])


@pytest.mark.slow
def test_a_run_measures_fairness_and_keeps_people_out_of_the_model(tmp_path):
    data = tmp_path / "people.csv"
    with_protected(1000).to_csv(data, index=False)  # test groups of 50+ rows
    root = tmp_path / "p"
    assert init(str(root), "--data", str(data), "--target", "outcome", "--yes", "--quick").exit_code == 0
    run(root, "run")
    inputs = {i["name"] for i in json.loads((root / "models/model.json").read_text())["inputs"]}
    assert not {"first_name", "last_name", "email", "phone", "Gender", "state", "age"} & inputs
    gate = json.loads((root / "reports/gate.json").read_text())
    fairness = next(r for r in gate["rules"] if r["rule"] == "fairness")
    assert not fairness["skipped"] and "'Gender'" in fairness["detail"]


def test_the_embedded_datasets_race_column_is_protected():
    from conftest import REPO

    roles = {r.name: r for r in analyse(pd.read_csv(REPO / "data/sources/hdma.csv"), "deny")}
    assert roles["black"].role == "protected" and "race" in roles["black"].reason
    assert not any(r.role == "personal" for r in roles.values())


def test_sensitive_and_no_sensitive_flags(tmp_path):
    data = tmp_path / "people.csv"
    with_protected().to_csv(data, index=False)
    args = ["--data", str(data), "--target", "outcome", "--yes", "--quick", "--json"]
    named = init(str(tmp_path / "a"), *args, "--sensitive", "colour")
    assert named.exit_code == 0, named.output
    params = yaml.safe_load((tmp_path / "a" / "params.yaml").read_text())
    assert params["evaluate"]["sensitive"] == "colour" and "colour" in params["train"]["forbidden"]
    off = init(str(tmp_path / "b"), *args, "--no-sensitive")
    assert off.exit_code == 0, off.output
    params = yaml.safe_load((tmp_path / "b" / "params.yaml").read_text())
    assert "sensitive" not in params["evaluate"] and "max_fairness_gap" not in params["gate"]
    assert "Gender" in params["train"]["forbidden"]  # still never a feature
    unknown = init(str(tmp_path / "c"), *args, "--sensitive", "nope")
    assert unknown.exit_code != 0 and "--sensitive names column 'nope'" in unknown.text


def test_the_summary_names_personal_data_with_the_reason(tmp_path):
    data = tmp_path / "people.csv"
    classification_frame(100).to_csv(data, index=False)
    shown = init(str(tmp_path / "p"), "--data", str(data), "--target", "outcome", "--yes", "--quick")
    assert shown.exit_code == 0, shown.output
    assert "personal data, never a feature (validate.personal_data):" in shown.text
    assert "email: an e-mail address (by its name)" in shown.text
