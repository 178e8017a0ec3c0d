"""deploy/k8s: build the base and each overlay, validate every object against the
Kubernetes 1.33 schema (strict: unknown fields fail), and check the rules the
deployment depends on.  No cluster, no kubectl: see k8s_render.py."""

import re
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from tests.deploy.k8s_render import all_containers, build, load_documents, pod_spec

pytestmark = []  # no Django settings, no database

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
BASE = K8S / "base"
OVERLAYS = ("staging", "production")
KUBERNETES_VERSION = "1.33"
WEB_DEPLOYMENTS = ("api", "web")
APP_DEPLOYMENTS = ("api", "web", "worker-evaluation", "worker-documents", "beat")
SCALED = ("api", "web", "worker-evaluation")  # each has an HPA and a PDB
REQUIRED_SECRETS = ("SECRET_KEY", "DATABASE_URL", "REDIS_URL")


def _render(name: str) -> list[dict]:
    return build(BASE if name == "base" else K8S / "overlays" / name)


RENDERED = {name: _render(name) for name in ("base", *OVERLAYS)}


def _of_kind(objects: list[dict], kind: str) -> dict[str, dict]:
    return {obj["metadata"]["name"]: obj for obj in objects if obj["kind"] == kind}


def _env(container: dict) -> dict[str, dict]:
    return {item["name"]: item for item in container.get("env", [])}


def _command(container: dict) -> str:
    return " ".join([*container.get("command", []), *container.get("args", [])])


def _main_container(deployment: dict) -> dict:
    containers = pod_spec(deployment)["containers"]
    assert len(containers) == 1, deployment["metadata"]["name"]
    return containers[0]


@pytest.fixture(params=("base", *OVERLAYS))
def rendered(request: pytest.FixtureRequest) -> list[dict]:
    return RENDERED[request.param]


# --- schema ------------------------------------------------------------------
@pytest.mark.parametrize("name", ("base", *OVERLAYS))
def test_every_rendered_object_is_valid_kubernetes(name: str) -> None:
    for obj in RENDERED[name]:
        try:
            kubernetes_validate.validate(obj, desired_version=KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            where = ".".join(str(part) for part in exc.path)
            pytest.fail(f"{name}: {obj['kind']}/{obj['metadata']['name']}: {where}: {exc.message}")


def test_the_example_secret_is_valid_and_not_deployed() -> None:
    (secret,) = load_documents(BASE / "secret.example.yaml")
    kubernetes_validate.validate(secret, desired_version=KUBERNETES_VERSION, strict=True)
    resources = yaml.safe_load((BASE / "kustomization.yaml").read_text())["resources"]
    assert "secret.example.yaml" not in resources
    for objects in RENDERED.values():
        assert not _of_kind(objects, "Secret"), "secrets are created out of band"


# --- the process model -------------------------------------------------------
def test_all_services_exist(rendered: list[dict]) -> None:
    deployments = _of_kind(rendered, "Deployment")
    assert sorted(deployments) == sorted(APP_DEPLOYMENTS)
    assert "migrate" in _of_kind(rendered, "Job")
    assert set(_of_kind(rendered, "Service")) == set(WEB_DEPLOYMENTS)


def test_exactly_one_beat(rendered: list[dict]) -> None:
    beat = _of_kind(rendered, "Deployment")["beat"]
    assert beat["spec"]["replicas"] == 1
    assert beat["spec"]["strategy"] == {"type": "Recreate"}
    for kind in ("HorizontalPodAutoscaler", "PodDisruptionBudget"):
        for obj in _of_kind(rendered, kind).values():
            assert obj["metadata"]["name"] != "beat"
            target = obj["spec"].get("scaleTargetRef", {}).get("name")
            selector = obj["spec"].get("selector", {}).get("matchLabels", {})
            assert target != "beat"
            assert selector.get("app.kubernetes.io/component") != "beat"
    command = _command(_main_container(beat))
    assert "celery -A services beat" in command
    assert "-s /tmp/celerybeat-schedule" in command


def test_commands_of_each_process(rendered: list[dict]) -> None:
    deployments = _of_kind(rendered, "Deployment")
    gunicorn = "gunicorn -c deploy/gunicorn.conf.py services.wsgi:application"
    for name in WEB_DEPLOYMENTS:
        assert _command(_main_container(deployments[name])) == gunicorn
    for queue, concurrency in (("evaluation", "2"), ("documents", "1")):
        command = _command(_main_container(deployments[f"worker-{queue}"]))
        assert command == (
            f"celery -A services worker -Q {queue} --concurrency {concurrency} "
            f"--loglevel INFO -n {queue}@%h"
        )
    (migrate,) = pod_spec(_of_kind(rendered, "Job")["migrate"])["containers"]
    assert _command(migrate) == "python manage.py migrate --noinput"


def test_migrate_job_runs_once_and_cleans_up(rendered: list[dict]) -> None:
    job = _of_kind(rendered, "Job")["migrate"]
    assert job["spec"]["ttlSecondsAfterFinished"] > 0
    assert 0 <= job["spec"]["backoffLimit"] <= 3
    assert pod_spec(job)["restartPolicy"] == "Never"


def test_app_pods_wait_for_migrations(rendered: list[dict]) -> None:
    for name, deployment in _of_kind(rendered, "Deployment").items():
        init = pod_spec(deployment).get("initContainers", [])
        assert any("manage.py migrate --check" in _command(c) for c in init), name


# --- probes ------------------------------------------------------------------
def test_every_deployment_has_probes(rendered: list[dict]) -> None:
    for name, deployment in _of_kind(rendered, "Deployment").items():
        container = _main_container(deployment)
        assert "livenessProbe" in container, name
        assert "readinessProbe" in container or "startupProbe" in container, name


def test_http_probes_of_api_and_web(rendered: list[dict]) -> None:
    for name in WEB_DEPLOYMENTS:
        container = _main_container(_of_kind(rendered, "Deployment")[name])
        ports = {port["name"]: port["containerPort"] for port in container["ports"]}
        assert ports == {"http": 8000}
        expected = {
            "startupProbe": "/healthz/live",
            "livenessProbe": "/healthz/live",
            "readinessProbe": "/healthz/ready",
        }
        for probe, path in expected.items():
            assert container[probe]["httpGet"] == {"path": path, "port": "http"}, (name, probe)


def test_worker_and_beat_probes_ping_their_own_node(rendered: list[dict]) -> None:
    nodes = {
        "worker-evaluation": "evaluation",
        "worker-documents": "documents",
        "beat": "celerybeat",
    }
    for name, node in nodes.items():
        container = _main_container(_of_kind(rendered, "Deployment")[name])
        assert f"{node}@%h" in _command(container), name
        for probe in ("startupProbe", "livenessProbe"):
            shell, flag, script = container[probe]["exec"]["command"]
            assert (shell, flag) == ("sh", "-c"), "$HOSTNAME needs a shell to expand"
            assert script == f"celery -A services inspect ping -d {node}@$HOSTNAME --timeout 10"
            assert container[probe]["timeoutSeconds"] > 10, (name, probe)


# --- scaling and availability ------------------------------------------------
def test_hpas_and_pdbs_target_existing_deployments(rendered: list[dict]) -> None:
    deployments = _of_kind(rendered, "Deployment")
    hpas = _of_kind(rendered, "HorizontalPodAutoscaler")
    pdbs = _of_kind(rendered, "PodDisruptionBudget")
    assert set(hpas) == set(SCALED)
    assert set(pdbs) == set(SCALED)
    for name, hpa in hpas.items():
        target = hpa["spec"]["scaleTargetRef"]
        assert target == {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}
        assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
        assert "replicas" not in deployments[name]["spec"], f"{name}: the HPA owns replicas"
    for name, pdb in pdbs.items():
        selected = [
            other
            for other, deployment in deployments.items()
            if _selects(pdb["spec"]["selector"]["matchLabels"], deployment)
        ]
        assert selected == [name], (name, selected)


def _selects(match_labels: dict, deployment: dict) -> bool:
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    return all(labels.get(key) == value for key, value in match_labels.items())


def test_deployment_selectors_match_their_pods(rendered: list[dict]) -> None:
    for name, deployment in _of_kind(rendered, "Deployment").items():
        assert _selects(deployment["spec"]["selector"]["matchLabels"], deployment), name


def test_services_reach_their_deployment(rendered: list[dict]) -> None:
    deployments = _of_kind(rendered, "Deployment")
    for name, service in _of_kind(rendered, "Service").items():
        selector = service["spec"]["selector"]
        selected = [d for d, obj in deployments.items() if _selects(selector, obj)]
        assert selected == [name]
        port_names = {p["name"] for p in _main_container(deployments[name])["ports"]}
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in port_names


# --- security ----------------------------------------------------------------
def test_pods_run_unprivileged(rendered: list[dict]) -> None:
    workloads = [obj for obj in rendered if pod_spec(obj) is not None]
    assert len(workloads) == len(APP_DEPLOYMENTS) + 1  # and the migrate Job
    for obj in workloads:
        name = obj["metadata"]["name"]
        spec = pod_spec(obj)
        context = spec["securityContext"]
        assert context["runAsNonRoot"] is True, name
        assert context["runAsUser"] == 10001, name
        assert context["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert spec["automountServiceAccountToken"] is False, name
        volumes = {volume["name"]: volume for volume in spec["volumes"]}
        for container in all_containers(obj):
            where = f"{name}/{container['name']}"
            security = container["securityContext"]
            assert security["readOnlyRootFilesystem"] is True, where
            assert security["allowPrivilegeEscalation"] is False, where
            assert security["capabilities"]["drop"] == ["ALL"], where
            assert "runAsUser" not in security or security["runAsUser"] != 0, where
            mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
            assert "emptyDir" in volumes[mounts["/tmp"]], f"{where}: /tmp must be writable"


def test_every_container_has_requests_and_limits(rendered: list[dict]) -> None:
    for obj in rendered:
        for container in all_containers(obj):
            resources = container["resources"]
            for section in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(resources[section]), (
                    obj["metadata"]["name"],
                    container["name"],
                    section,
                )


def test_secrets_only_by_reference(rendered: list[dict]) -> None:
    (example,) = load_documents(BASE / "secret.example.yaml")
    secret_name, keys = example["metadata"]["name"], set(example["stringData"])
    for obj in rendered:
        for container in all_containers(obj):
            where = f"{obj['metadata']['name']}/{container['name']}"
            env = _env(container)
            for name in REQUIRED_SECRETS:
                reference = env[name]["valueFrom"]["secretKeyRef"]
                assert reference == {"name": secret_name, "key": name}, where
            for item in env.values():
                reference = item.get("valueFrom", {}).get("secretKeyRef")
                if reference:
                    assert reference["name"] == secret_name and reference["key"] in keys, where
                elif re.search(r"SECRET|PASSWORD|TOKEN|DATABASE_URL|REDIS_URL", item["name"]):
                    pytest.fail(f"{where}: {item['name']} must come from the Secret")
    for config_map in _of_kind(rendered, "ConfigMap").values():
        for key in config_map["data"]:
            assert key not in keys, f"{key} belongs in the Secret"


def test_config_map_references_exist(rendered: list[dict]) -> None:
    config_maps = _of_kind(rendered, "ConfigMap")
    for obj in rendered:
        for container in all_containers(obj):
            for source in container.get("envFrom", []):
                assert source["configMapRef"]["name"] in config_maps
            for item in container.get("env", []):
                reference = item.get("valueFrom", {}).get("configMapKeyRef")
                if reference:
                    assert reference["key"] in config_maps[reference["name"]]["data"]


def test_api_and_web_accept_their_pod_ip_as_host(rendered: list[dict]) -> None:
    # kubelet probes and Prometheus scrapes send Host: <pod IP>:8000.
    for name in WEB_DEPLOYMENTS:
        container = _main_container(_of_kind(rendered, "Deployment")[name])
        env = container["env"]
        names = [item["name"] for item in env]
        allowed = _env(container)["ALLOWED_HOSTS"]["value"]
        assert allowed == "$(EVRELEASE_PUBLIC_HOSTS),$(POD_IP)"
        # $(VAR) only expands variables defined earlier in the list.
        assert names.index("POD_IP") < names.index("ALLOWED_HOSTS")
        assert names.index("EVRELEASE_PUBLIC_HOSTS") < names.index("ALLOWED_HOSTS")
        assert _env(container)["POD_IP"]["valueFrom"]["fieldRef"]["fieldPath"] == "status.podIP"
        assert _env(container)["EVRELEASE_ROLE"]["value"] == name


# --- overlays ----------------------------------------------------------------
def _kustomization(overlay: str) -> dict:
    return yaml.safe_load((K8S / "overlays" / overlay / "kustomization.yaml").read_text())


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_image_and_namespace_apply_everywhere(overlay: str) -> None:
    kustomization = _kustomization(overlay)
    (image,) = kustomization["images"]
    expected = f"{image['newName']}:{image['newTag']}"
    namespace = kustomization["namespace"]
    objects = RENDERED[overlay]
    images = [c["image"] for obj in objects for c in all_containers(obj)]
    assert images and set(images) == {expected}
    for obj in objects:
        if obj["kind"] == "Namespace":
            assert obj["metadata"]["name"] == namespace
        else:
            assert obj["metadata"]["namespace"] == namespace, obj["metadata"]["name"]
    assert list(_of_kind(objects, "Namespace")) == [namespace]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_ingress_serves_the_allowed_hosts_over_tls(overlay: str) -> None:
    objects = RENDERED[overlay]
    (ingress,) = _of_kind(objects, "Ingress").values()
    services = _of_kind(objects, "Service")
    config = _of_kind(objects, "ConfigMap")["evrelease-config"]["data"]
    allowed = set(config["ALLOWED_HOSTS"].split(","))
    origins = set(config["CSRF_TRUSTED_ORIGINS"].split(","))
    tls_hosts = {host for entry in ingress["spec"]["tls"] for host in entry["hosts"]}
    routes = {}
    for rule in ingress["spec"]["rules"]:
        assert rule["host"] in tls_hosts, "every host is served over TLS"
        assert rule["host"] in allowed, "Django must accept the ingress host"
        assert f"https://{rule['host']}" in origins, "CSRF needs the https origin"
        for path in rule["http"]["paths"]:
            backend = path["backend"]["service"]
            service_ports = services[backend["name"]]["spec"]["ports"]
            assert backend["port"]["name"] in {port["name"] for port in service_ports}
            routes[path["path"]] = backend["name"]
    assert routes == {"/api": "api", "/": "web"}


def test_production_is_bigger_than_staging() -> None:
    def minimum(overlay: str, name: str) -> int:
        return _of_kind(RENDERED[overlay], "HorizontalPodAutoscaler")[name]["spec"]["minReplicas"]

    for name in SCALED:
        assert minimum("production", name) >= 2, "production survives the loss of a pod"
        assert minimum("production", name) >= minimum("staging", name)
    documents = _of_kind(RENDERED["production"], "Deployment")["worker-documents"]
    assert documents["spec"]["replicas"] >= 2
