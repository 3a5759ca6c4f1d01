"""Create or update the report's own comment on a pull request through the GitHub REST API.

Everything comes from what GitHub Actions provides: ``GITHUB_TOKEN``, the
event payload at ``GITHUB_EVENT_PATH`` (the pull request's number),
``GITHUB_REPOSITORY`` and ``GITHUB_API_URL`` (GitHub Enterprise, or a test
server). The comment is found again by a hidden marker, so a re-run edits
it instead of adding another.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from mlctl.errors import ConfigError, ExternalError
from mlctl.reporting import MARKER

DEFAULT_API = "https://api.github.com"
MAX_BODY = 65_000  # GitHub refuses comment bodies over 65,536 characters
MAX_PAGES = 50  # 5,000 comments: a bound, so a server that always says "next" cannot loop us forever
HINTS = {
    401: "the token was refused: check GITHUB_TOKEN (in Actions: `env: GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}`)",
    403: "the token may not comment: give the job `permissions: pull-requests: write`",
    404: "repository or pull request not found, or the token cannot see it: check GITHUB_REPOSITORY and the event",
}


@dataclass(frozen=True)
class Target:
    """Where the comment goes."""

    api: str
    repository: str
    number: int
    token: str


@dataclass
class Posted:
    """What was done: created or updated, and the comment's id and address."""

    action: str
    id: int
    url: str | None
    pull_request: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def write_step_outputs(values: Mapping[str, str], env: Mapping[str, str] | None = None) -> Path | None:
    """Append ``name=value`` lines to $GITHUB_OUTPUT (GitHub Actions step outputs); nothing outside Actions."""
    env = os.environ if env is None else env
    target = env.get("GITHUB_OUTPUT", "").strip()
    if not target:
        return None
    lines = []
    for name, value in values.items():
        if "\n" in str(value):
            raise ValueError(f"step output {name!r} must be one line")
        lines.append(f"{name}={value}\n")
    path = Path(target)
    with path.open("a", encoding="utf-8") as fh:  # appended: earlier steps' outputs stay
        fh.writelines(lines)
    return path


def target_from_env(env: Mapping[str, str] | None = None) -> Target:
    """Read token, repository, API URL and pull-request number from the Actions environment."""
    env = os.environ if env is None else env
    token = env.get("GITHUB_TOKEN", "").strip()
    if not token:
        raise ConfigError(
            "GITHUB_TOKEN is not set: --post needs a token to comment on the pull request",
            hint="in GitHub Actions add `env: GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}` to the step",
        )
    repository = env.get("GITHUB_REPOSITORY", "").strip()
    if repository.count("/") != 1 or not all(repository.split("/")):
        raise ConfigError(
            f"GITHUB_REPOSITORY must be 'owner/name' (got {repository!r})",
            hint="Actions sets it; elsewhere export GITHUB_REPOSITORY=owner/name",
        )
    event_path = env.get("GITHUB_EVENT_PATH", "").strip()
    if not event_path:
        raise ConfigError(
            "GITHUB_EVENT_PATH is not set: cannot tell which pull request to comment on",
            hint="run --post from a `pull_request` workflow, or point GITHUB_EVENT_PATH at the event JSON",
        )
    number = _pr_number(Path(event_path))
    api = (env.get("GITHUB_API_URL") or DEFAULT_API).rstrip("/")
    return Target(api, repository, number, token)


def _pr_number(path: Path) -> int:
    try:
        event = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError("event file not found", where=str(path), hint="GITHUB_EVENT_PATH must name the event JSON")
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"cannot read the event JSON: {exc}", where=str(path)) from None
    pr = event.get("pull_request") if isinstance(event, dict) else None
    number = pr.get("number") if isinstance(pr, dict) else None
    if not isinstance(number, int) or isinstance(number, bool):
        raise ConfigError(
            "the event has no pull_request.number: this run is not for a pull request",
            where=str(path),
            hint="post from a workflow triggered by `pull_request` (or `pull_request_target`)",
        )
    return number


def fit_body(body: str, limit: int = MAX_BODY) -> str:
    """The body cut at a paragraph to GitHub's size limit, with a note, keeping <details> closed."""
    if len(body) <= limit:
        return body
    note = "\n\n_The report was cut to fit a comment; the full report is in the workflow's artifacts._\n"
    cut = body.rfind("\n\n", 0, limit - len(note) - 40)
    text = body[: cut if cut > 0 else limit - len(note) - 40]
    text += "\n\n</details>" * max(0, text.count("<details") - text.count("</details>"))
    return text + note


def post(body: str, target: Target, *, timeout: float = 30.0) -> Posted:
    """Update our marked comment on the pull request, or create it if there is none."""
    import httpx

    body = fit_body(body if MARKER in body else f"{MARKER}\n{body}")
    headers = {
        "Authorization": f"Bearer {target.token}",
        "Accept": "application/vnd.github+json",
        "X-GitHub-Api-Version": "2022-11-28",
        "User-Agent": "mlctl-report",
    }
    issue = f"{target.api}/repos/{target.repository}/issues"
    with httpx.Client(headers=headers, timeout=timeout, follow_redirects=False) as client:
        existing = _find(client, f"{issue}/{target.number}/comments")
        if existing is not None:
            data = _call(client, "PATCH", f"{issue}/comments/{existing}", {"body": body})
            action = "updated"
        else:
            data = _call(client, "POST", f"{issue}/{target.number}/comments", {"body": body})
            action = "created"
    if not isinstance(data, dict) or not isinstance(data.get("id"), int):
        raise ExternalError(f"GitHub answered the {action} comment without an id", where=target.api)
    return Posted(action, data["id"], data.get("html_url"), target.number)


def _find(client: Any, url: str) -> int | None:
    """The id of the first comment carrying our marker, following the Link: rel="next" pages."""
    next_url: str | None = url
    params: dict[str, Any] | None = {"per_page": 100}
    for _ in range(MAX_PAGES):
        if next_url is None:
            return None
        response = _send(client, "GET", next_url, params=params)
        comments = _json(response, "GET", next_url)
        if not isinstance(comments, list):
            raise ExternalError("GitHub's comment list is not a list", where=next_url)
        for comment in comments:
            if isinstance(comment, dict) and MARKER in str(comment.get("body") or ""):
                return int(comment["id"])
        next_url = response.links.get("next", {}).get("url")
        params = None  # the next link carries its own query
    return None


def _call(client: Any, method: str, url: str, payload: dict) -> Any:
    return _json(_send(client, method, url, json=payload), method, url)


def _send(client: Any, method: str, url: str, **kwargs: Any) -> Any:
    import httpx

    try:
        response = client.request(method, url, **kwargs)
    except httpx.HTTPError as exc:
        raise ExternalError(
            f"cannot reach GitHub: {type(exc).__name__}: {exc}",
            where=url,
            hint="check the network and GITHUB_API_URL",
        ) from None
    if response.status_code >= 400:
        try:
            message = response.json().get("message") or response.text
        except (ValueError, AttributeError):
            message = response.text
        raise ExternalError(
            f"GitHub refused {method}: HTTP {response.status_code} {str(message)[:200]}".rstrip(),
            where=url,
            hint=HINTS.get(response.status_code),
        )
    return response


def _json(response: Any, method: str, url: str) -> Any:
    try:
        return response.json()
    except ValueError:
        raise ExternalError(f"GitHub's answer to {method} is not JSON", where=url) from None
