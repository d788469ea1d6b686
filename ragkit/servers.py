"""Where a server-mode knowledge base lives: ``ServerSettings`` — its registry, index and graph URLs and its name —
from arguments, environment variables or a small TOML file, the way ``KnowledgeBase.connect`` finds them.

A settings file holds the same four names as ``ServerSettings``; secrets never go in it (passwords come from
``$PGPASSWORD``, ``$QDRANT_API_KEY`` and ``$NEO4J_PASSWORD``)::

    registry = "postgresql://ragkit@db.internal:5432/knowledge"
    index = "http://qdrant.internal:6333"
    graph = "bolt://neo4j.internal:7687"
    name = "handbook"
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from ragkit.errors import ConfigError

SERVER_VARIABLES = {"registry": "RAGKIT_REGISTRY", "index": "RAGKIT_INDEX", "graph": "RAGKIT_GRAPH",
                    "name": "RAGKIT_NAME"}
SETTINGS_VARIABLE = "RAGKIT_SETTINGS"


@dataclass(frozen=True)
class ServerSettings:
    """Where a server-mode knowledge base lives (``KnowledgeBase.connect``).

    ``registry``: a PostgreSQL URL (``postgresql://user@host:5432/db``, no password: libpq reads ``$PGPASSWORD`` or
    ``~/.pgpass``). ``index``: a Qdrant URL (``http://host:6333``), or a folder or ``:memory:`` for qdrant-client's
    local mode (one process). ``graph``: a Neo4j URL (``bolt://host:7687``), or None for no entity graph.
    ``name``: the knowledge base's name — its PostgreSQL schema, Qdrant collection and Neo4j namespace.
    """

    registry: str
    index: str
    graph: str | None = None
    name: str = "ragkit"

    @classmethod
    def resolve(cls, registry: str | None = None, index: str | None = None, graph: str | None = None,
                name: str | None = None, settings: str | os.PathLike[str] | None = None) -> ServerSettings:
        """Each value from its argument, else its environment variable (``$RAGKIT_REGISTRY``, ``$RAGKIT_INDEX``,
        ``$RAGKIT_GRAPH``, ``$RAGKIT_NAME``), else the TOML settings file ``settings`` (or ``$RAGKIT_SETTINGS``),
        whose keys are the same four names."""
        given = {"registry": registry, "index": index, "graph": graph, "name": name}
        for key, variable in SERVER_VARIABLES.items():
            if given[key] is None:
                given[key] = os.environ.get(variable) or None
        path = settings or os.environ.get(SETTINGS_VARIABLE)
        if path:
            for key, value in _server_file(str(path)).items():
                if given[key] is None:
                    given[key] = value
        if not given["registry"] or not given["index"]:
            missing = " and ".join(key for key in ("registry", "index") if not given[key])
            raise ConfigError(f"server mode needs the {missing}: pass KnowledgeBase.connect(registry='postgresql://…', "
                              "index='http://…:6333'), or set $RAGKIT_REGISTRY and $RAGKIT_INDEX (or a settings file "
                              "in $RAGKIT_SETTINGS)")
        return cls(given["registry"], given["index"], given["graph"], given["name"] or cls.name)


def _server_file(path: str) -> dict[str, str]:
    """The four server settings of a TOML file; unknown keys and non-text values are refused."""
    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except OSError as exc:
        raise ConfigError(f"cannot read the server settings file {path}: {exc.strerror or exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from exc
    unknown = sorted(set(data) - set(SERVER_VARIABLES))
    if unknown:
        raise ConfigError(f"{path}: unknown setting {', '.join(unknown)}; the settings are "
                          f"{', '.join(SERVER_VARIABLES)}")
    for key, value in data.items():
        if not isinstance(value, str):
            raise ConfigError(f"{path}: {key} must be text (a URL or a name), got {value!r}")
    return data
