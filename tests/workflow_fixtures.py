"""Session fixtures of the workflow harness: one wheel of this checkout, one virtualenv, S3 on moto's server."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
import venv
import zipfile
from pathlib import Path

import pytest
from workflow_harness import BASE_BIN, PythonEnv

REPO = Path(__file__).resolve().parents[1]
S3_KEYS = {"AWS_ACCESS_KEY_ID": "harness-key", "AWS_SECRET_ACCESS_KEY": "harness-secret"}


def virtualenv(path: Path) -> Path:
    """A virtualenv that sees the installed dependencies, whose `pip` installs into it (never the system's).

    It has no pip of its own (fast to make): `pip` in its bin/ runs the system's pip module with the
    virtualenv's interpreter, so a step's `pip install .` cannot replace the packages of the test session.
    """
    venv.create(path, system_site_packages=True, with_pip=False, symlinks=True)
    for name in ("pip", "pip3"):
        shim = path / "bin" / name
        shim.write_text(f'#!/bin/sh\nexec "{path / "bin" / "python"}" -m pip "$@"\n')
        shim.chmod(0o755)
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def build_wheel(dest: Path) -> Path:
    """A wheel of this checkout's working tree (copied, so no build/ or egg-info lands in the checkout)."""
    src = dest.parent / "src"
    shutil.copytree(REPO / "mlctl", src / "mlctl", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        if (REPO / name).exists():
            shutil.copy2(REPO / name, src / name)
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(dest), str(src)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (wheel,) = dest.glob("*.whl")
    return wheel


def wheel_dist_name(wheel: Path) -> str:
    with zipfile.ZipFile(wheel) as z:
        meta = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        text = z.read(meta).decode()
    return next(line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("Name:"))


@pytest.fixture(scope="session")
def python_env(tmp_path_factory) -> PythonEnv:
    """What actions/setup-python stands for: a virtualenv that sees the installed dependencies."""
    from importlib.metadata import PackageNotFoundError, distribution

    root = tmp_path_factory.mktemp("python")
    wheels = root / "wheels"
    wheel = build_wheel(wheels)
    env = root / "venv"
    virtualenv(env)
    name = wheel_dist_name(wheel)
    try:
        distribution(name)
        shadowed = True
    except PackageNotFoundError:
        shadowed = False
    if shadowed:  # the same distribution is installed outside the virtualenv: pip would keep that one
        proc = subprocess.run(
            [
                str(env / "bin" / "python"),
                "-m",
                "pip",
                "install",
                "-q",
                "--no-deps",
                "--no-index",
                "--ignore-installed",
                str(wheel),
            ],
            capture_output=True,
            text=True,
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return PythonEnv(env, wheels)


@pytest.fixture(scope="session")
def moto_s3(tmp_path_factory):
    """S3 on `moto_server` (127.0.0.1), with a bucket `models`; yields the endpoint URL."""
    port = free_port()
    exe = Path(BASE_BIN) / "moto_server"
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    with log.open("w") as out:
        proc = subprocess.Popen([str(exe), "-H", "127.0.0.1", "-p", str(port)], stdout=out, stderr=subprocess.STDOUT)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        import boto3

        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError(f"moto_server did not start: {log.read_text()}") from None
                time.sleep(0.2)
        client = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id=S3_KEYS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=S3_KEYS["AWS_SECRET_ACCESS_KEY"],
        )
        client.create_bucket(Bucket="models")
        yield endpoint
    finally:
        proc.terminate()
        proc.wait(timeout=10)
