"""The model manifest is declared once (onnxmodel.manifest): built, versioned and validated by one model."""

from __future__ import annotations

import json

import pytest

from mlctl.core.errors import ModelError
from mlctl.onnxmodel.manifest import SCHEMA_VERSION, Manifest, read_manifest

GOOD = {
    "schema_version": SCHEMA_VERSION,
    "name": "model",
    "task": "classification",
    "classes": ["no", "yes"],
    "sha256": "ab" * 32,
    "inputs": [{"name": "x", "kind": "numeric", "min": 0, "max": 1}, {"name": "c", "kind": "categorical"}],
    "parity": {"rows": 10},  # keys beyond the declared ones are kept as they are
}


def test_a_valid_manifest_round_trips_unchanged(tmp_path):
    path = tmp_path / "model.json"
    path.write_text(json.dumps(GOOD))
    assert read_manifest(path) == GOOD
    assert Manifest.parse(GOOD).inputs[1].kind == "categorical"


@pytest.mark.parametrize(
    ("data", "key"),
    [
        (None, "not a JSON object"),
        ("a string", "not a JSON object"),
        ({**GOOD, "inputs": 42}, "inputs"),
        ({**GOOD, "inputs": []}, "inputs"),
        ({**GOOD, "inputs": [{"name": "x"}]}, "inputs.0.kind"),
        ({k: v for k, v in GOOD.items() if k != "sha256"}, "sha256"),
        ({**GOOD, "task": "clustering"}, "task"),
        ({**GOOD, "inputs": [{"name": "c", "kind": "categorical", "categories": [1, 2]}]}, "categories"),
    ],
)
def test_a_malformed_manifest_is_a_model_error_naming_the_key(tmp_path, data, key):
    path = tmp_path / "model.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ModelError) as caught:
        read_manifest(path)
    assert key in str(caught.value) and caught.value.exit_code == 8


def test_invalid_utf8_is_a_model_error(tmp_path):
    path = tmp_path / "model.json"
    path.write_bytes(b"\xff\xfe{")
    with pytest.raises(ModelError):
        read_manifest(path)
