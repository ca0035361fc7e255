"""ociinspect against the Quay personality (tests/personalities/quay.py): the shared protocol
tests (tests/personalities/protocol.py) where public repositories are read with no token at
all, blobs come from CloudFront after a 302, and a throttle answers with nginx's HTML page."""

from __future__ import annotations

from pathlib import Path

import pytest
from personalities import Personality
from personalities.protocol import Profile, ProtocolSuite, mirrors_from, write_registries_conf

import ociinspect as oi
from ociinspect.distribution.credentials import Credentials

pytestmark = [pytest.mark.registry, pytest.mark.usefixtures("loopback_guard")]


class TestQuay(ProtocolSuite):
    """Quay.io: anonymous reads of public repositories, a presigned S3 CDN."""

    profile = Profile(
        fixture="quay",
        multi="quay.io/ociinspect/multi:latest",
        blob_route=("cdn01.quay.io", r"^/quayio-production-s3/"),
        blob_elsewhere=True,
        tokens=0,
        throttle_code=None,
    )

    def test_origin_credentials_never_reach_the_mirror(
        self, personality: Personality, tmp_path: Path
    ) -> None:
        """Credentials given for every registry are the origin's: Quay as docker.io's mirror
        sees no Authorization at all, and serves the public index anonymously."""
        conf = write_registries_conf(tmp_path, self.profile.name)
        hub_login = Credentials("hub-user", "hub-secret-password")
        session = self.session(personality, mirrors=mirrors_from(conf), credentials=hub_login)
        oi.platforms("alpine", session=session)
        assert {r.auth_scheme for r in personality.counters.requests()} == {None}
        assert personality.counters.token_requests() == []
