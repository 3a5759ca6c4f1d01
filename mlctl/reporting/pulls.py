"""Open or update the one pull request of a branch (continuous training) through the GitHub REST API.

CT commits each candidate on one fixed branch (``mlctl retrain --branch mlctl/retrain``); the
scheduled job then runs ``mlctl report --post --branch mlctl/retrain``: the open pull request
from that branch is found and updated, or one is opened, never a second one.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from mlctl.errors import ConfigError, ExternalError
from mlctl.reporting.github import DEFAULT_API, Target, _call, _json, _send


@dataclass(frozen=True)
class Repository:
    """The repository and credentials, from GITHUB_API_URL, GITHUB_REPOSITORY and GITHUB_TOKEN."""

    api: str
    repository: str
    token: str

    @property
    def owner(self) -> str:
        return self.repository.split("/")[0]

    def target(self, number: int) -> Target:
        return Target(self.api, self.repository, number, self.token)


def repository_from_env(env: Mapping[str, str] | None = None) -> Repository:
    env = os.environ if env is None else env
    token = env.get("GITHUB_TOKEN", "").strip()
    if not token:
        raise ConfigError(
            "GITHUB_TOKEN is not set: --post --branch needs a token to open or update the pull request",
            hint="in GitHub Actions add `env: GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}` and "
            "`permissions: pull-requests: write` (and contents: write to push the branch)",
        )
    repository = env.get("GITHUB_REPOSITORY", "").strip()
    if repository.count("/") != 1 or not all(repository.split("/")):
        raise ConfigError(
            f"GITHUB_REPOSITORY must be 'owner/name' (got {repository!r})",
            hint="Actions sets it; elsewhere export GITHUB_REPOSITORY=owner/name",
        )
    return Repository((env.get("GITHUB_API_URL") or DEFAULT_API).rstrip("/"), repository, token)


def base_branch(ref: str) -> str:
    """The branch name of a base revision: origin/main → main, refs/heads/main → main."""
    for prefix in ("refs/remotes/origin/", "refs/heads/", "origin/"):
        if ref.startswith(prefix):
            return ref[len(prefix) :]
    return ref


@dataclass
class PullRequest:
    action: str  # opened | updated
    number: int
    url: str | None


def open_or_update(
    repo: Repository, head: str, base: str, title: str, body: str, *, timeout: float = 30.0
) -> PullRequest:
    """The open pull request from ``head`` into ``base``: updated (title, body) if there is one, else opened."""
    import httpx

    headers = {
        "Authorization": f"Bearer {repo.token}",
        "Accept": "application/vnd.github+json",
        "X-GitHub-Api-Version": "2022-11-28",
        "User-Agent": "mlctl-report",
    }
    pulls = f"{repo.api}/repos/{repo.repository}/pulls"
    with httpx.Client(headers=headers, timeout=timeout, follow_redirects=False) as client:
        query = {"head": f"{repo.owner}:{head}", "base": base, "state": "open", "per_page": 100}
        found = _json(_send(client, "GET", pulls, params=query), "GET", pulls)
        if not isinstance(found, list):
            raise ExternalError("GitHub's pull-request list is not a list", where=pulls)
        mine = [p for p in found if isinstance(p, dict) and (p.get("head") or {}).get("ref", head) == head]
        if mine:
            number = int(mine[0]["number"])
            data = _call(client, "PATCH", f"{pulls}/{number}", {"title": title, "body": body})
            action = "updated"
        else:
            data = _call(client, "POST", pulls, {"title": title, "head": head, "base": base, "body": body})
            action = "opened"
    if not isinstance(data, dict) or not isinstance(data.get("number"), int):
        raise ExternalError(f"GitHub answered the {action} pull request without a number", where=pulls)
    return PullRequest(action, data["number"], data.get("html_url"))
