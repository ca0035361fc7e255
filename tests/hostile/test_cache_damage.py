"""A damaged disk cache entry is found on the next read, refetched, and said so.

Entries over the cache's in-place verification threshold are not re-hashed on every read (a
1 GiB layer would cost seconds); their size, inode and a sampled fingerprint are. Each case
damages a cached layer the way a crash, a full disk or another program would (cut short,
replaced by other bytes of the same size, changed in place at its start) and reads the image
again in a new session: the listing is right, the registry is asked once more for that layer,
a warning says "cache entry damaged, refetched", and the entry is sound afterwards.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from kit import make_session
from servers import FakeRegistry

import ociinspect as oi
from ociinspect.cache import BlobCache
from ociinspect.errors import SourceError
from ociinspect.testing import build

VERIFY_LIMIT = 16  # every layer here is larger: checked by fingerprint, not re-hashed


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _replace(path: Path) -> None:
    data = path.read_bytes()
    spare = path.with_name(path.name + ".swap")
    spare.write_bytes(bytes(len(data)))
    os.replace(spare, path)  # a new file (inode) of the same size


def _alter(path: Path) -> None:
    with path.open("r+b") as handle:
        first = handle.read(1)
        handle.seek(0)
        handle.write(bytes([first[0] ^ 0xFF]))  # same file, same size


DAMAGE = [
    pytest.param(_truncate, id="cut short"),
    pytest.param(_replace, id="replaced by other bytes of the same size"),
    pytest.param(_alter, id="changed in place at its first byte"),
]


@pytest.mark.parametrize("damage", DAMAGE)
def test_a_damaged_layer_is_refetched_and_said_so(
    damage: Callable[[Path], None],
    fake: FakeRegistry,
    sample: build.BuiltImage,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The second run lists the layer right, fetches it once more, and warns."""
    directory = tmp_path / "cache"
    layer = sample.layers[0]
    first = make_session(BlobCache(directory, verify_limit=VERIFY_LIMIT))
    expected = oi.files(fake.ref(), 0, session=first)
    route = f"/v2/{fake.repository}/blobs/{layer.digest}"
    assert len(fake.requests(route)) == 1
    cache = BlobCache(directory, verify_limit=VERIFY_LIMIT)
    entry = directory / "blobs" / "sha256" / layer.digest.split(":")[1]
    assert entry.is_file() and entry.stat().st_size > VERIFY_LIMIT
    damage(entry)
    caplog.set_level(logging.WARNING, logger="ociinspect")
    second = make_session(cache)
    again = oi.files(fake.ref(), 0, session=second)
    assert again.equals(expected)
    assert len(fake.requests(route)) == 2
    said = [r.getMessage() for r in caplog.records if "cache entry damaged" in r.getMessage()]
    assert said and "refetched" in said[0] and layer.digest in said[0]
    assert cache.verify(layer.digest)
    caplog.clear()
    oi.files(fake.ref(), 0, session=make_session(BlobCache(directory, verify_limit=VERIFY_LIMIT)))
    assert len(fake.requests(route)) == 2  # sound again: served from the cache, silently
    assert not [r for r in caplog.records if "cache entry damaged" in r.getMessage()]


def test_a_damaged_entry_offline_is_a_clear_miss(
    fake: FakeRegistry, sample: build.BuiltImage, tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Offline, a damaged layer cannot be refetched: the warning says so and the read is a
    SourceError naming the cache, never a listing of the damaged bytes."""
    directory = tmp_path / "cache"
    layer = sample.layers[0]
    oi.files(fake.ref(), 0, session=make_session(BlobCache(directory, verify_limit=VERIFY_LIMIT)))
    _truncate(directory / "blobs" / "sha256" / layer.digest.split(":")[1])
    offline = make_session(BlobCache(directory, verify_limit=VERIFY_LIMIT), offline=True)
    caplog.set_level(logging.WARNING, logger="ociinspect")
    with pytest.raises(SourceError) as err:
        oi.files(f"{fake.ref()[: -len(':latest')]}@{sample.digest}", 0, session=offline)
    assert "offline" in str(err.value)
    assert any("cache entry damaged, offline" in r.getMessage() for r in caplog.records)
