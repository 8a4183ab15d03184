"""Parallel layouts for inference: how a served model is split over GPUs.

An :class:`InferenceLayout` is the serving counterpart of the training
:class:`~blackwell_model.parallel.Layout`: tensor (``tp``), pipeline (``pp``),
expert (``ep``) and data (``dp``) parallel degrees.  The deployment uses
``tp * pp * dp`` GPUs; expert parallelism is carved out of ``tp * dp`` and does
not multiply the GPU count.

Two deployments are expressed with the same four numbers:

* **Replicas** (``ep = 1``): ``dp`` independent copies of a model that is
  tensor-split ``tp`` ways and pipeline-split ``pp`` ways.  Experts of an MoE
  model are tensor-split like the dense MLPs (expert tensor parallelism
  ``etp = tp``).
* **Attention data parallel + expert parallel** (``ep > 1``), the deployment
  used for large MoE models (DeepSeek-V3, Qwen3-MoE, Llama 4 on vLLM, SGLang,
  TensorRT-LLM): every group of ``tp`` GPUs runs attention and the dense
  layers for its own requests, and the routed experts of a pipeline stage are
  spread, whole, over ``ep`` GPUs (``etp = 1``), i.e. over ``ep / tp`` such
  groups.  ``ep`` must be a multiple of ``tp`` and divide ``tp * dp``.  With
  ``tp = 1, dp = ep`` this is pure attention-DP + EP; with ``dp = 1, ep = tp``
  it is tensor-parallel attention with experts spread over the TP group.

Ranks are placed innermost first: ``tp``, then the ``ep / tp`` attention
groups of one expert-parallel group, then ``pp``, then the remaining replicas,
so that the groups that talk every layer (TP, EP) are as close as possible.
"""

from __future__ import annotations

import math
from typing import Any

import attrs

from .._spec import Spec, int_field
from ..errors import InfeasibleLayoutError

__all__ = ["InferenceLayout"]


@attrs.frozen(kw_only=True, repr=False)
class InferenceLayout(Spec):
    """How a model is served: tensor, pipeline, expert and data parallel degrees.

    Parameters
    ----------
    tp
        Tensor-parallel degree (attention heads and MLP width split ``tp``
        ways; innermost, inside the scale-up domain).
    pp
        Pipeline stages (contiguous blocks of ``ceil(layers / pp)`` layers).
    ep
        Expert-parallel degree of the MoE layers.  1: experts are
        tensor-split over ``tp`` like the dense MLPs.  > 1: whole experts are
        spread over ``ep`` GPUs (a multiple of ``tp`` dividing ``tp * dp``);
        attention stays data-parallel over the ``ep / tp`` groups of ``tp``
        GPUs that share the experts.
    dp
        Data-parallel replicas of the attention (and, with ``ep = 1``, of the
        whole model).  Each replica serves its own requests.

    Examples
    --------
    >>> InferenceLayout(tp=8).gpus
    8
    >>> lay = InferenceLayout(tp=1, dp=8, ep=8)   # attention-DP + EP, e.g. DeepSeek-V3
    >>> lay.gpus, lay.etp, lay.attention_groups_per_ep
    (8, 1, 8)
    """

    tp: int = int_field(minimum=1, default=1, doc="tensor-parallel degree")
    pp: int = int_field(minimum=1, default=1, doc="pipeline stages")
    ep: int = int_field(minimum=1, default=1, doc="expert-parallel degree")
    dp: int = int_field(minimum=1, default=1, doc="data-parallel replicas")

    @property
    def gpus(self) -> int:
        """GPUs the deployment occupies: ``tp * pp * dp``."""
        return self.tp * self.pp * self.dp

    @property
    def etp(self) -> int:
        """Expert tensor-parallel degree: ``tp`` when ``ep = 1``, else 1 (whole experts)."""
        return self.tp if self.ep == 1 else 1

    @property
    def attention_groups_per_ep(self) -> int:
        """Attention groups of ``tp`` GPUs that share one expert-parallel group (``ep / tp``)."""
        return max(1, self.ep // self.tp)

    @property
    def replica_gpus(self) -> int:
        """GPUs of one attention replica (one request batch): ``tp * pp``."""
        return self.tp * self.pp

    def stage_layers(self, layers: int) -> int:
        """Layers on the busiest pipeline stage: ``ceil(layers / pp)``."""
        return math.ceil(layers / self.pp)

    def check(self, model: Any, gpus: int | None = None) -> None:
        """Raise :class:`~blackwell_model.errors.InfeasibleLayoutError` if the layout cannot run.

        Parameters
        ----------
        model
            A :class:`~blackwell_model.workload.Transformer`.
        gpus
            GPUs available; the layout may not need more.
        """
        for rule, message in self.violations(model, gpus):
            raise InfeasibleLayoutError(rule, message)

    def violations(self, model: Any, gpus: int | None = None) -> list[tuple[str, str]]:
        """Every rule the layout breaks, as ``(rule, message)`` pairs (empty if none)."""
        out: list[tuple[str, str]] = []
        if gpus is not None and self.gpus > gpus:
            out.append(
                (
                    "gpus",
                    f"layout needs tp*pp*dp = {self.tp}*{self.pp}*{self.dp} = {self.gpus} "
                    f"GPUs but the cluster has {gpus}",
                )
            )
        heads = int(model.heads)
        kv_heads = int(model.n_kv_heads)
        if heads % self.tp:
            out.append(
                (
                    "tp_divides_heads",
                    f"tp = {self.tp} must divide the {heads} attention heads of {model.name}",
                )
            )
        elif kv_heads % self.tp and self.tp % kv_heads:
            out.append(
                (
                    "tp_kv_heads",
                    f"tp = {self.tp} and the {kv_heads} key/value heads of {model.name} "
                    "must divide one another",
                )
            )
        if model.n_dense_layers and model.ffn_hidden % self.tp:
            out.append(
                (
                    "tp_divides_ffn",
                    f"tp = {self.tp} must divide ffn_hidden = {model.ffn_hidden} of {model.name}",
                )
            )
        if self.pp > model.layers:
            out.append(
                (
                    "pp_layers",
                    f"pp = {self.pp} pipeline stages exceed the {model.layers} layers of "
                    f"{model.name}",
                )
            )
        experts = int(model.experts)
        if self.ep > 1:
            if experts == 0:
                out.append(("ep_needs_moe", f"ep = {self.ep} > 1 but {model.name} is dense"))
            elif experts % self.ep:
                out.append(
                    (
                        "ep_divides_experts",
                        f"ep = {self.ep} must divide the {experts} experts of {model.name}",
                    )
                )
            if self.ep % self.tp or (self.tp * self.dp) % self.ep:
                out.append(
                    (
                        "ep_tp_dp",
                        f"ep = {self.ep} must be a multiple of tp = {self.tp} and divide "
                        f"tp*dp = {self.tp * self.dp} (experts are spread over the attention "
                        "groups of one pipeline stage)",
                    )
                )
        elif experts and model.expert_ffn_hidden % self.tp:
            out.append(
                (
                    "etp_divides_expert_ffn",
                    f"tp = {self.tp} must divide expert_ffn_hidden = {model.expert_ffn_hidden} "
                    f"of {model.name} (experts are tensor-split when ep = 1)",
                )
            )
        if (
            experts
            and model.shared_experts
            and (model.shared_experts * model.expert_ffn_hidden) % self.tp
        ):
            out.append(
                (
                    "tp_divides_shared_experts",
                    f"tp = {self.tp} must divide the shared-expert width "
                    f"{model.shared_experts * model.expert_ffn_hidden} of {model.name}",
                )
            )
        return out
