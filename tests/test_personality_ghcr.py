"""ociinspect against the GHCR personality (tests/personalities/ghcr.py): the shared protocol
tests (tests/personalities/protocol.py) with anonymous tokens whose scope the challenge names,
blobs from pkg-containers.githubusercontent.com, and GHCR's own 429."""

from __future__ import annotations

from pathlib import Path

import pytest
from personalities import Personality
from personalities.protocol import Profile, ProtocolSuite, mirrors_from, write_registries_conf

import ociinspect as oi
from ociinspect.distribution.credentials import Credentials

pytestmark = [pytest.mark.registry, pytest.mark.usefixtures("loopback_guard")]


class TestGhcr(ProtocolSuite):
    """GHCR: one host for registry and tokens, an Azure SAS CDN."""

    profile = Profile(
        fixture="ghcr",
        multi="ghcr.io/ociinspect/multi:latest",
        blob_route=("pkg-containers.githubusercontent.com", r"^/ghcr1/blobs/"),
        blob_elsewhere=True,
        tokens=1,
    )

    def test_origin_credentials_never_reach_the_mirror(
        self, personality: Personality, tmp_path: Path
    ) -> None:
        """Credentials given for every registry are the origin's: GHCR as docker.io's mirror
        is asked anonymously (its token server saw no login), and the pull succeeds."""
        conf = write_registries_conf(tmp_path, self.profile.name)
        hub_login = Credentials("hub-user", "hub-secret-password")
        session = self.session(personality, mirrors=mirrors_from(conf), credentials=hub_login)
        oi.platforms("alpine", session=session)
        identities = {t.identity for t in personality.counters.token_requests()}
        assert identities == {"anonymous"}
        assert "Basic" not in {r.auth_scheme for r in personality.counters.requests()}
