"""The catalog of real parts and models, each number with its source.

Entries live in TOML files shipped in ``blackwell_model/catalog/data``; users
add their own the same way with :func:`load_toml` or :func:`register`.  Names
are case-insensitive, and a wrong name raises
:class:`~blackwell_model.errors.UnknownNameError` listing the close matches.

A TOML file holds one table per entry, keyed by kind and name::

    [accelerator."My-GPU"]
    vendor = "Acme"
    memory_capacity = "96 GB"
    memory_bandwidth = "4 TB/s"
    tdp = "800 W"
    scale_up_link = "NVLink4"          # another entry, by name
    scale_up_ports = 18
    peak_flops = { bf16 = "1200 TFLOP/s", fp8 = "2400 TFLOP/s" }
    sources = { peak_flops = "Acme datasheet rev 2, table 1 (dense)" }

Kinds: ``link``, ``switch``, ``cpu``, ``accelerator``, ``superchip``,
``node``, ``system`` (a scale-up domain), ``fabric`` and ``model``.  Besides
the part's own fields an entry may carry ``aliases`` (other names) and, for a
system, ``default_fabric`` (the fabric :func:`cluster` uses).

Examples
--------
>>> import blackwell_model as bm
>>> bm.catalog.system("GB200-NVL72").gpus
72
>>> bm.catalog.cluster("GB200-NVL72", gpus=4096).domains
57
"""

from __future__ import annotations

import contextvars
import math
import tomllib
from collections.abc import Callable, Iterable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import attrs

from .._spec import set_catalog_lookup
from ..errors import SpecError, SpecFileError, UnitMismatchError, UnknownNameError
from ..hardware import (
    CPU,
    Accelerator,
    Cluster,
    Fabric,
    LinkSpec,
    Node,
    ScaleUpDomain,
    Superchip,
    SwitchSpec,
)

__all__ = [
    "KINDS",
    "accelerator",
    "cluster",
    "cpu",
    "entry_metadata",
    "fabric",
    "get",
    "link",
    "load_toml",
    "model",
    "names",
    "node",
    "register",
    "superchip",
    "switch",
    "system",
]


def _model_cls() -> type:
    from ..workload import Transformer

    return Transformer


#: Catalog kinds and the class each one builds (model classes load lazily).
KINDS: dict[str, Callable[[], type]] = {
    "link": lambda: LinkSpec,
    "switch": lambda: SwitchSpec,
    "cpu": lambda: CPU,
    "accelerator": lambda: Accelerator,
    "superchip": lambda: Superchip,
    "node": lambda: Node,
    "system": lambda: ScaleUpDomain,
    "fabric": lambda: Fabric,
    "model": _model_cls,
}

# Keys an entry may carry that are catalog metadata, not fields of the part.
_META_KEYS = ("aliases", "default_fabric")


@attrs.define
class _Entry:
    kind: str
    name: str
    raw: dict[str, Any] | None
    origin: str
    meta: dict[str, Any]
    part: Any = None


class _Registry:
    def __init__(self) -> None:
        self.entries: dict[str, dict[str, _Entry]] = {k: {} for k in KINDS}
        self.aliases: dict[str, dict[str, str]] = {k: {} for k in KINDS}
        self.alias_display: dict[str, dict[str, str]] = {k: {} for k in KINDS}
        self.loaded = False
        self._building: set[tuple[str, str]] = set()

    def ensure_loaded(self) -> None:
        if self.loaded:
            return
        self.loaded = True
        data_dir = resources.files(__package__) / "data"
        for item in sorted(data_dir.iterdir(), key=lambda p: p.name):
            if item.name.endswith(".toml"):
                self.add_document(_parse_toml_text(item.read_text("utf-8"), item.name), item.name)

    def add_document(self, doc: Mapping[str, Any], origin: str) -> list[_Entry]:
        added = []
        for kind, table in doc.items():
            if kind not in KINDS:
                raise SpecFileError(
                    f"{origin}: unknown kind [{kind}]; valid kinds: {', '.join(KINDS)}"
                )
            if not isinstance(table, Mapping):
                raise SpecFileError(f"{origin}: [{kind}] must hold one table per entry")
            for name, given in table.items():
                if not isinstance(given, Mapping):
                    raise SpecFileError(f"{origin}: [{kind}.{name!r}] must be a table of fields")
                raw = dict(given)
                meta = {k: raw.pop(k) for k in _META_KEYS if k in raw}
                if "name" in raw and raw["name"] != name:
                    raise SpecFileError(
                        f"{origin}: [{kind}.{name!r}] has name = {raw['name']!r}; "
                        "leave it out or make it equal to the table key"
                    )
                raw["name"] = name
                added.append(self.add(kind, name, raw, origin, meta))
        return added

    def add(
        self, kind: str, name: str, raw: dict[str, Any] | None, origin: str, meta: dict[str, Any]
    ) -> _Entry:
        entry = _Entry(kind, name, raw, origin, meta)
        self.entries[kind][name.lower()] = entry
        for alias in meta.get("aliases", ()):
            self.aliases[kind][str(alias).lower()] = name.lower()
            self.alias_display[kind][str(alias).lower()] = str(alias)
        return entry

    def find(self, kind: str, name: str) -> _Entry:
        if kind not in KINDS:
            raise UnknownNameError("catalog kind", kind, list(KINDS))
        self.ensure_loaded()
        key = str(name).strip().lower()
        key = self.aliases[kind].get(key, key)
        try:
            return self.entries[kind][key]
        except KeyError:
            candidates = [e.name for e in self.entries[kind].values()]
            candidates += list(self.alias_display[kind].values())
            raise UnknownNameError(kind, name, candidates) from None

    def build(self, entry: _Entry) -> Any:
        if entry.part is not None:
            return entry.part
        token = (entry.kind, entry.name)
        if token in self._building:
            raise SpecFileError(f"{entry.origin}: {entry.kind} {entry.name!r} refers to itself")
        self._building.add(token)
        try:
            cls: Any = KINDS[entry.kind]()
            try:
                entry.part = cls.from_dict(entry.raw)
            except (SpecError, UnitMismatchError) as exc:
                raise type(exc)(f"{entry.origin}: {exc}") from None
        finally:
            self._building.discard(token)
        return entry.part


_REGISTRY = _Registry()
# The registry that name lookups go through; load_toml points it at a scratch copy
# while it builds a file's entries, so they can refer to each other by name.
_ACTIVE: contextvars.ContextVar[_Registry] = contextvars.ContextVar("bm_catalog", default=_REGISTRY)


def _parse_toml_text(text: str, origin: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecFileError(f"{origin}: not valid TOML: {exc}") from None


def get(kind: str, name: str) -> Any:
    """Return the catalog entry ``name`` of ``kind`` (case-insensitive, aliases allowed).

    Parameters
    ----------
    kind
        One of :data:`KINDS`.
    name
        Entry name or alias.

    Raises
    ------
    UnknownNameError
        If there is no such entry; the message lists the closest names.
    """
    reg = _ACTIVE.get()
    return reg.build(reg.find(kind, name))


set_catalog_lookup(get)


def entry_metadata(kind: str, name: str) -> dict[str, Any]:
    """Catalog metadata of an entry: ``origin`` (file), ``aliases``, ``default_fabric``."""
    entry = _REGISTRY.find(kind, name)
    return {"origin": entry.origin, **entry.meta}


def accelerator(name: str) -> Accelerator:
    """An :class:`~blackwell_model.hardware.Accelerator` from the catalog, e.g. ``"B200"``."""
    return get("accelerator", name)  # type: ignore[no-any-return]


def cpu(name: str) -> CPU:
    """A :class:`~blackwell_model.hardware.CPU` from the catalog, e.g. ``"Grace"``."""
    return get("cpu", name)  # type: ignore[no-any-return]


def link(name: str) -> LinkSpec:
    """A :class:`~blackwell_model.hardware.LinkSpec` from the catalog, e.g. ``"NVLink5"``."""
    return get("link", name)  # type: ignore[no-any-return]


def switch(name: str) -> SwitchSpec:
    """A :class:`~blackwell_model.hardware.SwitchSpec` from the catalog, e.g. ``"QM9700"``."""
    return get("switch", name)  # type: ignore[no-any-return]


def superchip(name: str) -> Superchip:
    """A :class:`~blackwell_model.hardware.Superchip` from the catalog, e.g. ``"GB200"``."""
    return get("superchip", name)  # type: ignore[no-any-return]


def node(name: str) -> Node:
    """A :class:`~blackwell_model.hardware.Node` from the catalog, e.g. ``"GB200-tray"``."""
    return get("node", name)  # type: ignore[no-any-return]


def system(name: str) -> ScaleUpDomain:
    """A scale-up :class:`~blackwell_model.hardware.ScaleUpDomain`, e.g. ``"GB200-NVL72"``."""
    return get("system", name)  # type: ignore[no-any-return]


def fabric(name: str) -> Fabric:
    """A scale-out :class:`~blackwell_model.hardware.Fabric` template from the catalog."""
    return get("fabric", name)  # type: ignore[no-any-return]


def model(name: str) -> Any:
    """A :class:`~blackwell_model.workload.Transformer` from the catalog, e.g. ``"llama3-405b"``."""
    return get("model", name)


def names(kind: str | None = None) -> dict[str, list[str]] | list[str]:
    """Names in the catalog.

    Parameters
    ----------
    kind
        One kind (see :data:`KINDS`) to get a sorted list of its names, or None
        for a dict of every kind.
    """
    _REGISTRY.ensure_loaded()
    if kind is not None:
        if kind not in KINDS:
            raise UnknownNameError("catalog kind", kind, list(KINDS))
        return sorted((e.name for e in _REGISTRY.entries[kind].values()), key=str.lower)
    return {
        k: sorted((e.name for e in v.values()), key=str.lower) for k, v in _REGISTRY.entries.items()
    }


def register(
    part: Any, *, kind: str | None = None, aliases: Iterable[str] = (), replace: bool = False
) -> Any:
    """Add a part object (or model) to the catalog under its ``name``.

    Parameters
    ----------
    part
        Any catalog class instance with a ``name``.
    kind
        Catalog kind; taken from the class when left out.
    aliases
        Other names for the entry.
    replace
        Allow replacing an existing entry of the same name.

    Raises
    ------
    SpecError
        If the name exists and ``replace`` is False.
    """
    _REGISTRY.ensure_loaded()
    kind = kind or getattr(type(part), "catalog_kind", "")
    if kind not in KINDS:
        raise UnknownNameError("catalog kind", str(kind), list(KINDS))
    name = part.name
    if name.lower() in _REGISTRY.entries[kind] and not replace:
        raise SpecError(f"{kind} {name!r} is already in the catalog; pass replace=True to override")
    entry = _REGISTRY.add(kind, name, None, "register()", {"aliases": list(aliases)})
    entry.part = part
    return part


def load_toml(path: str | Path, *, register: bool = True) -> dict[str, dict[str, Any]]:
    """Load the parts described in a TOML file.

    Parameters
    ----------
    path
        File in the catalog format (see the module docstring).
    register
        Also add the entries to the catalog, so that other entries and
        :func:`get` find them by name.  Entries of the same name are replaced.

    Returns
    -------
    dict
        ``{kind: {name: part}}`` for every entry in the file.

    Raises
    ------
    SpecFileError
        If the file is not valid TOML, or an entry has unknown or missing fields.
    SpecError, UnitMismatchError
        If a value is out of range or has the wrong unit; the message names
        the file, the entry and the field.
    """
    p = Path(path)
    try:
        text = p.read_text("utf-8")
    except OSError as exc:
        raise SpecFileError(f"cannot read {p}: {exc.strerror}") from None
    doc = _parse_toml_text(text, str(p))
    _REGISTRY.ensure_loaded()
    # Build every entry on a copy of the registry first: a file with one bad entry
    # adds nothing to the catalog.
    scratch = _Registry()
    scratch.loaded = True
    scratch.entries = {k: dict(v) for k, v in _REGISTRY.entries.items()}
    scratch.aliases = {k: dict(v) for k, v in _REGISTRY.aliases.items()}
    scratch.alias_display = {k: dict(v) for k, v in _REGISTRY.alias_display.items()}
    entries = scratch.add_document(doc, str(p))
    out: dict[str, dict[str, Any]] = {}
    token = _ACTIVE.set(scratch)
    try:
        for e in entries:
            out.setdefault(e.kind, {})[e.name] = scratch.build(e)
    finally:
        _ACTIVE.reset(token)
    if register:
        _REGISTRY.entries, _REGISTRY.aliases = scratch.entries, scratch.aliases
        _REGISTRY.alias_display = scratch.alias_display
    return out


def _smallest_tiers(fab: Fabric, nics: int) -> int:
    for tiers in (1, 2, 3):
        if attrs.evolve(fab, tiers=tiers).max_endpoints >= nics:
            return tiers
    return 3


def cluster(
    system: str | ScaleUpDomain,
    *,
    gpus: int,
    fabric: str | Fabric | None = None,
    tiers: int | None = None,
    oversubscription: float | None = None,
    rail_optimized: bool | None = None,
    nic: str | LinkSpec | None = None,
    name: str | None = None,
) -> Cluster:
    """Build a cluster of ``system`` domains with enough of them for ``gpus`` accelerators.

    The default fabric is the system's ``default_fabric`` catalog entry: one
    NIC per accelerator at the system's NIC speed into a non-blocking fat-tree
    of the matching InfiniBand switch, with the fewest tiers that connect every
    NIC.  Every default can be overridden.

    Parameters
    ----------
    system
        Scale-up domain or its catalog name (``"DGX-H100"``, ``"GB200-NVL72"``).
    gpus
        Accelerators wanted; rounded up to whole domains.
    fabric
        Fabric or its catalog name; defaults to the system's.
    tiers, oversubscription, rail_optimized
        Override these fabric settings (``tiers`` defaults to the fewest that fit).
    nic
        Override the NIC of every accelerator (a link or its catalog name).
    name
        Cluster name; defaults to ``"<system> x <domains>"``.

    Raises
    ------
    SpecError
        If ``gpus`` is not a positive integer, or the fabric cannot connect them.
    """
    dom = get("system", system) if isinstance(system, str) else system
    if isinstance(gpus, bool) or not isinstance(gpus, int) or gpus < 1:
        raise SpecError(f"gpus must be an integer >= 1, got {gpus!r}")
    if nic is not None:
        dom = attrs.evolve(dom, node=attrs.evolve(dom.node, nic=nic))
    domains = math.ceil(gpus / dom.gpus)
    if fabric is None:
        meta_name = (
            _REGISTRY.find("system", dom.name).meta.get("default_fabric")
            if _has(dom.name)
            else None
        )
        if meta_name is None and domains > 1:
            raise SpecError(f"system {dom.name!r} has no default fabric; pass fabric=")
        fab = get("fabric", meta_name) if meta_name else None
    else:
        fab = get("fabric", fabric) if isinstance(fabric, str) else fabric
    if fab is not None:
        changes: dict[str, Any] = {}
        if oversubscription is not None:
            changes["oversubscription"] = oversubscription
        if rail_optimized is not None:
            changes["rail_optimized"] = rail_optimized
        if changes:
            fab = attrs.evolve(fab, **changes)
        nics = domains * dom.gpus * dom.node.nics_per_accelerator
        fab = attrs.evolve(fab, tiers=tiers if tiers is not None else _smallest_tiers(fab, nics))
    return Cluster(name=name or f"{dom.name} x {domains}", domain=dom, domains=domains, fabric=fab)


def _has(system_name: str) -> bool:
    try:
        _REGISTRY.find("system", system_name)
    except UnknownNameError:
        return False
    return True
