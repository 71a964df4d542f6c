"""Categorize voices into the eight sound classes the generators are conditioned on.

Names first: an ordered rule set of keywords and abbreviations (conf/categorize/*.yaml)
that copes with real DX7 names (10 characters, abbreviations, glued words).  Rules come in
two tiers: ``strong`` patterns decide in the configured order; ``weak`` ones (words such as
PERC or SYN that are often only adjectives) decide only when no strong pattern matched.

Then parameters: a gradient-boosted classifier on parameter and envelope features,
trained on the training split's name-labelled voices, labels the rest.  Its number of
rounds is chosen on the validation split, and its accuracy there (families it never saw)
is reported against the majority-class baseline.  The classifier is
saved with skops (no pickle: loading checks every type against a short trusted list), so
the evaluate stage judges category fidelity with the very model that labelled the voices.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import accuracy_score, balanced_accuracy_score, confusion_matrix

from ..config import CategorizeConfig
from ..dx7 import algorithms as A
from ..dx7.params import INDEX, MAX, N_SOUND_PARAMS, op_index
from ..errors import DeepDXError


@dataclass
class NameRules:
    categories: list[str]
    strong: list[tuple[str, re.Pattern]]
    weak: list[tuple[str, re.Pattern]]

    @classmethod
    def from_config(cls, cfg: CategorizeConfig) -> "NameRules":
        categories, strong, weak = list(cfg.categories), cfg.strong, cfg.weak
        for tier in (strong, weak):
            unknown = set(tier) - set(categories)
            if unknown:
                raise DeepDXError(f"rules name unknown categories {sorted(unknown)}; categories are {categories}")

        def compile_tier(tier: dict) -> list[tuple[str, re.Pattern]]:
            return [(cat, re.compile("|".join(f"(?:{p})" for p in pats))) for cat, pats in tier.items() if pats]

        return cls(list(categories), compile_tier(strong), compile_tier(weak))

    def label(self, name: str) -> int:
        """Category index for a name, or -1 when no rule matches."""
        text = name.upper()
        for tier in (self.strong, self.weak):
            for cat, pattern in tier:
                if pattern.search(text):
                    return self.categories.index(cat)
        return -1

    def label_all(self, names) -> np.ndarray:
        return np.array([self.label(n) for n in names], dtype=np.int64)


# --------------------------------------------------------------------------- features

_OPS = range(1, 7)
_FIELDS = (
    "output_level",
    "freq_coarse",
    "freq_fine",
    "osc_mode",
    "eg_rate1",
    "eg_rate2",
    "eg_rate3",
    "eg_rate4",
    "eg_level1",
    "eg_level2",
    "eg_level3",
    "eg_level4",
    "key_vel_sens",
)


def classifier_features(params: np.ndarray) -> np.ndarray:
    """N x F float32: the 145 parameters scaled to [0, 1], plus what carriers and modulators do.

    Carriers shape loudness over time (the envelope a listener hears), modulators the
    brightness, so their fields are summarised separately, per the voice's algorithm.
    """
    params = np.asarray(params)
    scaled = params[:, :N_SOUND_PARAMS] / MAX[:N_SOUND_PARAMS].astype(np.float32)
    alg = params[:, INDEX["algorithm"]].astype(int)  # stored 0-31
    is_carrier = A.carrier_table()[alg]  # N x 6, index op - 1
    per_op = {f: np.stack([params[:, op_index(op, f)] for op in _OPS], axis=1).astype(np.float32) for f in _FIELDS}
    sounding = per_op["output_level"] > 0
    out = [scaled, np.eye(32, dtype=np.float32)[alg], is_carrier.sum(1, keepdims=True) / 6]
    for role in (is_carrier, ~is_carrier & sounding):
        weight = role / np.maximum(role.sum(1, keepdims=True), 1)
        for f in _FIELDS:
            out.append((per_op[f] * weight).sum(1, keepdims=True) / 99)
        out.append(np.where(role, per_op["output_level"], 0).max(1, keepdims=True) / 99)
    out.append((per_op["osc_mode"] * sounding).sum(1, keepdims=True) / 6)  # fixed-frequency operators
    return np.concatenate(out, axis=1).astype(np.float32)


# --------------------------------------------------------------------------- classifier


def train_classifier(
    X: np.ndarray, y: np.ndarray, seed: int = 0, max_iter: int = 200
) -> HistGradientBoostingClassifier:
    model = HistGradientBoostingClassifier(
        max_iter=max_iter, learning_rate=0.1, random_state=seed, early_stopping=False
    )
    return model.fit(X, y)


@dataclass
class CategorizeResult:
    category: np.ndarray  # N int
    confidence: np.ndarray  # N float
    how: np.ndarray  # N str: rule | model
    report: dict
    model: HistGradientBoostingClassifier  # fitted on the training split's name-labelled voices


def categorize(
    params: np.ndarray, names, rules: NameRules, split: np.ndarray, seed: int = 0, max_iter: int = 200
) -> CategorizeResult:
    """Name rules, then a classifier for the rest.  The classifier learns from the training
    split's name-labelled voices only; its number of boosting rounds is chosen, and its
    accuracy measured, on the validation split's (other families); held-out voices are only
    labelled, never learnt from."""
    by_name = rules.label_all(names)
    n_cat = len(rules.categories)
    train = np.flatnonzero((by_name >= 0) & (split == "train"))
    valid = np.flatnonzero((by_name >= 0) & (split == "validation"))
    if len(train) < 10 * n_cat:
        raise DeepDXError(f"only {len(train)} training voices matched a name rule; too few to train the classifier")
    if len(valid) == 0:
        raise DeepDXError("no validation voice matched a name rule: nothing to choose or score the classifier on")
    X = classifier_features(params)
    longest = train_classifier(X[train], by_name[train], seed, max_iter)
    by_rounds = [accuracy_score(by_name[valid], p) for p in longest.staged_predict(X[valid])]
    rounds = int(np.argmax(by_rounds)) + 1  # the first of the best
    model = longest if rounds == longest.n_iter_ else train_classifier(X[train], by_name[train], seed, rounds)
    predicted = model.predict(X[valid])
    majority = np.bincount(by_name[train], minlength=n_cat).argmax()
    category, confidence = by_name.copy(), np.ones(len(by_name), dtype=np.float32)
    how = np.where(by_name >= 0, "rule", "model").astype("<U5")
    unlabelled = np.flatnonzero(by_name < 0)
    if len(unlabelled):
        proba = model.predict_proba(X[unlabelled])
        category[unlabelled] = model.classes_[proba.argmax(1)]
        confidence[unlabelled] = proba.max(1)
    names_ = rules.categories
    report = {
        "voices": len(by_name),
        "by_rule": int((by_name >= 0).sum()),
        "by_model": int(len(unlabelled)),
        "classifier": {
            "train": int(len(train)),
            "validation": int(len(valid)),
            "rounds": rounds,
            "accuracy": round(float(accuracy_score(by_name[valid], predicted)), 4),
            "balanced_accuracy": round(float(balanced_accuracy_score(by_name[valid], predicted)), 4),
            "majority_baseline_accuracy": round(float(np.mean(by_name[valid] == majority)), 4),
            "confusion": {
                "labels": names_,
                "matrix": confusion_matrix(by_name[valid], predicted, labels=range(n_cat)).tolist(),
            },
        },
        "classes": {c: int(n) for c, n in zip(names_, np.bincount(category, minlength=n_cat))},
        "classes_by_rule": {c: int(n) for c, n in zip(names_, np.bincount(by_name[by_name >= 0], minlength=n_cat))},
        "mean_model_confidence": round(float(confidence[unlabelled].mean()), 4) if len(unlabelled) else None,
    }
    return CategorizeResult(category, confidence, how, report, model)


# --------------------------------------------------------------------------- persistence

_TRUSTED = ["sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor"]


_OBJECT_ID = re.compile(r'("__id__": |"file": ")(\d+)')


def _canonical(archive: bytes) -> bytes:
    """The same skops archive, byte-reproducible: skops names objects and array files by
    memory address and stamps each member with the time; renumber them in order of first
    appearance and give every member the same date, so one model always gives one file."""
    import io
    import zipfile

    src = zipfile.ZipFile(io.BytesIO(archive))
    ids: dict[str, str] = {}
    schema = _OBJECT_ID.sub(
        lambda m: m.group(1) + ids.setdefault(m.group(2), str(len(ids))), src.read("schema.json").decode()
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as dst:
        for info in src.infolist():
            stem, dot, ext = info.filename.partition(".")
            name = "schema.json" if info.filename == "schema.json" else ids[stem] + dot + ext
            data = schema.encode() if name == "schema.json" else src.read(info)
            dst.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), data)
    return out.getvalue()


def save_classifier(path: str | Path, model: HistGradientBoostingClassifier) -> None:
    import skops.io as sio

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_bytes(_canonical(sio.dumps(model)))


def load_classifier(path: str | Path) -> HistGradientBoostingClassifier:
    """The categorize stage's classifier; a file holding any other type is refused, not run."""
    import skops.io as sio

    path = Path(path)
    if not path.is_file():
        raise DeepDXError(f"no classifier at {path}: run `dvc repro categorize` first")
    untrusted = [t for t in sio.get_untrusted_types(file=path) if t not in _TRUSTED]
    if untrusted:
        raise DeepDXError(f"{path} holds types that are not a DeepDX classifier's: {untrusted}")
    return sio.load(path, trusted=_TRUSTED)
