"""The fleet inventory (ociinspect.fleet) against the seeded fleet registry and the rig.

The fleet registry (tests/rig/fleet.py, fixture ``fleet_registry``) is a token-mode
docker-registry 2.8.2 with 306 repositories and ~1,500 tags of 4 platforms, and broken
repositories whose exact answers the seed records. One whole inventory, as alice, is made once
per module (``full``) and checked from several sides: against the seed, against skopeo, the
error rows, the tokens it earned. Other tests count the requests of later inventories.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import subprocess
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pandas.testing as pdt
import pytest
from rig import ALICE, BOB, Registry, rig_session
from rig.env import child_env
from rig.fleet import (
    ACCEPT,
    BROKEN_CHILD_DELETED,
    BROKEN_EMPTIED,
    BROKEN_PRIVATE_BOB,
    BROKEN_REVISION_MISSING,
    LEGACY_SCHEMA1,
    SCHEMA1_SIGNED,
    FleetAccess,
    FleetSeed,
)

from ociinspect import fleet
from ociinspect.distribution.credentials import Credentials
from ociinspect.distribution.trace import Exchange
from ociinspect.errors import AuthError, InvalidDocumentError, RateLimitedError
from ociinspect.session import Session, Settings
from ociinspect.tables.fleet import INVENTORY_COLUMNS, inventory_dtypes, inventory_frame

pytestmark = pytest.mark.registry

ALICE_CREDENTIALS = Credentials(ALICE.name, ALICE.password)


@dataclass
class Full:
    """One whole inventory of the fleet, as alice, with what it cost."""

    registry: Registry
    seed: FleetSeed
    frame: pd.DataFrame
    cache: Path
    tokens: Counter[str]  # token requests per scope
    requests: list[Any]  # the registry's access log for the inventory
    seconds: float


@pytest.fixture(scope="module")
def full(
    fleet_registry: tuple[Registry, FleetSeed, int], tmp_path_factory: pytest.TempPathFactory
) -> Full:
    """The whole fleet inventoried once, cold, with a disk cache of its own."""
    registry, seed, _ = fleet_registry
    cache = tmp_path_factory.mktemp("fleet-cache")
    registry.reset()
    session = rig_session(cache, credentials=ALICE_CREDENTIALS)
    started = time.monotonic()
    frame = fleet.inventory(registry.host, session=session)
    seconds = time.monotonic() - started
    assert registry.token_server is not None
    tokens = Counter(s for r in registry.token_server.requests() for s in r.scopes)
    return Full(registry, seed, frame, cache, tokens, registry.requests(), seconds)


def _alice(cache: Path | None = None) -> Session:
    return rig_session(cache, credentials=ALICE_CREDENTIALS)


# ------------------------------------------------------------------------------ the catalog


def test_catalog_lists_every_seeded_repository(full: Full) -> None:
    """catalog() reads every _catalog page: the seeded repositories, in order, with namespaces."""
    table = fleet.catalog(full.registry.host, session=_alice())
    assert table["repository"].tolist() == [r.name for r in full.seed.repositories]
    assert set(table["registry"]) == {full.registry.host}
    row = table[table.repository == "fleet/base/os"].iloc[0]
    assert row["namespace"] == "fleet/base"


def test_catalog_with_a_prefix_keeps_only_that_namespace(full: Full) -> None:
    """catalog("host/fleet/broken") lists the broken repositories only."""
    table = fleet.catalog(f"{full.registry.host}/fleet/broken", session=_alice())
    expected = [r.name for r in full.seed.repositories if r.name.startswith("fleet/broken/")]
    assert table["repository"].tolist() == expected and len(expected) == 3


def test_a_refused_catalog_says_to_name_the_repositories(full: Full) -> None:
    """bob may not list the catalog: a typed auth error whose message says what to do."""
    bob = rig_session(credentials=Credentials(BOB.name, BOB.password))
    with pytest.raises(AuthError) as caught:
        fleet.catalog(full.registry.host, session=bob)
    assert "_catalog" in str(caught.value) and "repositories=[...]" in str(caught.value)
    assert BOB.password not in str(caught.value)


# ------------------------------------------------------------------------------ the inventory


def test_every_seeded_tag_has_a_row_per_platform(full: Full) -> None:
    """Each seeded tag appears with one row per image platform and the digest the seed pushed."""
    frame = full.frame
    assert list(frame.columns) == list(INVENTORY_COLUMNS)
    assert frame.dtypes.to_dict() == inventory_frame([]).dtypes.to_dict()
    rows = {key: group for key, group in frame.groupby(["repository", "tag"])}
    for tag in full.seed.tags:
        group = rows[(tag.repository, tag.tag)]
        named = group["index_digest"].fillna(group["digest"])
        if tag.media_type == SCHEMA1_SIGNED or group["digest"].isna().all():
            continue  # a tag that does not resolve: test_broken_cases_give_typed_error_rows
        assert set(named) == {tag.digest}, tag
        assert tuple(group["platform"]) == tag.platforms, tag
    assert len(frame) == sum(len(t.platforms) for t in full.seed.tags) + 1  # + emptied
    assert (frame.status == "ok").sum() == len(frame) - 4


def test_attestations_are_counted_not_listed(full: Full) -> None:
    """An attested index: 4 platform rows, each with 1 attestation; no unknown/unknown rows."""
    frame = full.frame
    assert not frame.platform.fillna("").str.startswith("unknown").any()
    attested = frame[frame.attestations > 0]
    assert len(attested) >= 4 and set(attested.attestations) == {1}
    assert attested.groupby(["repository", "tag"]).size().eq(4).all()


def test_base_annotations_and_labels_are_columns(full: Full) -> None:
    """base.name/base.digest come from the manifests; labels are dicts of the config's labels."""
    frame = full.frame[full.frame.status == "ok"]
    based = frame[frame.base_name.notna()]
    assert len(based) > 100
    assert set(based.base_name) == {f"{full.registry.host}/fleet/base/os:latest"}
    assert based.base_digest.str.startswith("sha256:").all()
    assert all(isinstance(v, dict) for v in frame.labels)
    assert {"fleet.era", "org.opencontainers.image.vendor"} <= set(frame.labels.iloc[-1])
    assert frame.created.dt.year.nunique() >= 6
    assert (frame.uncompressed_size > frame.compressed_size).all()


@dataclass(frozen=True)
class _Broken:
    case: str
    repository: str
    tag: str | None
    status: str
    error_type: str | None
    error_code: str | None


BROKEN = [
    _Broken(BROKEN_CHILD_DELETED, "fleet/broken/child-deleted", "1.0", "error",
            "NotFoundError", "MANIFEST_UNKNOWN"),
    _Broken(BROKEN_EMPTIED, "fleet/broken/emptied", None, "empty", None, None),
    _Broken(BROKEN_REVISION_MISSING, "fleet/broken/revision-missing", "gone", "error",
            "NotFoundError", "MANIFEST_UNKNOWN"),
    _Broken(LEGACY_SCHEMA1, "fleet/legacy/schema1", "v1", "error",
            "UnsupportedMediaTypeError", None),
]


@pytest.mark.parametrize(
    "broken",
    BROKEN,
    ids=[
        "a deleted platform manifest is a NotFoundError row beside three healthy ones",
        "an emptied repository is one empty row, not an error",
        "a listed tag without its manifest is a NotFoundError row",
        "a schema1 tag is an UnsupportedMediaTypeError row",
    ],
)
def test_broken_cases_give_typed_error_rows(full: Full, broken: _Broken) -> None:
    """Each broken repository gives the row its seed case promises; the rest still reads."""
    frame = full.frame
    mine = frame[frame.repository == broken.repository]
    if broken.tag is None:
        assert len(mine) == 1 and mine.tag.isna().all()
        row = mine.iloc[0]
    else:
        row = mine[(mine.tag == broken.tag) & (mine.status == broken.status)].iloc[0]
    assert row["status"] == broken.status
    assert (None if pd.isna(row["error_type"]) else row["error_type"]) == broken.error_type
    assert (None if pd.isna(row["error_code"]) else row["error_code"]) == broken.error_code
    if broken.error_type is not None:
        assert row["error"].startswith(broken.error_type + ": ")
    if broken.case == BROKEN_CHILD_DELETED:
        case = full.seed.case(broken.case)
        assert row["digest"] == case.path.rsplit("/", 1)[1]
        assert row["platform"] == "linux/arm64/v8"
        assert (mine.status == "ok").sum() == 3
    if broken.case == BROKEN_REVISION_MISSING:
        assert mine[mine.tag == "kept"].status.tolist() == ["ok"]


def test_bob_gets_an_auth_error_row_for_the_private_repository(full: Full) -> None:
    """Named repositories need no catalog; the private one is an AuthError row for bob."""
    case = full.seed.case(BROKEN_PRIVATE_BOB)
    bob = rig_session(credentials=Credentials(BOB.name, BOB.password))
    frame = fleet.inventory(
        full.registry.host, repositories=[case.repository, "fleet/base/os"], session=bob
    )
    private = frame[frame.repository == case.repository]
    assert private.status.tolist() == ["error"] and private.tag.isna().all()
    assert private.error_type.iloc[0] in {"UnauthorizedError", "DeniedError"}
    assert private.error_code.iloc[0] in {"UNAUTHORIZED", "DENIED"}
    assert (frame[frame.repository == "fleet/base/os"].status == "ok").all()


def test_one_token_per_repository_scope(full: Full) -> None:
    """The cold inventory earned exactly one token per repository, plus one for the catalog."""
    names = [r.name for r in full.seed.repositories]
    assert {f"repository:{n}:pull": 1 for n in names} == {
        s: n for s, n in full.tokens.items() if s.startswith("repository:")
    }
    assert full.tokens["registry:catalog:*"] == 1
    assert sum(full.tokens.values()) == len(names) + 1


def test_the_cold_inventory_fetches_each_document_once(full: Full) -> None:
    """Per tag one manifest GET; per distinct (repository, manifest) one GET; shared configs
    are fetched once per process, not once per image."""
    log = [r for r in full.requests if r.status != 401]
    manifests = Counter(r.path for r in log if r.method == "GET" and "/manifests/" in r.path)
    assert max(manifests.values()) == 1  # no document twice
    tags = len(full.seed.tags)
    by_digest = sum(1 for p in manifests if "/manifests/sha256:" in p)
    assert sum(manifests.values()) == tags + by_digest
    configs = sum(1 for r in log if r.method == "GET" and "/blobs/" in r.path)
    assert configs < len(full.frame) / 10


# ------------------------------------------------------------------------------ skopeo


def _skopeo(home: Path, *args: str) -> bytes:
    result = subprocess.run(
        ["skopeo", *args], capture_output=True, env=child_env(home), timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    return result.stdout


def _sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _skopeo_table(host: str, repositories: list[str], home: Path) -> pd.DataFrame:
    """The inventory's columns as skopeo sees them: list-tags, then inspect --raw of each tag
    and platform manifest and inspect --config --raw of each platform (one call per
    distinct digest)."""
    flags = ("--tls-verify=false", "--no-creds")
    memo: dict[str, bytes] = {}
    lock = threading.Lock()

    def raw(repository: str, ref: str, *extra: str) -> bytes:
        key = " ".join([repository, ref, *extra])
        with lock:
            if key in memo:
                return memo[key]
        sep = "@" if ref.startswith("sha256:") else ":"
        data = _skopeo(home, "inspect", *flags, *extra, f"docker://{host}/{repository}{sep}{ref}")
        with lock:
            memo[key] = data
        return data

    def rows_of(repository: str) -> list[dict[str, Any]]:
        listed = json.loads(_skopeo(home, "list-tags", *flags, f"docker://{host}/{repository}"))
        rows = []
        for tag in sorted(listed["Tags"] or []):
            top = raw(repository, tag, "--raw")
            document = json.loads(top)
            base = {"repository": repository, "tag": tag}
            if "manifests" in document:
                base |= {"index_digest": _sha256(top), "index_media_type": document["mediaType"]}
                entries = document["manifests"]
                attested = Counter(
                    e["annotations"]["vnd.docker.reference.digest"]
                    for e in entries
                    if e.get("annotations", {}).get("vnd.docker.reference.type")
                )
                images = [e for e in entries if e["platform"]["os"] != "unknown"]
            else:
                images = [{"digest": _sha256(top), "mediaType": document["mediaType"]}]
                attested = Counter()
            for entry in images:
                body = json.loads(raw(repository, entry["digest"], "--raw"))
                config = json.loads(raw(repository, entry["digest"], "--config", "--raw"))
                fields = ("os", "architecture", "variant")
                platform = "/".join(str(config[k]) for k in fields if config.get(k))
                notes = body.get("annotations", {})
                rows.append(
                    base
                    | {
                        "digest": entry["digest"],
                        "media_type": entry["mediaType"],
                        "platform": platform,
                        "layers": len(body["layers"]),
                        "compressed_size": body["config"]["size"]
                        + sum(layer["size"] for layer in body["layers"]),
                        "created": pd.Timestamp(config["created"]),
                        "base_name": notes.get(fleet.BASE_NAME),
                        "base_digest": notes.get(fleet.BASE_DIGEST),
                        "labels": config["config"].get("Labels") or {},
                        "attestations": attested.get(entry["digest"], 0),
                    }
                )
        return rows

    with ThreadPoolExecutor(4) as pool:
        parts = list(pool.map(rows_of, repositories))
    return pd.DataFrame([row for part in parts for row in part])


def test_inventory_equals_what_skopeo_lists_and_inspects(full: Full, tmp_path: Path) -> None:
    """For one repository of each kind (OCI index with base annotations, attested, Docker
    list, single OCI and Docker manifests, the base), skopeo list-tags + inspect give the
    same rows and values."""
    seed = full.seed
    chosen = []
    for kind in ("base", "index", "attested", "dockerlist", "single"):
        candidates = [r.name for r in seed.repositories if r.kind == kind]
        if kind == "index":
            candidates = [n for n in candidates if int(n.rsplit("-", 1)[1]) % 3 == 0]
        counts = {n: len(seed.tags_of(n)) for n in candidates}
        chosen.append(min(candidates, key=lambda n: (counts[n] < 2, counts[n])))
    chosen.append(next(r.name for r in seed.repositories if r.name.endswith("svc-023")))
    expected = _skopeo_table(full.registry.host, chosen, tmp_path / "home")
    ours = full.frame[full.frame.repository.isin(chosen)]
    ours = ours.sort_values(["repository", "tag"], kind="stable").reset_index(drop=True)
    expected = expected.sort_values(["repository", "tag"], kind="stable").reset_index(drop=True)
    columns = list(expected.columns)
    assert len(expected) >= 20
    assert ours.media_type.str.contains("docker").any() and ours.index_digest.isna().any()
    got = ours[columns].astype(object).where(ours[columns].notna(), None)
    want = expected[columns].astype(object).where(expected[columns].notna(), None)
    got["created"] = [pd.Timestamp(v) for v in got["created"]]
    assert got.to_dict("records") == want.to_dict("records")


# ------------------------------------------------------------------------------ costs


def test_a_second_inventory_sends_one_head_per_tag_and_no_get(full: Full) -> None:
    """A new process-like session on the same disk cache: tags are revalidated with one HEAD
    each; no manifest or blob is fetched again (only tags that failed before are asked)."""
    registry = full.registry
    registry.reset()
    again = fleet.inventory(registry.host, session=_alice(full.cache))
    log = [r for r in registry.requests() if r.status != 401]
    heads = [r for r in log if r.method == "HEAD"]
    fetches = ("/manifests/", "/blobs/")
    gets = [r for r in log if r.method == "GET" and any(f in r.path for f in fetches)]
    unresolved = full.frame[full.frame.status.eq("error") & full.frame.digest.isna()]
    assert len(unresolved) == 2  # revision-missing:gone, schema1:v1: nothing to remember
    assert len(heads) == len(full.seed.tags) - len(unresolved)
    deleted = full.seed.case(BROKEN_CHILD_DELETED)
    expected = {f"/v2/{r.repository}/manifests/{r.tag}" for r in unresolved.itertuples()}
    assert {r.path for r in gets} == expected | {deleted.path}  # what failed is asked again
    pdt.assert_frame_equal(again, full.frame)


def _copy_tag(access: FleetAccess, source: str, destination: str, tag: str) -> str:
    """Copy ``source`` (repo:tag) into ``destination:tag`` through the API: blobs mounted,
    children and the tag PUT. Returns the digest the tag now names."""
    repository, _, reference = source.partition(":")

    def copy(ref: str, as_ref: str) -> str:
        answer = access.request("GET", f"/v2/{repository}/manifests/{ref}", accept=ACCEPT,
                                expect=(200,))
        body = answer.json()
        for entry in body.get("manifests", []):
            copy(entry["digest"], entry["digest"])
        for blob in [body["config"], *body["layers"]] if "config" in body else []:
            access.request(
                "POST",
                f"/v2/{destination}/blobs/uploads/?mount={blob['digest']}&from={repository}",
                expect=(201,),
            )
        access.request("PUT", f"/v2/{destination}/manifests/{as_ref}", data=answer.content,
                       content_type=answer.headers["Content-Type"], expect=(201,))
        return _sha256(answer.content)

    return copy(reference, tag)


def test_since_rereads_only_the_tags_that_moved(registry_open: Registry, tmp_path: Path) -> None:
    """inventory(since=earlier): one HEAD per tag; only the moved tag's documents are fetched;
    the result equals a fresh inventory."""
    access = FleetAccess(registry_open.url)
    repository = "scratch/fleet-since"
    _copy_tag(access, "demo/single:latest", repository, "a")
    _copy_tag(access, "demo/multi:latest", repository, "b")
    first = fleet.inventory(registry_open.host, [repository], session=rig_session())
    moved = _copy_tag(access, "demo/single:1.0", repository, "b")
    registry_open.reset()
    later = fleet.inventory(registry_open.host, [repository], since=first, session=rig_session())
    log = registry_open.requests()
    assert [r.method for r in log if r.method == "HEAD"] == ["HEAD", "HEAD"]
    fetched = [r.path for r in log if r.method == "GET" and "/manifests/" in r.path]
    assert fetched == [f"/v2/{repository}/manifests/{moved}"]
    fresh = fleet.inventory(registry_open.host, [repository], session=rig_session())
    pdt.assert_frame_equal(later, fresh)
    assert later[later.tag == "b"].digest.tolist() == [moved]
    assert first[first.tag == "a"].equals(later[later.tag == "a"])


# ------------------------------------------------------------------------------ rate limits


def test_a_429_storm_slows_the_inventory_without_failing_it(full: Full) -> None:
    """Through a proxy answering 429 (Retry-After: 1) to 20 manifest requests, the inventory
    of 15 repositories pauses and halves its concurrency, and ends equal to the calm one."""
    registry = full.registry
    proxy = registry.proxy()
    proxy.faults.rate_limit(times=20, retry_after="1", path="/manifests/")
    names = [r.name for r in full.seed.repositories if r.kind == "index"][:15]
    settings = Settings(cache=False, progress=False, docker_config=False,
                        credentials=ALICE_CREDENTIALS)
    session = Session(settings)  # the client's retries really wait, as a user's do
    started = time.monotonic()
    frame = fleet.inventory(proxy.host, names, concurrency=8, session=session)
    elapsed = time.monotonic() - started
    assert proxy.count(path="/manifests/") > 0
    assert sum(1 for r in proxy.requests() if r.status == 429) == 20
    assert (frame.status == "ok").all()
    assert frame.attrs["throttled"] >= 20 and frame.attrs["paused_seconds"] >= 1
    assert elapsed >= 1.0
    calm = full.frame[full.frame.repository.isin(names)].reset_index(drop=True)
    calm["registry"] = pd.Series([proxy.host] * len(calm), dtype=pd.StringDtype())
    pdt.assert_frame_equal(frame.reset_index(drop=True), calm, check_dtype=True)


def _exchange(url: str, status: int, retry_after: str | None = None) -> Exchange:
    headers = {"Retry-After": retry_after} if retry_after else {}
    return Exchange.record("GET", url, status, "manifest", 0.01, 0, {}, headers)


def test_a_429_pauses_every_thread_for_its_retry_after() -> None:
    """One 429 with Retry-After: 0.6 in the trace: no thread gets a slot before it passes, and
    the limit halves."""
    session = rig_session()
    limiter = fleet.RegistryLimiter(session, "127.0.0.1:9", concurrency=8)
    session.trace.add(_exchange("http://127.0.0.1:9/v2/a/manifests/x", 429, "1"))
    started = time.monotonic()
    got: list[float] = []

    def one() -> None:
        limiter.acquire()
        got.append(time.monotonic() - started)
        limiter.release()

    threads = [threading.Thread(target=one) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert min(got) >= 0.95
    assert limiter.lowest == 4 and limiter.throttled == 1


def test_the_limit_halves_on_429_and_grows_back_one_by_one() -> None:
    """AIMD: 8 -> 4 after a 429 (another registry's 429 changes nothing), then +1 after each
    `limit` calm calls, never above the concurrency given."""
    ticks = itertools.count(step=1.0)  # each look at the clock is a second later
    session = rig_session()
    limiter = fleet.RegistryLimiter(session, "127.0.0.1:9", 8, clock=lambda: next(ticks))
    session.trace.add(_exchange("http://127.0.0.1:7/v2/a/manifests/x", 429))
    limiter.acquire()
    limiter.release()
    assert limiter.limit == 8
    session.trace.add(_exchange("http://127.0.0.1:9/v2/a/manifests/x", 429))
    limiter.acquire()
    limiter.release()
    assert limiter.limit == 4
    for _ in range(4 + 5 + 6 + 7 + 8 + 20):
        limiter.acquire()
        limiter.release()
    assert limiter.limit == 8


def test_a_call_that_stays_rate_limited_ends_after_max_wait() -> None:
    """A call refused with RateLimitedError is tried again after each pause, then its error
    is raised once max_wait has passed."""
    ticks = itertools.count(step=0.25)
    session = rig_session()
    limiter = fleet.RegistryLimiter(
        session, "127.0.0.1:9", 2, max_wait=5.0, clock=lambda: next(ticks)
    )
    calls = []

    def refused() -> None:
        calls.append(1)
        raise RateLimitedError("GET", "http://127.0.0.1:9/v2/a/manifests/x", 429)

    with pytest.raises(RateLimitedError):
        limiter.call(refused)
    assert 2 <= len(calls) < 20 and limiter.throttled == len(calls)
    assert limiter.limit == 1


# ------------------------------------------------------------------------------ choices


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("all", ["1.0.0", "1.1.0", "latest", "stable"]),
        ("latest", ["latest"]),
        (r"1\..*", ["1.0.0", "1.1.0"]),
        (lambda t: t.endswith("0"), ["1.0.0", "1.1.0"]),
    ],
    ids=["all tags, sorted", "the tag named latest", "a regex, full match", "a predicate"],
)
def test_tag_selectors(selector: Any, expected: list[str]) -> None:
    """tags= keeps what the docstring says."""
    assert fleet.select_tags(["stable", "1.1.0", "latest", "1.0.0"], selector) == expected


def test_platform_filters_and_tag_rows(full: Full) -> None:
    """platforms="linux/arm64" keeps those rows; platforms=False gives one row per tag."""
    names = ["fleet/base/os"]
    arm = fleet.inventory(full.registry.host, names, platforms="linux/arm64",
                          session=_alice(full.cache))
    assert arm.platform.tolist() == ["linux/arm64/v8"] * 3
    tags = fleet.inventory(full.registry.host, names, platforms=False, session=_alice())
    assert tags.tag.tolist() == ["1", "2", "latest"] and tags.platform.isna().all()
    assert tags.index_digest.notna().all() and (tags.status == "ok").all()


def test_optional_fields(full: Full) -> None:
    """fields= adds columns: referrers (2.8.2 has no referrers API: 0 each), os from each
    image's /etc/os-release (the fleet's rootfs says ID=fleet, VERSION_ID=gen), packages (the
    fleet's images have no package database: 0); an unknown field is refused by name."""
    wanted = ("referrers", "os", "packages")
    frame = fleet.inventory(full.registry.host, ["fleet/base/os"], tags=r"1|latest",
                            fields=wanted, session=_alice(full.cache))
    assert list(frame.columns) == list(inventory_dtypes(wanted))
    assert (frame.status == "ok").all() and len(frame) == 8
    assert frame.referrers.tolist() == [0] * 8
    assert frame.os_id.tolist() == ["fleet"] * 8
    assert frame.os_version_id.tolist() == ["1"] * 4 + ["2"] * 4
    assert frame.packages.tolist() == [0] * 8
    with pytest.raises(InvalidDocumentError, match="nonsense"):
        fleet.inventory(full.registry.host, ["fleet/base/os"], fields=("nonsense",),
                        session=_alice())


def test_empty_inventory_has_every_column_and_dtype() -> None:
    """No rows: the same columns and dtypes as a full inventory."""
    empty = inventory_frame([])
    assert list(empty.columns) == list(INVENTORY_COLUMNS) and len(empty) == 0
    assert {k: str(v) for k, v in empty.dtypes.items()} == {
        k: str(pd.Series([], dtype=v).dtype) if k != "created" else "datetime64[ns, UTC]"
        for k, v in INVENTORY_COLUMNS.items()
    }


def test_progress_bar_counts_tags_and_failures(
    full: Full, capsys: pytest.CaptureFixture[str]
) -> None:
    """progress=True: a tqdm bar over tags, ending at the tag count, with failures counted."""
    names = ["fleet/broken/child-deleted", "fleet/broken/revision-missing", "fleet/base/os"]
    fleet.inventory(full.registry.host, names, progress=True, session=_alice(full.cache))
    text = capsys.readouterr().err.replace("\r", "\n")
    assert "6/6" in text and "failed=2" in text


def test_error_rows_never_hold_a_secret(full: Full) -> None:
    """No password appears in any cell of the inventory (error rows included)."""
    blob = io.StringIO()
    full.frame.astype(str).to_csv(blob)
    assert ALICE.password not in blob.getvalue()


# ------------------------------------------------------------------------------ the CLI


@pytest.mark.parametrize("fmt", ["csv", "json", "parquet"])
def test_cli_inventory_writes_the_same_table(
    full: Full, tmp_path: Path, fmt: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`ociinspect inventory HOST --repos ... --format F -o FILE` holds the API's rows: the
    same digests, platforms, sizes, labels (JSON) and error rows; a summary on stderr."""
    from ociinspect import cli

    names = ["fleet/base/os", "fleet/broken/child-deleted"]
    out = tmp_path / f"inventory.{fmt}"
    status = cli.main(
        ["inventory", full.registry.host, "--repos", *names, "--format", fmt, "-o", str(out)]
    )
    assert status == 0
    assert "ociinspect: 16 rows, 1 errors, 0 repositories without tags" in capsys.readouterr().err
    if fmt == "csv":
        got = pd.read_csv(out)
    elif fmt == "json":
        got = pd.DataFrame(json.loads(out.read_text()))
    else:
        got = pd.read_parquet(out)
    want = full.frame[full.frame.repository.isin(names)].reset_index(drop=True)
    assert list(got.columns) == list(INVENTORY_COLUMNS)
    assert got.digest.tolist() == want.digest.tolist()
    assert got.platform.tolist() == want.platform.tolist()
    assert got.compressed_size.fillna(-1).astype(int).tolist() == want.compressed_size.fillna(
        -1
    ).tolist()
    labels = [v if isinstance(v, dict) else json.loads(v) for v in got.labels.dropna()]
    assert labels == [v for v in want.labels if v is not None]
    assert got.error_type.dropna().tolist() == ["NotFoundError"]
