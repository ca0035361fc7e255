"""ociinspect against the Google Artifact Registry personality (tests/personalities/gar.py): the
shared protocol tests (tests/personalities/protocol.py) with a challenge that names no service,
anonymous tokens for public repositories, and downloads redirected on the same host."""

from __future__ import annotations

from pathlib import Path

import pytest
from personalities import Personality
from personalities.protocol import Profile, ProtocolSuite, mirrors_from, write_registries_conf

import ociinspect as oi
from ociinspect.distribution.credentials import Credentials

pytestmark = [pytest.mark.registry, pytest.mark.usefixtures("loopback_guard")]


class TestGar(ProtocolSuite):
    """GAR: ``<location>-docker.pkg.dev/<project>/<repository>/<image>``."""

    profile = Profile(
        fixture="gar",
        multi="us-docker.pkg.dev/ociinspect-project/images/multi:latest",
        blob_route=("us-docker.pkg.dev", r"^/artifacts-downloads/"),
        blob_elsewhere=False,
        tokens=1,
    )

    def test_origin_credentials_never_reach_the_mirror(
        self, personality: Personality, tmp_path: Path
    ) -> None:
        """Credentials given for every registry are the origin's: GAR as docker.io's mirror
        issues an anonymous token only, and no Basic login reaches it."""
        conf = write_registries_conf(tmp_path, self.profile.name)
        hub_login = Credentials("hub-user", "hub-secret-password")
        session = self.session(personality, mirrors=mirrors_from(conf), credentials=hub_login)
        oi.platforms("alpine", session=session)
        assert {t.identity for t in personality.counters.token_requests()} == {"anonymous"}
        assert "Basic" not in {r.auth_scheme for r in personality.counters.requests()}
