"""Command-line options override params through one function, validated by the same pydantic models."""

from __future__ import annotations

import pytest
from conftest import REPO
from typer.testing import CliRunner

from mlctl.cli import app
from mlctl.core.errors import ConfigError
from mlctl.params import load_params, override

runner = CliRunner()


def test_override_validates_like_params_yaml():
    params = load_params(REPO / "params.yaml")
    assert override(params.monitor, {"window": None}) is params.monitor  # nothing given: unchanged
    assert override(params.monitor, {"window": "week"}).window == "week"
    with pytest.raises(ConfigError) as caught:
        override(params.predict, {"chunk_rows": 0})
    assert "chunk_rows" in str(caught.value) and caught.value.where == "command line"


@pytest.mark.parametrize(
    ("args", "key"),
    [(["monitor", "--window", "month"], "window"), (["predict", "--chunk-rows", "0"], "chunk_rows")],
)
def test_a_bad_option_names_the_key_and_exits_2(args, key):
    result = runner.invoke(app, [*args, "-C", str(REPO)])
    assert result.exit_code == 2, result.output
    assert key in result.output and "command line" in result.output
