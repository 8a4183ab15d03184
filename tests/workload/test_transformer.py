"""Transformer: parameter counts, FLOP conventions, validation, catalog entries."""

from __future__ import annotations

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

import blackwell_model as bm
from blackwell_model.errors import SpecError, SpecFileError
from blackwell_model.workload import (
    AttentionKind,
    LayerType,
    Transformer,
    attention_pairs,
    model_operators,
)

CATALOG = [
    "gpt3-175b",
    "mt-nlg-530b",
    "llama2-7b",
    "llama2-13b",
    "llama2-70b",
    "llama3-8b",
    "llama3-70b",
    "llama3-405b",
    "mixtral-8x7b",
    "mixtral-8x22b",
    "nemotron4-15b",
    "nemotron4-340b",
    "deepseek-v3",
    "qwen3-30b-a3b",
    "qwen3-235b-a22b",
    "gpt-oss-120b",
    "llama4-scout",
    "llama4-maverick",
    "gpt-j-6b",
    "falcon-180b",
]
DENSE = [n for n in CATALOG if not bm.catalog.model(n).is_moe]


def test_catalog_has_every_required_model() -> None:
    names = {n.lower() for n in bm.catalog.names("model")}
    assert set(CATALOG) <= names
    for name in CATALOG:
        m = bm.catalog.model(name)
        assert isinstance(m, Transformer)
        assert m.sources, f"{name} has no sources"


# Published sizes, in parameters.  Each within 2 %.
PUBLISHED_TOTAL = {
    # Llama 3 paper (arXiv:2407.21783) Table 3 / title: 405B
    "llama3-405b": 405e9,
    # DeepSeek-V3 report (arXiv:2412.19437) abstract: 671B total
    "deepseek-v3": 671e9,
    # Mistral AI blog "Mixtral of experts" (Dec 2023): 46.7B total
    "mixtral-8x7b": 46.7e9,
    # Mistral AI blog "Cheaper, Better, Faster, Stronger" (Apr 2024): 141B total
    "mixtral-8x22b": 141e9,
    # Hugging Face model cards: 6.74B, 13.0B, 69.0B (meta-llama/Llama-2-*-hf)
    "llama2-7b": 6.74e9,
    "llama2-13b": 13.0e9,
    "llama2-70b": 69.0e9,
    # meta-llama/Meta-Llama-3-8B / 70B model cards: 8.03B, 70.6B
    "llama3-8b": 8.03e9,
    "llama3-70b": 70.6e9,
    # GPT-3 paper (arXiv:2005.14165) Table 2.1: 175.0B
    "gpt3-175b": 175e9,
    # MT-NLG (arXiv:2201.11990): 530B
    "mt-nlg-530b": 530e9,
    # Nemotron-4 340B report (arXiv:2406.11704): 340B
    "nemotron4-340b": 340e9,
    # Nemotron-4 15B (arXiv:2402.16819) Table 1: 12.5B non-embedding + 3.2B embedding
    "nemotron4-15b": 15.7e9,
    # Qwen3 report (arXiv:2505.09388) Table 2: 30.5B / 235B total
    "qwen3-30b-a3b": 30.5e9,
    "qwen3-235b-a22b": 235e9,
    # gpt-oss model card (OpenAI, Aug 2025): 116.83B total
    "gpt-oss-120b": 116.83e9,
    # Meta Llama 4 blog (Apr 2025): Scout 109B, Maverick 400B total (with vision encoder)
    "llama4-scout": 109e9,
    "llama4-maverick": 400e9,
    # EleutherAI/gpt-j-6b model card: 6,053,381,344
    "gpt-j-6b": 6_053_381_344,
    # tiiuae/falcon-180B model card: 180B
    "falcon-180b": 180e9,
}

PUBLISHED_ACTIVE = {
    # DeepSeek-V3 report: 37B activated per token
    "deepseek-v3": 37e9,
    # Mistral AI blog: 12.9B active (of 46.7B)
    "mixtral-8x7b": 12.9e9,
    # Mistral AI blog: 39B active (of 141B)
    "mixtral-8x22b": 39e9,
    # Qwen3 report Table 2: 3.3B / 22B activated
    "qwen3-30b-a3b": 3.3e9,
    "qwen3-235b-a22b": 22e9,
    # Meta Llama 4 blog: 17B active
    "llama4-scout": 17e9,
    "llama4-maverick": 17e9,
}


@pytest.mark.parametrize(("name", "published"), sorted(PUBLISHED_TOTAL.items()))
def test_total_params_match_published(name: str, published: float) -> None:
    assert bm.catalog.model(name).total_params == pytest.approx(published, rel=0.02)


@pytest.mark.parametrize(("name", "published"), sorted(PUBLISHED_ACTIVE.items()))
def test_active_params_match_published(name: str, published: float) -> None:
    assert bm.catalog.model(name).active_params == pytest.approx(published, rel=0.02)


def test_gpt_oss_active_params_exclude_the_embedding() -> None:
    # gpt-oss model card: 5.13B active per token, counting the unembedding only
    m = bm.catalog.model("gpt-oss-120b")
    assert m.active_params - m.embedding_params == pytest.approx(5.13e9, rel=0.02)


def test_nemotron_embedding_split() -> None:
    # Nemotron-4 15B Table 1: 3.2B embedding, 12.5B non-embedding parameters
    m = bm.catalog.model("nemotron4-15b")
    assert m.embedding_params + m.lm_head_params == pytest.approx(3.2e9, rel=0.02)
    assert m.non_embedding_params == pytest.approx(12.5e9, rel=0.02)


def _n_closed(m: Transformer) -> float:
    """N of 6N: every weight a token multiplies, LM head once, input table excluded."""
    return m.total_params - m.embedding_params + (m.vocab * m.hidden if m.tied_embeddings else 0)


@pytest.mark.parametrize("name", DENSE)
@pytest.mark.parametrize("seq", [2048, 8192])
def test_training_flops_match_6n_plus_12lhs(name: str, seq: int) -> None:
    m = bm.catalog.model(name)
    closed = 6 * _n_closed(m) + 12 * m.layers * m.hidden * seq
    assert m.training_flops_per_token(seq) == pytest.approx(closed, rel=0.01)
    fwd = model_operators(m, phase="forward", batch=1, seq_len=seq, causal=False)
    bwd = model_operators(m, phase="backward", batch=1, seq_len=seq, causal=False)
    assert (fwd.flops + bwd.flops) / seq == pytest.approx(closed, rel=0.01)


def _megatron_96(m: Transformer, s: int) -> float:
    """Narayanan et al. 2021 eq. 3 per token: 96 s l h^2 (1 + s/6h + V/16lh) / s."""
    n_l, h, v = m.layers, m.hidden, m.vocab
    return 96 * n_l * h**2 * (1 + s / (6 * h) + v / (16 * n_l * h))


def _korthikanti_72(m: Transformer, s: int) -> float:
    """Korthikanti et al. 2022 model FLOPs per token: 72 l h^2 (1 + s/6h + V/12lh)."""
    n_l, h, v = m.layers, m.hidden, m.vocab
    return 72 * n_l * h**2 * (1 + s / (6 * h) + v / (12 * n_l * h))


def gpt(name: str, layers: int, hidden: int, heads: int) -> Transformer:
    """A GPT of Narayanan et al. 2021 Table 1: vocab 51200, ffn 4h, GELU, MHA."""
    return Transformer(
        name=name,
        layers=layers,
        hidden=hidden,
        heads=heads,
        ffn_hidden=4 * hidden,
        vocab=51200,
        activation="gelu",
        norm="layernorm",
        bias=True,
        tied_embeddings=True,
        position_embeddings=2048,
    )


GPTS = [
    bm.catalog.model("gpt3-175b"),
    bm.catalog.model("mt-nlg-530b"),
    gpt("GPT-1.7B", 24, 2304, 24),
    gpt("GPT-18.4B", 40, 6144, 48),
    gpt("GPT-145.6B", 80, 12288, 96),
    gpt("GPT-1008B", 128, 25600, 160),
]


@pytest.mark.parametrize("m", GPTS, ids=lambda m: m.name)
def test_megatron_full_recompute_formula(m: Transformer) -> None:
    s = 2048
    ref = _megatron_96(m, s)
    assert m.training_flops_per_token(s, recompute=True) == pytest.approx(ref, rel=0.01)
    fwd = model_operators(m, phase="forward", batch=2, seq_len=s, causal=False)
    bwd = model_operators(m, phase="backward", batch=2, seq_len=s, causal=False)
    again = model_operators(
        m, phase="forward", batch=2, seq_len=s, causal=False, embedding=False, lm_head=False
    )
    assert (fwd.flops + bwd.flops + again.flops) / (2 * s) == pytest.approx(ref, rel=0.01)
    assert m.training_flops_per_token(s) == pytest.approx(_korthikanti_72(m, s), rel=0.01)


@pytest.mark.parametrize("m", GPTS[2:], ids=lambda m: m.name)
def test_narayanan_parameter_formula(m: Transformer) -> None:
    # Narayanan et al. 2021 §5.1: P = 12 l h^2 (1 + 13/12h + (V + s)/12lh), s = 2048
    n_l, h, v = m.layers, m.hidden, m.vocab
    ref = 12 * n_l * h**2 * (1 + 13 / (12 * h) + (v + 2048) / (12 * n_l * h))
    assert m.total_params == pytest.approx(ref, rel=1e-3)


def test_narayanan_sizes() -> None:
    # Narayanan et al. 2021 Table 1 (rounded labels; "1.7B" is 1.65B by their formula)
    assert GPTS[3].total_params == pytest.approx(18.4e9, rel=0.02)
    assert GPTS[4].total_params == pytest.approx(145.6e9, rel=0.02)
    assert GPTS[5].total_params == pytest.approx(1008e9, rel=0.02)


def test_causal_halves_attention() -> None:
    m = bm.catalog.model("llama3-8b")
    s = 8192
    full = m.attention_flops_per_token(s)
    half = m.attention_flops_per_token(s, causal=True)
    assert full == pytest.approx(4 * m.layers * m.hidden * s)
    assert half == pytest.approx(full * (s + 1) / (2 * s))


def test_moe_training_flops_use_active_params() -> None:
    m = bm.catalog.model("mixtral-8x7b")
    s = 4096
    expected = 6 * m.active_matmul_params + 12 * m.layers * m.hidden * s
    assert m.training_flops_per_token(s) == pytest.approx(expected)
    fwd = model_operators(m, phase="forward", batch=1, seq_len=s, causal=False)
    bwd = model_operators(m, phase="backward", batch=1, seq_len=s, causal=False)
    assert (fwd.flops + bwd.flops) / s == pytest.approx(expected, rel=0.01)


def test_mla_and_moe_operator_flops_match_active_params() -> None:
    # the operators of the main model; its MTP module adds to the FLOP convention
    m = attrs.evolve(bm.catalog.model("deepseek-v3"), mtp_layers=0)
    s = 4096
    fwd = model_operators(m, phase="forward", batch=1, seq_len=s, causal=False)
    assert fwd.flops / s == pytest.approx(m.forward_flops_per_token(s), rel=0.01)


def test_layer_types() -> None:
    ds = bm.catalog.model("deepseek-v3")
    assert [t.moe for t in ds.layer_types()[:4]] == [False, False, False, True]
    assert ds.n_moe_layers == 58 and ds.n_dense_layers == 3
    mav = bm.catalog.model("llama4-maverick")
    assert [t.moe for t in mav.layer_types()[:4]] == [False, True, False, True]
    assert mav.n_moe_layers == 24
    oss = bm.catalog.model("gpt-oss-120b")
    assert oss.layer_types()[:2] == (LayerType(True, True), LayerType(True, False))
    assert bm.catalog.model("llama3-8b").layer_types()[0] == LayerType(False, False)


def test_kv_cache_sizes() -> None:
    # Llama 3 70B: 80 layers x 2 x 8 KV heads x 128 x 2 B = 327,680 B per token
    assert bm.catalog.model("llama3-70b").kv_cache_bytes_per_token("bf16") == 327_680
    # DeepSeek-V3 MLA latent: 61 x (512 + 64) x 2 B
    ds = bm.catalog.model("deepseek-v3")
    assert ds.kv_cache_bytes_per_token("bf16") == 61 * 576 * 2
    assert ds.kv_cache_bytes_per_token("fp8") == 61 * 576
    assert ds.attention_kind is AttentionKind.MLA
    # gpt-oss: the windowed half of the layers keep at most 128 tokens
    oss = bm.catalog.model("gpt-oss-120b")
    per_layer = 2 * 8 * 64 * 2
    assert oss.kv_cache_bytes(100_000) == 18 * per_layer * 100_000 + 18 * per_layer * 128


@given(
    q=st.integers(1, 300),
    prefix=st.integers(0, 300),
    window=st.one_of(st.none(), st.integers(1, 400)),
)
def test_attention_pairs_brute_force(q: int, prefix: int, window: int | None) -> None:
    keys = prefix + q
    brute = sum(min(prefix + i + 1, window or keys) for i in range(q))
    assert attention_pairs(q, keys, causal=True, window=window) == brute
    assert attention_pairs(q, keys, causal=False, window=window) == q * min(keys, window or keys)


@pytest.mark.parametrize("name", CATALOG)
def test_dict_round_trip(name: str) -> None:
    m = bm.catalog.model(name)
    again = Transformer.from_dict(m.to_dict())
    assert again == m
    assert again.total_params == m.total_params


def test_evolve_what_if() -> None:
    m = bm.catalog.model("llama3-8b")
    wider = attrs.evolve(m, hidden=8192, ffn_hidden=28672)
    assert wider.qk_dim == 256  # head_dim follows hidden when not given
    assert wider.total_params > m.total_params


BASE = dict(name="t", layers=2, hidden=64, heads=8, ffn_hidden=128, vocab=100)


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"kv_heads": 3}, "kv_heads must divide heads"),
        ({"kv_heads": 16}, "kv_heads must be <= heads"),
        ({"layers": -1}, "layers must be an integer >= 1"),
        ({"hidden": 0}, "hidden must be an integer >= 1"),
        ({"heads": 7}, "heads must divide hidden"),
        ({"attention": "mha", "kv_heads": 2}, "needs kv_heads == heads"),
        ({"attention": "mla"}, "attention 'mla' needs"),
        ({"kv_lora_rank": 16}, "only apply to attention 'mla'"),
        ({"experts": 4, "experts_per_token": 5, "expert_ffn_hidden": 32}, "experts_per_token"),
        ({"experts": 4, "experts_per_token": 2}, "expert_ffn_hidden must be"),
        ({"experts_per_token": 2}, "need experts >= 1"),
        ({"sliding_window_pattern": [True, False]}, "sliding_window is not"),
        ({"ffn_hidden": 0}, "ffn_hidden must be an integer >= 1"),
        ({"activation": "tanh"}, "activation must be one of"),
        ({"attention": "linear"}, "attention must be one of"),
        ({"layers": 2.5}, "layers must be an integer"),
        ({"bias": "yes"}, "bias must be true or false"),
    ],
)
def test_validation_errors(changes: dict[str, object], match: str) -> None:
    with pytest.raises(SpecError, match=match):
        Transformer(**{**BASE, **changes})


def test_unknown_field_in_dict() -> None:
    with pytest.raises(SpecFileError, match="unknown field"):
        Transformer.from_dict({**BASE, "n_layer": 3})


def test_unknown_model_name_suggests() -> None:
    with pytest.raises(bm.UnknownNameError, match="llama3-8b"):
        bm.catalog.model("llama3-8")
