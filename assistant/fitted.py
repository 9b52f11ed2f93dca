"""The constants fitted on the gold questions, read from the one place they live: fitted.json.

`bench/fit.py` writes that file after k-fold cross-validation over dev + tune (its output
reports the out-of-fold figures); nothing else may set these values, so every fitted number
has one provenance. Retrieval reads the fusion constants, the abstention gate its model.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PATH = Path(__file__).with_name("fitted.json")


@dataclass(frozen=True)
class Fusion:
    """Weighted reciprocal-rank fusion: Σ w/(rrf_k + rank) over the dense and keyword lists."""

    rrf_k: float
    keyword_weight: float
    foreign_dense_weight: float  # the dense (English MiniLM) half's weight for other languages
    candidates: int  # chunks taken from each half before fusion


def _linear(features: tuple[str, ...], mean: tuple[float, ...], scale: tuple[float, ...], coef: tuple[float, ...],
            values: dict[str, float]) -> float:
    """Σ coef·(value − mean)/scale over standardised features; a missing feature reads as its mean."""
    return sum(w * (values.get(n, mu) - mu) / (sd or 1.0) for n, mu, sd, w in zip(features, mean, scale, coef, strict=True))


@dataclass(frozen=True)
class AbstainModel:
    """Logistic regression on standardised evidence features: P(the corpus does not answer)."""

    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    threshold: float  # abstain when P(unanswerable) ≥ this (the chosen operating point)

    def probability(self, values: dict[str, float]) -> float:
        """P(unanswerable) for one question's evidence; a missing feature reads as its mean."""
        z = self.intercept + _linear(self.features, self.mean, self.scale, self.coef, values)
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))

    def to_dict(self) -> dict[str, Any]:
        return {"features": list(self.features), "mean": list(self.mean), "scale": list(self.scale),
                "coef": list(self.coef), "intercept": self.intercept, "threshold": self.threshold}


@dataclass(frozen=True)
class Ranker:
    """Linear model on standardised candidate features (assistant/rerank.py): higher ranks first."""

    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]

    def score(self, values: dict[str, float]) -> float:
        return _linear(self.features, self.mean, self.scale, self.coef, values)

    def to_dict(self) -> dict[str, Any]:
        return {"features": list(self.features), "mean": list(self.mean), "scale": list(self.scale),
                "coef": list(self.coef)}


@dataclass(frozen=True)
class Composer:
    """The extractive answer's weights (assistant/answer.py), fitted by bench/fit_answers.py."""

    semantic: float = 0.55  # a unit's score: semantic·cosine + (1 − semantic)·question-word overlap
    type_bonus: float = 0.08  # a unit holding the kind of token asked for (a figure for "how many")
    list_bonus: float = 0.08  # a whole list for a question that asks for several things
    keep_ratio: float = 0.7  # a unit joins the answer only when it scores this share of the best one
    beside_penalty: float = 0.06  # a unit from a chunk beside the hit on its page, not from the hit itself


@dataclass(frozen=True)
class Fitted:
    fusion: Fusion
    abstain: AbstainModel
    provenance: dict[str, Any]
    ranker: Ranker | None = None  # None: the fit found no ranker that beats fusion alone out-of-fold
    compose: Composer = Composer()


def load(path: Path = PATH) -> Fitted:
    """Read fitted.json (a missing or malformed file is a packaging error: fail loudly)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    a = data["abstain"]
    model = AbstainModel(tuple(a["features"]), tuple(a["mean"]), tuple(a["scale"]), tuple(a["coef"]),
                         float(a["intercept"]), float(a["threshold"]))
    f = data["fusion"]
    fusion = Fusion(float(f["rrf_k"]), float(f["keyword_weight"]), float(f["foreign_dense_weight"]),
                    int(f["candidates"]))
    r = data.get("ranker")
    ranker = Ranker(tuple(r["features"]), tuple(r["mean"]), tuple(r["scale"]), tuple(r["coef"])) if r else None
    compose = Composer(**{k: float(v) for k, v in data["compose"].items()}) if data.get("compose") else Composer()
    return Fitted(fusion, model, dict(data.get("provenance", {})), ranker, compose)


FITTED = load()
