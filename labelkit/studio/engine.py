"""What the studio computes: every LF's figures, and the live preview of one edited rule.

The votes of every LF are computed once at start (Python LFs are never re-run); an edit recomputes
only the edited rule's column with the vectorised declarative path, on row batches whose text
caches (Arrow arrays) are built once. Per-row vote counts make each LF's overlaps and conflicts
O(rows) instead of O(rows x LFs).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from labelkit.evaluate.uncertainty import wilson
from labelkit.lfs.batch import Batch
from labelkit.schema import ABSTAIN_INDEX, vote_dtype

WARN_COVERAGE = 0.10  # a rule firing on at least this share of train rows ...
WARN_ACCURACY = 0.60  # ... and right on less than this share of the dev rows it fires on gets a warning
WARN_MIN_DEV = 10
EXAMPLES = 5
PREVIEW_LABEL_MODEL = "weighted_majority"


@dataclass
class LFFigures:
    name: str
    kind: str
    label: str
    editable: bool
    coverage: float
    overlaps: float
    conflicts: float
    dev_n: int
    dev_correct: int
    warning: str = ""

    @property
    def dev_accuracy(self) -> float | None:
        return self.dev_correct / self.dev_n if self.dev_n else None

    @property
    def interval(self):
        return wilson(self.dev_correct, self.dev_n)


@dataclass
class VoteMatrix:
    """Votes of a set of LFs on one split, with per-row totals for fast overlap/conflict figures."""

    columns: dict[str, np.ndarray]  # LF name -> votes (-1 abstain; dtype vote_dtype(k)), in LF order
    k: int
    n: int
    n_votes: np.ndarray = field(init=False)
    class_votes: np.ndarray = field(init=False)  # (rows, k) votes per class

    def __post_init__(self) -> None:
        self.n_votes = np.zeros(self.n, dtype=np.int32)
        self.class_votes = np.zeros((self.n, self.k), dtype=np.int32)
        self.row_hash = np.zeros(self.n, dtype=np.uint64)  # sum over LFs of (vote + 1) * weight(LF), mod 2**64
        for name, votes in self.columns.items():
            self._add(name, votes, 1)

    def _add(self, name: str, votes: np.ndarray, sign: int) -> None:
        fired = votes >= 0
        self.n_votes += sign * fired
        rows = np.flatnonzero(fired)
        np.add.at(self.class_votes, (rows, votes[rows].astype(np.intp)), sign)
        with np.errstate(over="ignore"):
            term = column_hash(name, votes)
            self.row_hash = self.row_hash + term if sign > 0 else self.row_hash - term

    def replace(self, name: str, votes: np.ndarray | None) -> None:
        """Set (or with None remove) one LF's column, keeping the totals right."""
        old = self.columns.pop(name, None)
        if old is not None:
            self._add(name, old, -1)
        if votes is not None:
            self.columns[name] = votes
            self._add(name, votes, 1)

    def distinct(self, extra: tuple[str, np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Distinct vote patterns (rows of the matrix, plus the `extra` column) and their counts, from
        the row hashes: no (rows x LFs) matrix is built or sorted."""
        hashes = self.row_hash
        if extra is not None:
            with np.errstate(over="ignore"):
                hashes = hashes + column_hash(*extra)
        _, first, counts = np.unique(hashes, return_index=True, return_counts=True)
        columns = [votes[first] for votes in self.columns.values()] + ([extra[1][first]] if extra else [])
        if not columns:
            columns = [np.full(len(first), ABSTAIN_INDEX, dtype=vote_dtype(self.k))]
        return np.column_stack(columns).astype(vote_dtype(self.k), copy=False), counts.astype(float)

    def matrix(self) -> np.ndarray:
        if not self.columns:
            return np.full((self.n, 1), ABSTAIN_INDEX, dtype=vote_dtype(self.k))
        return np.column_stack(list(self.columns.values())).astype(vote_dtype(self.k), copy=False)


def column_hash(name: str, votes: np.ndarray) -> np.ndarray:
    """(vote + 1) * a 64-bit odd weight derived from the LF name. Equal hash sums on two rows with
    different votes need a combination of weights to vanish mod 2**64: about 2**-64 per pair of rows."""
    import hashlib

    weight = np.uint64(int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "little") | 1)
    with np.errstate(over="ignore"):
        return (votes.astype(np.int64) + 1).astype(np.uint64) * weight


def column_figures(votes: np.ndarray, totals: VoteMatrix, *, included: bool) -> tuple[float, float, float, np.ndarray]:
    """Coverage, overlaps, conflicts of one LF's train votes against the other LFs in `totals`
    (`included`: whether `votes` is itself counted in the totals); plus the conflict mask."""
    fired = votes >= 0
    n = len(votes)
    if n == 0:
        return 0.0, 0.0, 0.0, fired
    own = fired.astype(np.int32) if included else 0
    others = totals.n_votes - own
    same = np.zeros(n, dtype=np.int32)
    rows = np.flatnonzero(fired)
    same[rows] = totals.class_votes[rows, votes[rows].astype(np.intp)] - (1 if included else 0)
    overlap = fired & (others > 0)
    conflict = fired & (others - same > 0)
    return float(fired.mean()), float(overlap.mean()), float(conflict.mean()), conflict


def warning_for(coverage: float, dev_n: int, dev_correct: int) -> str:
    if coverage >= WARN_COVERAGE and dev_n >= WARN_MIN_DEV and dev_correct / dev_n < WARN_ACCURACY:
        return (f"fires on {coverage:.0%} of train rows but is right on only {dev_correct / dev_n:.0%} "
                f"of the {dev_n} dev rows it fires on")
    return ""


class Workspace:
    """Train/dev rows, gold dev labels and every LF's votes, cached; figures and previews on demand."""

    def __init__(self, train: pd.DataFrame, dev: pd.DataFrame, y_dev: np.ndarray, classes: tuple[str, ...], *,
                 text_column: str, id_column: str, parser=None, seed: int = 0) -> None:
        from labelkit.labelmodels import class_balance_from_dev

        self.classes = tuple(classes)
        self.k = len(self.classes)
        self.text_column, self.id_column = text_column, id_column
        self.frames = {"train": train.reset_index(drop=True), "dev": dev.reset_index(drop=True)}
        self.batches = {s: Batch(f, text_column=text_column, parser=parser) for s, f in self.frames.items()}
        self.y_dev = np.asarray(y_dev)
        self.prior = class_balance_from_dev(self.y_dev, self.k)
        self.seed = seed
        order = np.random.default_rng(seed).permutation(len(self.y_dev))
        self.folds = [np.sort(order[: len(order) // 2]), np.sort(order[len(order) // 2:])]
        self.votes = {s: VoteMatrix({}, self.k, len(f)) for s, f in self.frames.items()}
        self.meta: dict[str, tuple[str, str, bool]] = {}  # name -> (kind, label, editable)
        self._overall: dict | None = None  # overall() of the current LFs, cached

    # ------------------------------------------------------------ votes
    def add_votes(self, name: str, kind: str, label: str, editable: bool, train: np.ndarray, dev: np.ndarray) -> None:
        self.votes["train"].replace(name, np.asarray(train, dtype=vote_dtype(self.k)))
        self.votes["dev"].replace(name, np.asarray(dev, dtype=vote_dtype(self.k)))
        self.meta[name] = (kind, label, editable)
        self._overall = None

    def remove(self, name: str) -> None:
        for matrix in self.votes.values():
            matrix.replace(name, None)
        self.meta.pop(name, None)
        self._overall = None

    def lf_votes(self, lf) -> dict[str, np.ndarray]:
        """One declarative LF's votes on train and dev (vectorised; row by row for spaCy patterns)."""
        from labelkit.apply.local import apply_lfs

        out = {}
        code = self.classes.index(lf.label)
        for split, batch in self.batches.items():
            if hasattr(lf, "mask") and getattr(lf, "func", None) is None:
                out[split] = np.where(lf.mask(batch), code, ABSTAIN_INDEX).astype(vote_dtype(self.k))
            else:
                out[split] = apply_lfs([lf], batch.frame, self.classes, text_column=self.text_column,
                                       id_column=self.id_column, parser=batch.parser).L[:, 0]
        return out

    # ------------------------------------------------------------ figures
    def figures(self, name: str) -> LFFigures:
        kind, label, editable = self.meta[name]
        train, dev = self.votes["train"].columns[name], self.votes["dev"].columns[name]
        coverage, overlaps, conflicts, _ = column_figures(train, self.votes["train"], included=True)
        fired = dev >= 0
        dev_n, dev_correct = int(fired.sum()), int((dev[fired] == self.y_dev[fired]).sum())
        return LFFigures(name, kind, label, editable, coverage, overlaps, conflicts, dev_n, dev_correct,
                         warning_for(coverage, dev_n, dev_correct))

    def table(self, order: list[str] | None = None) -> list[LFFigures]:
        return [self.figures(name) for name in (order or self.meta) if name in self.meta]

    def overall(self) -> dict:
        """Rule baseline (majority vote) and label model on dev, for the current LFs (cached)."""
        if self._overall is None:
            self._overall = self._systems(self.votes["train"].distinct(), self.votes["dev"].matrix())
        return self._overall

    def _systems(self, train_patterns: tuple[np.ndarray, np.ndarray], L_dev: np.ndarray) -> dict:
        from labelkit.pipeline.baselines import rule_baseline

        out: dict[str, Any] = {}
        rules = rule_baseline(L_dev, self.prior)
        out["rule_baseline"] = self._score(rules)
        try:
            out["label_model"] = self._score(self._label_model_predictions(*train_patterns, L_dev))
        except Exception as exc:  # e.g. no LF fires: the page says so instead of failing
            out["label_model"] = {"error": str(exc).splitlines()[0] if str(exc) else type(exc).__name__}
        out["dev_coverage"] = float((L_dev >= 0).any(axis=1).mean()) if len(L_dev) else 0.0
        return out

    def _label_model_predictions(self, patterns: np.ndarray, counts: np.ndarray, L_dev: np.ndarray) -> np.ndarray:
        """Weighted majority vote, LF accuracies from EM on train refined on gold dev, cross-fitted on
        two dev folds so no dev row is predicted by a model that saw its label (as the build does)."""
        from labelkit.labelmodels import hard_predictions, make_label_model
        from labelkit.labelmodels.base import UsesDevMixin

        predictions = np.zeros(len(L_dev), dtype=np.int64)
        for held_out in self.folds:
            seen = np.ones(len(L_dev), dtype=bool)
            seen[held_out] = False
            model = make_label_model(PREVIEW_LABEL_MODEL)
            assert isinstance(model, UsesDevMixin)  # the preview's model learns from dev
            model.use_dev(L_dev[seen], self.y_dev[seen])
            model.fit(patterns, cardinality=self.k, class_balance=self.prior, seed=self.seed, sample_weight=counts)
            predictions[held_out] = hard_predictions(model.predict_proba(L_dev[held_out]), self.prior)
        return predictions

    def _score(self, predictions: np.ndarray) -> dict:
        correct = int((predictions == self.y_dev).sum())
        n = len(self.y_dev)
        return {"accuracy": correct / n if n else None, "interval": wilson(correct, n), "n": n}

    # ------------------------------------------------------------ preview of an edited rule
    def preview(self, lf, *, replaces: str | None = None, kind: str = "", examples: int = EXAMPLES) -> dict:
        """Figures of `lf` against every other LF (the rule it replaces left out), examples, and the rule
        baseline / label model on dev before and after the edit."""
        if lf.name in self.meta and lf.name != replaces:
            from labelkit.errors import LabelingFunctionError

            raise LabelingFunctionError(f"rule {lf.name!r}: an LF or rule with this name already exists; choose another name.")
        votes = self.lf_votes(lf)
        others = self.votes  # changed in place and restored below (callers serialise previews)
        old = {s: m.columns.get(replaces) if replaces else None for s, m in others.items()}
        for split, matrix in others.items():  # take the old version out (put back below)
            if replaces and old[split] is not None:
                matrix.replace(replaces, None)
        try:
            coverage, overlaps, conflicts, conflict_mask = column_figures(votes["train"], others["train"], included=False)
            fired = votes["dev"] >= 0
            dev_n, dev_correct = int(fired.sum()), int((votes["dev"][fired] == self.y_dev[fired]).sum())
            after = self._systems(others["train"].distinct((lf.name, votes["train"])),
                                  np.column_stack([others["dev"].matrix(), votes["dev"]]))
            conflict_rows = self._examples_conflicts(votes["train"], conflict_mask, others["train"], examples)
        finally:
            for split, matrix in others.items():
                if replaces and old[split] is not None:
                    matrix.replace(replaces, old[split])
        figures = LFFigures(lf.name, kind or lf.kind, lf.label, True, coverage, overlaps, conflicts, dev_n, dev_correct,
                            warning_for(coverage, dev_n, dev_correct))
        return {
            "figures": figures,
            "before": self.overall(),
            "after": after,
            "fires": self._rows("train", np.flatnonzero(votes["train"] >= 0), examples),
            "wrong_on_dev": self._rows("dev", np.flatnonzero(fired & (votes["dev"] != self.y_dev)), examples,
                                       gold=True),
            "conflicts": conflict_rows,
        }

    def _rows(self, split: str, positions: np.ndarray, k: int, *, gold: bool = False) -> list[dict]:
        picked = _spread(positions, k)
        frame = self.frames[split]
        out = []
        for i in picked:
            item = {"row_id": str(frame[self.id_column].iloc[i]), "text": _clip(frame[self.text_column].iloc[i])}
            if gold:
                item["gold"] = self.classes[self.y_dev[i]]
            out.append(item)
        return out

    def _examples_conflicts(self, votes, mask, others: VoteMatrix, k: int) -> list[dict]:
        rows = self._rows("train", np.flatnonzero(mask), k)
        names = list(others.columns)
        for item, i in zip(rows, _spread(np.flatnonzero(mask), k)):
            item["others"] = ", ".join(f"{n}: {self.classes[others.columns[n][i]]}" for n in names
                                       if others.columns[n][i] >= 0 and others.columns[n][i] != votes[i])
        return rows


def _spread(positions: np.ndarray, k: int) -> np.ndarray:
    """Up to k positions spread evenly over the candidates (deterministic)."""
    if len(positions) <= k:
        return positions
    return positions[np.linspace(0, len(positions) - 1, k).round().astype(int)]


def _clip(value, limit: int = 240) -> str:
    text = "" if value is None or value != value else str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
