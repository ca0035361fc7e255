"""Supply chain in tables (ociinspect.supply) on the rig's signed image (tests/rig/supply.py).

``demo/signed:latest`` is served three ways: by the open registry, by the token registry
(anonymous pulls, Bearer tokens) and as an OCI layout written from the same bytes. distribution
2.8 has no referrers API, so there referrers are ``found_by`` the ``tag fallback``; in the
layout, by the ``layout`` scan. Expected values are read from the pushed documents themselves
(``json``), never from the library's parsers.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from cryptography.hazmat.primitives import serialization
from rig import Registry, rig_session
from rig import supply as rs

import ociinspect as oi
from ociinspect import cli, supply
from ociinspect.artifacts import layers as documents
from ociinspect.errors import CountLimitError, InvalidAttestationError, SizeLimitError, SourceError
from ociinspect.supply import discovery
from ociinspect.tables import supply as supply_tables
from ociinspect.tables.supply import (
    ATTESTATIONS_COLUMNS,
    REFERRER_EDGES_COLUMNS,
    SBOM_COLUMNS,
    SIGNATURES_COLUMNS,
    referrer_tree,
    signatures_frame,
    tree_lines,
)
from ociinspect.testing import build
from ociinspect.values import mediatypes as mt
from ociinspect.values.models import Descriptor, Manifest

CHAIN = rs.chain()
INDEX = CHAIN.index.digest
AMD64 = CHAIN.image("linux/amd64").digest
ARM64 = CHAIN.image("linux/arm64/v8").digest
DATA = rs.DATA
NA = pd.NA
SLSA_V02 = "https://slsa.dev/provenance/v0.2"


@dataclass(frozen=True)
class Signed:
    """The signed image as one source serves it: its reference, how that source lists
    referrers, and the registry (None for the layout)."""

    ref: str
    listed: str
    registry: Registry | None

    def session(self) -> oi.Session:
        return rig_session()


@pytest.fixture(
    params=[
        pytest.param("open", marks=pytest.mark.registry),
        pytest.param("token", marks=pytest.mark.registry),
        "layout",
    ],
    ids=["open registry", "token registry", "OCI layout"],
)
def signed(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Signed]:
    """demo/signed:latest from the open registry, the token registry, or an OCI layout."""
    if request.param == "layout":
        yield Signed(f"oci:{rs.write_layout(tmp_path / 'layout')}:latest", "layout", None)
        return
    registry: Registry = request.getfixturevalue(f"registry_{request.param}")
    yield Signed(registry.ref(rs.REFERENCE), "tag fallback", registry)


def expected_edges(listed: str) -> set[tuple[str, str, str, int]]:
    """(subject, artifact, found_by, depth) of every edge of the rig's graph."""
    return {
        (INDEX, CHAIN.index_signature.digest, "cosign tag", 1),
        (INDEX, CHAIN.index_report.digest, listed, 1),
        (AMD64, CHAIN.amd64_sbom.digest, listed, 1),
        (AMD64, CHAIN.amd64_attestation.digest, "cosign tag", 1),
        (ARM64, CHAIN.arm64_sbom.digest, "cosign tag", 1),
        (CHAIN.amd64_sbom.digest, CHAIN.sbom_signature.digest, listed, 2),
    }


def edges_of(table: pd.DataFrame) -> set[tuple[str, str, str, int]]:
    return {
        (r.subject, r.digest, r.found_by, r.depth) for r in table.itertuples(index=False)
    }


def text(value: Any) -> Any:
    """A cell as the JSON documents say it: <NA> as None."""
    return None if value is NA or value is None else value


# --------------------------------------------------------------------------- referrers


def test_referrers_of_an_index_are_the_index_own(signed: Signed) -> None:
    """On an index, referrers() lists what is attached to the index itself: the cosign
    signature (by its .sig tag) and the Sigstore bundle (a referrer whose subject is the
    index), each with its subject and how it was found."""
    table = oi.referrers(signed.ref, session=signed.session())
    assert list(table.columns) == list(REFERRER_EDGES_COLUMNS)
    by_digest = {r.digest: r for r in table.itertuples(index=False)}
    assert set(by_digest) == {CHAIN.index_signature.digest, CHAIN.index_report.digest}
    assert set(table["subject"]) == {INDEX} and set(table["subject_kind"]) == {"index"}
    sig = by_digest[CHAIN.index_signature.digest]
    assert (sig.found_by, sig.tag, sig.kind) == ("cosign tag", f"{INDEX.replace(':', '-')}.sig",
                                                 "simplesigning")
    assert sig.artifact_type == "application/vnd.dev.cosign.artifact.sig.v1+json"
    report = by_digest[CHAIN.index_report.digest]
    statement = rs.vuln_statement(CHAIN.index)
    assert (report.found_by, report.kind) == (signed.listed, "vuln")
    assert report.predicate_type == statement["predicateType"]
    assert report.artifact_type == rs.BUNDLE
    assert table["error"].isna().all()


def test_every_edge_to_depth_two_with_how_it_was_found(signed: Signed) -> None:
    """all_platforms=True and depth=2: one row per edge, the SBOM's signature at depth 2."""
    table = oi.referrers(signed.ref, all_platforms=True, depth=2, session=signed.session())
    assert edges_of(table) == expected_edges(signed.listed)
    platforms = dict(zip(table["digest"], table["subject_platform"], strict=True))
    assert platforms[CHAIN.sbom_signature.digest] == "linux/amd64"  # hangs under amd64
    assert platforms[CHAIN.arm64_sbom.digest] == "linux/arm64/v8"
    assert platforms[CHAIN.index_signature.digest] is NA
    kinds = dict(zip(table["digest"], table["kind"], strict=True))
    assert kinds == {
        CHAIN.index_signature.digest: "simplesigning",
        CHAIN.index_report.digest: "vuln",
        CHAIN.amd64_sbom.digest: "spdx",
        CHAIN.amd64_attestation.digest: "slsa-provenance-v0.2",
        CHAIN.arm64_sbom.digest: "cyclonedx",
        CHAIN.sbom_signature.digest: "simplesigning",
    }
    sizes = dict(zip(table["digest"], table["size"], strict=True))
    assert all(sizes[a.digest] == a.manifest.size for a in CHAIN.artifacts)


def test_depth_one_stops_at_the_sbom(signed: Signed) -> None:
    """depth=1 (the default) does not follow the SBOM's own referrers."""
    table = oi.referrers(signed.ref, all_platforms=True, session=signed.session())
    assert edges_of(table) == {e for e in expected_edges(signed.listed) if e[3] == 1}


def test_platform_lists_that_image_only(signed: Signed) -> None:
    """platform= narrows the subjects to that image (the SBOM and the .att of amd64)."""
    table = oi.referrers(signed.ref, "linux/amd64", session=signed.session())
    assert set(table["digest"]) == {CHAIN.amd64_sbom.digest, CHAIN.amd64_attestation.digest}
    assert set(table["subject"]) == {AMD64} and set(table["subject_kind"]) == {"image"}


def test_artifact_type_keeps_one_type_and_what_hangs_under_it(signed: Signed) -> None:
    """artifact_type= filters depth 1; the SBOM's signature still hangs under the SBOM."""
    table = oi.referrers(
        signed.ref, artifact_type=rs.SPDX_JSON, all_platforms=True, depth=2,
        session=signed.session(),
    )
    assert table["digest"].tolist() == [CHAIN.amd64_sbom.digest, CHAIN.sbom_signature.digest]


def test_cosign_false_finds_only_listed_referrers(signed: Signed) -> None:
    """cosign=False skips the .sig/.att/.sbom tags."""
    table = oi.referrers(signed.ref, all_platforms=True, cosign=False, session=signed.session())
    assert set(table["found_by"]) == {signed.listed}
    assert set(table["digest"]) == {CHAIN.index_report.digest, CHAIN.amd64_sbom.digest}


def test_the_tree_has_every_subject_and_the_signature_under_the_sbom(signed: Signed) -> None:
    """referrer_tree turns the edge table into roots (index, amd64, arm64) with children."""
    table = oi.referrers(signed.ref, all_platforms=True, depth=2, session=signed.session())
    roots = referrer_tree(table)
    assert [(r.digest, r.kind, r.platform) for r in roots] == [
        (INDEX, "index", None), (AMD64, "image", "linux/amd64"),
        (ARM64, "image", "linux/arm64/v8"),
    ]
    index, amd64, arm64 = roots
    assert {c.digest for c in index.children} == {
        CHAIN.index_signature.digest, CHAIN.index_report.digest
    }
    sbom = next(c for c in amd64.children if c.digest == CHAIN.amd64_sbom.digest)
    assert [(c.digest, c.depth, c.kind) for c in sbom.children] == [
        (CHAIN.sbom_signature.digest, 2, "simplesigning")
    ]
    assert [c.digest for c in arm64.children] == [CHAIN.arm64_sbom.digest]


@pytest.mark.registry
def test_cosign_tags_cost_heads_and_listing_one_get_per_subject(registry_open: Registry) -> None:
    """On distribution 2.8: per subject one referrers-API GET (404), one request for the
    fallback tag, and a HEAD per cosign tag (a HEAD is not a pull); read=False fetches no
    layer."""
    oi.referrers(registry_open.ref(rs.REFERENCE), all_platforms=True, read=False,
                 session=rig_session())
    requests = registry_open.requests()
    for digest in (INDEX, AMD64, ARM64):
        hex_ = digest.split(":", 1)[1]
        api = [r for r in requests if r.path.endswith(f"/referrers/{digest}")]
        fallback = [r for r in requests if r.path.endswith(f"/manifests/sha256-{hex_}")]
        tags = [r for r in requests if f"/manifests/sha256-{hex_}." in r.path]
        assert [r.method for r in api] == ["GET"] and len(fallback) == 1
        assert sorted(r.path.rsplit(".", 1)[1] for r in tags) == ["att", "sbom", "sig"]
        assert {r.method for r in tags} == {"HEAD"}
    assert not [r for r in requests if "/blobs/" in r.path]


@pytest.mark.registry
def test_a_registry_with_the_referrers_api_is_asked_first(registry_open: Registry) -> None:
    """In front of distribution 2.8, a proxy answers ``GET /v2/<name>/referrers/<digest>``
    as a registry with the OCI 1.1 API does (the pusher's fallback indexes as the answers; for
    the index, cosign's OCI 1.1 mode also lists its signature there): those rows say
    ``referrers API`` (and ``cosign tag`` too for the signature found both ways), and the
    fallback tags of those subjects are never asked for."""
    proxy = registry_open.proxy()
    answers = CHAIN.fallback_indexes()
    index_answer = json.loads(answers[INDEX.replace(":", "-")].data)
    signature = CHAIN.index_signature.manifest.descriptor()
    index_answer["manifests"].append({**signature, "artifactType": rs.COSIGN_SIG_ARTIFACT})
    answers[INDEX.replace(":", "-")] = build.json_blob(index_answer, mt.OCI_INDEX)
    for tag, listing in answers.items():
        digest = tag.replace("-", ":", 1)
        proxy.faults.fail(200, times=None, method="GET", path=f"/referrers/{digest}$",
                          headers={"Content-Type": mt.OCI_INDEX}, body=listing.data)
    ref = f"{proxy.host}/{rs.REFERENCE}"
    table = oi.referrers(ref, all_platforms=True, depth=2, session=rig_session())
    wanted = {
        (s, d, "referrers API" if how == "tag fallback" else how, depth)
        for s, d, how, depth in expected_edges("tag fallback")
    }
    wanted.discard((INDEX, CHAIN.index_signature.digest, "cosign tag", 1))
    wanted.add((INDEX, CHAIN.index_signature.digest, "referrers API, cosign tag", 1))
    assert edges_of(table) == wanted
    asked = [r.path for r in proxy.requests()]
    for tag in answers:
        assert not [p for p in asked if p.endswith(f"/manifests/{tag}")]


def test_a_walk_over_its_edge_limit_is_refused(signed: Signed) -> None:
    """More edges than max_edges: CountLimitError naming the argument, no table."""
    with pytest.raises(CountLimitError, match="max_edges"):
        oi.referrers(signed.ref, all_platforms=True, max_edges=2, session=signed.session())


@pytest.mark.parametrize("depth", [0, discovery.MAX_DEPTH + 1], ids=["depth 0", "depth 9"])
def test_depth_is_bounded(depth: int) -> None:
    """depth must be 1 to MAX_DEPTH."""
    with pytest.raises(ValueError, match="depth must be 1 to"):
        oi.referrers(oi.SAMPLE, depth=depth)


@pytest.mark.registry
def test_offline_referrers_say_they_are_never_cached(
    registry_open: Registry, tmp_path: Path
) -> None:
    """Offline, the index comes from the disk cache but its referrers cannot: SourceError,
    not an empty table."""
    ref = registry_open.ref(f"{rs.REPOSITORY}@{INDEX}")
    assert oi.open(ref, session=rig_session(tmp_path)).digest == INDEX
    offline = oi.open(ref, session=rig_session(tmp_path, offline=True))
    with pytest.raises(SourceError, match="never cached"):
        oi.referrers(offline)


# --------------------------------------------------------------------------- attestations


def test_attestations_list_every_statement_with_its_predicate_type(signed: Signed) -> None:
    """BuildKit's statements (found in the index), the cosign .att and the Sigstore bundle's
    statement: one row each, predicateType from the document, about the row's subject."""
    table = oi.attestations(signed.ref, session=signed.session())
    assert list(table.columns) == list(ATTESTATIONS_COLUMNS)
    amd64, arm64 = CHAIN.index.images
    wanted = {
        (AMD64, rs.spdx_statement(amd64)["predicateType"], "index", 0),
        (AMD64, rs.provenance_v1_statement(amd64)["predicateType"], "index", 0),
        (ARM64, rs.spdx_statement(arm64)["predicateType"], "index", 0),
        (ARM64, rs.provenance_v1_statement(arm64)["predicateType"], "index", 0),
        (AMD64, rs.provenance_v02_statement(amd64)["predicateType"], "cosign tag", 1),
        (INDEX, rs.vuln_statement(CHAIN.index)["predicateType"], signed.listed, 1),
    }
    got = {(r.subject, r.predicate_type, r.found_by, r.signatures) for r in table.itertuples()}
    assert got == wanted
    assert table["about_subject"].tolist() == [True] * 6
    assert table["error"].isna().all()
    assert set(table["kind"]) == {"spdx", "slsa-provenance-v1", "slsa-provenance-v0.2", "vuln"}


def test_attestations_of_one_platform(signed: Signed) -> None:
    """platform= keeps that image's statements (BuildKit's two for arm64)."""
    table = oi.attestations(signed.ref, "linux/arm64", session=signed.session())
    assert set(table["subject"]) == {ARM64}
    assert sorted(table["kind"]) == ["slsa-provenance-v1", "spdx"]


@pytest.mark.registry
def test_the_platforms_table_says_what_attestations_attest(registry_open: Registry) -> None:
    """Attestation rows of platforms() carry the kinds of their layers' predicate types."""
    table = oi.platforms(registry_open.ref(rs.REFERENCE), fetch_attestations=True,
                         session=rig_session())
    attests = table.loc[table["kind"] == "attestation", "attests"].tolist()
    assert attests == ["spdx, slsa-provenance-v1"] * 2
    assert table.loc[table["kind"] == "image", "attests"].isna().all()


# --------------------------------------------------------------------------- SBOMs


def _spdx_rows(document: dict[str, Any]) -> list[tuple[Any, ...]]:
    """(name, version, license, purl, supplier) of each package, as the document says."""
    rows = []
    for package in document["packages"]:
        purls = [r["referenceLocator"] for r in package.get("externalRefs", [])
                 if r["referenceType"] == "purl"]
        license_ = next(
            (v for v in (package.get("licenseConcluded"), package.get("licenseDeclared"))
             if v not in (None, "NOASSERTION", "NONE")), None,
        )
        rows.append((package["name"], package.get("versionInfo"), license_,
                     purls[0] if purls else None, package.get("supplier")))
    return rows


def _cyclonedx_rows(components: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """(name, version, license, purl, supplier) of each component, nested ones after their
    parent."""
    rows: list[tuple[Any, ...]] = []
    for c in components:
        licenses = [
            e.get("expression") or e["license"].get("id") or e["license"].get("name")
            for e in c.get("licenses", [])
        ]
        rows.append((c["name"], c.get("version"), ", ".join(licenses) or None, c.get("purl"),
                     c.get("supplier", {}).get("name")))
        rows += _cyclonedx_rows(c.get("components", []))
    return rows


def _sbom_rows(table: pd.DataFrame, manifest: str, layer: str | None = None) -> list[tuple]:
    part = table[table["manifest"] == manifest]
    if layer is not None:
        part = part[part["layer"] == layer]
    columns = ["name", "version", "license", "purl", "supplier"]
    return [tuple(text(v) for v in row) for row in part[columns].itertuples(index=False)]


def test_sbom_equals_the_documents(signed: Signed) -> None:
    """sbom(): the SPDX referrer, the CycloneDX .sbom and BuildKit's SPDX statements give
    exactly their documents' packages, with the document format."""
    table = oi.sbom(signed.ref, session=signed.session())
    assert list(table.columns) == list(SBOM_COLUMNS)
    spdx = json.loads((DATA / "spdx-example-v2.3.spdx.json").read_bytes())
    assert _sbom_rows(table, CHAIN.amd64_sbom.digest) == _spdx_rows(spdx)
    cdx = json.loads((DATA / "cyclonedx-valid-bom-1.6.json").read_bytes())
    assert _sbom_rows(table, CHAIN.arm64_sbom.digest) == _cyclonedx_rows(cdx["components"])
    for img, attestation in zip(CHAIN.index.images, CHAIN.index.attestations, strict=True):
        predicate = rs.spdx_statement(img)["predicate"]
        layer = attestation.layers[0].digest
        assert _sbom_rows(table, attestation.digest, layer) == _spdx_rows(predicate)
    formats = table.groupby("manifest")["format"].first().to_dict()
    assert formats[CHAIN.amd64_sbom.digest] == spdx["spdxVersion"]
    assert formats[CHAIN.arm64_sbom.digest] == f"CycloneDX {cdx['specVersion']}"
    found = table.groupby("manifest")["found_by"].first().to_dict()
    assert found[CHAIN.amd64_sbom.digest] == signed.listed
    assert found[CHAIN.arm64_sbom.digest] == "cosign tag"
    assert set(table.loc[table["manifest"] == CHAIN.arm64_sbom.digest, "type"]) == {
        c["type"] for c in cdx["components"]
    }


def test_sbom_of_one_platform(signed: Signed) -> None:
    """platform= keeps that image's SBOMs: arm64 has BuildKit's SPDX and the CycloneDX."""
    table = oi.sbom(signed.ref, "linux/arm64", session=signed.session())
    assert set(table["subject"]) == {ARM64}
    assert set(table["format"]) == {"SPDX-2.2", "CycloneDX 1.6"}


def test_sbom_of_the_bundled_sample() -> None:
    """The sample's SBOM (an untagged referrer in index.json) as one package row."""
    table = oi.sbom(oi.SAMPLE)
    assert table[["name", "version", "license", "purl", "found_by"]].values.tolist() == [
        ["hello", "1.0", "Apache-2.0", "pkg:generic/hello@1.0", "layout"]
    ]


# --------------------------------------------------------------------------- provenance


def test_provenance_equals_the_documents(signed: Signed) -> None:
    """provenance(): BuildKit's SLSA v1 (frontend, build args, times) and the cosign .att's
    SLSA v0.2 (builder, invocation, materials) as their documents say."""
    table = oi.provenance(signed.ref, session=signed.session())
    amd64 = CHAIN.image("linux/amd64")
    rows = {(r.subject, r.slsa_version): r for r in table.itertuples(index=False)}
    assert set(rows) == {(AMD64, "1"), (ARM64, "1"), (AMD64, "0.2")}
    v1 = rs.provenance_v1_statement(amd64)["predicate"]
    request = v1["buildDefinition"]["externalParameters"]["request"]
    row = rows[(AMD64, "1")]
    assert row.builder_id == v1["runDetails"]["builder"]["id"]
    assert row.build_type == v1["buildDefinition"]["buildType"]
    assert row.frontend == request["frontend"]
    assert json.loads(row.build_args) == {
        k.removeprefix("build-arg:"): v for k, v in request["args"].items()
        if k.startswith("build-arg:")
    }
    assert json.loads(row.parameters) == v1["buildDefinition"]["externalParameters"]
    assert row.started_on == pd.Timestamp(v1["runDetails"]["metadata"]["startedOn"])
    assert row.finished_on == pd.Timestamp(v1["runDetails"]["metadata"]["finishedOn"])
    assert row.invocation_id == v1["runDetails"]["metadata"]["invocationId"]
    assert row.materials == len(v1["buildDefinition"]["resolvedDependencies"])
    assert (row.found_by, row.entry_point) == ("index", "Dockerfile")
    v02 = rs.provenance_v02_statement(amd64)["predicate"]
    row = rows[(AMD64, "0.2")]
    assert (row.builder_id, row.build_type) == (v02["builder"]["id"], v02["buildType"])
    assert row.invocation_id == v02["metadata"]["buildInvocationID"]
    assert row.started_on == pd.Timestamp(v02["metadata"]["buildStartedOn"])
    assert (row.materials, row.found_by) == (len(v02["materials"]), "cosign tag")


def test_provenance_materials_with_their_digests(signed: Signed) -> None:
    """materials=True: one row per material, uri and alg:hex digests as the document says."""
    table = oi.provenance(signed.ref, "linux/amd64", materials=True, session=signed.session())
    amd64 = CHAIN.image("linux/amd64")
    v02 = rs.provenance_v02_statement(amd64)["predicate"]["materials"]
    v1 = rs.provenance_v1_statement(amd64)["predicate"]["buildDefinition"]
    expected = [
        (m["uri"], ", ".join(f"{a}:{h}" for a, h in m["digest"].items()))
        for m in (*v1["resolvedDependencies"], *v02)
    ]
    assert sorted(zip(table["uri"], table["digest"], strict=True)) == sorted(expected)


# --------------------------------------------------------------------------- signatures


def test_signatures_list_their_claims(signed: Signed) -> None:
    """signatures(): the .sig of the index, the bundle on the index and the .att of amd64,
    each naming the digest it signs, the certificate's identity and issuer, the log entry."""
    table = oi.signatures(signed.ref, session=signed.session())
    assert list(table.columns) == list(SIGNATURES_COLUMNS)
    leaf, _ = rs.certificates()
    fingerprint = hashlib.sha256(leaf.public_bytes(serialization.Encoding.DER)).hexdigest()
    rows = {r.manifest: r for r in table.itertuples(index=False)}
    assert set(rows) == {CHAIN.index_signature.digest, CHAIN.index_report.digest,
                         CHAIN.amd64_attestation.digest}
    for row in rows.values():
        assert (row.identity, row.issuer) == (rs.IDENTITY, rs.ISSUER)
        assert row.certificate_sha256 == fingerprint
        assert row.signed_digest == row.subject and bool(row.claims_subject) is True
        assert row.error is NA
    sig = rows[CHAIN.index_signature.digest]
    assert (sig.format, sig.found_by, sig.subject) == ("cosign simple signing", "cosign tag",
                                                       INDEX)
    assert sig.signed_reference == f"rig.example/{rs.REPOSITORY}"
    assert (sig.tlog_index, sig.tlog_kind) == (4242, "hashedrekord")
    bundle = rows[CHAIN.index_report.digest]
    assert (bundle.format, bundle.tlog_index, bundle.tlog_kind) == (
        "sigstore bundle v0.3", 4243, "dsse")
    assert bundle.predicate_type == rs.vuln_statement(CHAIN.index)["predicateType"]
    att = rows[CHAIN.amd64_attestation.digest]
    assert (att.format, att.subject, att.platform) == ("cosign DSSE", AMD64, "linux/amd64")


def test_depth_two_adds_the_signature_on_the_sbom(signed: Signed) -> None:
    """signatures(depth=2): the SBOM's signature, whose subject is the SBOM manifest."""
    table = oi.signatures(signed.ref, depth=2, session=signed.session())
    row = table[table["manifest"] == CHAIN.sbom_signature.digest].iloc[0]
    assert (row["subject"], row["signed_digest"]) == (CHAIN.amd64_sbom.digest,) * 2
    assert (row["platform"], row["found_by"]) == ("linux/amd64", signed.listed)


def test_the_records_carry_the_exact_signed_bytes(signed: Signed) -> None:
    """attached() keeps each signature and payload as found: the signer's public key verifies
    them (ociinspect itself verifies nothing; this shows what a verifier gets)."""
    public = rs.SIGNING_KEY.public_key()
    items = supply.attached(signed.ref, depth=2, session=signed.session())
    checked = 0
    for item in items:
        for doc in item.documents:
            sig = doc.signature
            if sig is not None and sig.simple_signing is not None:
                public.verify(sig.signature, sig.simple_signing.raw)
                checked += 1
            elif doc.envelope is not None:
                for dsse in doc.envelope.signatures:
                    public.verify(dsse.sig, rs.pae(doc.envelope.payload_type,
                                                   doc.envelope.payload))
                    checked += 1
    assert checked == 4  # index .sig, SBOM signature, .att envelope, bundle envelope


# --------------------------------------------------------------------------- the CLI


def test_cli_draws_the_tree(signed: Signed, capsys: pytest.CaptureFixture[str]) -> None:
    """``ociinspect referrers REF --tree --depth 2``: every subject, the signature on the SBOM
    indented under it."""
    assert cli.main(["referrers", signed.ref, "--tree", "--depth", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    short = {d: d[:19] for d in (INDEX, AMD64, ARM64)}
    assert lines[0] == f"index  {short[INDEX]}"
    assert f"linux/amd64  {short[AMD64]}" in lines
    sbom_line = next(i for i, line in enumerate(lines) if CHAIN.amd64_sbom.digest[:19] in line)
    assert lines[sbom_line].startswith("├── spdx  ") or lines[sbom_line].startswith("└── spdx  ")
    assert lines[sbom_line + 1].endswith(f"({signed.listed})")
    assert "└── simplesigning  " + CHAIN.sbom_signature.digest[:19] in lines[sbom_line + 1]
    assert any(f"(cosign tag {INDEX.replace(':', '-')[:19]}….sig)" in line for line in lines)


@pytest.mark.parametrize(
    ("command", "rows"),
    [(["attestations"], 6), (["sbom", "--platform", "linux/arm64"], 4),
     (["provenance"], 3), (["provenance", "--materials"], 4), (["signatures"], 3),
     (["referrers", "--all", "--depth", "2"], 6)],
    ids=["attestations", "sbom -p arm64", "provenance", "provenance --materials",
         "signatures", "referrers --all --depth 2"],
)
def test_cli_supply_commands(signed: Signed, command: list[str], rows: int,
                             capsys: pytest.CaptureFixture[str]) -> None:
    """Each supply-chain command prints its table; ``-f json`` gives every row."""
    assert cli.main([command[0], signed.ref, "-f", "json", *command[1:]]) == 0
    printed = json.loads(capsys.readouterr().out)
    records = printed["rows"] if isinstance(printed, dict) else printed
    assert len(records) == rows and all("subject" in r for r in records)


# --------------------------------------------------------------------------- broken documents


def _push_referrer(registry: Registry, repository: str, layer: build.Blob,
                   artifact_type: str) -> tuple[str, build.Blob]:
    """A small image and one referrer (a single layer) with its fallback index."""
    image = build.image([build.layer([build.file("f", b"x\n")])])
    empty = build.Blob(mt.OCI_EMPTY, b"{}")
    manifest = build.json_blob(
        {"schemaVersion": 2, "mediaType": mt.OCI_MANIFEST, "artifactType": artifact_type,
         "config": empty.descriptor(), "layers": [layer.descriptor()],
         "subject": image.manifest.descriptor()},
        mt.OCI_MANIFEST,
    )
    listing = build.json_blob(
        {"schemaVersion": 2, "mediaType": mt.OCI_INDEX,
         "manifests": [{**manifest.descriptor(), "artifactType": artifact_type}]},
        mt.OCI_INDEX,
    )
    pusher = rs.Pusher(registry.url, repository)
    for blob in (*image.layers, image.config, empty, layer):
        pusher.upload(blob)
    pusher.put_manifest("latest", image.manifest)
    pusher.put_manifest(manifest.digest, manifest)
    pusher.put_manifest(image.digest.replace(":", "-"), listing)
    return registry.ref(f"{repository}:latest"), manifest


@pytest.mark.registry
def test_an_sbom_of_the_wrong_shape_is_a_typed_error(registry_open: Registry) -> None:
    """An SPDX document whose packages are an object: sbom() raises InvalidAttestationError
    naming the field, the layer and the artifact; referrers() shows it in ``error``."""
    document = json.loads((DATA / "spdx-example-v2.3.spdx.json").read_bytes())
    document["packages"] = {"name": "not a list"}
    layer = build.Blob(rs.SPDX_JSON, json.dumps(document).encode())
    ref, manifest = _push_referrer(registry_open, "scratch/sbom-shape", layer, rs.SPDX_JSON)
    with pytest.raises(InvalidAttestationError) as caught:
        oi.sbom(ref, session=rig_session())
    assert "packages" in caught.value.fields
    assert layer.digest in str(caught.value) and manifest.digest in str(caught.value)
    table = oi.referrers(ref, session=rig_session())
    assert table["error"].str.startswith("InvalidAttestationError").tolist() == [True]


@pytest.mark.registry
def test_a_provenance_predicate_of_the_wrong_shape_is_a_typed_error(
    registry_open: Registry,
) -> None:
    """A well-formed statement whose SLSA predicate has ``builder`` as a string: the statement
    is listed by attestations(), provenance() raises naming ``predicate.builder``."""
    statement = rs.provenance_v02_statement(CHAIN.image("linux/amd64"))
    statement["predicate"]["builder"] = "a string"
    layer = build.Blob(build.IN_TOTO, json.dumps(statement).encode())
    ref, _ = _push_referrer(registry_open, "scratch/provenance-shape", layer,
                            "application/vnd.in-toto+json")
    table = oi.attestations(ref, session=rig_session())
    assert table["kind"].tolist() == ["slsa-provenance-v0.2"] and table["error"].isna().all()
    with pytest.raises(InvalidAttestationError) as caught:
        oi.provenance(ref, session=rig_session())
    assert "predicate.builder" in caught.value.fields
    assert layer.digest in str(caught.value)


@pytest.mark.registry
def test_a_statement_that_is_not_json_is_listed_with_its_error(registry_open: Registry) -> None:
    """An in-toto layer that is not JSON: attestations() gives one row with the typed error
    (kind from the layer's annotation), provenance() raises it."""
    layer = build.Blob(build.IN_TOTO, b"{not json",
                       annotations=(("in-toto.io/predicate-type", SLSA_V02),))
    ref, _ = _push_referrer(registry_open, "scratch/not-json", layer,
                            "application/vnd.in-toto+json")
    table = oi.attestations(ref, session=rig_session())
    assert table["kind"].tolist() == ["slsa-provenance-v0.2"]
    assert table["error"].str.startswith("InvalidAttestationError").tolist() == [True]
    assert table["statement_type"].isna().all()  # nothing half-read
    with pytest.raises(InvalidAttestationError, match="not JSON"):
        oi.provenance(ref, session=rig_session())


@pytest.mark.registry
def test_an_sbom_over_its_cap_is_refused_before_a_byte_is_fetched(
    registry_open: Registry,
) -> None:
    """An SPDX document one byte over the SBOM parser's 16 MiB: SizeLimitError from the
    descriptor's size, and the registry never asked for the blob."""
    cap = documents.LIMITS[documents.SPDX]
    body = (DATA / "spdx-example-v2.3.spdx.json").read_bytes()
    layer = build.Blob(rs.SPDX_JSON, body + b" " * (cap + 1 - len(body)))
    ref, _ = _push_referrer(registry_open, "scratch/sbom-oversized", layer, rs.SPDX_JSON)
    registry_open.reset()
    with pytest.raises(SizeLimitError) as caught:
        oi.sbom(ref, session=rig_session())
    assert (caught.value.limit, caught.value.size) == (cap, cap + 1)
    assert "max_bytes=" in str(caught.value) and layer.digest in str(caught.value)
    assert not [r for r in registry_open.requests() if layer.digest in r.path]


def test_max_bytes_replaces_the_caps(signed: Signed) -> None:
    """max_bytes=1024: the 21 KiB SPDX document is over it (a SizeLimitError from sbom()); the
    referrers table shows the same error on that row only."""
    with pytest.raises(SizeLimitError, match="over the limit of 1024 bytes"):
        oi.sbom(signed.ref, "linux/amd64", max_bytes=1024, session=signed.session())
    table = oi.referrers(signed.ref, "linux/amd64", max_bytes=1024, session=signed.session())
    errors = dict(zip(table["digest"], table["error"], strict=True))
    assert errors[CHAIN.amd64_sbom.digest].startswith("SizeLimitError")


# --------------------------------------------------------------------------- pure parts


@pytest.mark.parametrize(
    ("media_type", "reader"),
    [
        ("application/vnd.in-toto+json", "in-toto"),
        ("application/vnd.in-toto.spdx+json", "in-toto"),
        ("application/vnd.dsse.envelope.v1+json", "in-toto"),
        ("application/vnd.dev.cosign.simplesigning.v1+json", "simplesigning"),
        ("application/vnd.dev.sigstore.bundle.v0.3+json", "sigstore-bundle"),
        ("application/vnd.dev.sigstore.bundle+json;version=0.2", "sigstore-bundle"),
        ("application/spdx+json", "spdx"),
        ("text/spdx+json", "spdx"),
        ("application/vnd.cyclonedx+json", "cyclonedx"),
        ("text/spdx", None),
        ("application/vnd.oci.image.layer.v1.tar+gzip", None),
    ],
)
def test_each_layer_media_type_has_its_reader(media_type: str, reader: str | None) -> None:
    """Which parser reads a layer is told by its media type."""
    assert documents.reader_for(media_type) == reader


def test_a_real_cosign_signature_manifest_gives_its_claims() -> None:
    """salrashid's real .sig manifest (KMS and keyless layers) read through the signatures
    table: the keyless layer names its Fulcio identity; the payload signs another digest than
    the subject it is attached to here, which claims_subject says."""
    body = json.loads((DATA / "salrashid-sig-manifest.json").read_bytes())
    payload = (DATA / "salrashid-simplesigning.json").read_bytes()
    manifest = Manifest.from_bytes(json.dumps(body).encode(), mt.OCI_MANIFEST)
    docs = tuple(documents.read(i, layer, payload) for i, layer in enumerate(manifest.layers))
    subject = discovery.Node(AMD64, mt.OCI_MANIFEST, "image", "linux/amd64")
    found = Descriptor(mt.OCI_MANIFEST, manifest.digest, len(manifest.raw))
    edge = discovery.Edge(subject, found, 1, ("cosign tag",))
    table = signatures_frame([discovery.Attached(edge, manifest, docs)])
    signed_digest = json.loads(payload)["critical"]["image"]["docker-manifest-digest"]
    assert table["signed_digest"].tolist() == [signed_digest] * 2
    assert table["claims_subject"].tolist() == [False, False]
    identities = [text(v) for v in table["identity"]]
    assert identities[0] is None and identities[1] is not None and "@" in identities[1]


@pytest.mark.parametrize(
    ("frame", "columns"),
    [
        (lambda: supply_tables.referrer_edges_frame([]), REFERRER_EDGES_COLUMNS),
        (lambda: supply_tables.attestations_frame([]), ATTESTATIONS_COLUMNS),
        (lambda: supply_tables.sbom_frame([]), SBOM_COLUMNS),
        (lambda: supply_tables.provenance_frame([]), supply_tables.PROVENANCE_COLUMNS),
        (lambda: supply_tables.materials_frame([]), supply_tables.MATERIALS_COLUMNS),
        (lambda: supply_tables.signatures_frame([]), SIGNATURES_COLUMNS),
    ],
    ids=["referrers", "attestations", "sbom", "provenance", "materials", "signatures"],
)
def test_empty_tables_have_their_columns_and_dtypes(frame: Any, columns: dict[str, Any]) -> None:
    """Nothing attached: an empty table with exactly the documented columns and dtypes."""
    table = frame()
    assert table.empty and list(table.columns) == list(columns)
    assert [str(t) for t in table.dtypes] == [str(pd.Series([], dtype=d).dtype)
                                              for d in columns.values()]


def test_the_tree_of_a_handmade_table_and_its_escaped_labels() -> None:
    """referrer_tree without attrs takes the depth-1 subjects as roots; tree_lines escapes a
    control character an artifact type smuggles in."""
    rows = [
        {"subject": "sha256:" + "a" * 64, "subject_kind": "image",
         "subject_platform": "linux/amd64", "depth": 1, "digest": "sha256:" + "b" * 64,
         "artifact_type": "evil\x1b[2J",
         "media_type": mt.OCI_MANIFEST, "size": 10, "kind": None, "found_by": "layout",
         "tag": None, "error": None},
        {"subject": "sha256:" + "b" * 64, "subject_kind": "artifact",
         "subject_platform": "linux/amd64", "depth": 2, "digest": "sha256:" + "c" * 64,
         "artifact_type": None, "media_type": mt.OCI_MANIFEST, "size": 20, "kind": "spdx",
         "found_by": "referrers API", "tag": None, "error": None},
    ]
    roots = referrer_tree(pd.DataFrame(rows))
    assert [r.platform for r in roots] == ["linux/amd64"]
    assert [c.digest for c in roots[0].children] == ["sha256:" + "b" * 64]
    assert [c.kind for c in roots[0].children[0].children] == ["spdx"]
    lines = tree_lines(roots)
    assert lines[1] == "└── evil\\x1b[2J  sha256:bbbbbbbbbbbb  10 B  (layout)"
    assert lines[2] == "    └── spdx  sha256:cccccccccccc  20 B  (referrers API)"
    assert all("\x1b" not in line for line in lines)
