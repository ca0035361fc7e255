"""The Python peers' side of each scenario, run in benchmarks/.venv-peers (oras, python-dxf).

``python -m benchmarks.workers.peers TOOL SCENARIO JSON_ARGS`` with TOOL ``oras`` or ``dxf``.
Each does what a user of that library would write to get the platforms table (the index, every
image's manifest and config; attestation entries are listed from the index, as ociinspect's
default table does since issue 17) or to download a blob, with the library's defaults.

python-dxf refuses token auth over plain http (``DXFAuthInsecureError``) and sends the token
request to ``https`` whatever the realm says, so its ``auth`` callback here fetches the token
from the realm itself and hands it over (``dxf.token = …``), as a user on such a registry must.
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

from benchmarks.workers.measure import phase

_PARAM = re.compile(r'(\w+)="([^"]*)"')


def _row(manifest: dict[str, Any], config: dict[str, Any] | None) -> dict[str, Any]:
    layers = manifest.get("layers", [])
    return {
        "layers": len(layers),
        "compressed_size": manifest["config"]["size"] + sum(x["size"] for x in layers),
        "created": (config or {}).get("created"),
    }


def _listed(entry: dict[str, Any]) -> dict[str, Any]:
    """An attestation's row from its index entry alone (its manifest is not fetched)."""
    return {"layers": None, "compressed_size": None, "created": None}


def _is_image(entry: dict[str, Any]) -> bool:
    annotations = entry.get("annotations") or {}
    return annotations.get("vnd.docker.reference.type") != "attestation-manifest"


def oras_table(args: dict[str, Any]) -> None:
    import oras.provider

    host: str = args["host"]
    name, tag = str(args["ref"]).rsplit(":", 1)
    registry = oras.provider.Registry(hostname=host, insecure=True)
    with phase("oras") as found:
        index = registry.get_manifest(f"{host}/{name}:{tag}")
        rows = []
        for entry in index["manifests"]:
            if not _is_image(entry):
                rows.append(_listed(entry))
                continue
            container = f"{host}/{name}@{entry['digest']}"
            manifest = registry.get_manifest(container)
            response = registry.get_blob(container, manifest["config"]["digest"])
            response.raise_for_status()
            rows.append(_row(manifest, response.json()))
        found.info = {"rows": len(rows), "created": sum(r["created"] is not None for r in rows)}


def _dxf_auth(session: requests.Session) -> Callable[[Any, requests.Response], None]:
    def authenticate(dxf: Any, response: requests.Response) -> None:
        params = dict(_PARAM.findall(response.headers["WWW-Authenticate"]))
        realm = params.pop("realm")
        answer = session.get(realm, params=params, timeout=30)
        answer.raise_for_status()
        body = answer.json()
        dxf.token = body.get("token") or body["access_token"]

    return authenticate


def dxf_table(args: dict[str, Any]) -> None:
    from dxf import DXF

    host: str = args["host"]
    name, tag = str(args["ref"]).rsplit(":", 1)
    session = requests.Session()
    with phase("dxf") as found, DXF(host, name, auth=_dxf_auth(session), insecure=True) as dxf:
        text, _ = dxf.get_manifest_and_response(tag)
        rows = []
        for entry in json.loads(text)["manifests"]:
            if not _is_image(entry):
                rows.append(_listed(entry))
                continue
            text, _ = dxf.get_manifest_and_response(entry["digest"])
            manifest = json.loads(text)
            config = json.loads(b"".join(dxf.pull_blob(manifest["config"]["digest"])))
            rows.append(_row(manifest, config))
        found.info = {"rows": len(rows), "created": sum(r["created"] is not None for r in rows)}


def oras_blob(args: dict[str, Any]) -> None:
    import oras.provider

    host, repo, digest = args["host"], args["repository"], args["digest"]
    registry = oras.provider.Registry(hostname=host, insecure=True)
    with tempfile.TemporaryDirectory(dir=args.get("tmp")) as tmp:
        target = Path(tmp) / "blob"
        with phase("oras download_blob") as found:
            registry.download_blob(f"{host}/{repo}@{digest}", digest, str(target))
            found.info["bytes"] = target.stat().st_size


def dxf_blob(args: dict[str, Any]) -> None:
    from dxf import DXF

    host, repo, digest = args["host"], args["repository"], args["digest"]
    with phase("dxf pull_blob") as found, DXF(host, repo, insecure=True) as dxf:
        found.info["bytes"] = sum(len(chunk) for chunk in dxf.pull_blob(digest))


SCENARIOS: dict[tuple[str, str], Callable[[dict[str, Any]], None]] = {
    ("oras", "table"): oras_table,
    ("dxf", "table"): dxf_table,
    ("oras", "blob"): oras_blob,
    ("dxf", "blob"): dxf_blob,
}


def main() -> None:
    SCENARIOS[(sys.argv[1], sys.argv[2])](json.loads(sys.argv[3]))


if __name__ == "__main__":
    main()
