"""A knowledge base's settings on disk: ``ragkit.json``, written once when it is created and checked on every open."""

from __future__ import annotations

import json
import os
from dataclasses import fields, is_dataclass, replace
from pathlib import Path
from typing import Any

from ragkit.errors import IncompatibleKnowledgeBase, KnowledgeBaseError
from ragkit.settings import CONFIG_FILE, KBConfig
from ragkit.settings_index import REQUEST_SETTINGS


def load_config(directory: Path) -> KBConfig | None:
    path = directory / CONFIG_FILE
    if not path.exists():
        return None
    try:
        return KBConfig.from_json(json.loads(path.read_text("utf-8")))
    except (ValueError, TypeError) as exc:
        raise KnowledgeBaseError(f"{path} is not a valid ragkit configuration: {exc}") from exc


def save_config(directory: Path, config: KBConfig) -> None:
    """Write atomically: a crash leaves the old file or the new one, never half of one."""
    path = directory / CONFIG_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(config.to_json(), indent=2) + "\n", "utf-8")
    os.replace(tmp, path)


def differences(stored: Any, requested: Any, prefix: str = "") -> list[str]:
    """The dotted names of the fields in which two settings dataclasses differ (``chunking.size``)."""
    found = []
    for item in fields(stored):
        mine, theirs = getattr(stored, item.name), getattr(requested, item.name)
        if is_dataclass(mine) and type(mine) is type(theirs):
            found += differences(mine, theirs, f"{prefix}{item.name}.")
        elif mine != theirs:
            found.append(prefix + item.name)
    return found


def reconcile(stored: KBConfig, requested: KBConfig | None) -> KBConfig:
    """The stored settings, after checking that requested ones (if any) do not contradict them — with the requested
    values of the index's request settings (``REQUEST_SETTINGS``: timeout, consistency, ordering, the API key's
    variable), which are this process's to choose."""
    if requested is None or requested == stored:
        return stored
    own = {name: getattr(requested.index, name) for name in REQUEST_SETTINGS}
    if requested.index.kind is stored.index.kind:
        with_own = replace(stored, index=replace(stored.index, **own))
        if with_own == requested:
            return with_own
    raise IncompatibleKnowledgeBase(
        f"this knowledge base was built with different settings ({', '.join(differences(stored, requested))}); "
        "open it without a config to use its own settings, or build a new knowledge base in another folder"
    )
