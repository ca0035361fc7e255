"""Navigation from a reference to an image, on the registry rig."""

from __future__ import annotations

import pytest
from rig import Registry, rig_session, seed

from ociinspect import navigation
from ociinspect.errors import PlatformNotFoundError

pytestmark = pytest.mark.registry


def test_index_opens_with_classified_entries(registry_open: Registry) -> None:
    """A multi-platform index lists three images and three attestations."""
    found = navigation.open(registry_open.ref(seed.MULTI), session=rig_session())
    assert isinstance(found, navigation.ImageIndex)
    kinds = [e.kind for e in found.entries]
    assert kinds.count("image") == 3 and kinds.count("attestation") == 3
    assert found.platforms == ["linux/amd64", "linux/arm64/v8", "linux/arm/v7"]


@pytest.mark.parametrize(
    ("asked", "expected"),
    [(None, "linux/amd64"), ("linux/arm64", "linux/arm64/v8"), ("linux/arm", "linux/arm/v7"),
     ("aarch64", "linux/arm64/v8")],
    ids=["default is amd64", "arm64 means v8", "arm means v7", "aarch64 is arm64"],
)
def test_platform_choice(registry_open: Registry, asked: str | None, expected: str) -> None:
    """Platforms normalise as users type them; the default is linux/amd64, said in selection."""
    img = navigation.image(registry_open.ref(seed.MULTI), asked, session=rig_session())
    assert str(img.platform) == expected
    assert img.selection is not None and expected in img.selection
    assert img.digest == registry_open.seeded[seed.MULTI].image(expected).digest


def test_unknown_platform_lists_what_exists(registry_open: Registry) -> None:
    """Asking for a platform the index lacks names the ones it has, never attestations."""
    with pytest.raises(PlatformNotFoundError) as err:
        navigation.image(registry_open.ref(seed.MULTI), "linux/s390x", session=rig_session())
    assert err.value.available == ["linux/amd64", "linux/arm64/v8", "linux/arm/v7"]
    assert "unknown/unknown" not in str(err.value)


def test_images_fetch_concurrently_with_one_token(registry_token: Registry) -> None:
    """All entries' manifests and configs load on one token; requests are 1 + N + N."""
    s = rig_session()
    found = navigation.open(registry_token.ref(seed.MULTI), session=s)
    assert isinstance(found, navigation.ImageIndex)
    loaded = found.images(kinds=("image",))
    assert all(isinstance(t, navigation.Image) for _, t in loaded)
    assert registry_token.token_server is not None
    assert registry_token.token_server.count() == 1
    gets = [r for r in registry_token.requests() if r.method == "GET" and r.status != 401]
    manifests = [r for r in gets if "/manifests/" in r.path]
    blobs = [r for r in gets if "/blobs/" in r.path]
    assert (len(manifests), len(blobs)) == (1 + 3, 3)
    assert len(registry_token.cdn.requests()) == 3  # configs come from the CDN after a 307
