"""What-if helpers that swap one part everywhere it appears in a composite."""

from __future__ import annotations

from typing import TypeVar

import attrs

from ..errors import SpecError
from .chip import Accelerator
from .system import Cluster, Node, ScaleUpDomain, Superchip

__all__ = ["with_accelerator"]

P = TypeVar("P", Superchip, Node, ScaleUpDomain, Cluster)


def with_accelerator(part: P, accelerator: Accelerator) -> P:
    """Return ``part`` with every accelerator replaced by ``accelerator``.

    Works on a :class:`Superchip`, :class:`Node`, :class:`ScaleUpDomain` or
    :class:`Cluster`; counts, links, switches and fabrics stay as they are.
    The accelerator's own NIC does not override a NIC the node sets.

    Parameters
    ----------
    part
        The composite part.
    accelerator
        The new accelerator, e.g. ``attrs.evolve(b200, memory_bandwidth="16 TB/s")``.

    Examples
    --------
    >>> import attrs, blackwell_model as bm
    >>> rack = bm.catalog.system("GB200-NVL72")
    >>> fast = attrs.evolve(rack.accelerator, memory_bandwidth="16 TB/s")
    >>> print(with_accelerator(rack, fast).accelerator.memory_bandwidth.to("TB/s"))
    16.0 TB/s
    """
    if not isinstance(accelerator, Accelerator):
        raise SpecError(f"accelerator must be an Accelerator, got {type(accelerator).__name__}")
    if isinstance(part, Superchip):
        return attrs.evolve(part, accelerator=accelerator)  # type: ignore[return-value]
    if isinstance(part, Node):
        if part.superchip is not None:
            return attrs.evolve(  # type: ignore[return-value]
                part,
                superchip=with_accelerator(part.superchip, accelerator),
                accelerator=accelerator,
            )
        return attrs.evolve(part, accelerator=accelerator)  # type: ignore[return-value]
    if isinstance(part, ScaleUpDomain):
        return attrs.evolve(part, node=with_accelerator(part.node, accelerator))  # type: ignore[return-value]
    if isinstance(part, Cluster):
        return attrs.evolve(part, domain=with_accelerator(part.domain, accelerator))  # type: ignore[return-value]
    raise SpecError(
        "part must be a Superchip, Node, ScaleUpDomain or Cluster, "
        f"got {type(part).__name__} {part!r}"
    )
