"""GET /docs: Swagger UI from assets served by the app itself.

FastAPI's default /docs page loads swagger-ui from a CDN: behind a firewall, or
for a reviewer who must not leak requests, it stays blank. The assets come from
the ``fastapi-offline`` package and are mounted under /docs-static.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.staticfiles import StaticFiles
from starlette.requests import Request
from starlette.responses import HTMLResponse

STATIC = "/docs-static"


def assets() -> Path:
    import fastapi_offline

    return Path(fastapi_offline.__file__).parent / "static"


def docs_routes(app: FastAPI) -> None:
    """Swagger UI at /docs (and its OAuth2 redirect page), every asset from this server."""
    app.mount(STATIC, StaticFiles(directory=str(assets())), name="docs-static")
    openapi_url = app.openapi_url or "/openapi.json"
    redirect = app.swagger_ui_oauth2_redirect_url or "/docs/oauth2-redirect"

    @app.get("/docs", include_in_schema=False)
    async def swagger(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=root + openapi_url,
            title=app.title + " - Swagger UI",
            oauth2_redirect_url=root + redirect,
            swagger_js_url=f"{root}{STATIC}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{STATIC}/swagger-ui.css",
            swagger_favicon_url=f"{root}{STATIC}/favicon.png",
        )

    @app.get(redirect, include_in_schema=False)
    async def oauth2_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()
