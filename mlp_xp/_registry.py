"""The name check shared by the registries of activations and costs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def check_new_name(name: Any, registry: Mapping[str, Any], kind: str) -> str:
    """``name`` as a non-empty str not yet in ``registry``; ``kind`` names what it registers."""
    if not isinstance(name, str) or not name:
        raise TypeError(f"name must be a non-empty str, got {name!r}")
    if name in registry:
        raise ValueError(f"{kind} named {name!r} exists already")
    return name
