"""What-if helpers: swap or change the accelerator everywhere it appears in a composite
(:func:`with_accelerator`), or its links, switches and fabric (:func:`with_links`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import attrs
import pint

from .._spec import as_part
from .._validate import check_int
from ..errors import SpecError
from ..units import format_quantity
from .chip import Accelerator
from .link import LinkSpec, SwitchSpec
from .system import Cluster, Fabric, Node, ScaleUpDomain, Superchip

__all__ = ["with_accelerator", "with_links"]

# Accelerator fields that a composite copies into its own fields when it is built:
# changing them on the accelerator inside the composite would change nothing.
# field -> (the composite that holds its own copy, the with_links argument)
_SHADOWED = {
    "scale_up_link": ("scale-up domain", "scale_up_link"),
    "scale_up_ports": ("scale-up domain", "links_per_accelerator"),
    "nic": ("node", "nic"),
}

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
    :class:`Cluster`; counts, links, switches and fabrics stay as they are
    (change those with :func:`with_links`).

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
        If ``part`` is not a composite or ``accelerator`` not an Accelerator, or
        a change would have no effect: ``scale_up_link``, ``scale_up_ports`` and
        ``nic`` of an accelerator inside a node or domain are copied into the
        node's ``nic`` and the domain's ``link`` when those are built; change
        them with :func:`with_links`.

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
    for field in changes:
        holder, argument = _SHADOWED.get(field, ("", ""))
        has_holder = (holder == "node" and not isinstance(part, Superchip)) or (
            holder == "scale-up domain" and isinstance(part, ScaleUpDomain | Cluster)
        )
        if has_holder:
            raise SpecError(
                f"{field}= would change nothing: the {holder} of {part.name!r} keeps its own "
                f"copy; use with_links(part, {argument}=...) instead"
            )
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


def _link(value: Any, name: str) -> LinkSpec:
    return as_part(value, LinkSpec, "link", name)


def _switch(value: Any, name: str) -> SwitchSpec:
    return as_part(value, SwitchSpec, "switch", name)


def _count(value: Any, name: str) -> int:
    return check_int(value, name, text=False)


def _label(value: Any) -> str:
    if isinstance(value, pint.Quantity):
        return format_quantity(value)
    return str(getattr(value, "name", value))


def with_links(
    part: P,
    *,
    scale_up_link: Any = None,
    links_per_accelerator: int | None = None,
    scale_up_switch: Any = None,
    scale_up_switches: int | None = None,
    nic: Any = None,
    nics_per_accelerator: int | None = None,
    host_link: Any = None,
    c2c_link: Any = None,
    fabric: Any = None,
    name: str | None = None,
) -> P:
    """Return ``part`` with its links, switches or scale-out fabric changed, in one call.

    Each argument changes the part of the composite that holds it, wherever it
    is: the scale-up domain (``scale_up_link``, ``links_per_accelerator``,
    ``scale_up_switch``, ``scale_up_switches``), the node (``nic``,
    ``nics_per_accelerator``, ``host_link``), the superchip (``c2c_link``) or
    the cluster (``fabric``).  Links and switches may be parts or catalog
    names.  Arguments left None keep the part's own.

    Parameters
    ----------
    part
        A :class:`Superchip`, :class:`Node`, :class:`ScaleUpDomain` or
        :class:`Cluster`.
    scale_up_link, links_per_accelerator
        Scale-up port of each accelerator and ports per accelerator.
    scale_up_switch, scale_up_switches
        Scale-up switch chip and count (a switched domain).
    nic, nics_per_accelerator
        Scale-out port of each accelerator and ports per accelerator.
    host_link
        Accelerator-to-host link of a node without a superchip (PCIe).
    c2c_link
        CPU-accelerator link of a superchip (NVLink-C2C).
    fabric
        A :class:`Fabric` (or catalog name) for the cluster, or a dict of
        changes to its fabric, e.g. ``{"sharp": False, "tiers": 3}``.
    name
        Name of the result; defaults to the old name with the changes in
        brackets.

    Raises
    ------
    SpecError
        If no change is given, or an argument would have no effect on this
        part (``fabric=`` on a rack, ``c2c_link=`` on a node without a
        superchip, ``host_link=`` on a superchip node, a fabric dict on a
        cluster without a fabric); or the changed part is invalid (too few
        switch ports for the links...).

    Examples
    --------
    >>> import blackwell_model as bm
    >>> dgx = bm.catalog.cluster("DGX-H100", gpus=16)
    >>> faster = with_links(dgx, scale_up_link="NVLink5", nic="IB-XDR-800G")
    >>> print(faster.domain.scale_up_bandwidth.to("GB/s"), "|", faster.name)
    900.0 GB/s | DGX-H100 x 2 [scale_up_link=NVLink5, nic=IB-XDR-800G]
    >>> with_links(bm.catalog.system("DGX-H100"), fabric={"sharp": False})
    Traceback (most recent call last):
    ...
    blackwell_model.errors.SpecError: fabric= has no effect on a ScaleUpDomain ('DGX-H100'): it has no scale-out fabric (only a Cluster has one)
    """
    if not isinstance(part, Superchip | Node | ScaleUpDomain | Cluster):
        raise SpecError(
            "part must be a Superchip, Node, ScaleUpDomain or Cluster, "
            f"got {type(part).__name__} {part!r}"
        )
    given = {
        k: v
        for k, v in {
            "scale_up_link": scale_up_link,
            "links_per_accelerator": links_per_accelerator,
            "scale_up_switch": scale_up_switch,
            "scale_up_switches": scale_up_switches,
            "nic": nic,
            "nics_per_accelerator": nics_per_accelerator,
            "host_link": host_link,
            "c2c_link": c2c_link,
            "fabric": fabric,
        }.items()
        if v is not None
    }
    if not given:
        raise SpecError("with_links needs at least one change (scale_up_link=, nic=, fabric=...)")
    cluster = part if isinstance(part, Cluster) else None
    domain: ScaleUpDomain | None = (
        cluster.domain if cluster is not None else part if isinstance(part, ScaleUpDomain) else None
    )
    node: Node | None = (
        domain.node if domain is not None else (part if isinstance(part, Node) else None)
    )
    superchip: Superchip | None = (
        node.superchip if node is not None else (part if isinstance(part, Superchip) else None)
    )
    holders: dict[str, tuple[Any, str]] = {
        "scale_up_link": (domain, "scale-up domain (a ScaleUpDomain or Cluster has one)"),
        "links_per_accelerator": (domain, "scale-up domain (a ScaleUpDomain or Cluster has one)"),
        "scale_up_switch": (domain, "scale-up domain (a ScaleUpDomain or Cluster has one)"),
        "scale_up_switches": (domain, "scale-up domain (a ScaleUpDomain or Cluster has one)"),
        "nic": (node, "node (a Node, ScaleUpDomain or Cluster has one)"),
        "nics_per_accelerator": (node, "node (a Node, ScaleUpDomain or Cluster has one)"),
        "host_link": (node, "node (a Node, ScaleUpDomain or Cluster has one)"),
        "c2c_link": (superchip, "superchip"),
        "fabric": (cluster, "scale-out fabric (only a Cluster has one)"),
    }
    where = f"a {type(part).__name__} ({part.name!r})"
    for key in given:
        holder, what = holders[key]
        if holder is None:
            raise SpecError(f"{key}= has no effect on {where}: it has no {what}")
    if "host_link" in given and node is not None and node.superchip is not None:
        raise SpecError(
            f"host_link= has no effect on {where}: its accelerators reach the host through "
            "the superchip; change c2c_link= instead"
        )
    new_fabric: Fabric | None = None
    if "fabric" in given and cluster is not None:
        if isinstance(fabric, dict):
            if cluster.fabric is None:
                raise SpecError(
                    f"fabric= changes have no effect on {where}: it has no scale-out fabric; "
                    "give a Fabric instead"
                )
            new_fabric = attrs.evolve(cluster.fabric, **fabric)
        else:
            new_fabric = as_part(fabric, Fabric, "fabric", "fabric")

    # argument -> (the composite that holds it, its field there, how the value is read)
    targets: dict[str, tuple[str, str, Callable[[Any, str], Any]]] = {
        "c2c_link": ("superchip", "c2c_link", _link),
        "nic": ("node", "nic", _link),
        "nics_per_accelerator": ("node", "nics_per_accelerator", _count),
        "host_link": ("node", "host_link", _link),
        "scale_up_link": ("domain", "link", _link),
        "links_per_accelerator": ("domain", "links_per_accelerator", _count),
        "scale_up_switch": ("domain", "switch", _switch),
        "scale_up_switches": ("domain", "switches", _count),
    }
    changes: dict[str, dict[str, Any]] = {"superchip": {}, "node": {}, "domain": {}}
    for key, value in given.items():
        if key in targets:
            level, field, read = targets[key]
            changes[level][field] = read(value, key)
    sc = superchip
    if sc is not None and changes["superchip"]:
        sc = attrs.evolve(sc, **changes["superchip"])
    nd = node
    if nd is not None:
        if sc is not superchip and nd.superchip is not None:
            changes["node"]["superchip"] = sc
        nd = attrs.evolve(nd, **changes["node"]) if changes["node"] else nd
    dm = domain
    if dm is not None:
        if nd is not node:
            changes["domain"]["node"] = nd
        dm = attrs.evolve(dm, **changes["domain"]) if changes["domain"] else dm
    if cluster is not None:
        top: dict[str, Any] = {"domain": dm} if dm is not domain else {}
        if new_fabric is not None:
            top["fabric"] = new_fabric
        out: Any = attrs.evolve(cluster, **top)
    else:
        out = dm if domain is not None else nd if node is not None else sc
    if name is None:
        what = ", ".join(
            f"{k}={_label(v)}" if not isinstance(v, dict) else f"fabric {_label(v)}"
            for k, v in given.items()
        )
        name = f"{part.name} [{what}]"
    return attrs.evolve(out, name=name)  # type: ignore[no-any-return]
