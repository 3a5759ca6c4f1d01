"""The docs exist, link to each other, and the generated parts match the code."""

from __future__ import annotations

import re

import pytest
from conftest import REPO

from mlctl.docgen import BEGIN, command_reference, params_table, refresh_howto

DOCS = REPO / "docs"
HOWTO = [
    "collect",
    "validate",
    "prepare",
    "train",
    "evaluate",
    "gate",
    "export",
    "serve",
    "predict",
    "bundle",
    "monitor",
    "retrain",
    "bench",
]
REGENERATE = "regenerate it: python -m mlctl.docgen --write  (or: python -m mlctl.docgen > docs/reference.md)"


def test_command_reference_is_up_to_date():
    committed = (DOCS / "reference.md").read_text(encoding="utf-8")
    assert committed == command_reference(), f"docs/reference.md is out of date with the CLI; {REGENERATE}"


def test_reference_covers_every_command_and_option():
    text = command_reference()
    for name in ["mlctl init", "mlctl run", "mlctl schema infer", "mlctl registry promote", "mlctl serve"]:
        assert f"## `{name}`" in text, name
    assert "`-d, --data PATH\\|URL`" in text and "-x, --exclude" in text


@pytest.mark.parametrize("stage", HOWTO)
def test_howto_page_has_every_part_and_current_key_table(stage):
    page = DOCS / "howto" / f"{stage}.md"
    text = page.read_text(encoding="utf-8")
    for heading in ["**Reads:**", "**Writes:**", "## Example", "## Every key", "## Common errors", "Exit codes"]:
        assert heading in text, f"{page.name} lacks {heading}"
    assert BEGIN in text
    assert refresh_howto(text, stage) == text, f"docs/howto/{stage}.md key table is out of date; {REGENERATE}"


def test_key_table_lists_every_field_with_its_default():
    table = params_table("train")
    for key in ["train.candidates", "train.search.n_iter", "train.preprocess.max_categories", "train.forbidden"]:
        assert f"`{key}`" in table, key
    assert "`['logistic_regression']`" in table


def test_pages_exist_and_relative_links_resolve():
    pages = [REPO / "README.md", *DOCS.rglob("*.md")]
    names = {p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md")}
    assert {"tutorial.md", "operations.md", "architecture.md", "reference.md"} <= names
    for page in pages:
        for target in re.findall(r"\]\(([^)#:\s]+)(?:#[^)]*)?\)", page.read_text(encoding="utf-8")):
            assert (page.parent / target).exists(), f"{page.relative_to(REPO)} links to missing {target}"


def test_readme_links_the_documentation():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "## Documentation" in readme
    for rel in ["docs/tutorial.md", "docs/reference.md", "docs/architecture.md", "docs/operations.md"]:
        assert f"({rel})" in readme, rel


def test_tutorial_walks_the_whole_lifecycle_in_order():
    text = (DOCS / "tutorial.md").read_text(encoding="utf-8")
    steps = [
        "mlctl init",
        "mlctl run",
        "dvc metrics show",
        "mlctl serve",
        "mlctl predict",
        "mlctl monitor",
        "mlctl retrain",
        "mlctl registry",
    ]
    positions = [text.index(step) for step in steps]
    assert positions == sorted(positions)


def test_architecture_has_the_diagram_and_the_artifact_table():
    text = (DOCS / "architecture.md").read_text(encoding="utf-8")
    assert "```mermaid" in text and "### What each stage reads and writes" in text
    for stage in ["collect", "validate", "prepare", "train", "evaluate", "gate", "export"]:
        assert f"| {stage} |" in text, stage


def test_operations_covers_the_github_setup():
    text = (DOCS / "operations.md").read_text(encoding="utf-8")
    for needle in [
        "GITHUB_TOKEN",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "required reviewers",
        "mlctl remote add",
        "mlctl registry promote",
    ]:
        assert needle in text, needle
