"""Disaggregated serving: the balance of the pools derived by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

import blackwell_model as bm
from blackwell_model.errors import InfeasibleLayoutError, SpecError
from blackwell_model.predict.disaggregated import (
    DisaggregatedDeployment,
    kv_transfer_s,
    predict_disaggregated,
)
from blackwell_model.solvers.serving import ServingSolver

ISL, OSL = 4096, 512


@pytest.fixture(scope="module")
def h100() -> tuple:
    cluster = bm.catalog.cluster("DGX-H100", gpus=32)
    dep = DisaggregatedDeployment(
        prefill_cluster=cluster,
        decode_cluster=cluster,
        prefill_layout=bm.InferenceLayout(tp=4),
        decode_layout=bm.InferenceLayout(tp=8),
        decode_batch=64,
    )
    rep = predict_disaggregated("llama3-70b", dep, input_tokens=ISL, output_tokens=OSL)
    return cluster, dep, rep


def test_balance_prefill_throughput_equals_decode_demand(h100: tuple) -> None:
    """Derive the balanced pools by hand from one prefill pass and one decode step."""
    cluster, dep, rep = h100
    model = bm.catalog.model("llama3-70b")
    pre = ServingSolver(model, cluster, dep.prefill_layout, "fp8")
    dec = ServingSolver(model, cluster, dep.decode_layout, "fp8")
    k = 8192 // ISL  # prompts per pass of max_num_tokens 8192
    t_pass = float(pre.prefill(np.array([float(k)]), ISL).time_s[0])
    prefill_rate = k / t_pass  # requests/s of one prefill instance
    t_step = float(dec.decode_step(np.array([64.0]), np.array([ISL + OSL / 2])).time_s[0])
    decode_rate = 64 / ((OSL - 1) * t_step)  # requests/s one decode instance finishes
    assert rep.prefill_batch == k
    assert rep.prefill_instance_rate.m == pytest.approx(prefill_rate)
    assert rep.decode_instance_rate.m == pytest.approx(decode_rate)
    # balance: N_p * prefill_rate = N_d * decode_rate with N_d = 1
    n_p = rep.prefill_per_decode
    assert n_p * prefill_rate == pytest.approx(decode_rate)
    gpus = n_p * 4 + 8
    assert rep.output_tokens_per_second_per_gpu.m == pytest.approx(OSL * decode_rate / gpus)
    assert rep.time_per_output_token.m == pytest.approx(t_step)


def test_kv_transfer_by_hand(h100: tuple) -> None:
    """Llama 3 70B, FP8 cache: 80 layers x 8 KV heads x 2 x 128 x 1 B per token, over the NICs."""
    _cluster, dep, rep = h100
    assert dep.link() == "network"  # 4 + 8 GPUs do not fit one 8-GPU HGX domain
    kv = 80 * 8 * 2 * 128 * 1.0 * ISL
    t = kv / (4 * 0.8 * 50e9)  # 4 senders, 400 Gb/s NIC each, 80 % efficient
    assert rep.kv_transfer_time.m == pytest.approx(t)
    pass_s = rep.time_to_first_token.m - rep.kv_transfer_time.m
    assert pass_s > 0


def test_gpus_for_a_request_rate(h100: tuple) -> None:
    _cluster, _dep, rep = h100
    rate = 3.0 * rep.decode_instance_rate.m
    need = rep.gpus_for(f"{rate} 1/s")
    assert need["decode_instances"] == 3
    assert need["prefill_instances"] == math.ceil(rate / rep.prefill_instance_rate.m - 1e-9)
    assert need["gpus"] == need["prefill_instances"] * 4 + 3 * 8


def test_nvl72_keeps_the_transfer_on_nvlink() -> None:
    rack = bm.catalog.cluster("GB200-NVL72", gpus=72)
    dep = DisaggregatedDeployment(
        prefill_cluster=rack,
        decode_cluster=rack,
        prefill_layout=bm.InferenceLayout(tp=4),
        decode_layout=bm.InferenceLayout(tp=8),
    )
    assert dep.link() == "scale_up"
    assert dep.link_Bps() == pytest.approx(900e9)


def test_tpot_target_picks_the_decode_batch() -> None:
    cluster = bm.catalog.cluster("DGX-H100", gpus=16)
    dep = DisaggregatedDeployment(
        prefill_cluster=cluster,
        decode_cluster=cluster,
        prefill_layout=bm.InferenceLayout(tp=8),
        decode_layout=bm.InferenceLayout(tp=8),
    )
    rep = predict_disaggregated(
        "llama3-70b", dep, input_tokens=2048, output_tokens=256, max_tpot="20 ms"
    )
    assert rep.time_per_output_token.m <= 0.020
    with pytest.raises(InfeasibleLayoutError, match="latency"):
        predict_disaggregated(
            "llama3-70b", dep, input_tokens=2048, output_tokens=256, max_tpot="1 ms"
        )


def test_bad_inputs_name_the_field() -> None:
    cluster = bm.catalog.cluster("DGX-H100", gpus=16)
    with pytest.raises(SpecError, match="transfer"):
        DisaggregatedDeployment(
            prefill_cluster=cluster, decode_cluster=cluster,
            prefill_layout=bm.InferenceLayout(tp=8), decode_layout=bm.InferenceLayout(tp=8),
            transfer="pcie",
        )  # fmt: skip
    with pytest.raises(SpecError, match="kv_bytes"):
        kv_transfer_s(-1.0, senders=1, link_Bps=1e9)
