"""The test renderer itself: it must do what kustomize does for the features the
manifests use, and refuse what it does not implement."""

from pathlib import Path

import pytest
import yaml

from tests.deploy.k8s_render import (
    KustomizeError,
    build,
    json6902,
    split_image,
    strategic_merge,
)

pytestmark = []  # no Django settings, no database

DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "app"},
    "spec": {
        "replicas": 1,
        "template": {
            "spec": {
                "initContainers": [{"name": "init", "image": "app"}],
                "containers": [
                    {
                        "name": "main",
                        "image": "app:old",
                        "args": ["a", "b"],
                        "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
                    },
                    {"name": "sidecar", "image": "other:1"},
                ],
            }
        },
    },
}


def _write(directory: Path, name: str, *documents: object) -> None:
    (directory / name).write_text(yaml.safe_dump_all(documents), encoding="utf-8")


def test_strategic_merge_merges_containers_and_env_by_name() -> None:
    patch = {
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": "main",
                            "args": ["c"],
                            "env": [{"name": "B", "value": "3"}, {"name": "C", "value": "4"}],
                            "volumeMounts": [{"name": "data", "mountPath": "/tmp"}],
                        }
                    ]
                }
            }
        }
    }
    merged = strategic_merge(DEPLOYMENT, patch)
    main, sidecar = merged["spec"]["template"]["spec"]["containers"]
    assert main["image"] == "app:old"
    assert main["args"] == ["c"]  # plain lists are replaced
    assert main["env"] == [
        {"name": "A", "value": "1"},
        {"name": "B", "value": "3"},
        {"name": "C", "value": "4"},
    ]
    assert main["volumeMounts"] == [{"name": "data", "mountPath": "/tmp"}]
    assert sidecar == {"name": "sidecar", "image": "other:1"}
    assert DEPLOYMENT["spec"]["template"]["spec"]["containers"][0]["args"] == ["a", "b"]


def test_strategic_merge_null_deletes_and_directives_are_refused() -> None:
    assert strategic_merge({"a": 1, "b": 2}, {"b": None}) == {"a": 1}
    with pytest.raises(KustomizeError):
        strategic_merge({"a": [1]}, {"a": {"$patch": "replace"}})


def test_json6902_operations() -> None:
    obj = {"spec": {"minReplicas": 1, "list": [1, 2]}}
    json6902(obj, {"op": "replace", "path": "/spec/minReplicas", "value": 3})
    json6902(obj, {"op": "add", "path": "/spec/list/-", "value": 9})
    json6902(obj, {"op": "remove", "path": "/spec/list/0"})
    json6902(obj, {"op": "add", "path": "/spec/new~1key", "value": "x"})
    assert obj == {"spec": {"minReplicas": 3, "list": [2, 9], "new/key": "x"}}
    with pytest.raises(KustomizeError):
        json6902(obj, {"op": "replace", "path": "/spec/missing", "value": 1})
    with pytest.raises(KustomizeError):
        json6902(obj, {"op": "move", "from": "/a", "path": "/b"})


def test_split_image() -> None:
    assert split_image("app") == ("app", None, None)
    assert split_image("registry:5000/team/app:1.2") == ("registry:5000/team/app", "1.2", None)
    assert split_image("app@sha256:abc") == ("app", None, "sha256:abc")


def test_overlay_build(tmp_path: Path) -> None:
    base = tmp_path / "base"
    overlay = tmp_path / "overlay"
    base.mkdir()
    overlay.mkdir()
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ns"}}
    _write(base, "app.yaml", DEPLOYMENT, namespace)
    _write(base, "kustomization.yaml", {"resources": ["app.yaml"]})
    _write(
        overlay,
        "patch.yaml",
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "app"},
            "spec": {"template": {"spec": {"containers": [{"name": "main", "args": ["x"]}]}}},
        },
    )
    _write(
        overlay,
        "kustomization.yaml",
        {
            "namespace": "prod",
            "resources": ["../base"],
            "images": [{"name": "app", "newName": "reg/app", "newTag": "2.0"}],
            "replicas": [{"name": "app", "count": 3}],
            "patches": [{"path": "patch.yaml"}],
        },
    )
    deployment, rendered_namespace = build(overlay)
    assert deployment["metadata"]["namespace"] == "prod"
    assert "namespace" not in rendered_namespace["metadata"]  # cluster-scoped
    assert deployment["spec"]["replicas"] == 3
    spec = deployment["spec"]["template"]["spec"]
    assert [c["image"] for c in spec["initContainers"] + spec["containers"]] == [
        "reg/app:2.0",
        "reg/app:2.0",
        "other:1",
    ]
    assert spec["containers"][0]["args"] == ["x"]


@pytest.mark.parametrize(
    "kustomization",
    [
        {"resources": ["app.yaml"], "commonLabels": {"a": "b"}},  # not implemented here
        {"resources": ["missing.yaml"]},
        {"resources": ["app.yaml", "app.yaml"]},  # declared twice
        {"resources": ["app.yaml"], "replicas": [{"name": "nope", "count": 2}]},
        {
            "resources": ["app.yaml"],
            "patches": [
                {"patch": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: nope\n"}
            ],
        },
        {"resources": ["app.yaml"], "patches": [{"patch": "- op: remove\n  path: /spec\n"}]},
    ],
)
def test_refuses_unsupported_or_broken_kustomizations(tmp_path: Path, kustomization: dict) -> None:
    _write(tmp_path, "app.yaml", DEPLOYMENT)
    _write(tmp_path, "kustomization.yaml", kustomization)
    with pytest.raises(KustomizeError):
        build(tmp_path)
