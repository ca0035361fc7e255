"""The fleet seeder (rig.fleet) against a registry of its own: what it promises is really there.

The fleet gets a separate token-mode registry (``start_registry``), started and seeded once for
this module, so the session registries' catalogs stay small. Reads go through
:class:`rig.fleet.FleetAccess` as alice, bob or anonymous.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import requests
from rig import ALICE, BOB, Registry
from rig.fleet import (
    ACCEPT,
    BROKEN_CHILD_DELETED,
    BROKEN_EMPTIED,
    BROKEN_EMPTIED_TAGS,
    BROKEN_PRIVATE_ANONYMOUS,
    BROKEN_PRIVATE_BOB,
    BROKEN_REVISION_MISSING,
    IN_TOTO,
    LEGACY_SCHEMA1,
    OCI_INDEX,
    SCHEMA1_SIGNED,
    FleetAccess,
    FleetSeed,
    FleetTag,
    error_code,
    schema1_image,
    seed_fleet,
    storage_root,
)
from rig.registry import RegistryProcess, registry_config
from rig.users import ANONYMOUS

pytestmark = pytest.mark.registry

ATTESTATION = "attestation-manifest"
BASE_NAME = "org.opencontainers.image.base.name"
BASE_DIGEST = "org.opencontainers.image.base.digest"


def _sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _pull(repository: str) -> tuple[str, ...]:
    return (f"repository:{repository}:pull",)


class Fleet:
    """The fleet's registry, what was seeded, and readers as each rig identity."""

    def __init__(self, registry: Registry, seed: FleetSeed, seeding_requests: int) -> None:
        self.registry = registry
        self.seed = seed
        self.seeding_requests = seeding_requests
        self.alice = FleetAccess(registry.url, auth=(ALICE.name, ALICE.password))
        self.readers = {
            ALICE.name: self.alice,
            BOB.name: FleetAccess(registry.url, auth=(BOB.name, BOB.password)),
            ANONYMOUS: FleetAccess(registry.url),
        }

    def manifest(self, repository: str, reference: str) -> requests.Response:
        return self.alice.request(
            "GET",
            f"/v2/{repository}/manifests/{reference}",
            scopes=_pull(repository),
            accept=ACCEPT,
            expect=(200,),
        )

    def blob(self, repository: str, digest: str) -> bytes:
        """A blob's bytes; the registry redirects blob GETs to the rig's CDN."""
        answer = self.alice.request(
            "GET", f"/v2/{repository}/blobs/{digest}", scopes=_pull(repository), expect=(307,)
        )
        data = self.alice.session.get(answer.headers["Location"], timeout=30).content
        assert _sha256(data) == digest
        return data


@pytest.fixture(scope="module")
def fleet(fleet_registry: tuple[Registry, FleetSeed, int]) -> Fleet:
    """The session's fleet registry (tests/conftest.py), seeded with the default fleet."""
    return Fleet(*fleet_registry)


# ------------------------------------------------------------------------------ size and cost


def test_the_fleet_has_the_promised_size(fleet: Fleet) -> None:
    """300 fleet repositories plus 6 special ones, >= 1,000 tags of 4 platforms (seeding takes
    25 to 32 s on 2 cores; the rig timings line of the test run shows it)."""
    seed = fleet.seed
    kinds = Counter(r.kind for r in seed.repositories)
    assert sum(kinds[k] for k in ("index", "attested", "dockerlist", "single")) == 300
    assert kinds["base"] == 1 and kinds["legacy"] == 1 and kinds["private"] == 1
    assert kinds["broken"] == 3
    assert sum(len(t.platforms) == 4 for t in seed.tags) >= 1000
    assert seed.manifests >= 2500


def test_every_blob_is_uploaded_once_and_mounted_elsewhere(fleet: Fleet) -> None:
    """The access log holds the seed's requests: one upload per blob, then only 201 mounts."""
    seed = fleet.seed
    log = fleet.registry.requests(since_reset=False)[: fleet.seeding_requests]
    assert len(log) == seed.requests
    mounts = [r for r in log if r.method == "POST" and "mount=" in r.target]
    uploads = [r for r in log if r.method == "PUT" and "/blobs/uploads/" in r.path]
    assert len(mounts) == seed.mounts and {r.status for r in mounts} == {201}
    assert len(uploads) == seed.uploads == seed.blobs
    assert seed.mounts > 10 * seed.uploads
    assert seed.requests < 8000


# ------------------------------------------------------------------------------ listings


def test_catalog_lists_every_repository_across_pages(fleet: Fleet) -> None:
    """_catalog, read 100 at a time by following Link, lists exactly the seeded repositories."""
    names: list[str] = []
    target: str | None = "/v2/_catalog?n=100"
    pages = 0
    while target:
        answer = fleet.alice.request("GET", target, scopes=("registry:catalog:*",), expect=(200,))
        names += answer.json()["repositories"]
        pages += 1
        link = re.match(r"<([^>]+)>;\s*rel=\"next\"", answer.headers.get("Link", ""))
        target = link.group(1) if link else None
    assert pages == 4
    assert names == [r.name for r in fleet.seed.repositories]


def test_tags_list_matches_the_seed_for_every_repository(fleet: Fleet) -> None:
    """tags/list of each of the 306 repositories lists exactly the tags the seed recorded."""
    names = [r.name for r in fleet.seed.repositories]
    for start in range(0, len(names), 50):
        chunk = names[start : start + 50]
        scopes = tuple(scope for name in chunk for scope in _pull(name))  # one token per 50
        for name in chunk:
            answer = fleet.alice.request(
                "GET", f"/v2/{name}/tags/list", scopes=scopes, expect=(200,)
            )
            assert sorted(answer.json()["tags"] or []) == sorted(fleet.seed.tags_of(name)), name


# ------------------------------------------------------------------------------ content


def _sample(seed: FleetSeed) -> list[FleetTag]:
    """Every 40th healthy tag, and the first of each kind of repository."""
    healthy = [t for t in seed.tags if t.media_type != SCHEMA1_SIGNED]
    kinds = {r.name: r.kind for r in seed.repositories}
    firsts = {kinds[t.repository]: t for t in healthy}
    return sorted({*healthy[::40], *firsts.values()}, key=lambda t: (t.repository, t.tag))


def test_sampled_manifests_verify_by_digest(fleet: Fleet) -> None:
    """Sampled tags serve bytes hashing to their digest, by tag and digest, with their platforms."""
    sample = _sample(fleet.seed)
    assert len(sample) >= 40
    for tag in sample:
        by_tag = fleet.manifest(tag.repository, tag.tag)
        assert _sha256(by_tag.content) == tag.digest == by_tag.headers["Docker-Content-Digest"]
        assert by_tag.headers["Content-Type"] == tag.media_type
        assert fleet.manifest(tag.repository, tag.digest).content == by_tag.content
        document = by_tag.json()
        if "manifests" not in document:
            assert len(tag.platforms) == 1
            continue
        platforms = []
        for entry in document["manifests"]:
            child = fleet.manifest(tag.repository, entry["digest"])
            assert _sha256(child.content) == entry["digest"]
            assert len(child.content) == entry["size"]
            p = entry["platform"]
            if p["os"] != "unknown":
                platforms.append(
                    "/".join(filter(None, (p["os"], p["architecture"], p.get("variant"))))
                )
        assert tuple(platforms) == tag.platforms


def test_aliases_share_digests_within_and_docker_manifests_across_repositories(
    fleet: Fleet,
) -> None:
    """Alias tags share a digest; Docker platform manifests repeat across repositories."""
    seed = fleet.seed
    by_digest: dict[tuple[str, str], list[str]] = {}
    for item in seed.tags:
        by_digest.setdefault((item.repository, item.digest), []).append(item.tag)
    aliased = [(key, tags) for key, tags in by_digest.items() if len(tags) > 1]
    assert len(aliased) >= 200
    (repository, digest), tags = aliased[0]
    for tag in tags:
        assert fleet.manifest(repository, tag).headers["Docker-Content-Digest"] == digest
    owners: dict[str, set[str]] = {}
    for name in [r.name for r in seed.repositories if r.kind == "dockerlist"]:
        first = next(t for t in seed.tags if t.repository == name)
        for entry in fleet.manifest(name, first.digest).json()["manifests"]:
            owners.setdefault(entry["digest"], set()).add(name)
    assert max(len(repos) for repos in owners.values()) >= 3


def test_attested_indexes_carry_buildkit_attestation_entries(fleet: Fleet) -> None:
    """An attested index has BuildKit attestation entries, one in-toto statement per platform."""
    seed = fleet.seed
    name = next(r.name for r in seed.repositories if r.kind == "attested")
    found = 0
    for tag in (t for t in seed.tags if t.repository == name):
        document = fleet.manifest(name, tag.digest).json()
        entries = document["manifests"]
        attestations = [
            e for e in entries if e.get("annotations", {}).get("vnd.docker.reference.type")
        ]
        if not attestations:
            continue
        found += 1
        images = {e["digest"] for e in entries if e not in attestations}
        assert len(attestations) == len(images) == len(tag.platforms) == 4
        for entry in attestations:
            assert entry["annotations"]["vnd.docker.reference.type"] == ATTESTATION
            assert entry["platform"] == {"architecture": "unknown", "os": "unknown"}
            subject = entry["annotations"]["vnd.docker.reference.digest"]
            assert subject in images
            (layer,) = fleet.manifest(name, entry["digest"]).json()["layers"]
            assert layer["mediaType"] == IN_TOTO
            statement = json.loads(fleet.blob(name, layer["digest"]))
            assert statement["subject"][0]["digest"]["sha256"] == subject.split(":", 1)[1]
    assert found >= 1


def test_created_dates_span_years_and_labels_vary(fleet: Fleet) -> None:
    """Sampled configs were created over >= 6 calendar years and carry >= 3 label sets."""
    years, label_sets = set(), set()
    for tag in [t for t in _sample(fleet.seed) if t.media_type == OCI_INDEX][:25]:
        index = fleet.manifest(tag.repository, tag.digest).json()
        manifest = fleet.manifest(tag.repository, index["manifests"][0]["digest"]).json()
        config = json.loads(fleet.blob(tag.repository, manifest["config"]["digest"]))
        years.add(config["created"][:4])
        label_sets.add(frozenset(config["config"]["Labels"]))
    assert len(years) >= 6
    assert len(label_sets) >= 3


def test_base_annotations_name_the_fleets_base_and_some_are_outdated(fleet: Fleet) -> None:
    """base.name is the fleet's base:latest, base.digest its current or an outdated manifest."""
    seed = fleet.seed
    base = next(r.name for r in seed.repositories if r.kind == "base")
    current = {e["digest"] for e in fleet.manifest(base, "latest").json()["manifests"]}
    older = {e["digest"] for e in fleet.manifest(base, "1").json()["manifests"]}
    based = [
        r.name
        for r in seed.repositories
        if r.kind == "index" and int(r.name.rsplit("-", 1)[1]) % 3 == 0
    ]
    seen: Counter[str] = Counter()
    for name in based[:30]:
        tag = next(t for t in seed.tags if t.repository == name)
        entry = fleet.manifest(name, tag.digest).json()["manifests"][0]
        annotations = fleet.manifest(name, entry["digest"]).json()["annotations"]
        assert annotations[BASE_NAME] == f"{fleet.registry.host}/{base}:latest"
        digest = annotations[BASE_DIGEST]
        assert digest in current | older
        seen["current" if digest in current else "outdated"] += 1
    assert seen["current"] > 0 and seen["outdated"] > 0


# ------------------------------------------------------------------------------ broken cases

CASES = {
    BROKEN_CHILD_DELETED: "a platform manifest deleted by digest is MANIFEST_UNKNOWN",
    BROKEN_EMPTIED: "a tag whose manifest was deleted is MANIFEST_UNKNOWN",
    BROKEN_EMPTIED_TAGS: "an emptied repository lists no tags",
    BROKEN_REVISION_MISSING: "a listed tag without its revision link is MANIFEST_UNKNOWN",
    BROKEN_PRIVATE_BOB: "bob is refused the private repository",
    BROKEN_PRIVATE_ANONYMOUS: "anonymous is refused the private repository",
    LEGACY_SCHEMA1: "the stored schema1 manifest is served re-signed",
}


@pytest.mark.parametrize("name", list(CASES), ids=list(CASES.values()))
def test_broken_case_answers_what_the_seed_claims(fleet: Fleet, name: str) -> None:
    """Each broken case, asked as its identity, gets the recorded status and error code."""
    case = fleet.seed.case(name)
    assert "token" in case.modes
    answer = fleet.readers[case.identity].request(
        case.method, case.path, scopes=_pull(case.repository), accept=ACCEPT
    )
    assert (answer.status_code, error_code(answer)) == (case.status, case.error_code)
    if case.media_type is not None:
        assert answer.headers["Content-Type"] == case.media_type
    if name == BROKEN_EMPTIED_TAGS:
        assert answer.json()["tags"] is None
    if name == BROKEN_PRIVATE_BOB:
        assert 'error="insufficient_scope"' in answer.headers["WWW-Authenticate"]


def test_broken_repositories_keep_their_healthy_parts(fleet: Fleet) -> None:
    """The broken index and the tag kept still resolve; gone is still listed beside kept."""
    seed = fleet.seed
    deleted = seed.case(BROKEN_CHILD_DELETED)
    (tag,) = [t for t in seed.tags if t.repository == deleted.repository]
    index = fleet.manifest(deleted.repository, tag.tag).json()
    assert deleted.path.rsplit("/", 1)[1] in {e["digest"] for e in index["manifests"]}
    missing = seed.case(BROKEN_REVISION_MISSING)
    assert seed.tags_of(missing.repository) == ("gone", "kept")
    kept = next(t for t in seed.tags if t.repository == missing.repository and t.tag == "kept")
    assert _sha256(fleet.manifest(missing.repository, "kept").content) == kept.digest


def test_schema1_is_refused_by_the_api_and_served_from_storage(fleet: Fleet) -> None:
    """A signed schema1 push gets 500 UNKNOWN; the stored one is served re-signed, same digest."""
    image = schema1_image()
    refused = fleet.alice.request(
        "PUT",
        f"/v2/{image.repository}/manifests/{image.tag}",
        scopes=(f"repository:{image.repository}:pull,push",),
        data=image.signed,
        content_type=SCHEMA1_SIGNED,
    )
    assert (refused.status_code, error_code(refused)) == (500, "UNKNOWN")
    served = fleet.manifest(image.repository, image.tag)
    assert served.headers["Docker-Content-Digest"] == image.digest
    assert served.content != image.payload and b'"signatures"' in served.content
    closing = image.payload.rstrip().rindex(b"}")
    assert served.content.startswith(image.payload[:closing].rstrip())


def test_schema1_storage_is_what_a_schema1_enabled_registry_writes(
    fleet: Fleet, tmp_path: Path
) -> None:
    """The seeder wrote, file for file, what a schema1-enabled 2.8.2 writes for that push."""
    image = schema1_image()
    storage = tmp_path / "storage"
    storage.mkdir()
    config = registry_config("seed", storage)
    config["compatibility"] = {"schema1": {"enabled": True}}
    process = RegistryProcess(tmp_path, config)
    try:
        access = FleetAccess(process.url)
        for layer in image.layers:
            started = access.request(
                "POST", f"/v2/{image.repository}/blobs/uploads/", expect=(202,)
            )
            location = started.headers["Location"]
            access.request("PUT", f"{location}&digest={_sha256(layer)}", data=layer, expect=(201,))
        access.request(
            "PUT",
            f"/v2/{image.repository}/manifests/{image.tag}",
            data=image.signed,
            content_type=SCHEMA1_SIGNED,
            expect=(201,),
        )
    finally:
        process.stop()

    def written(root: Path) -> dict[str, bytes]:
        manifests = storage_root(root) / "repositories" / image.repository / "_manifests"
        hex_ = image.digest.split(":", 1)[1]
        files = {
            str(p.relative_to(manifests)): p.read_bytes()
            for p in manifests.rglob("*")
            if p.is_file()
        }
        data = storage_root(root) / "blobs" / "sha256" / hex_[:2] / hex_ / "data"
        return {**files, "data": data.read_bytes()}

    expected = written(storage)
    assert written(fleet.registry.storage_dir) == expected
    assert expected["data"] == image.payload and len(expected) == 4


# ------------------------------------------------------------------------------ arguments


@pytest.mark.parametrize(
    ("arguments", "named"),
    [
        ({"repositories": 0}, "repositories"),
        ({"platforms": 8}, "platforms"),
        ({"tags_per_repository": (3, 0)}, "tags_per_repository"),
        ({"workers": 100}, "workers"),
        ({"prefix": "Fleet"}, "prefix"),
    ],
    ids=[
        "no repositories",
        "more platforms than known",
        "a zero tag count",
        "too many workers",
        "an upper-case prefix",
    ],
)
def test_seed_fleet_refuses_arguments_out_of_bounds(arguments: dict[str, Any], named: str) -> None:
    """Bounds are checked before any request: a ValueError naming the argument."""
    with pytest.raises(ValueError, match=named):
        seed_fleet("http://127.0.0.1:9", **arguments)
