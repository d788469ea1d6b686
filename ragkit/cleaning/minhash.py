"""MinHash signatures and LSH banding for near-duplicate detection (pure functions over numpy arrays).

Broder, "On the resemblance and containment of documents" (1997): the share of equal MinHash values estimates
the Jaccard similarity of two shingle sets. Leskovec, Rajaraman & Ullman, "Mining of Massive Datasets", §3.4:
split the signature into b bands of r rows; two documents become candidates when any band is equal, which
happens with probability 1 - (1 - J^r)^b.
"""

from __future__ import annotations

import hashlib
import re

import numpy as np

_WORD = re.compile(r"\w+", re.UNICODE)
_MERSENNE = np.uint64((1 << 61) - 1)
_MAX_HASH = np.uint64((1 << 32) - 1)


def shingles(text: str, size: int) -> set[str]:
    """Lower-cased word n-grams; a text shorter than ``size`` words is one shingle."""
    words = [word.lower() for word in _WORD.findall(text)]
    if len(words) <= size:
        return {" ".join(words)} if words else set()
    return {" ".join(words[i : i + size]) for i in range(len(words) - size + 1)}


def _hash32(shingle: str) -> int:
    return int.from_bytes(hashlib.blake2b(shingle.encode("utf-8"), digest_size=4).digest(), "little")


def permutations(num_perm: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """The (a, b) of ``num_perm`` hash functions h(x) = (a·x + b) mod (2^61 − 1); fixed by the seed."""
    rng = np.random.default_rng(seed)
    a = rng.integers(1, 1 << 31, size=num_perm, dtype=np.uint64)
    b = rng.integers(0, 1 << 31, size=num_perm, dtype=np.uint64)
    return a, b


def signature(items: set[str], a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The MinHash signature (uint32 per hash function) of a set of shingles."""
    if not items:
        return np.full(len(a), _MAX_HASH, dtype=np.uint32)
    hashes = np.fromiter((_hash32(item) for item in items), dtype=np.uint64, count=len(items))
    result = np.full(len(a), _MAX_HASH, dtype=np.uint64)
    for start in range(0, len(hashes), 4096):  # blocks bound memory for very long documents
        # a, b < 2^31 and x < 2^32 keep a·x + b below 2^64: no overflow before the modulus.
        values = (np.outer(hashes[start : start + 4096], a) + b) % _MERSENNE & _MAX_HASH
        result = np.minimum(result, values.min(axis=0))
    return result.astype(np.uint32)


def band_hashes(sig: np.ndarray, bands: int) -> list[int]:
    """One 63-bit hash per band of the signature (bands must divide its length)."""
    rows = len(sig) // bands
    return [
        int.from_bytes(hashlib.blake2b(sig[i * rows : (i + 1) * rows].tobytes(), digest_size=8).digest(), "little") >> 1
        for i in range(bands)
    ]


def estimated_jaccard(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean(a == b))
