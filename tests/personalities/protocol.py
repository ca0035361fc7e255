"""The protocol tests every personality passes with ociinspect itself (a :class:`Session` mapped to
the personality's fronts with ``Settings(resolve=..., ca_bundle=...)``), as the rig's registry
passes them: manifests by tag and by digest, blobs through the registry's redirect (to another
origin without ``Authorization``), tokens earned once, the registry's own 429 retried and then
named with a next step, rate-limit headers in the trace when the registry sends them,
``ratelimit()`` without a pull, and the personality serving as a registries.conf mirror for
``docker.io`` with no lookup of Docker Hub's hosts.

Each ``tests/test_personality_<name>.py`` subclasses :class:`ProtocolSuite` with its
:class:`Profile` (pytest collects the inherited tests there) and runs under ``loopback_guard``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd
import pytest
from rig import SeedResult, rig_session, seed

import ociinspect as oi
from ociinspect.distribution import ratelimit
from ociinspect.distribution.credentials import Credentials
from ociinspect.distribution.mirrors import MirrorConfig
from ociinspect.errors import RateLimitedError
from ociinspect.navigation import ImageIndex
from ociinspect.session import Session
from ociinspect.tables import trace_frame

from . import Personality


@dataclass(frozen=True)
class Profile:
    """What differs between personalities for the shared tests."""

    #: The fixture giving the personality (``hub``, ``ghcr``…).
    fixture: str
    #: The reference of its copy of the rig's 3-platform index (``seed.MULTI``), tag ``latest``.
    multi: str
    #: (host, path regex) where blob downloads land after the registry's redirect.
    blob_route: tuple[str, str]
    #: Whether that is another origin (so ``Authorization`` must not follow).
    blob_elsewhere: bool
    #: Token requests one session earns for one repository (0: Basic auth, or anonymous reads).
    tokens: int
    #: The credentials ociinspect is given for the registry (None: anonymous).
    credentials: Callable[[Personality], Credentials | None] = lambda p: None
    #: The registry's 429 error code (None: its 429 body is not an OCI error, e.g. nginx HTML).
    throttle_code: str | None = "TOOMANYREQUESTS"
    #: Docker Hub's rate-limit headers on manifest answers.
    announces_limit: bool = False

    @property
    def name(self) -> str:
        """The reference without its tag."""
        return self.multi.rsplit(":", 1)[0]


def personality_session(
    personality: Personality, profile: Profile, cache: Path | None = None, **changes: Any
) -> Session:
    """A rig session that reaches ``personality`` under its public names (and nothing else)."""
    given = profile.credentials(personality)
    if given is not None and "credentials" not in changes:
        changes["credentials"] = {personality.registry_host: given}
    resolve = {**personality.resolve, **changes.pop("resolve", {})}
    return rig_session(cache, resolve=resolve, ca_bundle=str(personality.ca_bundle), **changes)


def write_registries_conf(
    directory: Path, mirror: str, prefix: str = "docker.io/library/alpine"
) -> Path:
    """A registries.conf whose only table sends ``prefix`` to ``mirror`` first."""
    path = directory / "registries.conf"
    path.write_text(
        f'[[registry]]\nprefix = "{prefix}"\nlocation = "{prefix}"\n\n'
        f'[[registry.mirror]]\nlocation = "{mirror}"\n'
    )
    return path


def mirrors_from(conf: Path) -> MirrorConfig:
    """The configuration ociinspect reads when ``CONTAINERS_REGISTRIES_CONF`` names ``conf``."""
    return MirrorConfig.from_env({"CONTAINERS_REGISTRIES_CONF": str(conf)}, daemon_json=None)


class ProtocolSuite:
    """The shared tests; a subclass sets :attr:`profile`."""

    profile: ClassVar[Profile]

    @pytest.fixture
    def personality(self, request: pytest.FixtureRequest) -> Personality:
        """The personality of this module, reset."""
        found: Personality = request.getfixturevalue(self.profile.fixture)
        return found

    def session(
        self, personality: Personality, cache: Path | None = None, **changes: Any
    ) -> Session:
        return personality_session(personality, self.profile, cache, **changes)

    # -- manifests and blobs ------------------------------------------------------------------

    def test_manifest_by_tag_and_by_digest(
        self, personality: Personality, seeded_storage: SeedResult
    ) -> None:
        """The tag names the seeded index; the index and a platform manifest by digest verify."""
        seeded = seeded_storage.seeded[seed.MULTI]
        session = self.session(personality)
        found = oi.open(self.profile.multi, session=session)
        assert isinstance(found, ImageIndex) and found.digest == seeded.digest
        again = oi.open(f"{self.profile.name}@{seeded.digest}", session=session)
        assert again.digest == seeded.digest
        arm = seeded.image("linux/arm64/v8").digest
        image = oi.image(f"{self.profile.name}@{arm}", session=session)
        assert image.digest == arm and str(image.platform) == "linux/arm64/v8"

    def test_blobs_through_the_redirect(self, personality: Personality) -> None:
        """Every layer is streamed and verified through the registry's redirect; to another
        origin the registry's Authorization never follows."""
        session = self.session(personality)
        table = oi.layers(self.profile.multi, sizes="exact", session=session)
        assert table["uncompressed_exact"].all() and len(table) == 2
        host, path = self.profile.blob_route
        landed = personality.counters.requests(host=host, path=path)
        assert len(landed) >= 2 and all(r.status == 200 for r in landed)
        if self.profile.blob_elsewhere:
            assert [r.auth_scheme for r in landed] == [None] * len(landed)

    # -- tokens ---------------------------------------------------------------------------------

    def test_token_earned_once_per_repository(self, personality: Personality) -> None:
        """Two tables in one session cost the tokens of one; a second session earns its own."""
        session = self.session(personality)
        oi.platforms(self.profile.multi, session=session)
        oi.layers(self.profile.multi, sizes="none", session=session)
        assert len(personality.counters.token_requests()) == self.profile.tokens
        oi.config(self.profile.multi, session=self.session(personality))
        assert len(personality.counters.token_requests()) == 2 * self.profile.tokens

    # -- rate limits ----------------------------------------------------------------------------

    def test_throttled_manifest_is_retried_then_served(self, personality: Personality) -> None:
        """Two 429s from the registry's throttle are retried; the table then loads whole."""
        personality.configure(throttle=2)
        table = oi.platforms(self.profile.multi, session=self.session(personality))
        assert len(table) == 6 and table["error"].isna().all()
        refused = [r for r in personality.counters.requests(path="/manifests/") if r.status == 429]
        assert len(refused) == 2

    def test_429_past_the_retries_names_the_next_step(self, personality: Personality) -> None:
        """A throttle that does not end: RateLimitedError after the retry budget, with the
        registry's code and a one-line next step, and no retry beyond the budget."""
        personality.configure(throttle=1000)
        session = self.session(personality)
        with pytest.raises(RateLimitedError) as caught:
            oi.platforms(self.profile.multi, session=session)
        error = caught.value
        logged_in = self.profile.credentials(personality) is not None
        expected = ratelimit.hint(
            None, datetime.now(UTC), logged_in=logged_in, mirror_configured=False
        )
        assert error.status == 429 and error.hint == expected
        assert str(error).endswith(f"next: {expected}")
        assert error.codes == ((self.profile.throttle_code,) if self.profile.throttle_code else ())
        refused = [r for r in personality.counters.requests(path="/manifests/") if r.status == 429]
        assert len(refused) == session.client.retry.attempts

    def test_rate_limit_headers_in_the_trace(self, personality: Personality) -> None:
        """What the registry says of its limit is in the trace table and its summary (Docker
        Hub), and nothing is invented where it says nothing."""
        session = self.session(personality)
        oi.platforms(self.profile.multi, session=session)
        frame = trace_frame(session.trace)
        said = frame[frame["ratelimit_limit"].notna()]
        summary = session.trace.summary()
        if self.profile.announces_limit:
            assert len(said) == summary.pulls == 4
            assert said["ratelimit_window"].tolist() == [21600] * 4
            assert summary.ratelimit is not None and summary.ratelimit.remaining == 100 - 4
        else:
            assert said.empty and summary.ratelimit is None
            assert frame["ratelimit_remaining"].isna().all()

    def test_ratelimit_spends_no_pull(self, personality: Personality) -> None:
        """ratelimit() HEADs the manifest: no manifest GET reaches the registry."""
        session = self.session(personality)
        table = oi.ratelimit(self.profile.multi, session=session)
        assert table["status"].tolist() == [200] and table["pulls_spent"].tolist() == [0]
        assert personality.counters.count(method="GET", path="/manifests/") == 0
        assert personality.counters.count(method="HEAD", path="/manifests/") >= 1
        assert personality.counters.pulls() == []
        limit, remaining = table["limit"].tolist()[0], table["remaining"].tolist()[0]
        if self.profile.announces_limit:
            assert (limit, remaining) == (100, 100)
        else:
            assert limit is pd.NA and remaining is pd.NA

    # -- as a mirror of docker.io ------------------------------------------------------------

    def mirror_location(self, personality: Personality) -> str:
        """Where this personality holds the index that Docker Hub's ``library/alpine`` is: its
        own name for it (a registries.conf location is ``host/namespace``)."""
        return self.profile.name

    def test_registries_conf_mirror_answers_for_docker_io(
        self,
        personality: Personality,
        seeded_storage: SeedResult,
        tmp_path: Path,
    ) -> None:
        """``alpine`` (docker.io/library/alpine) is read from this registry as a registries.conf
        mirror: every request goes to its hosts, the trace says which registry it stood in for,
        and Docker Hub's hosts are never looked up (loopback_guard)."""
        conf = write_registries_conf(tmp_path, self.mirror_location(personality))
        session = self.session(personality, mirrors=mirrors_from(conf))
        table = oi.platforms("alpine", session=session)
        assert table["digest"].tolist()[:3] == [
            seeded_storage.seeded[seed.MULTI].image(p).digest for p in seed.PLATFORMS
        ]
        hosts = {re.sub(r"^https?://([^/]+)/.*$", r"\1", e.url) for e in session.trace}
        assert hosts <= set(personality.hosts)
        frame = trace_frame(session.trace)
        registry = frame[frame["url"].str.contains("/v2/")]
        assert registry["mirror_for"].eq("docker.io").all()
        assert personality.registry_host in session.trace.summary().mirrors[0]
