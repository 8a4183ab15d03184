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
the part's own fields an entry may carry ``aliases`` (a list of other names)
and, for a system, ``default_fabric`` (the fabric :func:`cluster` uses).

Names and aliases are unique per kind, case-insensitively: a file whose entry
or alias would take over an existing name (``aliases = ["NVLink4"]``) is
refused with an error naming both entries, unless it is loaded with
``replace=True``.  Loading the same file again replaces its own entries.

Examples
--------
>>> import blackwell_model as bm
>>> bm.catalog.system("GB200-NVL72").gpus
72
>>> bm.catalog.cluster("GB200-NVL72", gpus=4096).domains
57
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import os
import tomllib
from collections.abc import Callable, Iterable, Iterator, Mapping
from importlib import resources
from typing import Any

import attrs

from .._spec import set_catalog_lookup
from .._validate import check_instance, check_int, check_name, check_text, read_text_file
from ..errors import (
    BlackwellModelError,
    SpecError,
    SpecFileError,
    SpecTypeError,
    UnknownNameError,
    with_context,
)
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
    # identity of the file the entry came from (its resolved path), or None for
    # register(): loading the same file again may replace its own entries
    source: str | None = None


# Deepest nesting of tables and arrays a parts file may have (real files use 3).
_MAX_DEPTH = 16


def _aliases(value: Any, where: str) -> list[str]:
    """The ``aliases`` of an entry: a list of names (a single string is refused)."""
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise SpecFileError(
            f"{where}: aliases must be a list of names, e.g. aliases = [{value!r}], "
            f"got {type(value).__name__} {value!r}"
        )
    try:
        return [check_name(a, "alias") for a in value]
    except SpecError as exc:
        raise SpecFileError(f"{where}: {exc}") from None


class _Registry:
    def __init__(self) -> None:
        self.entries: dict[str, dict[str, _Entry]] = {k: {} for k in KINDS}
        self.aliases: dict[str, dict[str, str]] = {k: {} for k in KINDS}
        self.alias_display: dict[str, dict[str, str]] = {k: {} for k in KINDS}
        self.loaded = False
        self._building: set[tuple[str, str]] = set()

    def copy(self) -> _Registry:
        out = _Registry()
        out.loaded = self.loaded
        out.entries = {k: dict(v) for k, v in self.entries.items()}
        out.aliases = {k: dict(v) for k, v in self.aliases.items()}
        out.alias_display = {k: dict(v) for k, v in self.alias_display.items()}
        return out

    def ensure_loaded(self) -> None:
        if self.loaded:
            return
        self.loaded = True
        data_dir = resources.files(__package__) / "data"
        for item in sorted(data_dir.iterdir(), key=lambda p: p.name):
            if item.name.endswith(".toml"):
                doc = _parse_toml_text(item.read_text("utf-8"), item.name)
                self.add_document(doc, item.name, source=f"builtin:{item.name}")

    def add_document(
        self,
        doc: Mapping[str, Any],
        origin: str,
        *,
        source: str | None = None,
        replace: bool = False,
    ) -> list[_Entry]:
        planned: list[tuple[str, str, dict[str, Any], dict[str, Any]]] = []
        seen: dict[tuple[str, str], tuple[str, str]] = {}  # (kind, key) -> (entry, how)
        for kind, table in doc.items():
            if kind not in KINDS:
                raise SpecFileError(
                    f"{origin}: unknown kind [{kind}]; valid kinds: {', '.join(KINDS)}"
                )
            if not isinstance(table, Mapping):
                raise SpecFileError(f"{origin}: [{kind}] must hold one table per entry")
            for name, given in table.items():
                where = f"{origin}: [{kind}.{name!r}]"
                if not isinstance(given, Mapping):
                    raise SpecFileError(f"{where} must be a table of fields")
                try:
                    check_name(name, "entry name")
                except SpecError as exc:
                    raise SpecFileError(f"{origin}: [{kind}.{name!r}]: {exc}") from None
                raw = dict(given)
                meta = {k: raw.pop(k) for k in _META_KEYS if k in raw}
                if "aliases" in meta:
                    meta["aliases"] = _aliases(meta["aliases"], where)
                if "default_fabric" in meta:
                    try:
                        check_name(meta["default_fabric"], "default_fabric")
                    except SpecError as exc:
                        raise SpecFileError(f"{where}: {exc}") from None
                if "name" in raw and raw["name"] != name:
                    raise SpecFileError(
                        f"{where} has name = {raw['name']!r}; "
                        "leave it out or make it equal to the table key"
                    )
                raw["name"] = name
                labels = [(name, "entry")] + [(a, "alias") for a in meta.get("aliases", ())]
                for label, what in labels:
                    key = (kind, label.strip().lower())
                    if key in seen and seen[key][0] != name:  # an entry may repeat its own
                        raise SpecFileError(
                            f"{origin}: {kind} {what} {label!r} of [{kind}.{name!r}] clashes with "
                            f"{seen[key][1]} (names and aliases are case-insensitive)"
                        )
                    seen[key] = (name, f"the {what} {label!r} of [{kind}.{name!r}]")
                planned.append((kind, name, raw, meta))
        # every clash is reported before anything changes
        for kind, name, _raw, meta in planned:
            self.check_free(kind, name, meta.get("aliases", ()), origin, source, replace=replace)
        return [
            self.add(kind, name, raw, origin, meta, source=source)
            for kind, name, raw, meta in planned
        ]

    def holder(self, kind: str, label: str) -> tuple[_Entry, str] | None:
        """The entry a name or alias already belongs to, and how (``"name"``/``"alias"``)."""
        key = label.strip().lower()
        if key in self.entries[kind]:
            return self.entries[kind][key], "name"
        target = self.aliases[kind].get(key)
        if target is not None and target in self.entries[kind]:
            return self.entries[kind][target], "alias"
        return None

    def check_free(
        self,
        kind: str,
        name: str,
        aliases: Iterable[str],
        origin: str,
        source: str | None,
        *,
        replace: bool,
    ) -> None:
        """Refuse a name or alias that belongs to another entry (unless ``replace``)."""
        if replace:
            return
        for label, what in [(name, "name"), *((a, "alias") for a in aliases)]:
            found = self.holder(kind, label)
            if found is None:
                continue
            old, how = found
            if source is not None and old.source == source:
                continue  # the same file loaded again replaces its own entries
            held = (
                f"the name of {kind} {old.name!r}"
                if how == "name"
                else (f"an alias of {kind} {old.name!r}")
            )
            raise SpecFileError(
                f"{origin}: {kind} {name!r}: its {what} {label!r} is already in the catalog as {held} "
                f"(from {old.origin}); rename it, or pass replace=True to override that entry"
            )

    def drop(self, entry: _Entry) -> None:
        """Remove an entry with its aliases."""
        key = entry.name.lower()
        if self.entries[entry.kind].get(key) is entry:
            del self.entries[entry.kind][key]
        for alias, target in list(self.aliases[entry.kind].items()):
            if target == key:
                del self.aliases[entry.kind][alias]
                self.alias_display[entry.kind].pop(alias, None)

    def add(
        self,
        kind: str,
        name: str,
        raw: dict[str, Any] | None,
        origin: str,
        meta: dict[str, Any],
        *,
        source: str | None = None,
    ) -> _Entry:
        entry = _Entry(kind, name, raw, origin, meta, source=source)
        for label in [name, *meta.get("aliases", ())]:
            found = self.holder(kind, label)
            if found is not None:  # checked by check_free: replaced on purpose
                self.drop(found[0])
        self.entries[kind][name.lower()] = entry
        for alias in meta.get("aliases", ()):
            self.aliases[kind][str(alias).lower()] = name.lower()
            self.alias_display[kind][str(alias).lower()] = str(alias)
        return entry

    def find(self, kind: str, name: str) -> _Entry:
        if not isinstance(kind, str) or kind not in KINDS:
            raise UnknownNameError("catalog kind", str(kind), list(KINDS))
        check_text(name, f"{kind} name")
        self.ensure_loaded()
        key = name.strip().lower()
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
            except BlackwellModelError as exc:
                raise with_context(exc, f"{entry.origin}: ") from None
        finally:
            self._building.discard(token)
        return entry.part


_REGISTRY = _Registry()
# The registry that name lookups go through; load_toml points it at a scratch copy
# while it builds a file's entries, so they can refer to each other by name.
_ACTIVE: contextvars.ContextVar[_Registry] = contextvars.ContextVar("bm_catalog", default=_REGISTRY)


def _depth(value: Any) -> int:
    """Nesting depth of tables and arrays (iterative: a hostile file cannot recurse)."""
    deepest = 0
    stack = [(value, 0)]
    while stack:
        item, d = stack.pop()
        if isinstance(item, Mapping):
            children: Iterable[Any] = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, d + 1)
        if deepest > _MAX_DEPTH:
            return deepest
        stack.extend((c, d + 1) for c in children)
    return deepest


def _parse_toml_text(text: str, origin: str) -> dict[str, Any]:
    if "\x00" in text:
        raise SpecFileError(f"{origin}: not a text file (it holds NUL bytes); expected TOML")
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecFileError(f"{origin}: not valid TOML: {exc}") from None
    except RecursionError:
        raise SpecFileError(
            f"{origin}: tables or arrays nested too deeply (at most {_MAX_DEPTH} levels)"
        ) from None
    if _depth(doc) > _MAX_DEPTH:
        raise SpecFileError(
            f"{origin}: tables or arrays nested too deeply (at most {_MAX_DEPTH} levels)"
        )
    return doc


def _read_toml(path: Any) -> tuple[dict[str, Any], str, str]:
    """Parse a parts file: ``(document, origin for messages, source identity)``."""
    text, p = read_text_file(path)
    try:
        source = str(p.resolve())
    except (OSError, RuntimeError):  # pragma: no cover - a path we could read resolves
        source = str(p)
    return _parse_toml_text(text, str(p)), str(p), source


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
    cls = KINDS[kind]()
    check_instance(part, cls, "part", f"a {cls.__name__} (catalog kind {kind!r})")
    if isinstance(aliases, str):
        raise SpecTypeError(f"aliases must be a list of names, e.g. [{aliases!r}], got {aliases!r}")
    names = [check_name(a, "alias") for a in aliases]
    where = "register()"
    try:
        _REGISTRY.check_free(kind, part.name, names, where, None, replace=replace)
    except SpecFileError as exc:
        raise SpecError(str(exc)) from None
    keys = [part.name.lower(), *(a.lower() for a in names)]
    if len(set(keys)) != len(keys):
        raise SpecError(f"register(): {kind} {part.name!r}: a name or alias is given twice: {keys}")
    entry = _REGISTRY.add(kind, part.name, None, where, {"aliases": names})
    entry.part = part
    return part


def load_toml(
    path: str | os.PathLike[str], *, register: bool = True, replace: bool = False
) -> dict[str, dict[str, Any]]:
    """Load the parts described in a TOML file.

    Parameters
    ----------
    path
        File in the catalog format (see the module docstring), UTF-8.
    register
        Also add the entries to the catalog, so that other entries and
        :func:`get` find them by name.
    replace
        Let the file's names and aliases take over existing entries (built-in
        ones included; every later lookup of such a name gets the file's
        part).  Without it a clash is an error naming both entries; loading
        the same file again always replaces its own entries.

    Returns
    -------
    dict
        ``{kind: {name: part}}`` for every entry in the file.

    Raises
    ------
    SpecFileError
        If the file cannot be read, is not UTF-8 TOML, nests too deeply, has
        unknown or missing fields, or a name or alias clashes with another
        entry (in the file, or in the catalog without ``replace``).
    SpecError, UnitMismatchError, UnknownNameError
        If a value is out of range, has the wrong unit or names no catalog
        entry; the message names the file, the entry and the field.
    SpecTypeError
        If ``path`` is not a path.
    """
    doc, origin, source = _read_toml(path)
    _REGISTRY.ensure_loaded()
    # Build every entry on a copy of the registry first: a file with one bad entry
    # adds nothing to the catalog.
    scratch = _REGISTRY.copy()
    entries = scratch.add_document(doc, origin, source=source, replace=replace)
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


@contextlib.contextmanager
def _isolated() -> Iterator[None]:
    """Undo, on exit, every entry added to the catalog inside the block (the CLI's --parts)."""
    _REGISTRY.ensure_loaded()
    saved = _REGISTRY.copy()
    try:
        yield
    finally:
        _REGISTRY.entries, _REGISTRY.aliases = saved.entries, saved.aliases
        _REGISTRY.alias_display = saved.alias_display


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
        Accelerators wanted.  Whole domains are installed (rounded up) and the
        cluster offers exactly ``gpus`` to workloads (:attr:`Cluster.gpus
        <blackwell_model.hardware.Cluster.gpus>`); what was rounded is in its
        :attr:`~blackwell_model.hardware.Cluster.rounding_note` and name.
    fabric
        Fabric or its catalog name; defaults to the system's.
    tiers, oversubscription, rail_optimized
        Override these fabric settings (``tiers`` defaults to the fewest that fit).
    nic
        Override the NIC of every accelerator (a link or its catalog name).
    name
        Cluster name; defaults to ``"<system> x <domains>"``, followed by
        ``" (<gpus> of <installed> GPUs)"`` when the last domain is partly used.

    Raises
    ------
    SpecError
        If ``gpus`` is not a positive integer, or the fabric cannot connect them.

    Examples
    --------
    >>> c = cluster("GB200-NVL72", gpus=1024)
    >>> c.gpus, c.installed_gpus, c.name
    (1024, 1080, 'GB200-NVL72 x 15 (1,024 of 1,080 GPUs)')
    """
    dom = get("system", system) if isinstance(system, str) else system
    check_instance(dom, ScaleUpDomain, "system", "a ScaleUpDomain or a catalog system name")
    gpus = check_int(gpus, "gpus", text=False)
    if fabric is not None and not isinstance(fabric, str):
        check_instance(fabric, Fabric, "fabric", "a Fabric or a catalog fabric name")
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
    installed = domains * dom.gpus
    if name is None:
        name = f"{dom.name} x {domains}"
        if gpus < installed:
            name += f" ({gpus:,} of {installed:,} GPUs)"
    return Cluster(
        name=name,
        domain=dom,
        domains=domains,
        fabric=fab,
        active_gpus=gpus if gpus < installed else None,
    )


def _has(system_name: str) -> bool:
    try:
        _REGISTRY.find("system", system_name)
    except UnknownNameError:
        return False
    return True
