"""The HTML reports and the service's /docs in a real headless Chromium (Debian's, driven by playwright).

For each page: no console error, no uncaught exception, every <img> decoded
(naturalWidth > 0), and no request to any host but 127.0.0.1 (file: and data:
URLs are local). A screenshot of each is kept in test-artifacts/. A missing
browser fails the suite: .ci/run installs it (`apt-get install chromium`).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

import pytest

from tests.conftest import REPO
from tests.test_monitor import _inputs, built, monitor, project, write_logs  # noqa: F401 (fixtures)
from tests.test_prepare import raw_project, run_project  # noqa: F401 (fixture)

pytestmark = pytest.mark.slow
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = REPO / "test-artifacts"
LOCAL_SCHEMES = ("file", "data", "blob", "about")


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"{CHROMIUM} is missing: install Debian's chromium (`apt-get install -y chromium`, as .ci/run does)"
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("playwright is missing: pip install -e '.[test]'")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


def check_page(browser, url: str, name: str, ready: str | None = None) -> dict:
    """Load ``url``; assert it is clean; keep a screenshot; returns what was seen."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors, remote = [], []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    def on_request(request) -> None:
        parsed = urlparse(request.url)
        if parsed.scheme not in LOCAL_SCHEMES and parsed.hostname != "127.0.0.1":
            remote.append(request.url)

    page.on("request", on_request)
    try:
        page.goto(url, wait_until="load")
        if ready:
            page.wait_for_selector(ready, timeout=15_000)
        page.wait_for_load_state("networkidle")
        images = page.evaluate(
            "() => Array.from(document.images).map(i => ({src: i.src.slice(0, 80), w: i.naturalWidth, ok: i.complete}))"
        )
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    finally:
        page.close()
    assert errors == [], errors
    assert remote == [], remote
    broken = [i for i in images if not i["ok"] or i["w"] == 0]
    assert broken == [], broken
    return {"images": len(images)}


def test_eda_report(browser, raw_project, tmp_path):  # noqa: F811
    root = raw_project()
    run_project(root)
    seen = check_page(browser, (root / "reports" / "eda.html").as_uri(), "eda")
    assert seen["images"] >= 3


def test_monitor_report(browser, project):  # noqa: F811
    root = project()
    write_logs(root, _inputs("classification", 2000, 5))
    monitor(root)
    seen = check_page(browser, (root / "reports" / "monitor.html").as_uri(), "monitor")
    assert seen["images"] >= 1


def rendered(md_path: Path) -> Path:
    """A Markdown report as HTML beside it (as GitHub would show it): its relative links still resolve."""
    import markdown

    body = markdown.markdown(md_path.read_text(), extensions=["tables", "md_in_html"])
    page = md_path.with_suffix(".html")
    head = "<!DOCTYPE html><html><head><meta charset='utf-8'><title>report</title></head>"
    page.write_text(f"{head}<body>{body}</body></html>")
    return page


def test_pr_report_rendered_as_github_would(browser, tmp_path):
    """The PR report is Markdown: rendered to HTML beside it, its images are the files it links to."""
    from tests.report_helpers import two_commit_project
    from tests.test_report import _run

    root = two_commit_project(tmp_path / "p")
    _run(root)
    seen = check_page(browser, rendered(root / "reports" / "pr.md").as_uri(), "pr-report")
    assert seen["images"] == 5


def test_model_card_rendered(browser, tmp_path):
    """The model card is Markdown (reports/model_card.md), written by `mlctl evaluate`."""
    from tests.evaluate_helpers import train_project
    from tests.test_evaluate import _run

    root = train_project(tmp_path, evaluate={"slices": ["region"]})
    _run(root)
    check_page(browser, rendered(root / "reports" / "model_card.md").as_uri(), "model-card")


def test_docs_page_loads_with_local_assets(browser, tmp_path):
    from mlctl.serve import create_app
    from tests.serve_helpers import ThreadServer, build_model, serve_config

    built_model = build_model(tmp_path / "m", "classification")
    with ThreadServer(create_app(serve_config(built_model, tmp_path, log_dir=None))) as server:
        check_page(browser, server.url + "/docs", "docs", ready="#swagger-ui .opblock")


def test_artifacts_are_not_committed():
    ignored = (REPO / ".gitignore").read_text().splitlines()
    assert "test-artifacts/" in ignored
