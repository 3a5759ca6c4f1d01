"""/admin/canary: the canary's share, promotion and abort at run time (token-protected like /admin/reload).

Which model answers a request is decided once, at its start (Context.pick), from the state's
champion, canary and share; a change here is a few attribute assignments on the event loop, so
requests in flight finish with the model they started with and none is dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from starlette.responses import Response

from mlctl.core.errors import MlctlError
from mlctl.serve.context import context
from mlctl.serve.responses import json_response, parse_json
from mlctl.serve.state import promote

ACTIONS = ("promote", "abort")


def status(ctx: Any) -> dict[str, Any]:
    state = ctx.state
    canary = state.canary
    return {
        "champion": state.served.version,
        "canary": canary.version if canary is not None else None,
        "share": state.canary_share,
        "header": ctx.config.canary_header,
    }


def change(ctx: Any, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """Apply ``{"share": x}`` or ``{"action": "promote" | "abort"}``; (status, answer)."""
    state = ctx.state
    action, share = body.get("action"), body.get("share")
    if (action is None) == (share is None):
        return 422, {"detail": 'send {"share": 0..1} or {"action": "promote" | "abort"}'}
    if state.canary is None:
        return 409, {"detail": "no canary running", **status(ctx)}
    if share is not None:
        if type(share) not in (int, float) or not 0 <= share <= 1:
            return 422, {"detail": "share must be a number from 0 to 1"}
        state.canary_share = float(share)
        return 200, status(ctx)
    if action not in ACTIONS:
        return 422, {"detail": f"action must be one of {list(ACTIONS)}"}
    if action == "abort":
        aborted = state.canary.version
        state.canary, state.canary_share = None, 0.0
        return 200, {**status(ctx), "aborted": aborted}
    try:
        old, new = promote(state)
    except MlctlError as exc:
        return 409, {"detail": exc.message}
    return 200, {**status(ctx), "previous_version": old, "promoted": new}


def canary_routes(app: FastAPI, denied: Callable[[Request], Response | None]) -> None:
    @app.get("/admin/canary", tags=["ops"], summary="The canary: versions, share, client header (admin token)")
    async def show(request: Request) -> Response:
        refused = denied(request)
        return refused if refused is not None else json_response(status(context(request)))

    @app.post(
        "/admin/canary",
        tags=["ops"],
        summary='Change the canary: {"share": 0.25}, {"action": "promote"} or {"action": "abort"} (admin token)',
        responses={
            401: {"description": "bad token"},
            404: {"description": "admin disabled"},
            409: {"description": "no canary running, or several workers (each has its own)"},
            422: {"description": "bad body"},
        },
    )
    async def set_canary(request: Request) -> Response:
        refused = denied(request)
        if refused is not None:
            return refused
        ctx = context(request)
        if ctx.config.supervisor_pid:
            return json_response(
                {"detail": "several workers: each holds its own canary; run the canary with --workers 1"}, 409
            )
        try:
            body = parse_json(await request.body())
        except ValueError as exc:
            return json_response({"detail": str(exc)}, 400)
        if not isinstance(body, dict):
            return json_response({"detail": "send a JSON object"}, 422)
        code, answer = change(ctx, body)
        return json_response(answer, code)
