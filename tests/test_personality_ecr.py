"""ociinspect against the Amazon ECR personality (tests/personalities/ecr.py): the shared protocol
tests (tests/personalities/protocol.py) with Basic authentication only (user ``AWS`` and the
generated password), blobs from presigned S3 URLs, and ECR's ``TOOMANYREQUESTS: Rate exceeded``."""

from __future__ import annotations

from pathlib import Path

import pytest
from personalities import Personality
from personalities.protocol import Profile, ProtocolSuite, mirrors_from, write_registries_conf

import ociinspect as oi
from ociinspect.distribution.credentials import Credentials
from ociinspect.errors import TransportError


def _login(personality: Personality) -> Credentials:
    given = personality.credentials
    return Credentials(given.username, given.password)


pytestmark = [pytest.mark.registry, pytest.mark.usefixtures("loopback_guard")]


class TestEcr(ProtocolSuite):
    """ECR: private repositories, no token server."""

    profile = Profile(
        fixture="ecr",
        multi="123456789012.dkr.ecr.us-east-1.amazonaws.com/ociinspect/multi:latest",
        blob_route=("prod-us-east-1-starport-layer-bucket.s3.us-east-1.amazonaws.com", r"^/"),
        blob_elsewhere=True,
        tokens=0,
        credentials=_login,
    )

    def test_mirror_gets_its_own_credentials_and_never_the_origins(
        self, personality: Personality, tmp_path: Path
    ) -> None:
        """As docker.io's mirror, ECR is sent the credentials given for its own host (the pull
        succeeds); credentials given for every registry are Docker Hub's and not sent to it, so
        the mirror refuses, and the origin is tried next (mapped to a closed loopback port)."""
        conf = write_registries_conf(tmp_path, self.profile.name)
        own = {personality.registry_host: _login(personality)}
        session = self.session(personality, mirrors=mirrors_from(conf), credentials=own)
        assert len(oi.platforms("alpine", session=session)) == 6
        hub_login = Credentials("AWS", "docker-hub-password-not-ecrs")
        closed = {"registry-1.docker.io": ("127.0.0.1", 9)}
        elsewhere = self.session(
            personality, mirrors=mirrors_from(conf), credentials=hub_login, resolve=closed
        )
        refused = personality.counters.count(host=personality.registry_host)
        with pytest.raises(TransportError, match="registry-1.docker.io"):
            oi.platforms("alpine", session=elsewhere)
        after = personality.counters.requests(host=personality.registry_host)[refused:]
        assert after and {r.auth_scheme for r in after} == {None}
