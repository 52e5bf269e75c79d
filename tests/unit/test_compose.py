"""docker-compose.yml, Dockerfile and .dockerignore, checked without a Docker engine.

The YAML is loaded with PyYAML (merge keys resolved as Compose resolves them) and each
service is checked for what the deployment relies on: one image, a shared store volume,
REDIS_URL, the right command, a GPU reservation on the GPU worker, the CPU worker behind a
profile, and nothing published beyond the host's loopback.
"""
from __future__ import annotations

import importlib.util
import re
import shlex
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
APP_SERVICES = ("web", "worker", "worker-cpu")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


def command(service: dict) -> list[str]:
    cmd = service["command"]
    return shlex.split(cmd) if isinstance(cmd, str) else list(cmd)


def env(service: dict) -> dict:
    value = service.get("environment", {})
    if isinstance(value, list):
        value = dict(item.split("=", 1) for item in value)
    return value


def dockerfile_lines() -> list[str]:
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def test_services_and_profiles(services):
    assert set(services) == {"redis", "web", "worker", "worker-cpu"}
    assert services["worker-cpu"]["profiles"] == ["cpu"]
    for name in ("redis", "web", "worker"):
        assert "profiles" not in services[name], name


def test_one_image_shared_store_and_redis_url(services, compose):
    images = {services[name]["image"] for name in APP_SERVICES}
    assert len(images) == 1
    stores = set()
    for name in APP_SERVICES:
        e = env(services[name])
        assert e["REDIS_URL"].startswith("redis://redis:6379/"), name
        store = e["RNNSCOPE_STORE"]
        mounts = [v.split(":") for v in services[name]["volumes"]]
        assert any(store == target or store.startswith(target.rstrip("/") + "/")
                   for source, target, *_ in mounts if source in compose["volumes"]), name
        stores.add((store, tuple(tuple(m) for m in mounts)))
        assert services[name]["depends_on"]["redis"]["condition"] == "service_healthy"
    assert len(stores) == 1  # the same store path on the same named volume everywhere


def test_web_runs_gunicorn_on_the_dash_server_on_loopback(services):
    cmd = command(services["web"])
    assert cmd[0] == "gunicorn"
    assert cmd[-1] == "rnnscope.app.wsgi:server"
    assert "--bind" in cmd and cmd[cmd.index("--bind") + 1].endswith(":8050")
    assert services["web"]["ports"] == ["127.0.0.1:8050:8050"]


def test_gunicorn_target_module_exists(services):
    module = command(services["web"])[-1].split(":")[0]
    assert importlib.util.find_spec(module) is not None, f"{module} (gunicorn target) is missing"


def test_gpu_worker_reserves_a_gpu(services):
    worker = services["worker"]
    cmd = command(worker)
    assert cmd[:2] == ["rnnscope", "worker"]
    assert cmd[cmd.index("--device") + 1] == "cuda"
    devices = worker["deploy"]["resources"]["reservations"]["devices"]
    assert devices == [{"driver": "nvidia", "count": 1, "capabilities": ["gpu"]}]
    assert env(worker)["RNNSCOPE_DEVICE"] == "cuda"


def test_cpu_worker(services):
    worker = services["worker-cpu"]
    cmd = command(worker)
    assert cmd[:2] == ["rnnscope", "worker"]
    assert cmd[cmd.index("--device") + 1] == "cpu"
    assert int(cmd[cmd.index("--concurrency") + 1]) >= 1
    assert "deploy" not in worker
    assert env(worker)["RNNSCOPE_DEVICE"] == "cpu"


def test_redis_is_internal_and_healthchecked(services):
    redis = services["redis"]
    assert "ports" not in redis
    assert "redis-cli" in redis["healthcheck"]["test"] and "ping" in redis["healthcheck"]["test"]


def test_worker_commands_parse_with_the_real_cli(services):
    from rnnscope.app.cli import build_parser

    parser = build_parser()
    for name in ("worker", "worker-cpu"):
        args = parser.parse_args(command(services[name])[1:])
        assert args.command == "worker" and args.concurrency >= 1


def test_dockerfile_base_torch_pin_and_user():
    lines = dockerfile_lines()
    assert lines[0] == "FROM python:3.11-slim"
    args = dict(re.match(r"ARG (\w+)=(\S+)", line).groups() for line in lines if line.startswith("ARG "))
    assert args["TORCH_VERSION"] == "2.13.0"
    assert args["TORCH_INDEX_URL"].endswith("/whl/cpu")  # CPU unless told otherwise
    assert any("torch==${TORCH_VERSION}" in line and "${TORCH_INDEX_URL}" in line for line in lines)
    users = [line for line in lines if line.startswith("USER ")]
    assert users and users[-1] != "USER root"
    env_line = next(line for line in lines if line.startswith("ENV ") and "RNNSCOPE_STORE" in line)
    assert "RNNSCOPE_STORE=/data/store" in env_line and "RNNSCOPE_DEMO_DIR=" in env_line


def test_dockerfile_copies_existing_paths_and_ignores_the_venv():
    for line in dockerfile_lines():
        if line.startswith("COPY "):
            *sources, _dest = line.split()[1:]
            for source in sources:
                assert (ROOT / source).exists(), f"COPY source {source} is missing"
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()}
    assert {".venv", ".git"} <= ignored
    assert not {"analysis", "app", "workers", "models", "pyproject.toml"} & ignored
