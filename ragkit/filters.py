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

import math
import re
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
        _check_key(key)
        if isinstance(value, Mapping):
            unknown = set(value) - set(_RANGE_OPERATORS)
            if unknown or not value:
                raise ConfigError(f"range filter on {key!r} takes gt, gte, lt, lte; got {sorted(map(str, value))}")
            bounds = list(value.values())
            dates = all(_is_date(b) for b in bounds)
            if not dates and not all(_is_number(b) for b in bounds):
                raise ConfigError(f"range filter on {key!r} needs finite numbers or ISO-8601 dates, got {dict(value)}")
            conditions.append(Range(key, dates=dates, **dict(value)))
        elif isinstance(value, (list, tuple, set)):
            if not value:
                raise ConfigError(f"filter on {key!r} lists no values")
            for item in value:
                _check_match_value(key, item)
            conditions.append(Match(key, tuple(value)))
        else:
            _check_match_value(key, value)
            conditions.append(Match(key, (value,)))
    return tuple(conditions)


# A field name the index addresses as one key (a dot would read as a path into nested values).
_KEY = re.compile(r"\w[\w -]{0,127}")
_INT64 = 2**63


def _check_key(key: Any) -> None:
    if not isinstance(key, str) or not _KEY.fullmatch(key) or key != key.strip():
        raise ConfigError(f"filter keys are metadata field names — letters, digits, '_', '-' and inner spaces, at "
                          f"most 128 — got {key!r}")


def _check_match_value(key: str, value: Any) -> None:
    """A value to match: a string of valid Unicode, a 64-bit integer or a boolean."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ConfigError(f"filter on {key!r}: {value!r} is not valid Unicode text") from None
    elif isinstance(value, bool) or (isinstance(value, int) and -_INT64 <= value < _INT64):
        pass
    else:
        raise ConfigError(f"filter on {key!r}: match a string, a 64-bit integer or a boolean (or a list of them), or "
                          f"give a range; got {value!r}")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


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
