"""Sphinx extension: warn about public classes and functions the docs never document.

Every name in the ``__all__`` of ``blackwell_model`` and of its public
subpackages and modules that is a class or a function must appear in the API
documentation (under any of the paths it is importable from).  With ``-W`` a
missing one fails the build.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from typing import Any

from sphinx.application import Sphinx
from sphinx.util import logging

logger = logging.getLogger(__name__)


def _public_objects() -> dict[int, tuple[str, Any]]:
    import blackwell_model

    found: dict[int, tuple[str, Any]] = {}
    modules = [blackwell_model]
    for info in pkgutil.walk_packages(blackwell_model.__path__, "blackwell_model."):
        if any(part.startswith("_") for part in info.name.split(".")):
            continue
        modules.append(importlib.import_module(info.name))
    for mod in modules:
        for name in getattr(mod, "__all__", ()):
            obj = getattr(mod, name, None)
            if inspect.isclass(obj) or inspect.isfunction(obj):
                found.setdefault(id(obj), (f"{mod.__name__}.{name}", obj))
    return found


def _resolve(path: str) -> list[Any]:
    """Objects a documented dotted path may name.

    A package attribute can shadow a submodule of the same name
    (``blackwell_model.solvers.roofline`` is both), so both readings count.
    """
    parts = path.split(".")
    out = []
    for cut in range(len(parts), 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        try:
            for attr in parts[cut:]:
                obj = getattr(obj, attr)
        except AttributeError:
            continue
        out.append(obj)
    return out


def check_coverage(app: Sphinx, env: Any) -> None:
    """Warn once per public class or function that no page documents."""
    documented = set()
    for path in env.get_domain("py").objects:
        documented.update(id(obj) for obj in _resolve(path))
    for key, (name, _obj) in sorted(_public_objects().items(), key=lambda kv: kv[1][0]):
        if key not in documented:
            logger.warning("public name %s is not documented in the API reference", name)


def setup(app: Sphinx) -> dict[str, Any]:
    """Register the check."""
    app.connect("env-check-consistency", check_coverage)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
