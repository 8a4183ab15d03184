"""Layout search and hardware sweeps on a local Dask distributed cluster."""

from __future__ import annotations

import numpy as np
import pytest

import blackwell_model as bm
from blackwell_model.study import search_layouts, search_many, with_accelerator

distributed = pytest.importorskip("dask.distributed")


@pytest.mark.slow
def test_search_and_sweep_on_a_local_dask_cluster():
    model = bm.catalog.model("llama3-8b")
    cluster = bm.catalog.cluster("DGX-H100", gpus=16)
    kw = dict(global_batch=64, seq_len=8192, zero=(0, 1))
    local = search_layouts(model, cluster, **kw)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as dask_cluster,
        distributed.Client(dask_cluster) as client,
    ):
        executor = client.get_executor()
        remote = search_layouts(model, cluster, executor=executor, chunk_size=1000, **kw)
        what_ifs = {
            "H100": cluster,
            "H100, 10 TB/s HBM": with_accelerator(cluster, memory_bandwidth="10 TB/s"),
        }
        many = search_many(model, what_ifs, top=3, executor=executor, **kw)
    assert (remote.enumerated, remote.feasible) == (local.enumerated, local.feasible)
    assert remote.rejected == local.rejected
    np.testing.assert_allclose(remote.columns["step_time_s"], local.columns["step_time_s"])
    assert remote.layout(0) == local.layout(0)
    assert list(many) == list(what_ifs)
    assert many["H100"].columns["step_time_s"][0] == pytest.approx(local.columns["step_time_s"][0])
    assert (
        many["H100, 10 TB/s HBM"].columns["step_time_s"][0]
        <= many["H100"].columns["step_time_s"][0]
    )
