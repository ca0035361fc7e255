"""ociinspect.dask on a distributed LocalCluster of two worker processes, against the fleet."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pandas.testing as pdt
import pytest
from distributed import Client, LocalCluster
from rig import ALICE, Registry, rig_session
from rig.fleet import FleetSeed

import ociinspect.dask as odask
from ociinspect import fleet
from ociinspect.distribution.credentials import Credentials
from ociinspect.tables.fleet import inventory_frame

pytestmark = pytest.mark.registry


def test_without_a_client_the_error_says_to_make_one() -> None:
    """ociinspect starts no cluster: with no distributed client it says what to do (this
    test runs before the module's cluster exists)."""
    with pytest.raises(ValueError, match="needs a distributed.Client"):
        odask._client(None)


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    """A LocalCluster of 2 worker processes (2 threads each), as a user would make one."""
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=2, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as made,
    ):
        yield made


def test_dask_inventory_computes_the_pandas_frame_with_one_token_per_repository(
    fleet_registry: tuple[Registry, FleetSeed, int], client: Client, tmp_path: object
) -> None:
    """Partitioned by repository, on 2 processes: .compute() equals fleet.inventory (rows,
    values and dtypes, broken repositories included); each repository earned one token."""
    registry, seed, _ = fleet_registry
    credentials = Credentials(ALICE.name, ALICE.password)
    names = [r.name for r in seed.repositories][::6] + [
        r.name for r in seed.repositories if r.kind in ("broken", "legacy")
    ]
    expected = fleet.inventory(registry.host, names, session=rig_session(credentials=credentials))
    registry.reset()
    caller = rig_session(credentials=credentials)
    frame = odask.inventory(registry.host, names, session=caller, client=client)
    assert frame.npartitions == len(names)
    assert frame.dtypes.to_dict() == inventory_frame([]).dtypes.to_dict()
    computed = frame.compute()
    planned = computed.repository.str.contains("/broken/|/legacy/")
    unexpected = computed[computed.status.eq("error") & ~planned]
    assert unexpected.empty, unexpected.error.head(3).tolist()
    pdt.assert_frame_equal(computed.reset_index(drop=True), expected.reset_index(drop=True))
    assert registry.token_server is not None
    tokens = Counter(s for r in registry.token_server.requests() for s in r.scopes)
    assert {f"repository:{n}:pull": 1 for n in names} == dict(tokens)
    assert set(computed.status) == {"ok", "error", "empty"}
    workers = client.run(lambda dask_worker: sorted(dask_worker.plugins))
    assert len(workers) == 2 and all(any("ociinspect" in p for p in v) for v in workers.values())


def test_dask_inventory_lazily_filters_and_aggregates(
    fleet_registry: tuple[Registry, FleetSeed, int], client: Client
) -> None:
    """A dask query (bytes per namespace) gives what the same pandas query gives."""
    registry, seed, _ = fleet_registry
    credentials = Credentials(ALICE.name, ALICE.password)
    names = [r.name for r in seed.repositories if r.kind == "dockerlist"][:8]
    session = rig_session(credentials=credentials)
    frame = odask.inventory(registry.host, names, session=session, client=client)
    lazy = frame[frame.status == "ok"].groupby("repository").compressed_size.sum().compute()
    eager = fleet.inventory(registry.host, names, session=session)
    by_repository = eager.groupby("repository").compressed_size.sum()
    assert lazy.sort_index().to_dict() == by_repository.to_dict()

