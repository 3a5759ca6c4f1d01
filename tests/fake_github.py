"""A small fake of GitHub's REST API on 127.0.0.1 (a test tool): pull requests, comments, releases and assets.

It records what the workflows did, answers like GitHub (201 on create, 422 for a second open pull request from
one branch, 404 for unknown ones, 401 without the token) and is reached through GITHUB_API_URL.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse


@dataclass
class State:
    token: str
    pulls: list[dict] = field(default_factory=list)
    comments: list[dict] = field(default_factory=list)
    releases: list[dict] = field(default_factory=list)
    assets: list[dict] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)
    next_id: int = 1

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id

    def comments_on(self, number: int) -> list[dict]:
        return [c for c in self.comments if c["issue"] == number]


class FakeGitHub:
    """Start with ``with FakeGitHub(token) as gh:``; ``gh.url`` is the API URL, ``gh.state`` what was done."""

    def __init__(self, token: str):
        self.state = State(token)
        self.lock = threading.Lock()
        handler = type("Handler", (_Handler,), {"fake": self})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeGitHub:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()

    def open_pull(self, head: str, base: str = "main", title: str = "change") -> dict:
        """What a person does in the web page: open a pull request."""
        status, pull = self.handle(
            "POST", "/repos/acme/project/pulls", {}, {"head": head, "base": base, "title": title}
        )
        assert status == 201, pull
        return pull

    # -- routing ------------------------------------------------------------------------------------
    def handle(self, method: str, path: str, query: dict, body: Any) -> tuple[int, Any]:
        with self.lock:
            self.state.requests.append((method, path))
            return self._route(method, path, query, body)

    def _route(self, method: str, path: str, query: dict, body: Any) -> tuple[int, Any]:
        s = self.state
        m = re.fullmatch(r"/repos/([^/]+/[^/]+)/(.*)", path)
        if path.startswith("/uploads/"):
            m2 = re.fullmatch(r"/uploads/repos/[^/]+/[^/]+/releases/(\d+)/assets", path)
            if not m2 or method != "POST":
                return 404, {"message": "Not Found"}
            asset = {"id": s.new_id(), "release": int(m2.group(1)), "name": query.get("name", [""])[0], "data": body}
            s.assets.append(asset)
            return 201, {"id": asset["id"], "name": asset["name"], "size": len(body)}
        if not m:
            return 404, {"message": "Not Found"}
        repo, rest = m.groups()
        if rest == "pulls" and method == "GET":
            state = query.get("state", ["open"])[0]
            head = query.get("head", [None])[0]
            found = [p for p in s.pulls if state in ("all", p["state"])]
            if head:
                found = [p for p in found if f"{repo.split('/')[0]}:{p['head']['ref']}" == head]
            return 200, found
        if rest == "pulls" and method == "POST":
            if any(p["head"]["ref"] == body["head"] and p["state"] == "open" for p in s.pulls):
                return 422, {"message": "Validation Failed", "errors": [{"message": "A pull request already exists"}]}
            number = s.new_id()
            pull = {
                "number": number,
                "state": "open",
                "title": body.get("title", ""),
                "body": body.get("body", ""),
                "head": {"ref": body["head"]},
                "base": {"ref": body.get("base", "main")},
                "html_url": f"https://github.com/{repo}/pull/{number}",
            }
            s.pulls.append(pull)
            return 201, pull
        m = re.fullmatch(r"pulls/(\d+)", rest)
        if m:
            pull = next((p for p in s.pulls if p["number"] == int(m.group(1))), None)
            if pull is None:
                return 404, {"message": "Not Found"}
            if method == "PATCH":
                pull.update({k: v for k, v in body.items() if k in ("title", "body", "state")})
            return 200, pull
        m = re.fullmatch(r"issues/(\d+)/comments", rest)
        if m:
            number = int(m.group(1))
            if not any(p["number"] == number for p in s.pulls):
                return 404, {"message": "Not Found"}
            if method == "GET":
                return 200, [{"id": c["id"], "body": c["body"]} for c in s.comments_on(number)]
            comment = {"id": s.new_id(), "issue": number, "body": body["body"], "html_url": f"#c{s.next_id}"}
            s.comments.append(comment)
            return 201, comment
        m = re.fullmatch(r"issues/comments/(\d+)", rest)
        if m and method == "PATCH":
            comment = next((c for c in s.comments if c["id"] == int(m.group(1))), None)
            if comment is None:
                return 404, {"message": "Not Found"}
            comment["body"] = body["body"]
            return 200, comment
        m = re.fullmatch(r"releases/tags/(.+)", rest)
        if m and method == "GET":
            release = next((r for r in s.releases if r["tag_name"] == m.group(1)), None)
            return (200, release) if release else (404, {"message": "Not Found"})
        if rest == "releases" and method == "POST":
            if any(r["tag_name"] == body["tag_name"] for r in s.releases):
                return 422, {"message": "Validation Failed", "errors": [{"code": "already_exists"}]}
            rid = s.new_id()
            release = {
                "id": rid,
                "tag_name": body["tag_name"],
                "name": body.get("name"),
                "body": body.get("body", ""),
                "upload_url": f"{self.url}/uploads/repos/{repo}/releases/{rid}/assets{{?name,label}}",
            }
            s.releases.append(release)
            return 201, release
        return 404, {"message": f"Not Found (the fake does not serve {method} {path})"}


class _Handler(BaseHTTPRequestHandler):
    fake: FakeGitHub

    def log_message(self, *args: Any) -> None:
        pass

    def _serve(self) -> None:
        url = urlparse(self.path)
        auth = self.headers.get("Authorization", "")
        if auth not in (f"Bearer {self.fake.state.token}", f"token {self.fake.state.token}"):
            return self._send(401, {"message": "Bad credentials"})
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body: Any = raw
        if not url.path.startswith("/uploads/") and raw:
            try:
                body = json.loads(raw)
            except ValueError:
                return self._send(400, {"message": "Problems parsing JSON"})
        status, answer = self.fake.handle(self.command, url.path, parse_qs(url.query), body)
        self._send(status, answer)

    def _send(self, status: int, answer: Any) -> None:
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve
