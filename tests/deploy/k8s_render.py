"""A small kustomize renderer, so the tests can build deploy/k8s without a binary.

It implements the part of kustomize that deploy/k8s uses, and refuses everything
else: a kustomization that real kustomize would read differently fails here
instead of passing quietly.  Supported:

- ``resources``: YAML files (several documents each) and directories holding a
  kustomization.yaml (bases, overlays);
- ``patches``: strategic merge (from ``path`` or inline ``patch``, the target
  named by the patch itself or by ``target``) and JSON 6902 (inline list with a
  ``target``); every patch must match exactly one object, as in kustomize;
- ``namespace``, ``images`` (newName, newTag, digest) and ``replicas``.

The strategic merge follows Kubernetes' patch strategy for the fields used
here: lists of containers, volumes and env merge by name, volumeMounts by
mountPath, ports by containerPort/port; other lists are replaced; ``null``
deletes a key.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

Obj = dict[str, Any]

SUPPORTED_KEYS = {"apiVersion", "kind", "resources", "namespace", "images", "replicas", "patches"}
CLUSTER_SCOPED_KINDS = {
    "Namespace",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "PersistentVolume",
    "StorageClass",
    "IngressClass",
    "PriorityClass",
}
# Kubernetes' patchMergeKey for the list fields the manifests use.
MERGE_KEYS = {
    "containers": ("name",),
    "initContainers": ("name",),
    "ephemeralContainers": ("name",),
    "env": ("name",),
    "envFrom": (),  # replaced, as in Kubernetes (no merge key)
    "volumes": ("name",),
    "volumeMounts": ("mountPath",),
    "imagePullSecrets": ("name",),
    "ports": ("containerPort", "port"),
    "tolerations": (),
}
WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}


class KustomizeError(Exception):
    """The kustomization cannot be built (or uses a feature this renderer lacks)."""


def load_documents(path: Path) -> list[Obj]:
    with path.open(encoding="utf-8") as handle:
        documents = [doc for doc in yaml.safe_load_all(handle) if doc is not None]
    for doc in documents:
        if not isinstance(doc, dict) or "kind" not in doc or "metadata" not in doc:
            raise KustomizeError(f"{path}: every document must be a Kubernetes object")
    return documents


def build(directory: Path) -> list[Obj]:
    """Render the kustomization in ``directory`` (like ``kustomize build``)."""
    directory = Path(directory)
    kustomization_file = directory / "kustomization.yaml"
    if not kustomization_file.is_file():
        raise KustomizeError(f"{directory}: no kustomization.yaml")
    kustomization = yaml.safe_load(kustomization_file.read_text(encoding="utf-8")) or {}
    unknown = set(kustomization) - SUPPORTED_KEYS
    if unknown:
        raise KustomizeError(f"{kustomization_file}: unsupported fields {sorted(unknown)}")
    if kustomization.get("kind", "Kustomization") != "Kustomization":
        raise KustomizeError(f"{kustomization_file}: kind must be Kustomization")

    objects: list[Obj] = []
    for entry in kustomization.get("resources", []):
        target = directory / entry
        if target.is_dir():
            objects.extend(build(target))
        elif target.is_file():
            objects.extend(load_documents(target))
        else:
            raise KustomizeError(f"{kustomization_file}: resource {entry!r} does not exist")
    _refuse_duplicates(objects, kustomization_file)

    for patch in kustomization.get("patches", []):
        _apply_patch(objects, patch, directory)
    if "namespace" in kustomization:
        for obj in objects:
            if obj["kind"] not in CLUSTER_SCOPED_KINDS:
                obj["metadata"]["namespace"] = kustomization["namespace"]
    for replica in kustomization.get("replicas", []):
        _set_replicas(objects, replica)
    for image in kustomization.get("images", []):
        _set_image(objects, image)
    return objects


def _identity(obj: Obj) -> tuple[str, str, str, str]:
    group = obj.get("apiVersion", "").rpartition("/")[0]
    metadata = obj["metadata"]
    return (group, obj["kind"], metadata.get("namespace", ""), metadata["name"])


def _refuse_duplicates(objects: list[Obj], where: Path) -> None:
    seen: set[tuple[str, str, str, str]] = set()
    for obj in objects:
        identity = _identity(obj)
        if identity in seen:
            raise KustomizeError(f"{where}: {identity} is declared twice")
        seen.add(identity)


# --- patches -------------------------------------------------------------------
def _apply_patch(objects: list[Obj], patch: Obj, directory: Path) -> None:
    unknown = set(patch) - {"path", "patch", "target"}
    if unknown:
        raise KustomizeError(f"patch fields {sorted(unknown)} are not supported")
    if ("path" in patch) == ("patch" in patch):
        raise KustomizeError("a patch needs exactly one of 'path' and 'patch'")
    text = (
        (directory / patch["path"]).read_text(encoding="utf-8")
        if "path" in patch
        else patch["patch"]
    )
    documents = [doc for doc in yaml.safe_load_all(text) if doc is not None]
    if len(documents) != 1:
        raise KustomizeError("a patch holds exactly one document")
    body = documents[0]
    target = patch.get("target")
    if isinstance(body, list):
        if target is None:
            raise KustomizeError("a JSON 6902 patch needs a target")
        obj = _single_match(objects, target)
        for operation in body:
            json6902(obj, operation)
    elif isinstance(body, dict):
        if target is None:
            target = {
                "group": body.get("apiVersion", "").rpartition("/")[0],
                "version": body.get("apiVersion", "").rpartition("/")[2],
                "kind": body.get("kind"),
                "name": body.get("metadata", {}).get("name"),
            }
        obj = _single_match(objects, target)
        merged = strategic_merge(obj, body)
        obj.clear()
        obj.update(merged)
    else:
        raise KustomizeError("a patch is a mapping (strategic merge) or a list (JSON 6902)")


def _single_match(objects: list[Obj], target: Obj) -> Obj:
    unknown = set(target) - {"group", "version", "kind", "name", "namespace"}
    if unknown:
        raise KustomizeError(f"patch target fields {sorted(unknown)} are not supported")

    def matches(obj: Obj) -> bool:
        group, _, version = obj["apiVersion"].rpartition("/")
        return (
            ("group" not in target or target["group"] == group)
            and ("version" not in target or target["version"] == version)
            and ("kind" not in target or target["kind"] == obj["kind"])
            and ("name" not in target or target["name"] == obj["metadata"]["name"])
            and (
                "namespace" not in target or target["namespace"] == obj["metadata"].get("namespace")
            )
        )

    found = [obj for obj in objects if matches(obj)]
    if len(found) != 1:
        raise KustomizeError(f"patch target {target} matches {len(found)} objects, not 1")
    return found[0]


def strategic_merge(base: Any, patch: Any, field: str = "") -> Any:
    """Kubernetes strategic merge of ``patch`` into ``base`` (a new value)."""
    if isinstance(patch, dict):
        if "$patch" in patch or any(str(key).startswith("$") for key in patch):
            raise KustomizeError(f"patch directives are not supported ({field})")
        merged = copy.deepcopy(base) if isinstance(base, dict) else {}
        for key, value in patch.items():
            if value is None:
                merged.pop(key, None)
            elif key in merged:
                merged[key] = strategic_merge(merged[key], value, key)
            else:
                merged[key] = copy.deepcopy(value)
        return merged
    if isinstance(patch, list) and isinstance(base, list) and MERGE_KEYS.get(field):
        merged_list = copy.deepcopy(base)
        for item in patch:
            key = next((k for k in MERGE_KEYS[field] if isinstance(item, dict) and k in item), None)
            if key is None:
                raise KustomizeError(f"an item of {field} has no merge key {MERGE_KEYS[field]}")
            for index, existing in enumerate(merged_list):
                if isinstance(existing, dict) and existing.get(key) == item[key]:
                    merged_list[index] = strategic_merge(existing, item, field)
                    break
            else:
                merged_list.append(copy.deepcopy(item))
        return merged_list
    return copy.deepcopy(patch)


def _pointer(path: str) -> list[str]:
    if not path.startswith("/"):
        raise KustomizeError(f"JSON pointer {path!r} must start with /")
    return [part.replace("~1", "/").replace("~0", "~") for part in path[1:].split("/")]


def json6902(obj: Obj, operation: Obj) -> None:
    """Apply one RFC 6902 operation (add, replace, remove) in place."""
    op = operation.get("op")
    if op not in {"add", "replace", "remove"}:
        raise KustomizeError(f"JSON 6902 op {op!r} is not supported")
    *parents, last = _pointer(operation["path"])
    node: Any = obj
    for part in parents:
        try:
            node = node[int(part)] if isinstance(node, list) else node[part]
        except (KeyError, IndexError, ValueError):
            raise KustomizeError(f"JSON 6902 path {operation['path']} does not exist") from None
    if isinstance(node, list):
        index = len(node) if last == "-" else int(last)
        if op == "add":
            node.insert(index, copy.deepcopy(operation["value"]))
        elif index >= len(node):
            raise KustomizeError(f"JSON 6902 path {operation['path']} does not exist")
        elif op == "replace":
            node[index] = copy.deepcopy(operation["value"])
        else:
            del node[index]
        return
    if op != "add" and last not in node:
        raise KustomizeError(f"JSON 6902 path {operation['path']} does not exist")
    if op == "remove":
        del node[last]
    else:
        node[last] = copy.deepcopy(operation["value"])


# --- transformers --------------------------------------------------------------
def pod_spec(obj: Obj) -> Obj | None:
    """The pod spec of a workload, or None for other kinds."""
    if obj["kind"] in WORKLOAD_KINDS:
        return obj["spec"]["template"]["spec"]
    if obj["kind"] == "CronJob":
        return obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return None


def all_containers(obj: Obj) -> list[Obj]:
    spec = pod_spec(obj) or {}
    return [*spec.get("initContainers", []), *spec.get("containers", [])]


def split_image(image: str) -> tuple[str, str | None, str | None]:
    """``name[:tag][@digest]`` -> (name, tag, digest)."""
    rest, _, digest = image.partition("@")
    name, tag = rest, None
    last_colon = rest.rfind(":")
    if last_colon > rest.rfind("/"):
        name, tag = rest[:last_colon], rest[last_colon + 1 :]
    return name, tag, digest or None


def _set_image(objects: list[Obj], image: Obj) -> None:
    unknown = set(image) - {"name", "newName", "newTag", "digest"}
    if unknown:
        raise KustomizeError(f"images fields {sorted(unknown)} are not supported")
    for obj in objects:
        for container in all_containers(obj):
            name, tag, digest = split_image(container["image"])
            if name != image["name"]:
                continue
            new = image.get("newName", name)
            if image.get("digest"):
                container["image"] = f"{new}@{image['digest']}"
            elif image.get("newTag"):
                container["image"] = f"{new}:{image['newTag']}"
            else:
                container["image"] = (
                    new + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")
                )


def _set_replicas(objects: list[Obj], replica: Obj) -> None:
    found = [
        obj
        for obj in objects
        if obj["kind"] in {"Deployment", "StatefulSet", "ReplicaSet"}
        and obj["metadata"]["name"] == replica["name"]
    ]
    if not found:
        raise KustomizeError(f"replicas: no workload named {replica['name']!r}")
    for obj in found:
        obj["spec"]["replicas"] = int(replica["count"])
