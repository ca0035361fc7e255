"""The supply-chain parsers, judged on real documents (tests/data/attestations/, SOURCES.md).

Every expected value is read from the document itself in the test (``json``, ``base64``,
``hashlib``, ``ssl`` and ``cryptography``, never the parser's helpers), so the assertions say
"the record holds what the document says". The malformed cases are real documents with one
field broken, so each error must name that field.
"""

from __future__ import annotations

import base64
import copy
import dataclasses
import hashlib
import json
import ssl
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from ociinspect.artifacts import (
    CountLimitError,
    InvalidAttestationError,
    InvalidCosignTagError,
    Signature,
    _x509,
    cosign_tag,
    cyclonedx_from_predicate,
    kind_of,
    parse_attestation,
    parse_cosign_tag,
    parse_cyclonedx,
    parse_envelope,
    parse_provenance,
    parse_signature_layer,
    parse_sigstore_bundle,
    parse_simple_signing,
    parse_spdx,
    parse_statement,
    provenance_from_statement,
    spdx_from_predicate,
)
from ociinspect.artifacts._json import thaw
from ociinspect.artifacts.cosign import DSSE_ENVELOPE_MEDIA_TYPE, SIMPLESIGNING_MEDIA_TYPE
from ociinspect.errors import InvalidDigestError, InvalidDocumentError, SizeLimitError

DATA = Path(__file__).parent / "data" / "attestations"


def raw(name: str) -> bytes:
    return (DATA / name).read_bytes()


def doc(name: str) -> Any:
    return json.loads(raw(name))


def dumps(value: Any) -> bytes:
    return json.dumps(value).encode()


def when(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


# --- in-toto statements and DSSE envelopes --------------------------------------------------

BARE_STATEMENTS = [
    "buildkit-provenance-v1-min.intoto.json",
    "buildkit-provenance-v1-max.intoto.json",
    "buildkit-provenance-v02-min.intoto.json",
    "buildkit-provenance-v02-max.intoto.json",
    "buildkit-sbom-spdx.intoto.json",
    "sigstore-go-statement-provenance-sigstorejs.intoto.json",
    "intoto-vulns-v0.2.intoto.json",
]
ENVELOPES = [
    "cosign-policy-custom.dsse.json",
    "cosign-policy-vuln.dsse.json",
    "salrashid-custom.dsse.json",
    "zlabjp-att-layer.dsse.json",
    "zlabjp-binary.dsse.json",
]


def assert_statement_matches(statement: Any, expected: Mapping[str, Any]) -> None:
    assert statement.type == expected["_type"]
    assert statement.predicate_type == expected["predicateType"]
    assert [s.name for s in statement.subjects] == [s.get("name") for s in expected["subject"]]
    assert [dict(s.digest) for s in statement.subjects] == [
        s["digest"] for s in expected["subject"]
    ]
    assert thaw(statement.predicate) == expected.get("predicate", {})


@pytest.mark.parametrize("name", BARE_STATEMENTS)
def test_bare_statement_fields_equal_the_document(name: str) -> None:
    """A bare statement's type, subjects, predicate type and predicate are read as written."""
    statement = parse_statement(raw(name))
    assert_statement_matches(statement, doc(name))
    assert statement.raw == raw(name)


@pytest.mark.parametrize("name", ENVELOPES)
def test_envelope_fields_equal_the_document(name: str) -> None:
    """A DSSE envelope keeps payloadType, the decoded payload and each keyid and decoded sig."""
    expected = doc(name)
    envelope = parse_envelope(raw(name))
    assert envelope.payload_type == expected["payloadType"]
    assert envelope.payload == base64.b64decode(expected["payload"])
    assert [(s.keyid, s.sig) for s in envelope.signatures] == [
        (s.get("keyid", ""), base64.b64decode(s["sig"])) for s in expected["signatures"]
    ]
    assert_statement_matches(envelope.statement(), json.loads(envelope.payload))


@pytest.mark.parametrize("name", BARE_STATEMENTS + ENVELOPES)
def test_parse_attestation_tells_bare_statements_from_envelopes(name: str) -> None:
    """parse_attestation returns the statement either way and the envelope only for DSSE."""
    attestation = parse_attestation(raw(name))
    assert (attestation.envelope is not None) == (name in ENVELOPES)
    expected = doc(name)
    if attestation.envelope is not None:
        expected = json.loads(base64.b64decode(expected["payload"]))
    assert_statement_matches(attestation.statement, expected)


KINDS = [
    ("https://slsa.dev/provenance/v0.2", "slsa-provenance-v0.2"),
    ("https://slsa.dev/provenance/v1", "slsa-provenance-v1"),
    ("https://spdx.dev/Document", "spdx"),
    ("https://spdx.dev/Document/v2.3", "spdx"),
    ("https://cyclonedx.org/bom", "cyclonedx"),
    ("https://cyclonedx.org/bom/v1.4", "cyclonedx"),
    ("https://cosign.sigstore.dev/attestation/vuln/v1", "vuln"),
    ("cosign.sigstore.dev/attestation/vuln/v1", "vuln"),
    ("https://in-toto.io/attestation/vulns", "vuln"),
    ("https://in-toto.io/attestation/vulns/v0.2", "vuln"),
    ("https://cosign.sigstore.dev/attestation/v1", "cosign-custom"),
    ("cosign.sigstore.dev/attestation/v1", "cosign-custom"),
    ("https://openvex.dev/ns", "openvex"),
    ("https://openvex.dev/ns/v0.2.0", "openvex"),
    ("https://slsa.dev/provenance/v0.1", "https://slsa.dev/provenance/v0.1"),
    ("https://spdx.dev/DocumentX", "https://spdx.dev/DocumentX"),
    ("https://example.com/my-predicate/v1", "https://example.com/my-predicate/v1"),
]


@pytest.mark.parametrize(("predicate_type", "kind"), KINDS, ids=[k[0] for k in KINDS])
def test_kind_of_names_known_predicate_types_and_keeps_unknown_uris(
    predicate_type: str, kind: str
) -> None:
    """kind_of gives a short kind for known predicate types and the URI itself otherwise."""
    assert kind_of(predicate_type) == kind


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("cosign-policy-custom.dsse.json", "cosign-custom"),
        ("cosign-policy-vuln.dsse.json", "vuln"),
        ("salrashid-custom.dsse.json", "cosign-custom"),
        ("zlabjp-att-layer.dsse.json", "slsa-provenance-v0.2"),
        ("buildkit-sbom-spdx.intoto.json", "spdx"),
        ("intoto-vulns-v0.2.intoto.json", "vuln"),
        ("buildkit-provenance-v1-min.intoto.json", "slsa-provenance-v1"),
    ],
)
def test_real_statements_get_their_kind(name: str, kind: str) -> None:
    """The kind of each real statement follows from its predicateType."""
    assert parse_attestation(raw(name)).statement.kind == kind


def test_envelope_with_another_payload_type_is_not_read_as_a_statement() -> None:
    """An envelope whose payloadType is not in-toto's is listed but refuses statement()."""
    envelope_json = doc("cosign-policy-custom.dsse.json")
    envelope_json["payloadType"] = "application/vnd.example+json"
    envelope = parse_envelope(dumps(envelope_json))
    assert not envelope.is_in_toto
    with pytest.raises(InvalidAttestationError) as err:
        envelope.statement()
    assert err.value.fields == ("payloadType",)


def test_dsse_envelope_accepts_url_safe_base64() -> None:
    """DSSE allows the URL-safe alphabet: the same bytes come out of either encoding."""
    envelope_json = doc("zlabjp-att-layer.dsse.json")
    payload = base64.b64decode(envelope_json["payload"])
    envelope_json["payload"] = base64.urlsafe_b64encode(payload).decode()
    assert "-" in envelope_json["payload"] or "_" in envelope_json["payload"]
    assert parse_envelope(dumps(envelope_json)).payload == payload


def test_records_are_frozen_and_their_json_read_only() -> None:
    """A statement cannot be changed after parsing, nor can its predicate."""
    statement = parse_statement(raw("buildkit-provenance-v1-min.intoto.json"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        statement.predicate_type = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        statement.predicate["buildDefinition"] = {}  # type: ignore[index]


# --- SLSA provenance ------------------------------------------------------------------------


def dependency_list(provenance: Any) -> list[tuple[str | None, dict[str, str]]]:
    return [(d.uri, dict(d.digest)) for d in provenance.resolved_dependencies]


@pytest.mark.parametrize(
    "name", ["buildkit-provenance-v02-min.intoto.json", "buildkit-provenance-v02-max.intoto.json"]
)
def test_buildkit_v02_provenance_fields_equal_the_document(name: str) -> None:
    """BuildKit's v0.2 provenance: builder, build type, invocation, config source, materials."""
    p = doc(name)["predicate"]
    provenance = provenance_from_statement(parse_statement(raw(name)))
    assert provenance.slsa_version == "0.2"
    assert provenance.builder_id == p["builder"]["id"]
    assert provenance.build_type == p["buildType"]
    assert provenance.is_buildkit
    assert provenance.invocation_id == p["metadata"]["buildInvocationID"]
    assert provenance.started_on == when(p["metadata"]["buildStartedOn"])
    assert provenance.finished_on == when(p["metadata"]["buildFinishedOn"])
    assert provenance.config_source is not None
    assert provenance.config_source.entry_point == p["invocation"]["configSource"]["entryPoint"]
    assert thaw(provenance.external_parameters) == p["invocation"]["parameters"]
    assert thaw(provenance.internal_parameters) == p["invocation"]["environment"]
    assert dependency_list(provenance) == [(m["uri"], m["digest"]) for m in p["materials"]]
    assert provenance.frontend == p["invocation"]["parameters"]["frontend"]
    assert dict(provenance.frontend_args) == p["invocation"]["parameters"]["args"]
    assert dict(provenance.build_args) == {}


@pytest.mark.parametrize(
    "name", ["buildkit-provenance-v1-min.intoto.json", "buildkit-provenance-v1-max.intoto.json"]
)
def test_buildkit_v1_provenance_fields_equal_the_document(name: str) -> None:
    """BuildKit's v1 provenance: runDetails, buildDefinition and externalParameters.request."""
    p = doc(name)["predicate"]
    definition, run = p["buildDefinition"], p["runDetails"]
    provenance = provenance_from_statement(parse_statement(raw(name)))
    assert provenance.slsa_version == "1"
    assert provenance.builder_id == run["builder"]["id"]
    assert provenance.build_type == definition["buildType"]
    assert provenance.invocation_id == run["metadata"]["invocationId"]
    assert provenance.started_on == when(run["metadata"]["startedOn"])
    assert provenance.finished_on == when(run["metadata"]["finishedOn"])
    assert provenance.config_source is not None
    source = definition["externalParameters"]["configSource"]
    assert provenance.config_source.entry_point == source["path"]
    assert thaw(provenance.external_parameters) == definition["externalParameters"]
    assert thaw(provenance.internal_parameters) == definition["internalParameters"]
    assert dependency_list(provenance) == [
        (d["uri"], d["digest"]) for d in definition["resolvedDependencies"]
    ]
    request = definition["externalParameters"]["request"]
    assert provenance.frontend == request["frontend"]
    assert dict(provenance.frontend_args) == request["args"]


@pytest.mark.parametrize("mode", ["min", "max"])
def test_v02_and_v1_of_the_same_build_read_the_same(mode: str) -> None:
    """BuildKit's docs show one build in both versions: the normalised records agree."""
    v02 = provenance_from_statement(
        parse_statement(raw(f"buildkit-provenance-v02-{mode}.intoto.json"))
    )
    v1 = provenance_from_statement(
        parse_statement(raw(f"buildkit-provenance-v1-{mode}.intoto.json"))
    )
    for name in ("builder_id", "invocation_id", "started_on", "finished_on", "frontend"):
        assert getattr(v02, name) == getattr(v1, name), name
    assert dependency_list(v02) == dependency_list(v1)
    assert v02.config_source == v1.config_source
    assert v02.build_type != v1.build_type


@pytest.mark.parametrize(
    ("statement_name", "snippet_name", "where"),
    [
        (
            "buildkit-provenance-v02-min.intoto.json",
            "buildkit-slsa-definitions-parameters-v02.json",
            ("invocation", "parameters"),
        ),
        (
            "buildkit-provenance-v1-min.intoto.json",
            "buildkit-slsa-definitions-request-v1.json",
            ("buildDefinition", "externalParameters", "request"),
        ),
    ],
    ids=["v0.2 invocation.parameters", "v1 externalParameters.request"],
)
def test_buildkit_build_args_are_the_build_arg_keys_of_the_request(
    statement_name: str, snippet_name: str, where: tuple[str, ...]
) -> None:
    """With BuildKit's documented request, frontend and build-arg:NAME args are extracted."""
    statement = doc(statement_name)
    request = doc(snippet_name)
    target = statement["predicate"]
    for key in where[:-1]:
        target = target[key]
    target[where[-1]] = request
    provenance = parse_provenance(dumps(statement))
    assert provenance.frontend == request["frontend"]
    assert dict(provenance.frontend_args) == request["args"]
    assert dict(provenance.build_args) == {
        key.split(":", 1)[1]: value
        for key, value in request["args"].items()
        if key.startswith("build-arg:")
    }
    assert dict(provenance.build_args) == {"BUILDKIT_CONTEXT_KEEP_GIT_DIR": "1"}


def test_bare_buildkit_predicate_from_imagetools_is_read_as_v02() -> None:
    """A bare v0.2 predicate (imagetools' .Provenance.SLSA) is told by shape; labels stay args."""
    p = doc("zlabjp-buildkit-provenance-v02.predicate.json")
    provenance = parse_provenance(raw("zlabjp-buildkit-provenance-v02.predicate.json"))
    assert provenance.slsa_version == "0.2"
    assert provenance.builder_id == p["builder"]["id"]
    assert provenance.frontend == p["invocation"]["parameters"]["frontend"]
    assert dict(provenance.frontend_args) == p["invocation"]["parameters"]["args"]
    assert dict(provenance.build_args) == {}
    assert dependency_list(provenance) == [(m["uri"], m["digest"]) for m in p["materials"]]
    assert provenance.invocation_id == p["metadata"]["buildInvocationID"]


@pytest.mark.parametrize(
    ("source", "invocation_key"),
    [
        ("sigstore-go-statement-provenance-sigstorejs.intoto.json", "buildInvocationId"),
        ("zlabjp-att-layer.dsse.json", "buildInvocationID"),
    ],
)
def test_other_builders_v02_provenance_has_no_buildkit_fields(
    source: str, invocation_key: str
) -> None:
    """GitHub-built v0.2 provenance: parameters stay whole, no frontend or build args; the
    invocation id is read under the spec's spelling and in-toto-golang's."""
    statement = parse_attestation(raw(source)).statement
    p = thaw(statement.predicate)
    provenance = provenance_from_statement(statement)
    assert provenance.builder_id == p["builder"]["id"]
    assert provenance.build_type == p["buildType"]
    assert not provenance.is_buildkit
    assert provenance.frontend is None and dict(provenance.build_args) == {}
    assert thaw(provenance.external_parameters) == p["invocation"].get("parameters", {})
    assert provenance.config_source is not None
    assert provenance.config_source.uri == p["invocation"]["configSource"]["uri"]
    assert dict(provenance.config_source.digest) == p["invocation"]["configSource"]["digest"]
    assert provenance.invocation_id == p["metadata"][invocation_key]
    assert dependency_list(provenance) == [
        (m.get("uri"), m.get("digest", {})) for m in p["materials"]
    ]


def test_bare_v1_predicate_from_github_is_read_as_v1() -> None:
    """sigstore-python's GitHub v1 predicate: builder, buildType, parameters, gitCommit digest."""
    p = doc("sigstore-python-slsa-predicate-v1.predicate.json")
    provenance = parse_provenance(raw("sigstore-python-slsa-predicate-v1.predicate.json"))
    assert provenance.slsa_version == "1"
    assert provenance.builder_id == p["runDetails"]["builder"]["id"]
    assert provenance.build_type == p["buildDefinition"]["buildType"]
    assert provenance.invocation_id == p["runDetails"]["metadata"]["invocationId"]
    assert thaw(provenance.external_parameters) == p["buildDefinition"]["externalParameters"]
    assert thaw(provenance.internal_parameters) == p["buildDefinition"]["internalParameters"]
    assert dependency_list(provenance) == [
        (d["uri"], d["digest"]) for d in p["buildDefinition"]["resolvedDependencies"]
    ]
    assert provenance.config_source is None and provenance.frontend is None


# --- SPDX -----------------------------------------------------------------------------------


def expected_packages(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    out = []
    for p in document.get("packages", []):
        purls = [
            r["referenceLocator"] for r in p.get("externalRefs", []) if r["referenceType"] == "purl"
        ]
        out.append(
            {
                "spdx_id": p["SPDXID"],
                "name": p["name"],
                "version": p.get("versionInfo"),
                "license_concluded": p.get("licenseConcluded"),
                "license_declared": p.get("licenseDeclared"),
                "supplier": p.get("supplier"),
                "purl": purls[0] if purls else None,
                "purls": tuple(purls),
            }
        )
    return out


def assert_spdx_matches(parsed: Any, expected: Mapping[str, Any]) -> None:
    assert parsed.spdx_version == expected["spdxVersion"]
    assert parsed.spdx_id == expected["SPDXID"]
    assert parsed.name == expected["name"]
    assert parsed.namespace == expected["documentNamespace"]
    assert parsed.data_license == expected.get("dataLicense")
    assert parsed.created == when(expected["creationInfo"]["created"])
    assert list(parsed.creators) == expected["creationInfo"]["creators"]
    assert parsed.license_list_version == (expected["creationInfo"].get("licenseListVersion"))
    assert [dataclasses.asdict(p) for p in parsed.packages] == expected_packages(expected)


@pytest.mark.parametrize(
    "name",
    ["spdx-example-v2.3.spdx.json", "spdx-example-v2.2.spdx.json", "cosign-bom-go-mod.spdx.json"],
)
def test_spdx_document_and_packages_equal_the_document(name: str) -> None:
    """SPDX 2.2/2.3: document identity, creation info and every package's fields and purl."""
    assert_spdx_matches(parse_spdx(raw(name)), doc(name))


def test_spdx_predicate_of_buildkit_sbom_statement() -> None:
    """BuildKit's SBOM statement carries syft's SPDX as its predicate; it reads the same."""
    statement = parse_statement(raw("buildkit-sbom-spdx.intoto.json"))
    parsed = spdx_from_predicate(statement.predicate)
    assert_spdx_matches(parsed, doc("buildkit-sbom-spdx.intoto.json")["predicate"])
    assert parsed.packages[0].purl is not None
    assert parsed.packages[0].purl.startswith("pkg:alpine/busybox@")


def test_spdx_purl_is_found_under_either_package_manager_spelling() -> None:
    """2.3's PACKAGE-MANAGER and 2.2's PACKAGE_MANAGER purl references both give the purl."""
    v23 = parse_spdx(raw("spdx-example-v2.3.spdx.json"))
    v22 = parse_spdx(raw("spdx-example-v2.2.spdx.json"))
    jena = [p.purl for p in v23.packages if p.name == "Jena"]
    assert jena == [p.purl for p in v22.packages if p.name == "Jena"]
    assert jena == ["pkg:maven/org.apache.jena/apache-jena@3.12.0"]


# --- CycloneDX ------------------------------------------------------------------------------


def walk(
    components: list[dict[str, Any]],
    depth: int = 0,
    parent: int | None = None,
    out: list[tuple[dict[str, Any], int, int | None]] | None = None,
) -> list[tuple[dict[str, Any], int, int | None]]:
    """Components depth first, parents first, each with its depth and its parent's index."""
    out = [] if out is None else out
    for component in components:
        index = len(out)
        out.append((component, depth, parent))
        walk(component.get("components", []), depth + 1, index, out)
    return out


def expected_licenses(component: Mapping[str, Any]) -> list[tuple[str, str]]:
    out = []
    for entry in component.get("licenses", []):
        if "expression" in entry:
            out.append(("expression", entry["expression"]))
        elif "id" in entry["license"]:
            out.append(("id", entry["license"]["id"]))
        else:
            out.append(("name", entry["license"]["name"]))
    return out


CYCLONEDX = [
    "cyclonedx-valid-bom-1.6.json",
    "cyclonedx-valid-assembly-1.5.json",
    "cyclonedx-valid-license-expression-1.4.json",
    "cyclonedx-valid-license-name-1.5.json",
    "cosign-bom-go-mod.cyclonedx.json",
]


@pytest.mark.parametrize("name", CYCLONEDX)
def test_cyclonedx_components_flattened_equal_the_document(name: str) -> None:
    """CycloneDX 1.4-1.6: every component, nested ones after their parent, with its fields."""
    expected = doc(name)
    bom = parse_cyclonedx(raw(name))
    assert bom.spec_version == expected["specVersion"]
    assert bom.serial_number == expected.get("serialNumber")
    assert bom.version == expected.get("version", 1)
    assert bom.timestamp == when(expected.get("metadata", {}).get("timestamp"))
    flat = walk(expected.get("components", []))
    assert len(bom.components) == len(flat)
    for parsed, (component, depth, parent) in zip(bom.components, flat, strict=True):
        assert (parsed.type, parsed.name, parsed.depth, parsed.parent) == (
            component["type"],
            component["name"],
            depth,
            parent,
        )
        assert parsed.version == component.get("version")
        assert parsed.group == component.get("group")
        assert parsed.purl == component.get("purl")
        assert parsed.bom_ref == component.get("bom-ref")
        assert parsed.publisher == component.get("publisher")
        assert parsed.supplier == component.get("supplier", {}).get("name")
        assert [(x.kind, x.value) for x in parsed.licenses] == expected_licenses(component)


def test_cyclonedx_subject_is_the_metadata_component() -> None:
    """metadata.component is the BOM's subject, read like any component."""
    expected = doc("cyclonedx-valid-bom-1.6.json")["metadata"]["component"]
    bom = parse_cyclonedx(raw("cyclonedx-valid-bom-1.6.json"))
    assert bom.subject is not None
    assert (bom.subject.type, bom.subject.name, bom.subject.version) == (
        expected["type"],
        expected["name"],
        expected["version"],
    )


def test_cyclonedx_nested_component_points_at_its_parent() -> None:
    """In the assembly example, acme-library-b is nested in acme-library-a (index 0)."""
    bom = parse_cyclonedx(raw("cyclonedx-valid-assembly-1.5.json"))
    assert [(c.name, c.depth, c.parent) for c in bom.components] == [
        ("acme-library-a", 0, None),
        ("acme-library-b", 1, 0),
    ]


def nested_bom(levels: int) -> dict[str, Any]:
    bom = doc("cyclonedx-valid-assembly-1.5.json")
    node = bom["components"][0]
    for i in range(levels):
        child = {"type": "library", "name": f"nested-{i}"}
        node["components"] = [child]
        node = child
    return bom


def test_cyclonedx_nesting_deeper_than_max_depth_is_refused() -> None:
    """Nesting beyond max_depth raises CountLimitError naming the argument; within it, reads."""
    assert len(cyclonedx_from_predicate(nested_bom(5), max_depth=6).components) == 6
    with pytest.raises(CountLimitError) as err:
        cyclonedx_from_predicate(nested_bom(6), max_depth=6)
    assert err.value.argument == "max_depth" and err.value.limit == 6


def test_cyclonedx_deep_nesting_is_read_without_recursion() -> None:
    """1500 levels of nesting, when allowed, are read (an explicit stack, no recursion)."""
    deep = cyclonedx_from_predicate(nested_bom(1500), max_depth=2000)
    assert [c.depth for c in deep.components] == list(range(1501))


def test_cyclonedx_more_components_than_allowed_is_refused() -> None:
    """More components (nested ones counted) than max_components raises CountLimitError."""
    with pytest.raises(CountLimitError) as err:
        parse_cyclonedx(raw("cyclonedx-valid-assembly-1.5.json"), max_components=1)
    assert err.value.argument == "max_components"


# --- cosign: simple signing, signature layers, tags -----------------------------------------


@pytest.mark.parametrize(
    "name", ["salrashid-simplesigning.json", "cosign-obsolete-test.simplesigning.json"]
)
def test_simple_signing_payload_fields_equal_the_document(name: str) -> None:
    """The signed digest, reference, type and optional claims are read as written."""
    expected = doc(name)
    payload = parse_simple_signing(raw(name))
    assert payload.digest == expected["critical"]["image"]["docker-manifest-digest"]
    assert payload.reference == expected["critical"]["identity"]["docker-reference"]
    assert payload.type == expected["critical"]["type"]
    assert thaw(payload.optional) == (expected["optional"] or {})
    assert payload.raw == raw(name)


def test_reconstructed_payload_is_the_blob_the_manifest_names() -> None:
    """The salrashid payload hashes to the digest and size of the layers that sign it."""
    manifest = doc("salrashid-sig-manifest.json")
    payload = raw("salrashid-simplesigning.json")
    for layer in manifest["layers"]:
        assert layer["digest"] == "sha256:" + hashlib.sha256(payload).hexdigest()
        assert layer["size"] == len(payload)


def test_simple_signing_keys_match_ignoring_case() -> None:
    """SIGNATURE_SPEC.md writes Docker-manifest-digest: cosign's decoder ignores case, so do we."""
    text = raw("salrashid-simplesigning.json").replace(
        b'"docker-manifest-digest"', b'"Docker-manifest-digest"'
    )
    assert (
        parse_simple_signing(text).digest
        == doc("salrashid-simplesigning.json")["critical"]["image"]["docker-manifest-digest"]
    )


def certificate_der(pem: str) -> list[bytes]:
    blocks = pem.split("-----END CERTIFICATE-----")
    return [
        ssl.PEM_cert_to_DER_cert(b.strip() + "\n-----END CERTIFICATE-----\n") for b in blocks[:-1]
    ]


def fulcio_extensions(der: bytes) -> dict[str, str]:
    """Fulcio's 1.3.6.1.4.1.57264.1.N extensions: raw strings for N <= 6, else DER UTF8String
    (tag 0x0C, one length byte for these short values), per fulcio docs/oid-info.md."""
    out = {}
    for ext in x509.load_der_x509_certificate(der).extensions:
        oid = ext.oid.dotted_string
        if not oid.startswith("1.3.6.1.4.1.57264.1."):
            continue
        data = ext.value.value  # type: ignore[attr-defined]
        if int(oid.rsplit(".", 1)[1]) <= 6:
            out[oid] = data.decode()
        else:
            assert data[0] == 0x0C and data[1] == len(data) - 2
            out[oid] = data[2:].decode()
    return out


def identity_of(der: bytes) -> tuple[str, str | None]:
    """The first SAN and the Fulcio OIDC issuer, read with cryptography directly."""
    cert = x509.load_der_x509_certificate(der)
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    first = next(iter(san)).value
    issuer = None
    for oid in ("1.3.6.1.4.1.57264.1.8", "1.3.6.1.4.1.57264.1.1"):
        try:
            value = cert.extensions.get_extension_for_oid(x509.ObjectIdentifier(oid)).value
        except x509.ExtensionNotFound:
            continue
        data = value.value  # type: ignore[attr-defined]
        issuer = data[2:].decode() if oid.endswith(".8") else data.decode()
        break
    return first, issuer


LAYERS = [
    ("salrashid-sig-manifest.json", 0),
    ("salrashid-sig-manifest.json", 1),
    ("zlabjp-att-manifest.json", 0),
]


@pytest.mark.parametrize(("name", "index"), LAYERS, ids=[f"{n}[{i}]" for n, i in LAYERS])
def test_signature_layer_annotations_equal_the_manifest(name: str, index: int) -> None:
    """A cosign layer's signature, certificate identity, chain and Rekor entry are read as found."""
    layer = doc(name)["layers"][index]
    annotations = layer["annotations"]
    signature = parse_signature_layer(annotations, media_type=layer["mediaType"])
    assert signature.source == "cosign"
    assert signature.media_type == layer["mediaType"]
    assert signature.signature == base64.b64decode(
        annotations["dev.cosignproject.cosign/signature"]
    )
    pem = annotations.get("dev.sigstore.cosign/certificate")
    if pem is None:
        assert signature.certificate is None and signature.identity is None
    else:
        der = certificate_der(pem)[0]
        assert signature.certificate == der
        assert signature.certificate_sha256 == hashlib.sha256(der).hexdigest()
        assert (signature.identity, signature.issuer) == identity_of(der)
        assert signature.identity_note is None
        assert signature.certificate_info is not None
        assert dict(signature.certificate_info.fulcio_extensions) == fulcio_extensions(der)
    chain = annotations.get("dev.sigstore.cosign/chain")
    assert list(signature.chain) == (certificate_der(chain) if chain else [])
    bundle = annotations.get("dev.sigstore.cosign/bundle")
    if bundle is None:
        assert signature.tlog_log_index is None
    else:
        payload = json.loads(bundle)["Payload"]
        assert signature.tlog_log_index == payload["logIndex"]
        assert signature.tlog_integrated_time == datetime.fromtimestamp(
            payload["integratedTime"], UTC
        )
        assert signature.tlog_log_id == payload["logID"]
        assert signature.tlog_kind == json.loads(base64.b64decode(payload["body"]))["kind"]


def test_signature_identities_are_the_ones_cosign_printed() -> None:
    """The keyless identities equal what the READMEs quote from cosign verify and the workflow."""
    keyless = doc("salrashid-sig-manifest.json")["layers"][1]["annotations"]
    signature = parse_signature_layer(keyless)
    assert signature.identity == "cosign@cosign-test-383122.iam.gserviceaccount.com"
    assert signature.issuer == "https://accounts.google.com"
    att = parse_signature_layer(doc("zlabjp-att-manifest.json")["layers"][0]["annotations"])
    assert att.issuer == "https://token.actions.githubusercontent.com"
    assert att.identity is not None and att.identity.startswith(
        "https://github.com/slsa-framework/slsa-github-generator/"
    )


def test_att_layer_with_its_blob_gives_the_envelope_about_the_tagged_digest() -> None:
    """An .att layer read with its blob carries the DSSE envelope; the statement's subject is
    the digest the .att tag names."""
    layer = doc("zlabjp-att-manifest.json")["layers"][0]
    blob = raw("zlabjp-att-layer.dsse.json")
    signature = parse_signature_layer(
        layer["annotations"], media_type=layer["mediaType"], payload=blob
    )
    assert layer["mediaType"] == DSSE_ENVELOPE_MEDIA_TYPE
    assert signature.signature == b""
    assert signature.envelope is not None
    statement = signature.envelope.statement()
    assert statement.predicate_type == layer["annotations"]["predicateType"]
    tag = parse_cosign_tag(
        "sha256-3dbd76ff6dc789a8bfd7b3303b15dd6fbac052af442f830b2eb527ab26976cf3.att"
    )
    assert tag.suffix == "att"
    assert tag.digest == "sha256:" + statement.subjects[0].digest["sha256"]


def test_sig_layer_with_its_blob_gives_the_signed_digest_and_its_tag() -> None:
    """A .sig layer read with its payload names the digest its tag was made from."""
    layer = doc("salrashid-sig-manifest.json")["layers"][1]
    signature = parse_signature_layer(
        layer["annotations"],
        media_type=layer["mediaType"],
        payload=raw("salrashid-simplesigning.json"),
    )
    assert layer["mediaType"] == SIMPLESIGNING_MEDIA_TYPE
    assert signature.simple_signing is not None
    # salrashid README line 732: crane manifest <repo>:sha256-83ab2ba6....sig
    assert cosign_tag(signature.simple_signing.digest) == (
        "sha256-83ab2ba6689713f2d68104cd208feadfebdd6bc881c455dcb55d2b45ac3a0753.sig"
    )


def test_without_cryptography_identity_is_missing_and_said_so(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without cryptography: no identity or issuer, a note saying why, the DER still shown."""
    monkeypatch.setattr(_x509, "crypto", None)
    annotations = doc("salrashid-sig-manifest.json")["layers"][1]["annotations"]
    signature = parse_signature_layer(annotations)
    der = certificate_der(annotations["dev.sigstore.cosign/certificate"])[0]
    assert signature.identity is None and signature.issuer is None
    assert signature.certificate_info is None
    assert signature.identity_note is not None and "cryptography" in signature.identity_note
    assert signature.certificate == der
    assert signature.certificate_sha256 == hashlib.sha256(der).hexdigest()
    assert len(signature.chain) == 2
    bundle = parse_sigstore_bundle(raw("cosign-oci-attestation.sigstore.json"))
    assert bundle.identity is None and bundle.identity_note is not None


TAGS = [
    ("sha256:" + "a" * 64, "sig", "", "sha256-" + "a" * 64 + ".sig"),
    ("sha256:" + "0" * 64, "att", "", "sha256-" + "0" * 64 + ".att"),
    ("sha256:" + "f" * 64, "sbom", "", "sha256-" + "f" * 64 + ".sbom"),
    ("sha256:" + "1" * 64, "sig", "mirror-", "mirror-sha256-" + "1" * 64 + ".sig"),
]


@pytest.mark.parametrize(("digest", "suffix", "prefix", "tag"), TAGS, ids=[t[3][:20] for t in TAGS])
def test_cosign_tags_round_trip(digest: str, suffix: str, prefix: str, tag: str) -> None:
    """digest -> sha256-<hex>.<suffix> -> the same digest and suffix."""
    assert cosign_tag(digest, suffix, prefix=prefix) == tag
    parsed = parse_cosign_tag(tag, prefix=prefix)
    assert (parsed.digest, parsed.suffix, str(parsed)) == (digest, suffix, tag)


BAD_TAGS = [
    ("latest", "not a digest tag"),
    ("sha256-abc.sig", "short hex"),
    ("sha256-" + "a" * 64 + ".foo", "unknown suffix"),
    ("sha256-" + "A" * 64 + ".sig", "uppercase hex"),
    ("md5-" + "a" * 32 + ".sig", "unknown algorithm"),
    ("sha256-" + "a" * 64, "no suffix"),
    ("sha256:" + "a" * 64 + ".sig", "colon instead of dash"),
]


@pytest.mark.parametrize(("tag", "why"), BAD_TAGS, ids=[b[1] for b in BAD_TAGS])
def test_tags_outside_the_scheme_are_refused(tag: str, why: str) -> None:
    """A tag that is not [prefix]<alg>-<hex>.sig|.att|.sbom raises InvalidCosignTagError."""
    with pytest.raises(InvalidCosignTagError) as err:
        parse_cosign_tag(tag)
    assert err.value.tag == tag
    assert isinstance(err.value, ValueError)


def test_cosign_tag_refuses_bad_digests_suffixes_and_overlong_tags() -> None:
    """Bad digest: InvalidDigestError; unknown suffix or a sha512 tag (139 chars): tag error."""
    with pytest.raises(InvalidDigestError):
        cosign_tag("sha256:abc")
    with pytest.raises(InvalidCosignTagError, match="suffix"):
        cosign_tag("sha256:" + "a" * 64, "cert")
    with pytest.raises(InvalidCosignTagError, match="139 characters"):
        cosign_tag("sha512:" + "a" * 128)
    with pytest.raises(InvalidCosignTagError, match="prefix"):
        parse_cosign_tag("sha256-" + "a" * 64 + ".sig", prefix="x-")


# --- Sigstore bundles -----------------------------------------------------------------------

BUNDLES = [
    "cosign-oci-attestation.sigstore.json",
    "sigstore-python-bundle-v0.1.sigstore.json",
    "sigstore-python-bundle-v0.2.sigstore.json",
    "sigstore-python-bundle-v0.3.sigstore.json",
    "sigstore-go-bundle-publish.sigstore.json",
    "sigstore-go-bundle-provenance.sigstore.json",
]


@pytest.mark.parametrize("name", BUNDLES)
def test_sigstore_bundle_fields_equal_the_document(name: str) -> None:
    """Media type, key material, signature, message digest or envelope, and the log entry."""
    expected = doc(name)
    material = expected["verificationMaterial"]
    bundle = parse_sigstore_bundle(raw(name))
    assert isinstance(bundle, Signature) and bundle.source == "sigstore-bundle"
    assert bundle.media_type == expected["mediaType"]
    media = expected["mediaType"]
    version = media.rsplit("=", 1)[1] if "version=" in media else media.split(".v")[1][:3]
    assert bundle.bundle_version == version
    certs: list[bytes] = []
    if "certificate" in material:
        certs = [base64.b64decode(material["certificate"]["rawBytes"])]
    elif "x509CertificateChain" in material:
        certs = [
            base64.b64decode(c["rawBytes"])
            for c in material["x509CertificateChain"]["certificates"]
        ]
    assert bundle.certificate == (certs[0] if certs else None)
    assert list(bundle.chain) == certs[1:]
    assert bundle.public_key_hint == material.get("publicKey", {}).get("hint")
    if certs:
        assert (bundle.identity, bundle.issuer) == identity_of(certs[0])
        assert bundle.certificate_info is not None
        assert dict(bundle.certificate_info.fulcio_extensions) == fulcio_extensions(certs[0])
    if "messageSignature" in expected:
        message = expected["messageSignature"]
        assert bundle.signature == base64.b64decode(message["signature"])
        assert bundle.message_digest_algorithm == message["messageDigest"]["algorithm"]
        assert bundle.message_digest == base64.b64decode(message["messageDigest"]["digest"])
        assert bundle.envelope is None
    else:
        envelope = expected["dsseEnvelope"]
        assert bundle.signature == base64.b64decode(envelope["signatures"][0]["sig"])
        assert bundle.envelope is not None
        assert bundle.envelope.payload == base64.b64decode(envelope["payload"])
        statement = bundle.envelope.statement()
        assert_statement_matches(statement, json.loads(base64.b64decode(envelope["payload"])))
    entry = material["tlogEntries"][0]
    assert bundle.tlog_log_index == int(entry["logIndex"])
    assert bundle.tlog_integrated_time == datetime.fromtimestamp(int(entry["integratedTime"]), UTC)
    assert bundle.tlog_log_id == base64.b64decode(entry["logId"]["keyId"]).hex()
    assert bundle.tlog_kind == entry["kindVersion"]["kind"]


def test_bundle_versions_follow_the_media_type() -> None:
    """Each bundle's version is the one its media type names (both spellings of 0.3)."""
    versions = {n: parse_sigstore_bundle(raw(n)).bundle_version for n in BUNDLES}
    assert versions == {
        "cosign-oci-attestation.sigstore.json": "0.3",
        "sigstore-python-bundle-v0.1.sigstore.json": "0.1",
        "sigstore-python-bundle-v0.2.sigstore.json": "0.2",
        "sigstore-python-bundle-v0.3.sigstore.json": "0.3",
        "sigstore-go-bundle-publish.sigstore.json": "0.1",
        "sigstore-go-bundle-provenance.sigstore.json": "0.1",
    }


def test_rekor_log_id_reads_the_same_from_annotations_and_bundles() -> None:
    """cosign's hex logID and a bundle's base64 keyId of the same log come out equal."""
    annotation = parse_signature_layer(doc("zlabjp-att-manifest.json")["layers"][0]["annotations"])
    bundle = parse_sigstore_bundle(raw("cosign-oci-attestation.sigstore.json"))
    assert annotation.tlog_log_id == bundle.tlog_log_id
    assert annotation.tlog_log_id == (
        "c0d23d6ad406973f9559f3ba2d1ca01f84147d8ffc5b8445c224f98b9591801d"
    )


# --- malformed and oversized input ----------------------------------------------------------


def mutate(name: str, change: Callable[[Any], None]) -> bytes:
    value = copy.deepcopy(doc(name))
    change(value)
    return dumps(value)


def set_payload(name: str, change: Callable[[Any], None]) -> bytes:
    """An envelope whose statement was changed (the signature no longer matches: not checked)."""
    envelope = doc(name)
    statement = json.loads(base64.b64decode(envelope["payload"]))
    change(statement)
    envelope["payload"] = base64.b64encode(dumps(statement)).decode()
    return dumps(envelope)


PROV_V1 = "buildkit-provenance-v1-min.intoto.json"
PROV_V02 = "buildkit-provenance-v02-min.intoto.json"
SIG_LAYER = doc("salrashid-sig-manifest.json")["layers"][1]["annotations"]


def layer_with(**changes: str | None) -> Callable[[], Any]:
    annotations = {k: v for k, v in SIG_LAYER.items()}
    for key, value in changes.items():
        full = {
            "signature": "dev.cosignproject.cosign/signature",
            "certificate": "dev.sigstore.cosign/certificate",
            "chain": "dev.sigstore.cosign/chain",
            "bundle": "dev.sigstore.cosign/bundle",
        }[key]
        if value is None:
            annotations.pop(full)
        else:
            annotations[full] = value
    return lambda: parse_signature_layer(annotations)


def pop(path: str) -> Callable[[Any], None]:
    def change(value: Any) -> None:
        *parents, last = path.split("/")
        for key in parents:
            value = value[int(key) if key.isdigit() else key]
        del value[int(last) if last.isdigit() else last]

    return change


def put(path: str, new: Any) -> Callable[[Any], None]:
    def change(value: Any) -> None:
        *parents, last = path.split("/")
        for key in parents:
            value = value[int(key) if key.isdigit() else key]
        value[int(last) if last.isdigit() else last] = new

    return change


#: (id, call that parses the broken document, the field the error must name)
MALFORMED: list[tuple[str, Callable[[], Any], str]] = [
    (
        "statement: predicate is a list",
        lambda: parse_statement(mutate(PROV_V1, put("predicate", [1, 2]))),
        "predicate",
    ),
    (
        "statement: subject without digest",
        lambda: parse_statement(mutate(PROV_V1, pop("subject/0/digest"))),
        "subject[0].digest",
    ),
    (
        "statement: empty digest set",
        lambda: parse_statement(mutate(PROV_V1, put("subject/0/digest", {}))),
        "subject[0].digest",
    ),
    (
        "statement: sha256 of 63 hex digits",
        lambda: parse_statement(mutate(PROV_V1, put("subject/0/digest/sha256", "a" * 63))),
        "subject[0].digest.sha256",
    ),
    (
        "statement: no subjects",
        lambda: parse_statement(mutate(PROV_V1, put("subject", []))),
        "subject",
    ),
    (
        "statement: unknown _type",
        lambda: parse_statement(mutate(PROV_V1, put("_type", "https://in-toto.io/Statement/v2"))),
        "_type",
    ),
    (
        "statement: missing predicateType",
        lambda: parse_statement(mutate(PROV_V1, pop("predicateType"))),
        "predicateType",
    ),
    (
        "statement v0.1: empty subject name",
        lambda: parse_statement(mutate(PROV_V02, put("subject/0/name", ""))),
        "subject[0].name",
    ),
    (
        "dsse: payload is base64 garbage",
        lambda: parse_envelope(
            mutate("cosign-policy-custom.dsse.json", put("payload", "%%%not-b64"))
        ),
        "payload",
    ),
    (
        "dsse: sig is base64 garbage",
        lambda: parse_envelope(
            mutate("cosign-policy-custom.dsse.json", put("signatures/0/sig", "abc"))
        ),
        "signatures[0].sig",
    ),
    (
        "dsse: signatures missing",
        lambda: parse_envelope(mutate("cosign-policy-custom.dsse.json", pop("signatures"))),
        "signatures",
    ),
    (
        "dsse: payload statement has a list predicate",
        lambda: parse_attestation(
            set_payload("cosign-policy-custom.dsse.json", put("predicate", ["x"]))
        ),
        "predicate",
    ),
    (
        "spdx: packages is an object",
        lambda: parse_spdx(mutate("spdx-example-v2.3.spdx.json", put("packages", {"a": 1}))),
        "packages",
    ),
    (
        "spdx: package without name",
        lambda: parse_spdx(mutate("spdx-example-v2.3.spdx.json", pop("packages/2/name"))),
        "packages[2].name",
    ),
    (
        "spdx: version 3.0",
        lambda: parse_spdx(mutate("spdx-example-v2.3.spdx.json", put("spdxVersion", "SPDX-3.0"))),
        "spdxVersion",
    ),
    (
        "spdx: created is not a date-time",
        lambda: parse_spdx(
            mutate("spdx-example-v2.3.spdx.json", put("creationInfo/created", "yesterday"))
        ),
        "creationInfo.created",
    ),
    (
        "spdx: externalRef without referenceLocator",
        lambda: parse_spdx(
            mutate("spdx-example-v2.3.spdx.json", pop("packages/2/externalRefs/0/referenceLocator"))
        ),
        "packages[2].externalRefs[0].referenceLocator",
    ),
    (
        "cyclonedx: wrong bomFormat",
        lambda: parse_cyclonedx(mutate("cyclonedx-valid-bom-1.6.json", put("bomFormat", "SPDX"))),
        "bomFormat",
    ),
    (
        "cyclonedx: specVersion 1.3",
        lambda: parse_cyclonedx(mutate("cyclonedx-valid-bom-1.6.json", put("specVersion", "1.3"))),
        "specVersion",
    ),
    (
        "cyclonedx: nested component without name",
        lambda: parse_cyclonedx(
            mutate("cyclonedx-valid-assembly-1.5.json", pop("components/0/components/0/name"))
        ),
        "components[0].components[0].name",
    ),
    (
        "cyclonedx: license entry with neither license nor expression",
        lambda: parse_cyclonedx(
            mutate(
                "cyclonedx-valid-license-name-1.5.json", put("components/0/licenses/0", {"x": 1})
            )
        ),
        "components[0].licenses[0]",
    ),
    (
        "cyclonedx: components is a string",
        lambda: parse_cyclonedx(mutate("cyclonedx-valid-bom-1.6.json", put("components", "all"))),
        "components",
    ),
    (
        "provenance v0.2: builder without id",
        lambda: parse_provenance(mutate(PROV_V02, pop("predicate/builder/id"))),
        "predicate.builder.id",
    ),
    (
        "provenance v1: no runDetails",
        lambda: parse_provenance(mutate(PROV_V1, pop("predicate/runDetails"))),
        "predicate.runDetails",
    ),
    (
        "provenance v1: startedOn is not RFC 3339",
        lambda: parse_provenance(
            mutate(PROV_V1, put("predicate/runDetails/metadata/startedOn", "2022-12-08 11:48"))
        ),
        "predicate.runDetails.metadata.startedOn",
    ),
    (
        "provenance v1: a build arg that is not a string",
        lambda: parse_provenance(
            mutate(
                PROV_V1,
                put(
                    "predicate/buildDefinition/externalParameters/request/args", {"build-arg:A": 1}
                ),
            )
        ),
        'predicate.buildDefinition.externalParameters.request.args["build-arg:A"]',
    ),
    (
        "provenance v0.2: materials is an object",
        lambda: parse_provenance(mutate(PROV_V02, put("predicate/materials", {}))),
        "predicate.materials",
    ),
    (
        "simple signing: digest is not a digest",
        lambda: parse_simple_signing(
            mutate(
                "salrashid-simplesigning.json",
                put("critical/image/docker-manifest-digest", "sha256:20be"),
            )
        ),
        "critical.image.docker-manifest-digest",
    ),
    (
        "simple signing: unknown critical.type",
        lambda: parse_simple_signing(
            mutate("salrashid-simplesigning.json", put("critical/type", "something else"))
        ),
        "critical.type",
    ),
    (
        "simple signing: no critical",
        lambda: parse_simple_signing(mutate("salrashid-simplesigning.json", pop("critical"))),
        "critical",
    ),
    (
        "cosign layer: no signature annotation",
        layer_with(signature=None),
        'annotations["dev.cosignproject.cosign/signature"]',
    ),
    (
        "cosign layer: signature not base64",
        layer_with(signature="MEYC!IQ"),
        'annotations["dev.cosignproject.cosign/signature"]',
    ),
    (
        "cosign layer: certificate is not PEM",
        layer_with(certificate="-----BEGIN CERTIFICATE-----\n%%%\n-----END CERTIFICATE-----\n"),
        'annotations["dev.sigstore.cosign/certificate"]',
    ),
    (
        "cosign layer: bundle is not JSON",
        layer_with(bundle="{SignedEntryTimestamp"),
        'annotations["dev.sigstore.cosign/bundle"]',
    ),
    (
        "cosign layer: bundle without logIndex",
        layer_with(
            bundle=json.dumps(
                {
                    **json.loads(SIG_LAYER["dev.sigstore.cosign/bundle"]),
                    "Payload": {
                        k: v
                        for k, v in json.loads(SIG_LAYER["dev.sigstore.cosign/bundle"])[
                            "Payload"
                        ].items()
                        if k != "logIndex"
                    },
                }
            )
        ),
        'annotations["dev.sigstore.cosign/bundle"].Payload.logIndex',
    ),
    (
        "bundle: unknown media type",
        lambda: parse_sigstore_bundle(
            mutate(
                "sigstore-python-bundle-v0.3.sigstore.json",
                put("mediaType", "this is completely wrong"),
            )
        ),
        "mediaType",
    ),
    (
        "bundle: certificate and public key both",
        lambda: parse_sigstore_bundle(
            mutate(
                "sigstore-python-bundle-v0.3.sigstore.json",
                put("verificationMaterial/publicKey", {"hint": "x"}),
            )
        ),
        "verificationMaterial",
    ),
    (
        "bundle: DSSE envelope with two signatures",
        lambda: parse_sigstore_bundle(
            mutate(
                "cosign-oci-attestation.sigstore.json",
                lambda d: d["dsseEnvelope"]["signatures"].append(
                    d["dsseEnvelope"]["signatures"][0]
                ),
            )
        ),
        "dsseEnvelope.signatures",
    ),
    (
        "bundle: logIndex is not an integer",
        lambda: parse_sigstore_bundle(
            mutate(
                "sigstore-python-bundle-v0.3.sigstore.json",
                put("verificationMaterial/tlogEntries/0/logIndex", "12a"),
            )
        ),
        "verificationMaterial.tlogEntries[0].logIndex",
    ),
    (
        "bundle: certificate rawBytes not base64",
        lambda: parse_sigstore_bundle(
            mutate(
                "sigstore-python-bundle-v0.3.sigstore.json",
                put("verificationMaterial/certificate/rawBytes", "!!"),
            )
        ),
        "verificationMaterial.certificate.rawBytes",
    ),
    (
        "bundle: certificate bytes are not a certificate",
        lambda: parse_sigstore_bundle(
            mutate(
                "sigstore-python-bundle-v0.3.sigstore.json",
                put(
                    "verificationMaterial/certificate/rawBytes",
                    base64.b64encode(b"0\x03\x02\x01\x00").decode(),
                ),
            )
        ),
        "verificationMaterial.certificate.rawBytes",
    ),
    (
        "bundle: no content",
        lambda: parse_sigstore_bundle(
            mutate("sigstore-python-bundle-v0.3.sigstore.json", pop("messageSignature"))
        ),
        "",
    ),
]


@pytest.mark.parametrize(("case", "call", "field"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_documents_raise_a_typed_error_naming_the_field(
    case: str, call: Callable[[], Any], field: str
) -> None:
    """Each broken document raises InvalidAttestationError (an InvalidDocumentError) naming
    the broken field; nothing is returned."""
    with pytest.raises(InvalidAttestationError) as err:
        call()
    assert isinstance(err.value, InvalidDocumentError)
    if field:
        assert field in err.value.fields, (err.value.fields, str(err.value))
        assert field in str(err.value)


NOT_JSON = [
    ("not UTF-8", b'{"_type": "\xff"}', "not UTF-8"),
    ("truncated", raw(PROV_V1)[:-10], "not JSON"),
    ("a JSON array", b"[1, 2]", "expected a JSON object, got array"),
    ("NaN", b'{"predicate": NaN}', "NaN is not JSON"),
    ("nested 100000 deep", b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
]


@pytest.mark.parametrize(("case", "body", "message"), NOT_JSON, ids=[n[0] for n in NOT_JSON])
@pytest.mark.parametrize(
    "parse",
    [
        parse_statement,
        parse_envelope,
        parse_spdx,
        parse_cyclonedx,
        parse_provenance,
        parse_simple_signing,
        parse_sigstore_bundle,
    ],
    ids=lambda f: f.__name__,
)
def test_bytes_that_are_not_a_json_object_are_refused(
    case: str, body: bytes, message: str, parse: Callable[[bytes], Any]
) -> None:
    """Every parser refuses what is not a UTF-8 JSON object, saying what it is."""
    with pytest.raises(InvalidAttestationError, match=message):
        parse(body)


SIZED: list[tuple[str, Callable[..., Any], str]] = [
    ("statement", parse_statement, PROV_V1),
    ("envelope", parse_envelope, "zlabjp-att-layer.dsse.json"),
    ("attestation", parse_attestation, "zlabjp-att-layer.dsse.json"),
    ("spdx", parse_spdx, "spdx-example-v2.3.spdx.json"),
    ("cyclonedx", parse_cyclonedx, "cyclonedx-valid-bom-1.6.json"),
    ("provenance", parse_provenance, "zlabjp-buildkit-provenance-v02.predicate.json"),
    ("simple signing", parse_simple_signing, "salrashid-simplesigning.json"),
    ("bundle", parse_sigstore_bundle, "cosign-oci-attestation.sigstore.json"),
]


@pytest.mark.parametrize(("what", "parse", "name"), SIZED, ids=[s[0] for s in SIZED])
def test_documents_over_max_bytes_are_refused_before_parsing(
    what: str, parse: Callable[..., Any], name: str
) -> None:
    """One byte over max_bytes is SizeLimitError even when the bytes are not JSON (checked
    first); at exactly max_bytes the document reads."""
    body = raw(name)
    parse(body, max_bytes=len(body))
    with pytest.raises(SizeLimitError) as err:
        parse(body, max_bytes=len(body) - 1)
    assert (err.value.limit, err.value.size) == (len(body) - 1, len(body))
    with pytest.raises(SizeLimitError):
        parse(b"\xff" * (len(body) + 1), max_bytes=len(body))


def test_default_sbom_limit_is_16_mib() -> None:
    """A 16 MiB + 1 byte SBOM is refused by default, before parsing."""
    with pytest.raises(SizeLimitError) as err:
        parse_spdx(b" " * (16 * 1024 * 1024 + 1))
    assert err.value.limit == 16 * 1024 * 1024


def test_oversized_annotation_is_refused() -> None:
    """A certificate annotation over max_annotation_bytes raises SizeLimitError."""
    annotations = dict(SIG_LAYER)
    size = len(annotations["dev.sigstore.cosign/certificate"])
    with pytest.raises(SizeLimitError):
        parse_signature_layer(annotations, max_annotation_bytes=size - 1)


COUNTS: list[tuple[str, Callable[[], Any], str]] = [
    (
        "statement subjects",
        lambda: parse_statement(raw(PROV_V1), max_subjects=0),
        "max_subjects",
    ),
    (
        "envelope signatures",
        lambda: parse_envelope(raw("zlabjp-att-layer.dsse.json"), max_signatures=0),
        "max_signatures",
    ),
    (
        "spdx packages",
        lambda: parse_spdx(raw("spdx-example-v2.3.spdx.json"), max_packages=3),
        "max_packages",
    ),
    (
        "provenance dependencies",
        lambda: parse_provenance(
            raw("zlabjp-buildkit-provenance-v02.predicate.json"), max_dependencies=1
        ),
        "max_dependencies",
    ),
    (
        "bundle chain",
        lambda: parse_sigstore_bundle(
            raw("sigstore-go-bundle-provenance.sigstore.json"), max_chain=2
        ),
        "max_chain",
    ),
]


@pytest.mark.parametrize(("what", "call", "argument"), COUNTS, ids=[c[0] for c in COUNTS])
def test_more_entries_than_allowed_raise_count_limit_error(
    what: str, call: Callable[[], Any], argument: str
) -> None:
    """Each count limit raises CountLimitError (a SizeLimitError) naming its argument."""
    with pytest.raises(CountLimitError) as err:
        call()
    assert isinstance(err.value, SizeLimitError)
    assert err.value.argument == argument
    assert f"{argument}=" in str(err.value)
