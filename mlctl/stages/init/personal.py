"""Columns that hold personal data: found by their name and by what their values look like.

Names, e-mail addresses, phone numbers, street addresses, dates of birth and
national ids are never model features: `mlctl init` lists them in
`validate.personal_data` (train refuses them, the schema marks them), says why
in its summary, and `--keep COL` overrides with a warning. A value pattern must
hold for most of a text column's values; dates are never taken for phone numbers.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

MATCH_SHARE = 0.8  # a value pattern must fit at least this share of the sampled values
SAMPLE = 500

PERSON = {"first", "last", "given", "family", "middle", "full", "maiden", "sur", "fore", "nick"}
PERSON |= {"customer", "client", "patient", "person", "user", "employee", "contact", "applicant", "member", "owner"}
NAME_WORDS = {
    "email": "an e-mail address",
    "mail": "an e-mail address",
    "phone": "a phone number",
    "telephone": "a phone number",
    "mobile": "a phone number",
    "cellphone": "a phone number",
    "fax": "a phone number",
    "address": "a street address",
    "street": "a street address",
    "dob": "a date of birth",
    "birthdate": "a date of birth",
    "birthday": "a date of birth",
    "ssn": "a national id",
    "passport": "a national id",
    "surname": "a person's name",
    "forename": "a person's name",
    "firstname": "a person's name",
    "lastname": "a person's name",
    "fullname": "a person's name",
}
PHRASES = {  # consecutive words of the column name
    ("date", "of", "birth"): "a date of birth",
    ("birth", "date"): "a date of birth",
    ("e", "mail"): "an e-mail address",
    ("social", "security"): "a national id",
    ("national", "id"): "a national id",
    ("national", "insurance"): "a national id",
    ("tax", "id"): "a national id",
    ("id", "card"): "a national id",
}

EMAIL = re.compile(r"^[A-Za-z0-9._%+'-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$")
SSN = re.compile(r"^\d{3}-\d{2}-\d{4}$")
PHONE = re.compile(r"^(\+|00)?[\d\s().-]{7,22}$")
DATE_LIKE = re.compile(r"^\s*\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}([ T]\d{1,2}:\d{2}.*)?\s*$")
STREET = re.compile(
    r"(?i)^\s*\d+[a-z]?\s+([a-z.'-]+\s+){1,4}"
    r"(street|st|avenue|ave|road|rd|lane|ln|drive|dr|boulevard|blvd|way|court|ct|place|pl|terrace|close)\b"
)
PERSON_NAME = re.compile(r"^[A-Z][a-z'-]+(?: [A-Z][a-z'-]+){1,2}$")


def words(name: str) -> list[str]:
    """``firstName``, ``first_name``, ``First Name`` -> ['first', 'name']."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    return [w for w in re.split(r"[^A-Za-z0-9]+", spaced.lower()) if w]


def by_name(name: str) -> str | None:
    """What a column's name says it holds, or None."""
    parts = words(name)
    for n in (3, 2):
        for i in range(len(parts) - n + 1):
            if tuple(parts[i : i + n]) in PHRASES:
                return PHRASES[tuple(parts[i : i + n])]
    for w in parts:
        if w in NAME_WORDS:
            return NAME_WORDS[w]
    if "name" in parts and (parts == ["name"] or PERSON & set(parts)):
        return "a person's name"
    return None


def _phone(value: str) -> bool:
    digits = sum(c.isdigit() for c in value)
    if not 7 <= digits <= 15 or not PHONE.match(value) or DATE_LIKE.match(value):
        return False
    # a plain number is a quantity, not a phone number: a phone has a +, a leading 0 or separators
    return value.startswith(("+", "0", "(")) or bool(re.search(r"\d[\s.-]\d", value))


def by_values(col: pd.Series) -> str | None:
    """What a text column's values look like, when most of them fit one pattern."""
    import pandas as pd

    if not (pd.api.types.is_string_dtype(col) or pd.api.types.is_object_dtype(col)):
        return None
    values = col.dropna().astype(str).str.strip()
    values = values[values != ""].head(SAMPLE)
    if len(values) < 5:
        return None

    def share(test) -> float:
        return sum(1 for v in values if test(v)) / len(values)

    if share(EMAIL.match) >= MATCH_SHARE:
        return "an e-mail address"
    if share(SSN.match) >= MATCH_SHARE:
        return "a national id"
    if share(_phone) >= MATCH_SHARE:
        return "a phone number"
    if share(STREET.match) >= MATCH_SHARE:
        return "a street address"
    distinct = values.nunique() / len(values)
    if distinct > 0.5 and share(PERSON_NAME.match) >= MATCH_SHARE:
        return "a person's name"
    return None


def detect(col: pd.Series) -> str | None:
    """The reason ``col`` holds personal data ("a phone number (by its values)"), or None."""
    if found := by_name(str(col.name)):
        return f"{found} (by its name)"
    if found := by_values(col):
        return f"{found} (by its values)"
    return None


PROTECTED_WORDS = {
    "sex": "sex",
    "gender": "gender",
    "race": "race",
    "ethnicity": "ethnicity",
    "ethnic": "ethnicity",
    "religion": "religion",
    "religious": "religion",
    "marital": "marital status",
    "nationality": "nationality",
    "citizenship": "nationality",
    "disability": "disability",
    "disabled": "disability",
    "age": "age",
    "black": "race",  # e.g. HMDA's black: yes/no
    "white": "race",
    "hispanic": "ethnicity",
}
PROTECTED_VALUES = {
    "sex": {"male", "female", "m", "f", "man", "woman", "men", "women", "non-binary", "other", "unknown"},
    "marital status": {"married", "single", "divorced", "widowed", "separated", "never married", "unknown"},
}


def protected(col: pd.Series) -> str | None:
    """The protected attribute ``col`` holds ("sex (by its values)"), or None."""
    for w in words(str(col.name)):
        if w in PROTECTED_WORDS:
            return f"{PROTECTED_WORDS[w]} (by its name)"
    values = {str(v).strip().lower() for v in col.dropna().unique()[:50]}
    for what, known in PROTECTED_VALUES.items():
        if len(values) >= 2 and values <= known and len(values - {"other", "unknown"}) >= 2:
            return f"{what} (by its values)"
    return None
