"""Benchmark `mlctl serve`: single-row /predict against a bare uvicorn endpoint (the HTTP floor).

Every server is a separate process (one uvicorn worker, uvloop + httptools);
the load comes from another process: `wrk` when installed, else a raw-socket
keep-alive load generator in this file (asyncio + uvloop). For concurrency 1, 8
and 64 it reports requests/s and p50/p99 latency (medians of --runs runs, the
servers interleaved), the ratio to the floor and the cost of request logging
(the same service with serve.log_dir set vs unset), and each server's CPU time
per request. Ratios are the median of each run's ratio to the run just before
it, so a drift of this noisy machine between runs does not count as a
difference between servers. Every run starts fresh server processes: two
processes of the very same service, kept for a whole benchmark, differed by 11%
here (memory layout, hash seeds, which core they land on), more than the
logging cost being measured. ``--control`` adds that second identical service,
to show the method's own noise next to the result.

    python benchmarks/bench_serve.py [--seconds 2] [--runs 7] [--control]

Targets (issue #4): throughput >= 40% of the floor and p99 < 5 ms at
concurrency 8 on 2 cores; logging costs < 10% of throughput.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))  # conftest imports the workflow fixtures by their bare name
STACK = {"loop": "uvloop", "http": "httptools", "access_log": False, "log_level": "warning"}


# -- servers (each runs in its own process) ------------------------------------------------------


async def floor_app(scope, receive, send):
    """The HTTP floor: read the body, answer a constant JSON document."""
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    body = b'{"predictions":["yes"]}'
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


def run_server(kind: str, port: int, model_dir: str) -> None:
    import uvicorn

    if kind == "floor":
        uvicorn.run(floor_app, host="127.0.0.1", port=port, **STACK)
        return
    from mlctl.serve import ServeConfig, create_app

    log_dir = str(Path(model_dir) / "logs" / str(port)) if kind == "logging" else None
    config = ServeConfig(model_path=f"{model_dir}/model.onnx", manifest_path=f"{model_dir}/model.json", log_dir=log_dir)
    uvicorn.run(create_app(config), host="127.0.0.1", port=port, **STACK)


# -- load generators ---------------------------------------------------------------------------


def run_wrk(url: str, body: bytes, concurrency: int, seconds: float, tmp: Path) -> dict:
    script = tmp / "post.lua"
    script.write_text(
        'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
        f"wrk.body = {json.dumps(body.decode())}\n"
    )
    out = subprocess.run(
        ["wrk", "-t1", f"-c{concurrency}", f"-d{max(1, round(seconds))}s", "--latency", "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    lat = {p: _ms(re.search(rf"^\s+{p}%\s+([\d.]+\w+)", out, re.M).group(1)) for p in ("50", "99")}
    return {"rps": rps, "p50_ms": lat["50"], "p99_ms": lat["99"], "errors": int(errors.group(1)) if errors else 0}


def _ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(\w+)", text).groups()
    return float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}[unit]


async def _client(port: int, request: bytes, start: float, stop: float, lat: list, errors: list) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    while (t0 := time.perf_counter()) < stop:
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        i = head.lower().index(b"content-length:")
        await reader.readexactly(int(head[i + 15 : head.index(b"\r\n", i)]))
        if t0 >= start:
            lat.append(time.perf_counter() - t0)
            if head[9:12] != b"200":
                errors.append(1)
    writer.close()


def python_load(port: int, body: bytes, concurrency: int, seconds: float) -> dict:
    """Keep-alive load from this process (used when wrk is not installed)."""
    request = (
        b"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )
    lat: list[float] = []
    errors: list[int] = []

    async def main() -> None:
        start = time.perf_counter() + 0.3  # warm-up excluded
        stop = start + seconds
        await asyncio.gather(*[_client(port, request, start, stop, lat, errors) for _ in range(concurrency)])

    try:
        import uvloop

        uvloop.run(main())
    except ImportError:
        asyncio.run(main())
    lat.sort()
    return {
        "rps": len(lat) / seconds,
        "p50_ms": lat[len(lat) // 2] * 1e3,
        "p99_ms": lat[int(len(lat) * 0.99)] * 1e3,
        "errors": len(errors),
    }


def load(port: int, path: str, body: bytes, concurrency: int, seconds: float, tmp: Path) -> dict:
    """Run the load from a separate process and return its measurements."""
    if shutil.which("wrk"):
        return run_wrk(f"http://127.0.0.1:{port}{path}", body, concurrency, seconds, tmp)
    out = subprocess.run(
        [sys.executable, __file__, "--load", str(port), str(concurrency), str(seconds), body.decode()],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(out)


# -- orchestration -----------------------------------------------------------------------------

LABELS = {
    "floor": "bare uvicorn (floor)",
    "serve": "/predict, no logging",
    "serve2": "/predict, no logging #2",
    "logging": "/predict, logging on",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(kind: str, model_dir: Path) -> tuple[subprocess.Popen, int]:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    server = "serve" if kind == "serve2" else kind  # the control: a second, identical service process
    return subprocess.Popen([sys.executable, __file__, "--serve", server, str(port), str(model_dir)], env=env), port


def wait_ready(kind: str, proc: subprocess.Popen, port: int) -> None:
    import httpx

    deadline = time.monotonic() + 90
    while True:
        try:
            httpx.get(f"http://127.0.0.1:{port}{'/' if kind == 'floor' else '/health'}", timeout=1)
            return
        except httpx.TransportError:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError(f"{kind} server did not start") from None
            time.sleep(0.1)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, all its threads (Linux; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def one_run(kinds: list[str], run: int, args: argparse.Namespace, body: bytes, tmp: Path, results: dict) -> None:
    """Start fresh servers, load each in turn at every concurrency, stop them."""
    servers = {k: launch(k, tmp) for k in kinds}
    try:
        for kind, (proc, port) in servers.items():
            wait_ready(kind, proc, port)
        for kind, (_, port) in servers.items():  # warm-up: lazy init, first collections, caches
            load(port, "/" if kind == "floor" else "/predict", body, 8, 1, tmp)
        for conc in args.concurrency:
            # the floor first (each ratio is to the floor run just before it); the services
            # take turns in the other places, so none always runs right after the floor
            rest = [k for k in kinds if k != "floor"]
            shift = run % len(rest)
            for kind in ["floor", *rest[shift:], *rest[:shift]]:
                proc, port = servers[kind]
                cpu = cpu_seconds(proc.pid)
                r = load(port, "/" if kind == "floor" else "/predict", body, conc, args.seconds, tmp)
                assert r["errors"] == 0, f"{kind}: {r['errors']} non-2xx responses"
                r["cpu_us"] = (cpu_seconds(proc.pid) - cpu) / (r["rps"] * args.seconds) * 1e6
                results.setdefault((conc, kind), []).append(r)
    finally:
        for proc, _ in servers.values():
            proc.terminate()
        for proc, _ in servers.values():
            proc.wait(timeout=30)


def report(kinds: list[str], concurrency: list[int], results: dict) -> None:
    print(
        f"{'conc':>4} {'server':<24} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'cpu us/req':>10} "
        f"{'vs floor':>9}  per-run ratios"
    )
    for conc in concurrency:
        runs = {k: results[(conc, k)] for k in kinds}
        for kind in kinds:
            med = {m: statistics.median(r[m] for r in runs[kind]) for m in ("rps", "p50_ms", "p99_ms", "cpu_us")}
            # each run's ratio to the floor measured just before it: robust to drifts of the machine
            ratios = sorted(r["rps"] / f["rps"] for r, f in zip(runs[kind], runs["floor"], strict=True))
            spread = f"{ratios[0]:.0%}-{ratios[-1]:.0%}" if kind != "floor" else ""
            print(
                f"{conc:>4} {LABELS[kind]:<24} {med['rps']:>9.0f} {med['p50_ms']:>8.2f} {med['p99_ms']:>8.2f} "
                f"{med['cpu_us']:>10.0f} {statistics.median(ratios):>8.0%}  {spread}"
            )
        for kind, what in (("logging", "logging cost"), ("serve2", "control, same service twice")):
            if kind in kinds:
                pairs = list(zip(runs[kind], runs["serve"], strict=True))
                costs = sorted(1 - g["rps"] / s["rps"] for g, s in pairs)
                cpu = statistics.median(g["cpu_us"] / s["cpu_us"] - 1 for g, s in pairs)
                print(
                    f"{'':>4} {what}: {statistics.median(costs):+.1%} of throughput "
                    f"(per run {costs[0]:+.0%} to {costs[-1]:+.0%}), {cpu:+.1%} server CPU per request"
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 64])
    parser.add_argument(
        "--control", action="store_true", help="also load a second no-logging service: the method's own noise"
    )
    parser.add_argument("--serve", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--load", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        run_server(args.serve[0], int(args.serve[1]), args.serve[2])
        return
    if args.load:
        port, conc, secs, body = args.load
        print(json.dumps(python_load(int(port), body.encode(), int(conc), float(secs))))
        return

    from tests.serve_helpers import build_model, records

    tmp = Path(tempfile.mkdtemp(prefix="bench-serve-"))
    built = build_model(tmp, "classification")  # random forest, 6 features incl. 2 categorical
    body = json.dumps({"instances": records(built["frame"], slice(0, 1))}).encode()
    kinds = ["floor", "serve", "logging", *(["serve2"] if args.control else [])]
    generator = "wrk" if shutil.which("wrk") else "python asyncio load generator"
    print(
        f"load: {generator}, {args.seconds:g}s x {args.runs} runs, single-row POST, 1 uvicorn worker each, "
        f"fresh server processes every run, {os.cpu_count()} cores"
    )
    try:
        results: dict = {}
        for run in range(args.runs):
            one_run(kinds, run, args, body, tmp, results)
        report(kinds, args.concurrency, results)
        logged = list((tmp / "logs").rglob("*.parquet"))
        print(f"request log: {len(logged)} finished Parquet file(s) under {tmp / 'logs'}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
