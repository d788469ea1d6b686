"""A calibrated probability that the knowledge base can answer a question, from its retrieval signals.

Logistic regression over standardized signals (``ragkit.answer.signals``), fitted by Newton's method with a small
L2 penalty and sign constraints — a signal whose weight comes out pointing the wrong way (more unknown words making
an answer *more* likely) is a quirk of the fitting data, so it is dropped and the rest refitted, which keeps the
calibrator sensible on corpora unlike the one it was fitted on — and stored as a small JSON file.

The signals' scales depend on the embedder (cosines of one model run higher than another's), so the package ships
one calibrator per embedder it names, each fitted on SciFact's train questions with half of their evidence removed
(``ragkit eval abstention --beir …/scifact_beir --split train --embedder NAME --fit``), in ``calibrators/``; an
embedder without one gets the default embedder's. ``ragkit calibrate`` refits it on a user's own labelled questions
and stores it in the knowledge base, which then prefers it; ``cross_fitted`` says what such a calibrator does on
questions it was not fitted on.
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from ragkit.answer.signals import DIRECTIONS, FEATURES
from ragkit.errors import ConfigError
from ragkit.settings import DEFAULT_EMBEDDER

CALIBRATOR_FILE = "calibrator.json"


@dataclass(frozen=True)
class Calibrator:
    """``probability(signals)`` = σ(bias + Σ weightᵢ · (signalᵢ − meanᵢ) / scaleᵢ); below ``threshold`` the
    question counts as unanswerable."""

    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    weights: tuple[float, ...]
    bias: float
    threshold: float
    fitted_on: str = ""

    def __post_init__(self) -> None:
        sizes = {len(self.features), len(self.mean), len(self.scale), len(self.weights)}
        if len(sizes) != 1:
            raise ConfigError(f"calibrator has {len(self.features)} features but {sorted(sizes)} parameters")
        unknown = set(self.features) - set(FEATURES)
        if unknown:
            raise ConfigError(f"calibrator uses unknown signals {sorted(unknown)}; known: {', '.join(FEATURES)}")
        if not 0.0 < self.threshold < 1.0:
            raise ConfigError(f"calibrator threshold must be between 0 and 1, got {self.threshold}")

    def probability(self, signals: Mapping[str, float]) -> float:
        """A signal missing from ``signals`` (one the embedder cannot give) counts as its fitting mean."""
        z = self.bias + sum(w * (signals.get(name, m) - m) / s
                            for name, m, s, w in zip(self.features, self.mean, self.scale, self.weights))
        return 1.0 / (1.0 + math.exp(-max(min(z, 40.0), -40.0)))

    @classmethod
    def fit(cls, rows: Sequence[Mapping[str, float]], answerable: Sequence[bool], *,
            features: Sequence[str] = FEATURES, l2: float = 1.0, max_false_abstention: float = 0.10,
            fitted_on: str = "") -> Calibrator:
        """Fit on signals of labelled questions; the threshold abstains on at most ``max_false_abstention`` of the
        answerable ones (so it catches as many unanswerable ones as that allows). A signal no row has is left out;
        one some rows lack counts as its mean there."""
        labels = np.asarray(answerable, dtype=np.float64)
        if len(rows) != len(labels):
            raise ConfigError(f"got {len(rows)} signal rows but {len(labels)} labels")
        if labels.min(initial=1.0) == labels.max(initial=0.0):
            raise ConfigError("calibration needs both answerable and unanswerable questions")
        if not 0.0 < max_false_abstention < 1.0:
            raise ConfigError(f"max_false_abstention must be between 0 and 1, got {max_false_abstention}")
        features = [name for name in features if any(name in row for row in rows)]
        x = np.asarray([[row.get(name, np.nan) for name in features] for row in rows], dtype=np.float64)
        x = np.where(np.isnan(x), np.nanmean(x, axis=0), x)
        mean, scale = x.mean(axis=0), x.std(axis=0)
        scale[scale < 1e-5] = 1.0  # (nearly) constant; the file keeps six decimals, so a smaller spread would be 0
        z = np.hstack([np.ones((len(x), 1)), (x - mean) / scale])
        kept = [True] * len(features)
        while True:
            columns = [0] + [i + 1 for i, keep in enumerate(kept) if keep]
            beta = np.zeros(z.shape[1])
            beta[columns] = _newton(z[:, columns], labels, l2)
            wrong = [(beta[i + 1] * DIRECTIONS.get(name, 1.0), i) for i, name in enumerate(features)
                     if kept[i] and beta[i + 1] * DIRECTIONS.get(name, 1.0) < 0]
            if not wrong:
                break
            kept[min(wrong)[1]] = False  # drop the most wrong-way signal, refit the rest
        probabilities = 1.0 / (1.0 + np.exp(-np.clip(z @ beta, -40, 40)))
        threshold = float(np.quantile(probabilities[labels == 1.0], max_false_abstention))
        return cls(tuple(features), tuple(_r(v) for v in mean), tuple(_r(v) for v in scale),
                   tuple(_r(v) for v in beta[1:]), _r(beta[0]), min(max(_r(threshold), 1e-4), 1 - 1e-4), fitted_on)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(self.to_json() + "\n", encoding="utf-8")

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str, where: str) -> Calibrator:
        """A calibrator from ``to_json``'s text; ``where`` it was read from names it in the error."""
        try:
            data = json.loads(text)
            return cls(**{key: tuple(value) if isinstance(value, list) else value for key, value in data.items()})
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"the calibrator in {where} is unreadable ({exc}); refit it with `ragkit calibrate`") \
                from exc

    @classmethod
    def load(cls, path: str | Path) -> Calibrator:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"calibrator file {path} is unreadable ({exc}); refit it with `ragkit calibrate`") \
                from exc
        return cls.from_json(text, f"file {path}")

    @classmethod
    def default(cls, embedder: str = DEFAULT_EMBEDDER) -> Calibrator:
        """The calibrator shipped with ragkit for ``embedder`` — fitted on its signals — or, for an embedder it
        ships none for, the default embedder's (see the module docstring for how they were fitted)."""
        shipped = resources.files("ragkit.answer") / "calibrators"
        for name in (embedder, DEFAULT_EMBEDDER):
            candidate = shipped / f"{name.replace('/', '--')}.json"
            if candidate.is_file():
                with resources.as_file(candidate) as path:
                    return cls.load(path)
        raise ConfigError(f"ragkit ships no calibrator for {DEFAULT_EMBEDDER}; reinstall ragkit")


def cross_fitted(signals: Sequence[Mapping[str, float]], answerable: Sequence[bool], folds: int, seed: int = 0,
                 max_false_abstention: float = 0.10) -> dict:
    """What calibrating on labelled questions buys, measured on questions the calibrator did not see: the questions
    are dealt at random into ``folds`` with as many answerable (and unanswerable) ones in each as can be, and each
    fold is judged by a calibrator fitted on the other folds — its confidence, and an abstention when that is below
    the calibrator's threshold (the confidence alone: no rewrite, clarify or partial rules)."""
    if len(signals) != len(answerable):
        raise ConfigError(f"got {len(signals)} signal rows but {len(answerable)} labels")
    classes = [[i for i, label in enumerate(answerable) if label == kind] for kind in (True, False)]
    if folds < 2 or folds > min(len(members) for members in classes):
        raise ConfigError(f"cross-fitting with {folds} folds needs at least 2 folds and as many answerable and as many "
                          f"unanswerable questions; got {len(classes[0])} and {len(classes[1])}")
    rng = random.Random(seed)
    fold_of = {}
    for members in classes:
        rng.shuffle(members)
        fold_of.update({i: (len(fold_of) + position) % folds for position, i in enumerate(members)})
    confidences, abstained = [0.0] * len(signals), [False] * len(signals)
    for fold in range(folds):
        kept = [i for i in range(len(signals)) if fold_of[i] != fold]
        calibrator = Calibrator.fit([signals[i] for i in kept], [answerable[i] for i in kept],
                                    max_false_abstention=max_false_abstention)
        for i in range(len(signals)):
            if fold_of[i] == fold:
                confidences[i] = calibrator.probability(signals[i])
                abstained[i] = confidences[i] < calibrator.threshold

    def share(among: bool) -> float:  # of the questions whose label is ``among``, the share refused
        labelled = [refused for refused, label in zip(abstained, answerable) if label == among]
        return round(sum(labelled) / len(labelled), 4)

    return {"folds": folds, "auroc": round(auroc(confidences, answerable), 4),
            "no_answer_recall": share(False), "false_abstention_rate": share(True)}


def _newton(z: np.ndarray, labels: np.ndarray, l2: float) -> np.ndarray:
    """Maximum of the L2-penalized logistic log-likelihood (column 0 is the unpenalized bias); convex, so Newton's
    method converges in a handful of steps."""
    beta = np.zeros(z.shape[1])
    penalty = np.full(z.shape[1], l2)
    penalty[0] = 0.0
    for _ in range(100):
        p = 1.0 / (1.0 + np.exp(-np.clip(z @ beta, -40, 40)))
        gradient = z.T @ (p - labels) + penalty * beta
        hessian = (z * (p * (1 - p))[:, None]).T @ z + np.diag(penalty)
        step = np.linalg.solve(hessian, gradient)
        beta -= step
        if np.abs(step).max() < 1e-8:
            break
    return beta


def _r(value: float) -> float:
    return round(float(value), 6)


def auroc(scores: Sequence[float], positive: Sequence[bool]) -> float:
    """Area under the ROC curve: the chance that a random positive scores above a random negative (ties half)."""
    pos = [s for s, y in zip(scores, positive) if y]
    neg = [s for s, y in zip(scores, positive) if not y]
    if not pos or not neg:
        return float("nan")
    ranks = _average_ranks(list(scores))
    positive_rank_sum = sum(r for r, y in zip(ranks, positive) if y)
    return (positive_rank_sum - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg))


def _average_ranks(values: list[float]) -> list[float]:
    order = sorted(range(len(values)), key=values.__getitem__)
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for position in range(i, j + 1):
            ranks[order[position]] = (i + j) / 2 + 1
        i = j + 1
    return ranks
