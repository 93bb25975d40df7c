"""The deployment files, checked statically (no Docker engine or cluster here): they parse, set
only HEXBANK_* variables that backend/config.py knows, run real CLI commands, and wire the
probes, WebSocket proxying and metrics the app provides."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from backend.adapters.outbound.metrics.collectors import scrape_collectors
from backend.adapters.outbound.metrics.prometheus import PrometheusMetrics, render
from backend.application.ports.job_queue import FailedJob
from backend.config import VARIABLES
from backend.entrypoints.cli.main import cli
from tests.ops.live import samples_of

ROOT = Path(__file__).parents[2]
DEPLOY = ROOT / "deploy"
PROCESS_COMMANDS = {"serve", "worker", "migrate"}
#: Every variable Settings.from_env reads, straight from its source.
KNOWN_VARIABLES = set(VARIABLES)


def hexbank_variables(environment: dict[str, Any] | None) -> set[str]:
    return {name for name in environment or {} if name.startswith("HEXBANK_")}


# --- Dockerfile ------------------------------------------------------------------------------


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1])
        for line in lines
        if line and not line.startswith("#")
    ]


def stages() -> list[list[tuple[str, str]]]:
    found: list[list[tuple[str, str]]] = []
    for instruction in dockerfile():
        if instruction[0] == "FROM":
            found.append([])
        found[-1].append(instruction)
    return found


def test_the_image_builds_the_web_app_with_node_and_runs_on_slim_python() -> None:
    web, *_middle, runtime = stages()
    assert web[0][1].startswith("node:20") and " AS web" in web[0][1]
    assert any("npm ci" in args for op, args in web if op == "RUN")
    assert any("npm run build" in args for op, args in web if op == "RUN")
    assert runtime[0][1].startswith("python:3.11-slim")
    assert any("requirements/main.lock" in args for _op, args in dockerfile())
    copies = [args for op, args in runtime if op == "COPY"]
    assert any(args.startswith("--from=web") and "frontend/dist" in args for args in copies)
    # migrations/ and alembic.ini next to backend/: the schema check and `migrate` expect them.
    assert {"backend/ backend/", "migrations/ migrations/"} <= set(copies)
    assert any("alembic.ini" in args for args in copies)


def test_the_image_runs_as_a_non_root_user_with_a_health_check_and_cli_entrypoint() -> None:
    runtime = stages()[-1]
    users = [args for op, args in runtime if op == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    healthcheck = next(args for op, args in runtime if op == "HEALTHCHECK")
    assert "/healthz" in healthcheck
    entrypoint = json.loads(next(args for op, args in runtime if op == "ENTRYPOINT"))
    command = json.loads(next(args for op, args in runtime if op == "CMD"))
    assert entrypoint == ["hexbank"] and command == ["serve"]
    assert set(cli.commands) >= PROCESS_COMMANDS
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".venv", "var", "frontend/node_modules", ".git"} <= set(ignored)


# --- docker compose --------------------------------------------------------------------------


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    return loaded


def test_compose_runs_the_whole_distributed_topology_from_one_image() -> None:
    services = compose()["services"]
    assert {"postgres", "redis", "migrate", "web", "worker", "nginx", "prometheus"} <= set(services)
    ours = {name: services[name] for name in ("migrate", "web", "worker")}
    assert {s["image"] for s in ours.values()} == {"hexbank:latest"}
    assert {name: s["command"] for name, s in ours.items()} == {
        "migrate": ["migrate"], "web": ["serve"], "worker": ["worker"],
    }  # fmt: skip
    assert services["web"]["deploy"]["replicas"] == 2
    assert services["worker"]["deploy"]["replicas"] == 2
    done = services["web"]["depends_on"]["migrate"]["condition"]
    assert done == "service_completed_successfully"
    assert "./nginx.conf:/etc/nginx/nginx.conf:ro" in services["nginx"]["volumes"]
    assert any("prometheus.yml" in volume for volume in services["prometheus"]["volumes"])


def test_compose_sets_only_variables_the_settings_know() -> None:
    for name, service in compose()["services"].items():
        unknown = hexbank_variables(service.get("environment")) - KNOWN_VARIABLES
        assert not unknown, (name, unknown)
    assert "HEXBANK_REDIS_URL" in compose()["services"]["worker"]["environment"]


def test_the_nginx_config_balances_the_web_replicas_and_upgrades_websockets() -> None:
    text = (DEPLOY / "nginx.conf").read_text()
    websocket = text[text.index("location = /api/v1/ws") :]
    websocket = websocket[: websocket.index("}")]
    assert "proxy_set_header Upgrade $http_upgrade" in websocket
    assert "proxy_set_header Connection $connection_upgrade" in websocket
    assert "server web:8000" in text and "location = /metrics" in text


@pytest.mark.parametrize(
    ("config", "sockets"),
    [("nginx.conf", 4 * 5_000), ("local/nginx.conf.template", 2 * 5_000)],
)
def test_the_nginx_configs_hold_5000_sockets_per_web_process(config: str, sockets: int) -> None:
    # Each proxied socket is two connections (client and upstream) and two descriptors.
    text = (DEPLOY / config).read_text()
    connections = int(re.search(r"worker_connections (\d+);", text)[1])  # type: ignore[index]
    descriptors = int(re.search(r"worker_rlimit_nofile (\d+);", text)[1])  # type: ignore[index]
    assert connections >= 2 * sockets
    assert descriptors >= connections


def test_the_nginx_configs_pass_nginx_own_check(tmp_path: Path) -> None:
    nginx = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")
    if nginx is None:
        pytest.skip("nginx is not installed")
    compose_conf = (DEPLOY / "nginx.conf").read_text().replace("web:8000", "127.0.0.1:8000")
    (tmp_path / "tmp").mkdir()  # as run-distributed.sh creates it
    local_conf = (DEPLOY / "local" / "nginx.conf.template").read_text()
    local_conf = local_conf.replace("{{prefix}}", str(tmp_path)).replace("{{user}}", "")
    local_conf = local_conf.replace("{{listen}}", "127.0.0.1:8999")
    local_conf = local_conf.replace("{{servers}}", "server 127.0.0.1:8100;")
    for name, text in {"compose.conf": compose_conf, "local.conf": local_conf}.items():
        (tmp_path / name).write_text(text)
        check = [nginx, "-t", "-q", "-p", str(tmp_path), "-c", name, "-e", "stderr"]
        result = subprocess.run(check, capture_output=True, text=True, timeout=30)
        assert result.returncode == 0, (name, result.stderr)


# --- Kubernetes ------------------------------------------------------------------------------


def manifests() -> Iterator[dict[str, Any]]:
    for path in sorted((DEPLOY / "k8s").glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            if document and document.get("kind") != "Kustomization":
                yield document


def by_kind() -> dict[str, list[dict[str, Any]]]:
    kinds: dict[str, list[dict[str, Any]]] = {}
    for manifest in manifests():
        kinds.setdefault(manifest["kind"], []).append(manifest)
    return kinds


def containers() -> Iterator[dict[str, Any]]:
    for manifest in manifests():
        if manifest["kind"] in ("Deployment", "Job"):
            yield from manifest["spec"]["template"]["spec"]["containers"]


def test_the_manifests_cover_web_worker_migrate_and_their_plumbing() -> None:
    kinds = by_kind()
    deployments = {d["metadata"]["name"] for d in kinds["Deployment"]}
    assert deployments == {"hexbank-web", "hexbank-worker"}
    for kind in ("Job", "Service", "Ingress", "ConfigMap", "Secret", "HorizontalPodAutoscaler"):
        assert kind in kinds, kind
    targets = {h["spec"]["scaleTargetRef"]["name"] for h in kinds["HorizontalPodAutoscaler"]}
    assert targets <= deployments
    kustomization = yaml.safe_load((DEPLOY / "k8s" / "kustomization.yaml").read_text())
    assert all((DEPLOY / "k8s" / resource).exists() for resource in kustomization["resources"])


def test_every_container_runs_a_cli_command_with_settings_the_app_knows() -> None:
    kinds = by_kind()
    config_maps = {m["metadata"]["name"]: m for m in kinds["ConfigMap"]}
    secrets = {m["metadata"]["name"]: m for m in kinds["Secret"]}
    commands = set()
    for container in containers():
        assert container["image"] == "hexbank"
        commands.add(container["args"][0])
        for source in container["envFrom"]:
            if "configMapRef" in source:
                assert source["configMapRef"]["name"] in config_maps
            else:
                assert source["secretRef"]["name"] in secrets
    assert commands == PROCESS_COMMANDS
    variables = set()
    for map_ in config_maps.values():
        variables |= hexbank_variables(map_["data"])
    for secret in secrets.values():
        variables |= hexbank_variables(secret["stringData"])
    assert variables - KNOWN_VARIABLES == set()
    assert {"HEXBANK_SECRET_KEY", "HEXBANK_DATABASE_URL", "HEXBANK_REDIS_URL"} <= variables


def test_web_pods_are_probed_and_the_ingress_keeps_websockets_open() -> None:
    web = next(d for d in by_kind()["Deployment"] if d["metadata"]["name"] == "hexbank-web")
    container = web["spec"]["template"]["spec"]["containers"][0]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    annotations = by_kind()["Ingress"][0]["metadata"]["annotations"]
    timeout = "nginx.ingress.kubernetes.io/proxy-read-timeout"
    assert int(annotations[timeout]) >= 3600


# --- Prometheus, Grafana, Procfile, run-distributed ------------------------------------------


class FakeQueue:
    def failed_jobs(self, limit: int = 100) -> list[FailedJob]:
        return []


class FakeRunner:
    def lag(self) -> dict[str, int]:
        return {"accounts": 0}


def exposed_series() -> set[str]:
    """Every sample name hexbank exposes (one observation of each series)."""
    metrics = PrometheusMetrics()
    metrics.command_finished("t", "committed", 0.1)
    metrics.transfer_finished("failed", "timed_out", 1.0)
    metrics.request_answered("GET", "/", 200, 0.1)
    collectors = scrape_collectors(FakeQueue, FakeRunner)  # type: ignore[arg-type]
    return {name for name, _labels in samples_of(render(metrics, collectors)[0].decode())}


def test_the_dashboard_plots_every_series_and_only_series_that_exist() -> None:
    dashboard = json.loads((DEPLOY / "grafana" / "hexbank.json").read_text())
    expressions = " ".join(t["expr"] for p in dashboard["panels"] for t in p["targets"])
    used = set(re.findall(r"hexbank_[a-z_]+", expressions))
    exposed = exposed_series()
    assert used <= exposed, used - exposed
    families = {re.sub(r"_(total|bucket|sum|count|created)$", "", name) for name in exposed}
    plotted = {re.sub(r"_(total|bucket|sum|count)$", "", name) for name in used}
    assert families <= plotted, families - plotted


def test_prometheus_scrapes_web_and_worker_replicas_on_their_ports() -> None:
    config = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job["dns_sd_configs"][0] for job in config["scrape_configs"]}
    assert (jobs["hexbank-web"]["names"], jobs["hexbank-web"]["port"]) == (["web"], 8000)
    worker_port = int(compose()["services"]["worker"]["environment"]["HEXBANK_METRICS_PORT"])
    worker = jobs["hexbank-worker"]
    assert (worker["names"], worker["port"]) == (["worker"], worker_port)


def test_the_procfile_runs_cli_commands_and_run_distributed_is_valid_bash() -> None:
    lines = [line for line in (ROOT / "Procfile").read_text().splitlines() if ":" in line]
    processes = dict(line.split(":", 1) for line in lines if not line.startswith("#"))
    assert set(processes) == {"web", "worker"}
    for command in processes.values():
        program, subcommand = command.split()[:2]
        assert program == "hexbank" and subcommand in cli.commands
    assert "$PORT" in processes["web"]
    script = DEPLOY / "local" / "run-distributed.sh"
    assert subprocess.run(["bash", "-n", str(script)], timeout=30).returncode == 0
    assert "run-distributed:" in (ROOT / "Makefile").read_text()
