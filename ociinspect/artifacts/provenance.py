"""SLSA provenance v0.2 and v1, read into one record, with BuildKit's frontend and build args.

Both versions are read into :class:`Provenance`, named after v1 and mapped the way SLSA's own
migration guide maps them (slsa-framework/slsa spec/build-provenance.md, "Migrating from 0.2"
and "Change history v1.0"): ``invocation.parameters`` -> ``external_parameters``,
``invocation.environment`` -> ``internal_parameters``, ``materials`` ->
``resolved_dependencies``, ``metadata.buildInvocationId/buildStartedOn/buildFinishedOn`` ->
``invocation_id/started_on/finished_on``.

Required fields: v0.2 ``builder``, ``builder.id`` and ``buildType`` (docs/provenance/v0.2.md);
v1 ``buildDefinition`` with ``buildType`` and ``externalParameters``, and ``runDetails`` with
``builder.id`` (spec/build-provenance.md, "REQUIRED for SLSA Build L1"). Everything else is
optional; timestamps are RFC 3339; digests are in-toto DigestSets.

in-toto-golang's v0.2 types, which BuildKit and cosign use, write ``buildInvocationID``
(vendor/github.com/in-toto/in-toto-golang/in_toto/slsa_provenance/v0.2/provenance.go); that
spelling is read when the spec's ``buildInvocationId`` is absent.

BuildKit (moby/buildkit solver/llbsolver/provenance/types/types.go): its build types are
``https://mobyproject.org/buildkit@v1`` (v0.2) and
``https://github.com/moby/buildkit/blob/master/docs/attestations/slsa-definitions.md`` (v1). Its
request ``Parameters`` (``frontend`` string, ``args`` map of strings) are
``invocation.parameters`` in v0.2 and ``externalParameters.request`` in v1; its config source is
``invocation.configSource`` (``entryPoint``) in v0.2 and ``externalParameters.configSource``
(``path``) in v1. Build arguments are the ``args`` keys ``build-arg:NAME``
(docs/attestations/slsa-definitions.md, "args"). For other builders ``frontend`` is None and
``build_args`` empty; their parameters stay in ``external_parameters``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any

from ociinspect.errors import InvalidAttestationError

from ._json import MiB, Reader, at, check_count, json_type, load_object
from .intoto import (
    SLSA_PROVENANCE_V02,
    SLSA_PROVENANCE_V1,
    STATEMENT_TYPES,
    Statement,
    statement_from_json,
)

BUILDKIT_BUILD_TYPE_V02 = "https://mobyproject.org/buildkit@v1"
BUILDKIT_BUILD_TYPE_V1 = (
    "https://github.com/moby/buildkit/blob/master/docs/attestations/slsa-definitions.md"
)
BUILDKIT_BUILD_TYPES = frozenset({BUILDKIT_BUILD_TYPE_V02, BUILDKIT_BUILD_TYPE_V1})
BUILD_ARG_PREFIX = "build-arg:"
#: BuildKit ``mode=max`` provenance carries the LLB definition: a few MiB for big builds.
DEFAULT_MAX_BYTES = 16 * MiB
DEFAULT_MAX_DEPENDENCIES = 100_000


@dataclass(frozen=True)
class Dependency:
    """A v0.2 ``materials`` or v1 ``resolvedDependencies`` entry."""

    uri: str | None
    digest: Mapping[str, str] = field(hash=False)


@dataclass(frozen=True)
class ConfigSource:
    """Where the build definition came from: v0.2 ``invocation.configSource``, or BuildKit's
    v1 ``externalParameters.configSource`` (``entry_point`` is its ``path``)."""

    uri: str | None
    digest: Mapping[str, str] = field(hash=False)
    entry_point: str | None = None


@dataclass(frozen=True)
class Provenance:
    """One normalised SLSA provenance predicate, v0.2 or v1 (``slsa_version``)."""

    predicate_type: str
    slsa_version: str
    builder_id: str
    build_type: str
    invocation_id: str | None
    started_on: datetime | None
    finished_on: datetime | None
    config_source: ConfigSource | None
    external_parameters: Mapping[str, Any] = field(repr=False, hash=False)
    internal_parameters: Mapping[str, Any] = field(repr=False, hash=False)
    resolved_dependencies: tuple[Dependency, ...] = field(repr=False)
    frontend: str | None = None
    frontend_args: Mapping[str, str] = field(default_factory=dict, repr=False, hash=False)
    build_args: Mapping[str, str] = field(default_factory=dict, hash=False)

    @property
    def is_buildkit(self) -> bool:
        return self.build_type in BUILDKIT_BUILD_TYPES


def parse_provenance(
    raw: bytes,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_dependencies: int = DEFAULT_MAX_DEPENDENCIES,
) -> Provenance:
    """Provenance from an in-toto statement's bytes, or from a bare predicate (as
    ``docker buildx imagetools inspect --format '{{json .Provenance.SLSA}}'`` prints it), whose
    version is then told by shape: v1 has ``buildDefinition``, v0.2 ``builder``."""
    doc = load_object(raw, "SLSA provenance", max_bytes)
    if doc.get("_type") in STATEMENT_TYPES:
        statement = statement_from_json(doc, bytes(raw))
        return provenance_from_statement(statement, max_dependencies=max_dependencies)
    if "buildDefinition" in doc or "runDetails" in doc:
        predicate_type = SLSA_PROVENANCE_V1
    elif "builder" in doc or "buildType" in doc:
        predicate_type = SLSA_PROVENANCE_V02
    else:
        raise InvalidAttestationError(
            "SLSA provenance",
            "neither an in-toto statement nor a SLSA predicate (no _type, buildDefinition, "
            "runDetails, builder or buildType)",
        )
    return provenance_from_predicate(doc, predicate_type, max_dependencies=max_dependencies)


def provenance_from_statement(
    statement: Statement, *, max_dependencies: int = DEFAULT_MAX_DEPENDENCIES
) -> Provenance:
    """The provenance predicate of a statement whose ``predicateType`` is SLSA v0.2 or v1."""
    if statement.predicate_type not in (SLSA_PROVENANCE_V02, SLSA_PROVENANCE_V1):
        raise InvalidAttestationError(
            "SLSA provenance",
            f"predicateType: {statement.predicate_type!r} is not "
            f"{SLSA_PROVENANCE_V02} or {SLSA_PROVENANCE_V1}",
            ("predicateType",),
        )
    return provenance_from_predicate(
        statement.predicate,
        statement.predicate_type,
        max_dependencies=max_dependencies,
        path="predicate",
    )


def provenance_from_predicate(
    predicate: Mapping[str, Any],
    predicate_type: str,
    *,
    max_dependencies: int = DEFAULT_MAX_DEPENDENCIES,
    path: str = "",
) -> Provenance:
    """Provenance from a parsed predicate of the given SLSA predicate type."""
    r = Reader("SLSA provenance")
    if predicate_type == SLSA_PROVENANCE_V02:
        result = _v02(r, predicate, path, max_dependencies)
    elif predicate_type == SLSA_PROVENANCE_V1:
        result = _v1(r, predicate, path, max_dependencies)
    else:
        raise InvalidAttestationError(
            "SLSA provenance",
            f"predicate type {predicate_type!r} is not {SLSA_PROVENANCE_V02} or "
            f"{SLSA_PROVENANCE_V1}",
        )
    r.done()
    assert result is not None
    return result


def _v02(r: Reader, p: Mapping[str, Any], path: str, limit: int) -> Provenance | None:
    builder = r.object(p, "builder", path, required=True)
    builder_id = None
    if builder is not None:
        builder_id = r.string(builder, "id", at(path, "builder"), required=True)
    build_type = r.string(p, "buildType", path, required=True)
    invocation_path = at(path, "invocation")
    invocation = r.object(p, "invocation", path) or {}
    source = r.object(invocation, "configSource", invocation_path)
    config_source = None
    if source is not None:
        here = at(invocation_path, "configSource")
        config_source = ConfigSource(
            uri=r.string(source, "uri", here),
            digest=MappingProxyType(r.digest_set(source, "digest", here, required=False)),
            entry_point=r.string(source, "entryPoint", here),
        )
    parameters = r.frozen(invocation, "parameters", invocation_path)
    environment = r.frozen(invocation, "environment", invocation_path)
    metadata_path = at(path, "metadata")
    metadata = r.object(p, "metadata", path) or {}
    invocation_key = "buildInvocationId" if "buildInvocationId" in metadata else "buildInvocationID"
    invocation_id = r.string(metadata, invocation_key, metadata_path)
    started = r.timestamp(metadata, "buildStartedOn", metadata_path)
    finished = r.timestamp(metadata, "buildFinishedOn", metadata_path)
    dependencies = _dependencies(r, p, "materials", path, limit)
    frontend: str | None = None
    args: dict[str, str] = {}
    build_args: dict[str, str] = {}
    if build_type in BUILDKIT_BUILD_TYPES:
        request_path = at(invocation_path, "parameters")
        frontend, args, build_args = _buildkit_request(r, parameters, request_path)
    if builder_id is None or build_type is None:
        return None
    return Provenance(
        predicate_type=SLSA_PROVENANCE_V02,
        slsa_version="0.2",
        builder_id=builder_id,
        build_type=build_type,
        invocation_id=invocation_id,
        started_on=started,
        finished_on=finished,
        config_source=config_source,
        external_parameters=parameters,
        internal_parameters=environment,
        resolved_dependencies=dependencies,
        frontend=frontend,
        frontend_args=MappingProxyType(args),
        build_args=MappingProxyType(build_args),
    )


def _v1(r: Reader, p: Mapping[str, Any], path: str, limit: int) -> Provenance | None:
    definition_path = at(path, "buildDefinition")
    found = r.object(p, "buildDefinition", path, required=True)
    definition = found if found is not None else {}
    build_type = r.string(definition, "buildType", definition_path, required=found is not None)
    external = r.object(definition, "externalParameters", definition_path, found is not None)
    external_parameters = r.frozen(definition, "externalParameters", definition_path)
    internal_parameters = r.frozen(definition, "internalParameters", definition_path)
    dependencies = _dependencies(r, definition, "resolvedDependencies", definition_path, limit)
    run_path = at(path, "runDetails")
    run_found = r.object(p, "runDetails", path, required=True)
    run = run_found if run_found is not None else {}
    builder = r.object(run, "builder", run_path, required=run_found is not None)
    builder_id = None
    if builder is not None:
        builder_id = r.string(builder, "id", at(run_path, "builder"), required=True)
    metadata_path = at(run_path, "metadata")
    metadata = r.object(run, "metadata", run_path) or {}
    invocation_id = r.string(metadata, "invocationId", metadata_path)
    started = r.timestamp(metadata, "startedOn", metadata_path)
    finished = r.timestamp(metadata, "finishedOn", metadata_path)
    config_source = None
    frontend: str | None = None
    args: dict[str, str] = {}
    build_args: dict[str, str] = {}
    if build_type in BUILDKIT_BUILD_TYPES and external is not None:
        external_path = at(definition_path, "externalParameters")
        source = r.object(external, "configSource", external_path)
        if source is not None:
            here = at(external_path, "configSource")
            config_source = ConfigSource(
                uri=r.string(source, "uri", here),
                digest=MappingProxyType(r.digest_set(source, "digest", here, required=False)),
                entry_point=r.string(source, "path", here),
            )
        request = r.object(external, "request", external_path)
        if request is not None:
            frontend, args, build_args = _buildkit_request(r, request, at(external_path, "request"))
    if build_type is None or builder_id is None or external is None:
        return None
    return Provenance(
        predicate_type=SLSA_PROVENANCE_V1,
        slsa_version="1",
        builder_id=builder_id,
        build_type=build_type,
        invocation_id=invocation_id,
        started_on=started,
        finished_on=finished,
        config_source=config_source,
        external_parameters=external_parameters,
        internal_parameters=internal_parameters,
        resolved_dependencies=dependencies,
        frontend=frontend,
        frontend_args=MappingProxyType(args),
        build_args=MappingProxyType(build_args),
    )


def _dependencies(
    r: Reader, obj: Mapping[str, Any], key: str, path: str, limit: int
) -> tuple[Dependency, ...]:
    items = r.array(obj, key, path) or ()
    check_count(len(items), limit, f"SLSA provenance {key}", "max_dependencies")
    out: list[Dependency] = []
    for i, item in enumerate(items):
        here = at(at(path, key), i)
        if not isinstance(item, Mapping):
            r.fail(here, f"expected object, got {json_type(item)}")
            continue
        uri = r.string(item, "uri", here)
        digest = r.digest_set(item, "digest", here, required=False)
        out.append(Dependency(uri, MappingProxyType(digest)))
    return tuple(out)


def _buildkit_request(
    r: Reader, request: Mapping[str, Any], path: str
) -> tuple[str | None, dict[str, str], dict[str, str]]:
    """BuildKit's request ``Parameters``: the frontend, every arg, and the build args."""
    frontend = r.string(request, "frontend", path)
    args = r.string_map(request, "args", path)
    build_args = {
        name.removeprefix(BUILD_ARG_PREFIX): value
        for name, value in args.items()
        if name.startswith(BUILD_ARG_PREFIX)
    }
    return frontend, args, build_args


__all__ = [
    "BUILDKIT_BUILD_TYPES",
    "BUILDKIT_BUILD_TYPE_V02",
    "BUILDKIT_BUILD_TYPE_V1",
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_DEPENDENCIES",
    "ConfigSource",
    "Dependency",
    "Provenance",
    "parse_provenance",
    "provenance_from_predicate",
    "provenance_from_statement",
]
