"""ociinspect against the Azure Container Registry personality (tests/personalities/acr.py): the
shared protocol tests (tests/personalities/protocol.py) with an ACR refresh token given as an
identity token (Docker's ``identitytoken``), exchanged for access tokens with the OAuth2
refresh-token grant; blobs from the dedicated data endpoint."""

from __future__ import annotations

import pytest
from personalities import Personality
from personalities.protocol import Profile, ProtocolSuite

import ociinspect as oi
from ociinspect.distribution.credentials import Credentials


def _identity(personality: Personality) -> Credentials:
    given = personality.credentials
    return Credentials(given.username, identity_token=given.password)


pytestmark = [pytest.mark.registry, pytest.mark.usefixtures("loopback_guard")]


class TestAcr(ProtocolSuite):
    """ACR: private repositories, OAuth2 on the registry host."""

    profile = Profile(
        fixture="acr",
        multi="ociinspect.azurecr.io/multi:latest",
        blob_route=("ociinspect.eastus.data.azurecr.io", r"^/"),
        blob_elsewhere=True,
        tokens=1,
        credentials=_identity,
    )

    def test_identity_token_is_exchanged_with_the_refresh_token_grant(
        self, personality: Personality
    ) -> None:
        """The access token comes from POST /oauth2/token, grant_type=refresh_token."""
        oi.platforms(self.profile.multi, session=self.session(personality))
        grants = [t.grant for t in personality.counters.token_requests()]
        assert grants == ["refresh_token"]
