"""The app factory: model state, middlewares, routes by protocol, lifespan (warm-up, shutdown, signals)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hmac
import logging
import os
import signal
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import PlainTextResponse, Response

from mlctl import __version__
from mlctl.core.errors import ConfigError, MlctlError
from mlctl.onnxmodel.runtime import OnnxModel
from mlctl.serve import mlflow, v2
from mlctl.serve import predict_route as predict
from mlctl.serve.batching import Batcher
from mlctl.serve.canary import canary_routes
from mlctl.serve.config import TOKEN_ENV, ServeConfig
from mlctl.serve.context import Context, context
from mlctl.serve.docs import docs_routes
from mlctl.serve.limits import BodyLimitMiddleware, error_body
from mlctl.serve.middleware import ObserveMiddleware, RequestIds
from mlctl.serve.prometheus import CONTENT_TYPE, Metrics
from mlctl.serve.requestlog import RequestLog
from mlctl.serve.responses import json_response
from mlctl.serve.schemas import name_paths, text
from mlctl.serve.shadow import Shadow
from mlctl.serve.state import ModelState

log = logging.getLogger("mlctl.serve")


def create_app(config: ServeConfig, model: OnnxModel | None = None) -> FastAPI:
    """Load the model (sha256 checked) and build the app; ready once the lifespan warm-up ran."""
    state = ModelState(config, model)
    metrics = Metrics()
    request_log = (
        RequestLog(
            config.log_dir,
            max_rows=config.log_max_rows,
            max_seconds=config.log_max_seconds,
            flush_seconds=config.log_flush_seconds,
        )
        if config.log_dir
        else None
    )
    ctx = Context(config, state, metrics, request_log, Batcher(config.batch_rows, request_log))
    if state.shadow is not None:
        if request_log is None:
            raise ConfigError(
                "a shadow model needs the request log: its answers are logged beside the champion's",
                where="serve.log_dir",
                hint="set serve.log_dir (or drop --shadow)",
            )
        ctx.shadow = request_log.shadow = Shadow(
            state.shadow, config.shadow_share, config.shadow_queue, config.unknown_category
        )
        ctx.shadow.on_loop = request_log.on_loop
    served = state.served
    app = ServeApp(
        title=f"mlctl serve: {served.name}",
        version=__version__,
        description=f"Predictions from the {served.task} model {served.name!r} (version {served.version}).",
        lifespan=_lifespan(ctx),
        # FastAPI's native OpenTelemetry hooks cost more per request than the model; /metrics covers it
        telemetry={"tracing": False, "metrics": False, "logs": False},
        docs_url=None,  # /docs is served with local assets (docs_routes): no request leaves the machine
        redoc_url=None,
    )
    app.state.ctx = ctx
    docs_routes(app)
    app.include_router(predict.router(served, config.unknown_category, config.max_rows, config.extra_fields))
    app.include_router(mlflow.router(served, config.unknown_category, config.max_rows))
    app.include_router(v2.router(served, config.unknown_category, config.max_rows))
    _ops_routes(app)
    canary_routes(app, _admin_denied)
    _error_handlers(app)
    ids = RequestIds()
    # outermost first: ids and metrics see every answer, including the 413s of the body limit
    app.add_middleware(BodyLimitMiddleware, max_bytes=config.max_body_bytes)
    app.add_middleware(ObserveMiddleware, metrics=metrics, ids=ids)
    app.direct = predict.PredictEndpoint(ctx, ids)  # after add_middleware, which would clear it
    return app


class ServeApp(FastAPI):
    """FastAPI, plus POST /predict answered before the middleware stack and router.

    ``PredictEndpoint`` does what the stack would (request id, body limit,
    metrics) in one call. A middleware added later, by whoever mounts the app,
    must see every request: adding one turns the shortcut off.
    """

    direct: Any = None

    def openapi(self) -> dict:
        if not self.openapi_schema:
            self.openapi_schema = name_paths(super().openapi(), self.state.ctx.state.served.name)
        return self.openapi_schema

    def add_middleware(self, *args: Any, **kwargs: Any) -> None:
        self.direct = None
        super().add_middleware(*args, **kwargs)

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if self.state.ctx.state.draining and scope["type"] == "http" and scope["path"] not in STILL_ANSWERED:
            await _closing(scope, send)
            return
        direct = self.direct
        if (
            direct is not None
            and scope["type"] == "http"
            and scope["path"] == predict.PATH
            and scope["method"] == "POST"
        ):
            await direct(scope, receive, send)
        else:
            await super().__call__(scope, receive, send)


STILL_ANSWERED = frozenset({"/health", "/ready", "/metrics", "/ping", "/v2/health/live", "/v2/health/ready"})


async def _closing(scope: dict, send: Any) -> None:
    """503 + Connection: close: the service is shutting down, the client should go elsewhere."""
    body = error_body(scope["path"], 503, "shutting down: retry on another instance")
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
        (b"retry-after", b"1"),
    ]
    await send({"type": "http.response.start", "status": 503, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _lifespan(ctx: Context):
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        ctx.state.warm_up()
        if ctx.log is not None:
            ctx.log.start(ctx.state.served, asyncio.get_running_loop())
        # everything loaded so far (pyarrow too) lives as long as the process: keep it out of the
        # GC's scans, or full collections over FastAPI's and onnxruntime's objects stall requests
        gc.collect()
        gc.freeze()
        restore = _hook_signals(ctx, asyncio.get_running_loop())
        try:
            yield
        finally:
            ctx.state.shutting_down = True
            restore()
            if ctx.log is not None:
                await asyncio.to_thread(ctx.log.close)

    return lifespan


def _hook_signals(ctx: Context, loop: asyncio.AbstractEventLoop):
    """SIGTERM/SIGINT: readiness turns false at once (uvicorn then drains); SIGHUP: reload the model."""
    if os.name != "posix":
        return lambda: None
    previous: dict[int, Any] = {}

    def on_exit(sig: int, frame: Any) -> None:
        handler = previous.get(sig)
        drain = ctx.config.drain_seconds
        if ctx.state.shutting_down or drain <= 0:  # a second signal ends the drain window at once
            ctx.state.shutting_down = True
            if callable(handler):
                handler(sig, frame)
            return
        ctx.state.shutting_down = True
        ctx.state.draining = True  # new requests: 503 + Connection: close (ServeApp) until uvicorn drains
        log.warning("signal %d: answering 503 for %.1f s, then draining in-flight requests", sig, drain)
        if callable(handler):
            loop.call_soon_threadsafe(loop.call_later, drain, handler, sig, frame)

    def on_hup(sig: int, frame: Any) -> None:
        if ctx.config.supervisor_pid:  # one of several workers: the supervisor reloads them all
            os.kill(ctx.config.supervisor_pid, signal.SIGHUP)
            return
        loop.call_soon_threadsafe(lambda: loop.create_task(_reload_logged(ctx)))

    try:
        for sig in (signal.SIGTERM, signal.SIGINT):
            previous[sig] = signal.getsignal(sig)
            signal.signal(sig, on_exit)
        previous[signal.SIGHUP] = signal.signal(signal.SIGHUP, on_hup)
    except ValueError:  # not the main thread (e.g. a server in a test thread): leave signals alone
        return lambda: None

    def restore() -> None:
        for sig, handler in previous.items():
            with contextlib.suppress(ValueError, TypeError):
                signal.signal(sig, handler)

    return restore


async def _reload_logged(ctx: Context) -> None:
    try:
        old, new = await asyncio.to_thread(ctx.state.reload)
        log.warning("SIGHUP: reloaded model %s -> %s", old, new)
    except MlctlError as exc:
        log.error("SIGHUP: reload refused, still serving %s: %s", ctx.state.served.version, exc)


def _ops_routes(app: FastAPI) -> None:
    @app.get("/health", tags=["ops"], summary="Liveness: the process answers")
    async def health() -> Response:
        return json_response({"status": "ok"})

    @app.get("/ready", tags=["ops"], summary="Readiness: model loaded, warmed up, not shutting down")
    async def ready(request: Request) -> Response:
        state = context(request).state
        if state.ready:
            return json_response({"status": "ready", "model_version": state.served.version})
        reason = "shutting down" if state.shutting_down else "warming up"
        return json_response({"status": reason}, 503)

    @app.get("/metadata", tags=["ops"], summary="The served model: version, sha256, schemas, metrics")
    async def metadata(request: Request) -> Response:
        served = context(request).state.served
        m = served.manifest
        keys = (
            "name",
            "version",
            "sha256",
            "created",
            "task",
            "target",
            "classes",
            "opset",
            "inputs",
            "outputs",
            "metrics",
            "parity",
            "data_hash",
        )
        return json_response({k: m.get(k) for k in keys})

    @app.get(
        "/metrics",
        tags=["ops"],
        summary="Prometheus metrics (text format)",
        responses=text("Prometheus text"),
        response_class=PlainTextResponse,
    )
    async def metrics(request: Request) -> Response:
        ctx = context(request)
        extra = ctx.shadow.metrics() if ctx.shadow is not None else None
        text = ctx.metrics.render(ctx.state, ctx.log.stats() if ctx.log else None, extra)
        return Response(text, media_type=CONTENT_TYPE)

    @app.post(
        "/admin/reload",
        tags=["ops"],
        summary="Load a new model version (token in MLCTL_ADMIN_TOKEN)",
        responses={
            401: {"description": "bad token"},
            404: {"description": "admin disabled"},
            202: {"description": "several workers: the new model passed its checks, every worker is being replaced"},
            409: {"description": "new model refused; the old one keeps serving"},
        },
    )
    async def reload(request: Request) -> Response:
        denied = _admin_denied(request)
        if denied is not None:
            return denied
        ctx = context(request)
        pid = ctx.config.supervisor_pid
        try:
            if pid:  # several workers: check the new model here, then the supervisor replaces every worker
                from mlctl.serve.workers import check_model

                old = ctx.state.served.version
                new = (await asyncio.to_thread(check_model, ctx.config, ctx.state.served.model)).version
                os.kill(pid, signal.SIGHUP)
                return json_response(
                    {"previous_version": old, "model_version": new, "status": "replacing every worker"}, 202
                )
            old, new = await asyncio.to_thread(ctx.state.reload)
        except MlctlError as exc:
            return json_response(
                {"detail": exc.message, "where": exc.where, "hint": exc.hint, "serving": ctx.state.served.version}, 409
            )
        return json_response({"previous_version": old, "model_version": new})


def _admin_denied(request: Request) -> Response | None:
    """404 when the admin API is off (no MLCTL_ADMIN_TOKEN), 401 on a missing or wrong bearer token."""
    token = os.environ.get(TOKEN_ENV)
    if not token:
        return json_response({"detail": f"admin API disabled: set {TOKEN_ENV} to enable it"}, 404)
    given = request.headers.get("authorization", "")
    scheme, _, value = given.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(value.encode(), token.encode()):
        return json_response({"detail": "missing or wrong admin token"}, 401, headers={"WWW-Authenticate": "Bearer"})
    return None


def _error_handlers(app: FastAPI) -> None:
    """Every error is JSON; no traceback or payload ever reaches the client."""

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        detail = [{"loc": list(e.get("loc", ()))[:6], "msg": str(e.get("msg", ""))[:200]} for e in exc.errors()[:20]]
        return json_response({"detail": detail}, 422)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        path = request.url.path
        if path.startswith("/v2") or path == "/invocations":
            body = error_body(path, exc.status_code, str(exc.detail))
            return Response(body, exc.status_code, media_type="application/json", headers=exc.headers)
        return json_response({"detail": exc.detail}, exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def crash(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s", request.url.path)
        body = error_body(request.url.path, 500, "internal error (logged on the server)")
        return Response(body, 500, media_type="application/json")
