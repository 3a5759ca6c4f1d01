"""`mlctl init` keeps personal data out of the features: found by column name and by value patterns."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml
from test_init import classification_frame, init

from mlctl.stages.init.personal import by_name, by_values, detect
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
