"""Metadata filters: a small mapping language, applied inside the index before ranking.

    {"source": "handbook/travel.md"}                       equality
    {"file_type": ["pdf", "docx"]}                         any of
    {"modified": {"gte": "2024-01-01T00:00:00+00:00"}}     range (numbers, or ISO-8601 dates)
    {"team": "it", "year": {"gte": 2020, "lt": 2025}}      all conditions must hold

``source`` and ``doc_id`` address the document itself; every other key is a field of the document's metadata
(as connectors set it, or as given in ``Document.metadata``). ``parse_filter`` validates and normalises; each index
backend translates the conditions to its own query language.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping, Union

from ragkit.errors import ConfigError

DOCUMENT_KEYS = ("source", "doc_id")
_RANGE_OPERATORS = ("gt", "gte", "lt", "lte")


@dataclass(frozen=True)
class Match:
    """The field equals one of ``values``."""

    key: str
    values: tuple[Any, ...]


@dataclass(frozen=True)
class Range:
    """The field lies in a range; ``dates`` when the bounds are ISO-8601 timestamps."""

    key: str
    gt: Any = None
    gte: Any = None
    lt: Any = None
    lte: Any = None
    dates: bool = False


Condition = Union[Match, Range]


def payload_key(key: str) -> str:
    """Where a filter key lives in an index point's payload."""
    return key if key in DOCUMENT_KEYS else f"meta.{key}"


def document_payload(doc_id: str, source: str, metadata: Mapping[str, Any]) -> dict[str, Any]:
    """The payload every chunk of a document carries: its identity and its filterable metadata."""
    meta = {k: v for k, v in metadata.items() if isinstance(v, (str, int, float, bool)) or
            (isinstance(v, list) and all(isinstance(x, (str, int, float, bool)) for x in v))}
    return {"doc_id": doc_id, "source": source, "meta": meta}


def _is_date(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        datetime.fromisoformat(value)
        return True
    except ValueError:
        return False


def parse_filter(spec: Mapping[str, Any] | None) -> tuple[Condition, ...]:
    """Conditions from a filter mapping, or a ConfigError that names the bad key or value."""
    if not spec:
        return ()
    if not isinstance(spec, Mapping):
        raise ConfigError(f"a filter is a mapping of field to value, list or range, got {spec!r}")
    conditions: list[Condition] = []
    for key, value in spec.items():
        if not isinstance(key, str) or not key:
            raise ConfigError(f"filter keys are field names, got {key!r}")
        if isinstance(value, Mapping):
            unknown = set(value) - set(_RANGE_OPERATORS)
            if unknown or not value:
                raise ConfigError(f"range filter on {key!r} takes gt, gte, lt, lte; got {sorted(map(str, value))}")
            bounds = list(value.values())
            dates = all(_is_date(b) for b in bounds)
            if not dates and not all(isinstance(b, (int, float)) and not isinstance(b, bool) for b in bounds):
                raise ConfigError(f"range filter on {key!r} needs numbers or ISO-8601 dates, got {dict(value)}")
            conditions.append(Range(key, dates=dates, **dict(value)))
        elif isinstance(value, (list, tuple, set)):
            if not value:
                raise ConfigError(f"filter on {key!r} lists no values")
            conditions.append(Match(key, tuple(value)))
        elif isinstance(value, (str, int, bool)):
            conditions.append(Match(key, (value,)))
        else:
            raise ConfigError(f"filter on {key!r}: match a string, integer or boolean, or give a range; got {value!r}")
    return tuple(conditions)


def matches(conditions: tuple[Condition, ...], payload: Mapping[str, Any]) -> bool:
    """Whether a point's payload (``document_payload``) meets every condition, as the index would judge it: a list
    field matches when any of its values does. For results that do not come from the index (graph retrieval)."""
    for condition in conditions:
        where = payload if condition.key in DOCUMENT_KEYS else payload.get("meta", {})
        value = where.get(condition.key)
        values = value if isinstance(value, list) else [] if value is None else [value]
        if not any(_meets(condition, v) for v in values):
            return False
    return True


def _meets(condition: Condition, value: Any) -> bool:
    if isinstance(condition, Match):
        return any(v == value and isinstance(v, bool) == isinstance(value, bool) for v in condition.values)
    try:
        value = datetime.fromisoformat(value).timestamp() if condition.dates else float(value)
        bounds = [datetime.fromisoformat(b).timestamp() if condition.dates and b is not None else b
                  for b in (condition.gt, condition.gte, condition.lt, condition.lte)]
    except (TypeError, ValueError):
        return False
    gt, gte, lt, lte = bounds
    return ((gt is None or value > gt) and (gte is None or value >= gte) and (lt is None or value < lt)
            and (lte is None or value <= lte))
