"""docker-compose.yml: parsed as compose would (YAML with merge keys), then the
service graph, health checks, commands and secrets are checked.  No docker."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

pytestmark = []  # no Django settings, no database

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
SERVICES = COMPOSE["services"]
APP_SERVICES = ("migrate", "api", "web", "worker-evaluation", "worker-documents", "beat")
LONG_RUNNING = ("api", "web", "worker-evaluation", "worker-documents", "beat")
SECRET_NAMES = re.compile(r"SECRET|PASSWORD|TOKEN|DATABASE_URL", re.IGNORECASE)


def _command(service: str) -> str:
    command = SERVICES[service]["command"]
    return command if isinstance(command, str) else " ".join(command)


def _interpolate(value: str) -> str:
    """Compose's ${VAR:-default} with an empty environment; $$ is a literal $."""
    value = re.sub(r"\$\{[A-Za-z_][A-Za-z0-9_]*:?-([^}]*)\}", r"\1", value)
    return value.replace("$$", "$")


def _strings(node: object) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for value in node.values() for s in _strings(value)]
    if isinstance(node, list):
        return [s for value in node for s in _strings(value)]
    return []


def test_every_service_exists() -> None:
    assert set(SERVICES) == {"postgres", "redis", *APP_SERVICES}
    assert SERVICES["postgres"]["image"].startswith("postgres:17")
    assert SERVICES["redis"]["image"] == "redis:7-alpine"


def test_app_services_share_one_image_and_environment() -> None:
    anchor = COMPOSE["x-app"]
    for name in APP_SERVICES:
        service = SERVICES[name]
        assert service["image"] == anchor["image"], name
        assert service["build"] == {"context": ".", "dockerfile": "deploy/Dockerfile"}, name
        assert service["secrets"] == anchor["secrets"], name
        for key, value in anchor["environment"].items():
            assert service["environment"][key] == value, (name, key)
        assert service["read_only"] is True and "/tmp" in service["tmpfs"], name


def test_startup_order() -> None:
    assert SERVICES["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert SERVICES["migrate"]["restart"] == "no"
    for name in LONG_RUNNING:
        depends_on = SERVICES[name]["depends_on"]
        assert depends_on["migrate"] == {"condition": "service_completed_successfully"}, name
        assert depends_on["postgres"] == {"condition": "service_healthy"}, name
        assert depends_on["redis"] == {"condition": "service_healthy"}, name


def test_health_checks() -> None:
    assert "pg_isready" in SERVICES["postgres"]["healthcheck"]["test"]
    assert SERVICES["redis"]["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]
    assert SERVICES["migrate"]["healthcheck"] == {"disable": True}
    for name in ("api", "web"):
        assert SERVICES[name]["healthcheck"]["test"] == [
            "CMD",
            "python",
            "/app/deploy/healthcheck.py",
            "/healthz/ready",
        ]
    nodes = {
        "worker-evaluation": "evaluation",
        "worker-documents": "documents",
        "beat": "celerybeat",
    }
    for name, node in nodes.items():
        kind, script = SERVICES[name]["healthcheck"]["test"]
        assert kind == "CMD-SHELL", "the shell expands $HOSTNAME"
        assert _interpolate(script) == (
            f"celery -A services inspect ping -d {node}@$HOSTNAME --timeout 10"
        )
        assert f"-n {node}@%h" in _command(name)
    for name in LONG_RUNNING:
        assert SERVICES[name]["healthcheck"]["timeout"], name


def test_no_bare_dollar_for_compose_to_substitute() -> None:
    # "$HOSTNAME" would be replaced by the host's value when compose reads the file.
    for text in _strings(COMPOSE):
        bare = re.findall(r"\$(?!\$|\{)", text.replace("$$", ""))
        assert not bare, text


def test_commands() -> None:
    gunicorn = "gunicorn -c deploy/gunicorn.conf.py services.wsgi:application"
    assert _command("api") == gunicorn
    assert _command("web") == gunicorn
    assert _command("migrate") == "python manage.py migrate --noinput"
    assert _command("worker-evaluation") == (
        "celery -A services worker -Q evaluation --concurrency 2 --loglevel INFO -n evaluation@%h"
    )
    assert _command("worker-documents") == (
        "celery -A services worker -Q documents --concurrency 1 --loglevel INFO -n documents@%h"
    )
    assert _command("beat").startswith(
        "celery -A services beat --loglevel INFO -s /tmp/celerybeat-schedule"
    )
    assert SERVICES["api"]["environment"]["EVRELEASE_ROLE"] == "api"
    assert SERVICES["web"]["environment"]["EVRELEASE_ROLE"] == "web"


def test_one_beat() -> None:
    beat = SERVICES["beat"]
    assert beat.get("deploy", {}).get("replicas", 1) == 1
    assert beat.get("scale", 1) == 1


@pytest.mark.parametrize(("service", "host_port"), [("api", "8000"), ("web", "8001")])
def test_ports(service: str, host_port: str) -> None:
    (mapping,) = SERVICES[service]["ports"]
    *_, published, target = _interpolate(mapping).split(":")
    assert (published, target) == (host_port, "8000")


def test_secrets_come_from_files() -> None:
    environment = COMPOSE["x-app"]["environment"]
    assert "SECRET_KEY" not in environment
    assert environment["SECRET_KEY_FILE"] == "/run/secrets/secret_key"
    assert environment["DATABASE_URL_FILE"] == "/run/secrets/database_url"
    assert environment["DEBUG"] == "false"
    for name, service in SERVICES.items():
        for key, value in (service.get("environment") or {}).items():
            if SECRET_NAMES.search(key):
                assert key.endswith("_FILE"), f"{name}: {key} must be read from a file"
            assert not re.search(r"://[^/@\s]*:[^/@\s]+@", str(value)), f"{name}: {key}"
        for secret in service.get("secrets", []):
            assert secret in COMPOSE["secrets"], (name, secret)
    for secret in COMPOSE["secrets"].values():
        path = ROOT / secret["file"]
        assert path.parent == ROOT / "deploy" / "secrets"
        assert (path.parent / f"{path.name}.example").is_file(), f"{path.name}.example"


def test_real_secret_files_are_ignored_by_git() -> None:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    for secret in COMPOSE["secrets"].values():
        ignored = subprocess.run(
            ["git", "check-ignore", "--quiet", "--no-index", secret["file"]], cwd=ROOT, check=False
        )
        assert ignored.returncode == 0, f"{secret['file']} must be ignored by git"
        example = subprocess.run(
            ["git", "check-ignore", "--quiet", "--no-index", secret["file"] + ".example"],
            cwd=ROOT,
            check=False,
        )
        assert example.returncode == 1, f"{secret['file']}.example belongs in git"


def test_named_volumes_are_declared() -> None:
    for name, service in SERVICES.items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if not source.startswith((".", "/")):
                assert source in COMPOSE["volumes"], (name, source)
