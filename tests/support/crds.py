"""The operators' own CRDs (deploy/k8s/crds, copied unchanged from upstream): a resource is checked
against the OpenAPI v3 schema of the version its apiVersion names, strictly, as the API server's
strict field validation (kubectl's default) refuses unknown fields."""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any

import yaml

CRDS = Path(__file__).resolve().parents[2] / "deploy" / "k8s" / "crds"


@functools.cache
def served() -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) -> strict JSON schema, for every served version of every CRD in deploy/k8s/crds."""
    found = {}
    for path in sorted(CRDS.glob("*.yaml")):
        crd = yaml.safe_load(path.read_text())
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            if version.get("served"):
                found[(f"{group}/{version['name']}", kind)] = strict(version["schema"]["openAPIV3Schema"])
    return found


def schema_for(doc: dict[str, Any]) -> dict[str, Any] | None:
    return served().get((doc["apiVersion"], doc["kind"]))


def strict(schema: dict[str, Any]) -> dict[str, Any]:
    """Unknown fields refused wherever the CRD lists the fields and does not keep unknown ones."""
    schema = copy.deepcopy(schema)

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            # Go's regexp takes flags anywhere ("^(?i)abort"); Python's only at the start, same meaning.
            if isinstance(node.get("pattern"), str) and node["pattern"].startswith("^(?i)"):
                node["pattern"] = "(?i)^" + node["pattern"][len("^(?i)"):]
            if ("properties" in node and "additionalProperties" not in node
                    and not node.get("x-kubernetes-preserve-unknown-fields")):
                node["additionalProperties"] = False
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema)
    # The API server knows ObjectMeta itself; the CRD only says `type: object`.
    schema["properties"]["metadata"] = {"type": "object"}
    return schema
