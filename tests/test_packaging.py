"""What gets installed: one ``ragkit`` package (connectors inside it), typed, with one version, and every type that
a public signature names importable from ``ragkit``."""

from __future__ import annotations

import inspect
import subprocess
import sys
import typing
from importlib import metadata
from pathlib import Path

import pytest

import ragkit

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - the dev extra installs tomli on 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]


def test_every_package_folder_is_listed_for_installation():
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "ragkit").rglob("__init__.py")}
    found |= {"ragkit." + ".".join(p.parent.relative_to(ROOT).parts)
              for p in (ROOT / "connectors").rglob("__init__.py")}
    assert listed == found


@pytest.mark.integration
def test_connectors_install_inside_ragkit_not_as_a_top_level_package(tmp_path):
    script = (
        "import importlib.util, ragkit, ragkit.connectors\n"
        "from ragkit.connectors import FileConnector, RecordsConnector, WebConnector\n"
        "assert importlib.util.find_spec('connectors') is None, 'a top-level connectors package is installed'\n"
        "print(ragkit.connectors.__file__)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert Path(done.stdout.strip()).resolve().parent == ROOT / "connectors"  # this checkout's folder, renamed


@pytest.mark.integration
def test_importing_the_folder_by_its_old_name_says_where_it_went():
    done = subprocess.run([sys.executable, "-c", "import connectors"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode != 0 and "import it as `from ragkit.connectors import FileConnector`" in done.stderr


def test_one_version_and_type_information():
    assert ragkit.__version__ == metadata.version("ragkit")
    assert (Path(ragkit.__file__).parent / "py.typed").exists()


def _ragkit_types(annotation: object) -> set[type]:
    """The ragkit classes an annotation names, however nested (Optional, Sequence, unions …)."""
    found = set()
    if isinstance(annotation, type) and annotation.__module__.startswith("ragkit"):
        found.add(annotation)
    for argument in typing.get_args(annotation):
        found |= _ragkit_types(argument)
    return found


def _public_callables(owner: object) -> list:
    """A function itself; a class's constructor and public methods and properties; nothing for anything else."""
    if inspect.isfunction(owner):
        return [owner]
    if not inspect.isclass(owner) or issubclass(owner, BaseException):
        return []
    # KnowledgeBase is made by KnowledgeBase.open, whose constructor takes the internal parts open assembles.
    public_init = owner.__init__ is not object.__init__ and owner is not ragkit.KnowledgeBase
    found = [owner.__init__] if public_init else []
    for attribute, member in vars(owner).items():
        if attribute.startswith("_"):
            continue
        member = member.fget if isinstance(member, property) else getattr(member, "__func__", member)
        if inspect.isfunction(member):
            found.append(member)
    return found


def test_every_type_in_a_public_signature_is_exported():
    exported = {getattr(ragkit, name) for name in ragkit.__all__}
    named: dict[type, str] = {}
    for name in ragkit.__all__:
        for function in _public_callables(getattr(ragkit, name)):
            try:
                hints = typing.get_type_hints(function)
            except (NameError, TypeError):
                hints = {}
            for annotation in hints.values():
                for kind in _ragkit_types(annotation):
                    named.setdefault(kind, f"{name}.{function.__name__}")
    missing = {kind.__name__: where for kind, where in named.items() if kind not in exported}
    assert not missing, f"types in public signatures that ragkit does not export: {missing}"
    assert len(named) >= 20  # the check saw the signatures
