"""Where a server-mode knowledge base lives: arguments, then environment variables, then a settings file."""

from __future__ import annotations

import pytest

from ragkit import ServerSettings
from ragkit.errors import ConfigError


@pytest.fixture(autouse=True)
def no_server_variables(monkeypatch):
    for variable in ("RAGKIT_REGISTRY", "RAGKIT_INDEX", "RAGKIT_GRAPH", "RAGKIT_NAME", "RAGKIT_SETTINGS"):
        monkeypatch.delenv(variable, raising=False)


def test_arguments_win_over_the_environment_which_wins_over_the_file(tmp_path, monkeypatch):
    settings = tmp_path / "servers.toml"
    settings.write_text('registry = "postgresql://file@db/kb"\nindex = "http://file:6333"\n'
                        'graph = "bolt://file:7687"\nname = "from_file"\n')
    monkeypatch.setenv("RAGKIT_SETTINGS", str(settings))
    assert ServerSettings.resolve() == ServerSettings("postgresql://file@db/kb", "http://file:6333",
                                                      "bolt://file:7687", "from_file")
    monkeypatch.setenv("RAGKIT_INDEX", "http://env:6333")
    monkeypatch.setenv("RAGKIT_NAME", "from_env")
    resolved = ServerSettings.resolve(registry="postgresql://arg@db/kb", name="from_arg")
    assert resolved == ServerSettings("postgresql://arg@db/kb", "http://env:6333", "bolt://file:7687", "from_arg")


def test_the_name_defaults_and_the_graph_is_optional():
    assert ServerSettings.resolve("postgresql://db/kb", "http://q:6333") == \
        ServerSettings("postgresql://db/kb", "http://q:6333", None, "ragkit")


def test_a_missing_registry_or_index_says_how_to_give_it():
    with pytest.raises(ConfigError, match=r"needs the registry and index.*\$RAGKIT_REGISTRY"):
        ServerSettings.resolve()
    with pytest.raises(ConfigError, match="needs the index"):
        ServerSettings.resolve(registry="postgresql://db/kb")


@pytest.mark.parametrize(("text", "message"), [
    ('registry = "postgresql://db/kb"\npassword = "x"\n', "unknown setting password"),
    ("registry = 5432\n", "registry must be text"),
    ("registry = \n", "is not valid TOML"),
])
def test_a_bad_settings_file_is_refused_with_the_reason(tmp_path, text, message):
    settings = tmp_path / "servers.toml"
    settings.write_text(text)
    with pytest.raises(ConfigError, match=message):
        ServerSettings.resolve(settings=settings)
    with pytest.raises(ConfigError, match="cannot read the server settings file"):
        ServerSettings.resolve(settings=tmp_path / "missing.toml")
