"""Which members a class page of the API reference shows: the methods and properties
written in mlp_xp, inherited ones included (``SGD.step`` comes from a base class).

Left out: private names; fitted attributes (``coefs_``: the class's Attributes
section lists them); data attributes and dataclass fields (its Parameters
section does); and what scikit-learn's base classes give the estimators
(``get_params``, ``set_params``, the metadata-routing requests), which
scikit-learn documents.
"""

from __future__ import annotations

import inspect
from typing import Any

from sphinx.application import Sphinx


def setup(app: Sphinx) -> dict[str, object]:
    app.connect("autodoc-skip-member", _skip_member)
    return {"parallel_read_safe": True, "parallel_write_safe": True}


def _skip_member(app: Sphinx, what: str, name: str, obj: Any, skip: bool, options: Any) -> bool | None:
    if what != "class":
        return None
    if name.startswith("_") or name.endswith("_"):
        return True
    function = inspect.unwrap(getattr(obj, "fget", obj))
    if not callable(function):
        return True
    return True if not getattr(function, "__module__", "").startswith("mlp_xp") else None
