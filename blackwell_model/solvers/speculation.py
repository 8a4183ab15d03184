"""Speculative decoding and multi-token prediction (MTP): what a drafted step yields.

A speculative decode step drafts :math:`k` tokens per sequence cheaply, then
the target model verifies them in **one** forward pass over :math:`k + 1`
tokens per sequence (the last accepted token plus the :math:`k` drafts).
The verification accepts the longest prefix of drafts the target agrees
with and adds one token of its own (the correction, or the bonus token when
every draft is accepted), so a step yields between 1 and :math:`k + 1`
tokens.

With a per-token acceptance rate :math:`\\alpha` (each draft accepted with
probability :math:`\\alpha`, independently of the others), the expected
number of tokens a step yields is (Leviathan et al. 2023, eq. 1)

.. math::

   \\tau(\\alpha, k) = \\sum_{i=0}^{k} \\alpha^i
       = \\frac{1 - \\alpha^{k+1}}{1 - \\alpha},
   \\qquad 1 \\le \\tau \\le k + 1 .

Engines report :math:`\\tau` directly as the *mean acceptance length*
(TensorRT-LLM, vLLM and SGLang count the target's own token in it), so a
:class:`Speculation` takes either :math:`\\alpha` or a measured
:math:`\\tau`.  The time per output token is then the time of one
speculative step (verification plus drafting) divided by :math:`\\tau`; the
step itself is priced by the serving solver from the roofline
(:class:`~blackwell_model.solvers.serving.ServingSolver`).

Published acceptance figures (kernel- and module-level grounding, not
calibration):

* DeepSeek-V3's one MTP module predicts the second token with an acceptance
  rate of 85-90 % across generation topics (DeepSeek-AI 2024, §5.4.3), i.e.
  :math:`\\alpha \\approx 0.85`-:math:`0.9` at :math:`k = 1`,
  :math:`\\tau \\approx 1.85`-:math:`1.9`.  The same section reports 1.8x
  tokens per second end to end; that is a measured run, not used here.
* EAGLE-3 drafts reach mean acceptance lengths of about 6 to 6.5 tokens on
  chat and math benchmarks with tree drafts of depth 8 (Li et al. 2025,
  Tables 1-2); chain drafts of :math:`k = 3` reach about 3.
* Acceptance falls with draft depth when one MTP module is reused for every
  draft (TensorRT-LLM's "MTP Eagle" mode): give the measured :math:`\\tau`
  then, as :math:`\\alpha` assumes equal rates at every depth.

Sources:

* Y. Leviathan, M. Kalman, Y. Matias, "Fast Inference from Transformers
  via Speculative Decoding", ICML 2023, arXiv:2211.17192, §3.1, eq. (1).
* DeepSeek-AI, "DeepSeek-V3 Technical Report", arXiv:2412.19437,
  §2.2 (MTP modules: shared embedding and output head, one transformer
  block and a :math:`d \\times 2d` projection each) and §5.4.3 (acceptance).
* Y. Li, F. Wei, C. Zhang, H. Zhang, "EAGLE-3: Scaling up Inference
  Acceleration of Large Language Models via Training-Time Test",
  arXiv:2503.01840 (one decoder layer over fused low/mid/high features of
  the target, :math:`3d \\to d`).
* TensorRT-LLM documentation, "Speculative Decoding" (draft/target,
  EAGLE-3, N-gram, MTP; ``max_draft_len``), and vLLM documentation,
  ``--speculative-config`` (``method``, ``num_speculative_tokens``).
"""

from __future__ import annotations

import math
from typing import Any

import attrs
import pint

from .._spec import as_part, int_field, q_field
from .._validate import check_float
from ..errors import SpecError
from ..units import Q_, format_quantity, ureg

__all__ = [
    "SPECULATION_METHODS",
    "Speculation",
    "acceptance_rate_for",
    "as_speculation",
    "expected_tokens_per_step",
]

_S = ureg.Unit("s")

#: Drafting methods :class:`Speculation` accepts: name -> what drafts the tokens.
SPECULATION_METHODS: dict[str, str] = {
    "mtp": "the model's own multi-token-prediction module (one transformer layer of the "
    "model's last layer type, a 2d -> d projection, the shared embedding and LM head) run "
    "once per drafted token",
    "eagle": "an EAGLE-3-style head: one dense decoder layer of the target's width, a "
    "3d -> d projection of fused target features and the target's LM head, run once per "
    "drafted token",
    "draft": "a separate, smaller draft model (a catalog model or Transformer) decoding one "
    "token per drafted token on the replica's GPUs",
    "ngram": "prompt lookup (n-gram matching on the host): no GPU work to draft; its host "
    "time goes in step_overhead",
}


def expected_tokens_per_step(acceptance_rate: float, draft_tokens: int) -> float:
    """Expected tokens one speculative step yields, :math:`(1 - \\alpha^{k+1}) / (1 - \\alpha)`.

    Leviathan et al. 2023, eq. (1): drafts accepted independently with
    probability :math:`\\alpha`; the verification adds the target's own token.

    Parameters
    ----------
    acceptance_rate
        Per-token acceptance rate :math:`\\alpha` in [0, 1].
    draft_tokens
        Drafted tokens per step :math:`k` (>= 0).

    Returns
    -------
    float
        :math:`\\tau` [tokens per step], in :math:`[1, k + 1]` (:math:`k + 1`
        at :math:`\\alpha = 1`).

    Examples
    --------
    >>> expected_tokens_per_step(0.5, 2)
    1.75
    >>> expected_tokens_per_step(0.0, 4)
    1.0
    """
    a = check_float(acceptance_rate, "acceptance_rate")
    if not 0.0 <= a <= 1.0:
        raise SpecError(f"acceptance_rate must be in [0, 1], got {acceptance_rate!r}")
    k = int(draft_tokens)
    if k < 0:
        raise SpecError(f"draft_tokens must be an integer >= 0, got {draft_tokens!r}")
    if a == 1.0:
        return float(k + 1)
    return (1.0 - a ** (k + 1)) / (1.0 - a)


def acceptance_rate_for(acceptance_length: float, draft_tokens: int) -> float:
    """The per-token rate :math:`\\alpha` whose :func:`expected_tokens_per_step` is ``acceptance_length``.

    :math:`\\tau(\\alpha, k)` increases with :math:`\\alpha`, so a bisection
    inverts it (to 1e-12).

    Parameters
    ----------
    acceptance_length
        Mean tokens per step :math:`\\tau` in :math:`[1, k + 1]` [tokens].
    draft_tokens
        Drafted tokens per step :math:`k` (>= 1).

    Examples
    --------
    >>> round(acceptance_rate_for(1.75, 2), 9)
    0.5
    """
    k = int(draft_tokens)
    tau = check_float(acceptance_length, "acceptance_length")
    if k < 1 or not 1.0 <= tau <= k + 1.0:
        raise SpecError(
            f"acceptance_length must be in [1, draft_tokens + 1] = [1, {k + 1}] tokens, "
            f"got {acceptance_length!r}"
        )
    lo, hi = 0.0, 1.0
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if expected_tokens_per_step(mid, k) < tau:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def _method(value: Any) -> str:
    text = str(value).strip().lower() if isinstance(value, str) else value
    if text not in SPECULATION_METHODS:
        raise SpecError(
            f"method must be one of {', '.join(sorted(SPECULATION_METHODS))}, got {value!r}"
        )
    return str(text)


def _rate(value: Any) -> float | None:
    return None if value is None else check_float(value, "acceptance_rate")


def _length(value: Any) -> float | None:
    return None if value is None else check_float(value, "acceptance_length")


def _draft_model(value: Any) -> Any:
    if value is None:
        return None
    from ..workload import Transformer

    return as_part(value, Transformer, "model", "draft_model")


@attrs.frozen(kw_only=True)
class Speculation:
    """Speculative decoding (or MTP) of a served model: how tokens are drafted and accepted.

    Give the acceptance as ``acceptance_rate`` (per drafted token,
    :math:`\\alpha`) or as ``acceptance_length`` (mean tokens per step,
    :math:`\\tau`, as engines report it), not both.  See the module
    documentation for :math:`\\tau(\\alpha, k)` and its source.

    Parameters
    ----------
    method
        How the drafts are made, one of :data:`SPECULATION_METHODS`:
        ``"mtp"`` (the model's own MTP module; the model needs
        ``mtp_layers >= 1``), ``"eagle"`` (an EAGLE-3-style one-layer head),
        ``"draft"`` (a separate ``draft_model``) or ``"ngram"`` (prompt
        lookup, no GPU drafting).
    draft_tokens
        Tokens drafted per step :math:`k` (TensorRT-LLM ``max_draft_len``,
        vLLM ``num_speculative_tokens``) [tokens], >= 1.
    acceptance_rate
        Per-token acceptance rate :math:`\\alpha` in [0, 1).
    acceptance_length
        Measured mean tokens per step :math:`\\tau` in :math:`[1, k + 1]`
        [tokens], the target's own token included.
    draft_model
        For ``"draft"``: the draft :class:`~blackwell_model.workload.Transformer`
        (or its catalog name); refused for the other methods.
    draft_tp
        For ``"draft"``: tensor-parallel size of the draft model (default:
        the target's ``tp``); it runs on GPUs of the replica.
    step_overhead
        Fixed extra time per speculative step [s] (host-side n-gram
        matching, acceptance bookkeeping outside the GPU graph); default
        0 s.  The GPU work of acceptance (sampling over the :math:`k + 1`
        verified positions) is priced by the solver.

    Raises
    ------
    SpecError
        A method not in :data:`SPECULATION_METHODS`, ``draft_tokens < 1``,
        neither or both acceptances, one out of range, or a ``draft_model``
        missing for ``"draft"`` / given for another method.

    Examples
    --------
    >>> spec = Speculation(method="mtp", draft_tokens=3, acceptance_rate=0.7)
    >>> round(spec.tokens_per_step, 3)
    2.533
    >>> Speculation(method="eagle", draft_tokens=3, acceptance_length=2.8).verify_tokens
    4
    """

    method: str = attrs.field(converter=_method)
    draft_tokens: int = int_field(minimum=1, maximum=64, doc="drafted tokens per step")
    acceptance_rate: float | None = attrs.field(default=None, converter=_rate)
    acceptance_length: float | None = attrs.field(default=None, converter=_length)
    draft_model: Any = attrs.field(default=None, converter=_draft_model)
    draft_tp: int | None = attrs.field(default=None)
    step_overhead: pint.Quantity = q_field("s", allow_zero=True, default="0 s")

    def __attrs_post_init__(self) -> None:
        k = self.draft_tokens
        a, tau = self.acceptance_rate, self.acceptance_length
        if (a is None) == (tau is None):
            raise SpecError(
                "give one of acceptance_rate (per drafted token, in [0, 1)) or "
                f"acceptance_length (mean tokens per step, in [1, {k + 1}]), got "
                f"acceptance_rate={a!r}, acceptance_length={tau!r}"
            )
        if a is not None and not 0.0 <= a < 1.0:
            raise SpecError(f"acceptance_rate must be in [0, 1), got {a!r}")
        if tau is not None and not 1.0 <= tau <= k + 1.0:
            raise SpecError(
                f"acceptance_length must be in [1, draft_tokens + 1] = [1, {k + 1}] tokens, "
                f"got {tau!r}"
            )
        if self.method == "draft" and self.draft_model is None:
            raise SpecError(
                "draft_model is required for method 'draft' (a catalog model name or a "
                "Transformer), got None"
            )
        if self.method != "draft" and self.draft_model is not None:
            raise SpecError(
                f"draft_model is only used by method 'draft', got draft_model="
                f"{self.draft_model.name!r} with method {self.method!r}"
            )
        if self.draft_tp is not None:
            if self.method != "draft":
                raise SpecError(
                    f"draft_tp is only used by method 'draft', got draft_tp={self.draft_tp!r} "
                    f"with method {self.method!r}"
                )
            from .._validate import check_int

            object.__setattr__(self, "draft_tp", check_int(self.draft_tp, "draft_tp"))
        t = float(self.step_overhead.m)
        if not (math.isfinite(t) and t >= 0.0):
            raise SpecError(
                f"step_overhead must be >= 0 s, got {format_quantity(self.step_overhead)}"
            )

    @property
    def verify_tokens(self) -> int:
        """Tokens per sequence the target verifies in one step, :math:`k + 1` [tokens]."""
        return self.draft_tokens + 1

    @property
    def tokens_per_step(self) -> float:
        """Mean tokens a step yields, :math:`\\tau` [tokens] (given, or from :math:`\\alpha`)."""
        if self.acceptance_length is not None:
            return float(self.acceptance_length)
        return expected_tokens_per_step(float(self.acceptance_rate or 0.0), self.draft_tokens)

    @property
    def per_token_acceptance(self) -> float:
        """Per-token acceptance rate :math:`\\alpha` (given, or implied by the length)."""
        if self.acceptance_rate is not None:
            return float(self.acceptance_rate)
        return acceptance_rate_for(float(self.acceptance_length or 1.0), self.draft_tokens)

    @property
    def step_overhead_s(self) -> float:
        """:attr:`step_overhead` as a float [s]."""
        return float(self.step_overhead.m)

    def describe(self) -> str:
        """One line for a report's assumptions: method, k, acceptance and tokens per step."""
        k = self.draft_tokens
        what = self.method + (f" ({self.draft_model.name})" if self.draft_model is not None else "")
        if self.acceptance_rate is not None:
            acc = f"acceptance rate {self.acceptance_rate:g} per token"
        else:
            acc = f"mean acceptance length {self.acceptance_length:g} (measured)"
        text = (
            f"{what}, {k} drafted token{'s' if k > 1 else ''} per step, {acc}: "
            f"{self.tokens_per_step:.3g} tokens per step of {k + 1} verified"
        )
        if self.step_overhead_s > 0:
            text += f", {format_quantity(Q_(self.step_overhead_s, _S))} per step"
        return text

    @classmethod
    def parse(cls, text: str) -> Speculation:
        """A :class:`Speculation` from ``METHOD:k=K,alpha=A`` text (the CLI's form).

        Keys: ``k`` (drafted tokens), ``alpha`` (acceptance rate) or
        ``length`` (mean acceptance length), ``draft`` (catalog draft model,
        for ``draft``), ``draft_tp``, ``overhead`` (a time, e.g. ``50us``).

        Examples
        --------
        >>> round(Speculation.parse("mtp:k=1,alpha=0.85").tokens_per_step, 6)
        1.85
        """
        form = "METHOD:k=K,alpha=A (or length=L), e.g. mtp:k=3,alpha=0.7"
        if not isinstance(text, str) or not text.strip():
            raise SpecError(f"speculation must look like {form}, got {text!r}")
        method, _, rest = text.strip().partition(":")
        keys = {
            "k": "draft_tokens",
            "alpha": "acceptance_rate",
            "length": "acceptance_length",
            "draft": "draft_model",
            "draft_tp": "draft_tp",
            "overhead": "step_overhead",
        }
        kwargs: dict[str, Any] = {"method": method}
        for item in filter(None, (p.strip() for p in rest.split(","))):
            key, eq, value = item.partition("=")
            key = key.strip().lower()
            if not eq or key not in keys or not value.strip():
                raise SpecError(
                    f"speculation must look like {form} (keys {', '.join(keys)}), got {text!r}"
                )
            kwargs[keys[key]] = value.strip()
        if "draft_tokens" not in kwargs:
            raise SpecError(f"speculation must give k (drafted tokens): {form}, got {text!r}")
        return cls(**kwargs)


def as_speculation(value: Any, name: str = "speculation") -> Speculation | None:
    """``value`` as a :class:`Speculation`: itself, its text form (:meth:`Speculation.parse`) or None.

    Raises
    ------
    SpecError
        If ``value`` is another type or malformed text.
    """
    if value is None or isinstance(value, Speculation):
        return value
    if isinstance(value, str):
        return Speculation.parse(value)
    raise SpecError(
        f"{name} must be a Speculation, text like 'mtp:k=3,alpha=0.7' or None, got "
        f"{type(value).__name__} {value!r}"
    )
