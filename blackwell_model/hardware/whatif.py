"""What-if helpers that swap one part everywhere it appears in a composite."""

from __future__ import annotations

from typing import Any, TypeVar

import attrs
import pint

from ..errors import SpecError
from ..units import format_quantity
from .chip import Accelerator
from .system import Cluster, Node, ScaleUpDomain, Superchip

__all__ = ["with_accelerator"]

P = TypeVar("P", Superchip, Node, ScaleUpDomain, Cluster)


def _swap(part: Any, acc: Accelerator) -> Any:
    if isinstance(part, Superchip):
        return attrs.evolve(part, accelerator=acc)
    if isinstance(part, Node):
        if part.superchip is not None:
            return attrs.evolve(part, superchip=_swap(part.superchip, acc), accelerator=acc)
        return attrs.evolve(part, accelerator=acc)
    if isinstance(part, ScaleUpDomain):
        return attrs.evolve(part, node=_swap(part.node, acc))
    return attrs.evolve(part, domain=_swap(part.domain, acc))


def with_accelerator(
    part: P, accelerator: Accelerator | None = None, *, name: str | None = None, **changes: Any
) -> P:
    """Return ``part`` with every accelerator replaced, or changed by ``changes``.

    Works on a :class:`Superchip`, :class:`Node`, :class:`ScaleUpDomain` or
    :class:`Cluster`; counts, links, switches and fabrics stay as they are.

    Parameters
    ----------
    part
        The composite part.
    accelerator
        The new :class:`Accelerator`; defaults to the part's own.
    name
        Name of the result; defaults to the old name with the changes in
        brackets (``"DGX-H100 x 2 [memory_bandwidth=10 TB/s]"``).
    **changes
        Accelerator fields to evolve, e.g. ``memory_bandwidth="10 TB/s"``.

    Raises
    ------
    SpecError
        If ``part`` is not a composite or ``accelerator`` not an Accelerator.

    Examples
    --------
    >>> import blackwell_model as bm
    >>> rack = bm.catalog.system("GB200-NVL72")
    >>> fast = with_accelerator(rack, memory_bandwidth="16 TB/s")
    >>> print(fast.accelerator.memory_bandwidth.to("TB/s"), "|", fast.name)
    16.0 TB/s | GB200-NVL72 [memory_bandwidth=16 TB/s]
    """
    if not isinstance(part, Superchip | Node | ScaleUpDomain | Cluster):
        raise SpecError(
            "part must be a Superchip, Node, ScaleUpDomain or Cluster, "
            f"got {type(part).__name__} {part!r}"
        )
    current = part.accelerator
    acc = current if accelerator is None else accelerator
    if not isinstance(acc, Accelerator):
        raise SpecError(f"accelerator must be an Accelerator, got {type(acc).__name__} {acc!r}")
    if changes:
        acc = attrs.evolve(acc, **changes)
    out = _swap(part, acc)
    if name is None:
        what = [acc.name] if accelerator is not None else []
        what += [
            f"{k}={format_quantity(v) if isinstance(v, pint.Quantity) else v}"
            for k, v in changes.items()
        ]
        name = f"{part.name} [{', '.join(what)}]" if what else part.name
    return attrs.evolve(out, name=name)  # type: ignore[no-any-return]
