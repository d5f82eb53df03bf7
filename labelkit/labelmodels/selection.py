"""Pick a label model on the gold dev split.

Candidates are (model, class balance) pairs: each name in ``names`` is fitted on L_train under each
setting of ``class_balances`` (default: the single ``class_balance``). Each gets two dev scores:

- its own: ``hard_predictions`` of its dev votes under its own prior, by the task's metric
  (``resolve_metric``: ``"auto"`` = F1 of the positive class on a binary task whose rarer class is under
  30% of dev, else accuracy). Valid only while the dev votes are like the train votes.
- with a ``judge`` (the build's, labelkit.endmodel.probe): the dev score of a quick end model trained on
  its train labels. Dev gold with the rows' text (or features) stays valid when the dev votes do not:
  votes joined on the wrong key, a dev split voted by other LFs. This is what labels are for.

Models that learn from dev labels (``uses_dev``: weighted majority, logistic votes) are scored on dev
folds they did not see (``dev_folds`` seeded folds; for the judge, an end model trained on the labels
of the model that did not see the fold); the returned model then uses all of dev.

How one is chosen (``choose_by``):
- ``"auto"`` (the default): while the dev votes are trusted, the best own dev score, except that a
  winner that learns from dev gives way to the best candidate that learns nothing from dev when the end
  model its train labels teach is worse on dev beyond noise (``_own_score_confirmed``); when the build's
  checks found the dev votes unrelated to dev gold (``trust_dev_votes`` False), as ``"end_model"``
  among the candidates that learn nothing from dev. Measured on benchmarks/suite.py, judging every
  build by the end model lost up to 5 points on small or imbalanced dev splits of healthy sets (a quick
  end model's dev score is as noisy as the votes' own), so the judge decides only where the votes' own
  score means nothing or where it contradicts them beyond noise.
- ``"end_model"`` (with a judge; without one, the candidates' own dev scores): among the candidates
  that learn nothing from dev, the first (in the order given) within one dev row of the best; a
  candidate that learns from dev replaces it only when it is better beyond dev noise (the 95% paired
  bootstrap interval of the difference lies above 0).
- ``"label_model"``: the best own dev score (the rule before the build checked itself).
- In every mode a candidate that learns from dev is left out when ``trust_dev_votes`` is False, or
  when it flips an LF vote that the train evidence supports and dev contradicts (``supported``: alone on
  a row, the vote leaves P(class) below the model's prior): that is how a model fitted to dev votes
  that contradict the train votes (a held-back SMS set: 'spam' votes right on 253 of 263 train rows, 1 of
  26 dev rows) learns "a spam vote means ham" and labels train upside down.
- Either way, a candidate whose labels on the train and dev votes are all one class ("predicts only
  'ham'") is chosen only if every candidate is; on equal scores the earlier candidate wins.

Intervals: every candidate is scored on the same ``n_boot`` seeded resamples of the dev rows; the 95%
percentile interval is kept, and candidates whose interval holds the winner's score are named in
``notes`` as not clearly worse. A candidate that cannot be fitted (LabelModelError, e.g. snorkel with
fewer than 3 LFs) gets a NaN score and a line in ``Selection.notes``; if none can be fitted,
LabelModelError is raised.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from labelkit.io.display import interval_text
from labelkit.errors import ConfigError, LabelModelError
from labelkit.labelmodels.base import LabelModel, hard_predictions, validate_label_matrix

if TYPE_CHECKING:
    from labelkit.endmodel.probe import Probe

N_BOOT = 200
CONFIDENCE = 0.95


@dataclass
class VoteEvidence:
    """What the train evidence says about the votes, before the label model is chosen (made by
    labelkit.pipeline.checks; the selection obeys it)."""

    findings: list[dict] = field(default_factory=list)
    trust_dev_votes: bool = True
    supported: np.ndarray | None = None  # (n_lfs, k) LF votes the train evidence supports
    contradicted: np.ndarray | None = None  # (n_lfs, k) LF votes whose dev accuracy contradicts the train evidence
    lf_train_accuracy: dict[str, float] = field(default_factory=dict)  # LF -> estimated accuracy on train
    reference_pred: np.ndarray | None = None  # dev predictions of the probe on majority-vote labels (stages)

    def contradicted_support(self) -> np.ndarray | None:
        """(n_lfs, k) LF votes the train evidence supports and dev contradicts: what a label model
        learned from dev may not flip."""
        if self.supported is None or self.contradicted is None:
            return None
        return self.supported & self.contradicted


@dataclass
class Selection:
    name: str  # the chosen model's registry name
    model: LabelModel
    dev_scores: dict[str, float]  # candidate key -> dev score (NaN = could not be fitted)
    prior: np.ndarray  # the chosen candidate's prior (tie-breaking, all-abstain rows)
    metric: str = "accuracy"  # the concrete metric used (never "auto")
    notes: list[str] = field(default_factory=list)
    positive: int | None = None  # class index scored by metric "f1"
    key: str = ""  # the chosen candidate's key, e.g. "snorkel (uniform prior)"
    class_balance: str = ""  # the chosen candidate's class-balance setting
    candidates: list[dict] = field(default_factory=list)  # one JSON-able record per candidate
    fitted: dict[str, LabelModel] = field(default_factory=dict, repr=False)  # candidate key -> fitted model
    chosen_by: str = "label_model"  # end_model: by the judge's dev score; label_model: by its own dev score
    judge_metric: str | None = None  # what the judge's dev score is, e.g. "average precision of 'spam'"
    reason: str = ""  # one line: why the winner won
    evidence: VoteEvidence | None = field(default=None, repr=False)  # the build's checks of the votes (None: unchecked)
    probe: Probe | None = field(default=None, repr=False)  # the build's labelkit.endmodel.probe.Probe (None: none)


@dataclass
class Judge:
    """Scores a candidate by the end model its train labels teach: `probe` (labelkit.endmodel.probe)
    trained on the candidate's probabilities of the probe's train rows, scored on the gold dev rows."""

    probe: Probe
    pattern_rows: np.ndarray  # per probe train row: the index of its vote pattern in L_train
    metric_name: str = ""

    def judgements(self, proba_train: np.ndarray) -> np.ndarray:
        """(n_dev, m) what the probe trained on a model's train labels (`proba_train`: its probabilities
        of L_train) says of each dev row."""
        targets = proba_train[self.pattern_rows]
        return self.probe.judgements(self.probe.dev_scores(targets), targets)

    def score(self, y: np.ndarray, judgements: np.ndarray, column: int | None = None) -> tuple[float, int]:
        return self.probe.judge(y, judgements, column)

    @property
    def ranks(self) -> bool:
        """Judgements are scores to rank by (average precision), not class predictions."""
        name, positive = self.probe.metric
        return name == "f1" and positive is not None and self.probe.k == 2


def score_predictions(y_true, y_pred, *, cardinality: int, metric: str = "accuracy", positive=None) -> float:
    """See labelkit.evaluate.metrics.score_predictions (the one home for metrics)."""
    from labelkit.evaluate.metrics import score_predictions as score

    return score(y_true, y_pred, cardinality=cardinality, metric=metric, positive=positive)


def select_label_model(
    names, L_train, L_dev, y_dev, *, cardinality, seed=0, metric="auto", class_balance=None,
    options: dict | None = None, dev_folds: int = 5, sample_weight=None, positive: int | None = None,
    class_balances: dict | None = None, n_boot: int = N_BOOT, classes=None, judge: Judge | None = None,
    choose_by: str = "auto", trust_dev_votes: bool = True, supported: np.ndarray | None = None,
    lf_names=None,
) -> Selection:
    """Fit each named model on L_train under each class balance, score on (L_dev, y_dev) (and by the
    `judge`), return the one chosen by `choose_by` as a Selection (module docstring).

    ``options`` maps a model name to its constructor options, e.g. ``{"snorkel": {"n_epochs": 200}}``.
    ``class_balances`` maps a setting's label to a balance (None = uniform / estimated), e.g.
    ``{"dev": [0.8, 0.2], "uniform": None}``. ``sample_weight`` (one count per row of L_train) lets
    L_train be the distinct vote patterns of data too large to hold, with their counts.
    ``supported``: (n_lfs, k) bool, the LF votes the train evidence supports (None: not checked).
    """
    from labelkit.evaluate.metrics import resolve_metric
    from labelkit.evaluate.uncertainty import resamples as draw_resamples

    names = list(names)
    if not names:
        raise ConfigError("select_label_model needs at least one label model name.")
    L_train = validate_label_matrix(L_train, cardinality=cardinality, what="L_train")
    L_dev = validate_label_matrix(L_dev, cardinality=cardinality, what="L_dev")
    y_dev = np.asarray(y_dev, dtype=np.int64).reshape(-1)
    if y_dev.shape[0] != L_dev.shape[0] or y_dev.size == 0:
        raise LabelModelError(
            f"L_dev has {L_dev.shape[0]} rows but y_dev has {y_dev.shape[0]} labels; need the same, non-zero count."
        )
    if y_dev.min() < 0 or y_dev.max() >= cardinality:
        bad = int(y_dev.min() if y_dev.min() < 0 else y_dev.max())
        raise LabelModelError(f"y_dev holds class {bad}, outside 0..{cardinality - 1}; gold dev labels must be classes.")
    metric, positive = resolve_metric(metric, y_dev, cardinality=cardinality, positive=positive)
    balances = dict(class_balances) if class_balances else {"given": class_balance}
    resamples = draw_resamples(y_dev.size, n_boot, seed)
    judge = judge if choose_by in ("end_model", "auto") else None
    context = dict(L_train=L_train, L_dev=L_dev, y_dev=y_dev, cardinality=cardinality, seed=seed,
                   sample_weight=sample_weight, dev_folds=dev_folds, metric=metric, positive=positive,
                   resamples=resamples, judge=judge, supported=supported,
                   lf_names=list(lf_names or [f"lf_{j}" for j in range(L_dev.shape[1])]))
    records: list[dict] = []
    fitted: dict[str, LabelModel] = {}  # candidate key -> fitted model
    notes: list[str] = []
    samples: dict[str, dict] = {}  # candidate key -> bootstrap samples of its scores
    classes = list(classes or [str(i) for i in range(cardinality)])
    with _one_blas_thread():
        for name in names:
            for label, balance in balances.items():
                key = name if len(balances) == 1 else f"{name} ({label} prior)"
                record, model, boot = _evaluate_candidate(name, key, label, balance, (options or {}).get(name, {}),
                                                          context, classes)
                records.append(record)
                if model is None:
                    notes.append(f"{key} skipped: {record['error']}")
                else:
                    fitted[key], samples[key] = model, boot
    if not fitted:
        raise LabelModelError("no label model could be fitted: " + " | ".join(notes))
    if not trust_dev_votes:
        for r in records:
            if r["learns_from_dev"] and r["fit_seconds"] is not None:
                r["excluded"] = "learns from the dev votes, which the build found unrelated to what the train votes teach"
    if choose_by == "label_model":
        best, reason = _choose_by_own_score(records), "the best dev score of its own predictions"
        decided_by = "label_model"
    elif choose_by == "auto" and trust_dev_votes:
        best, reason = _own_score_confirmed(records, samples, one_row_tolerance(y_dev, metric, positive),
                                            judged=judge is not None)
        decided_by = "end_model" if reason.startswith("the best end-model") else "label_model"
    else:
        best, reason = _choose(records, samples, "judge_score" if judge else "dev_score",
                               one_row_tolerance(y_dev, metric, positive), classes)
        decided_by = "end_model" if judge else "label_model"
    notes += _selection_notes(records, best, classes, "judge_score" if judge else "dev_score")
    return Selection(
        name=best["model"], model=fitted[best["key"]], prior=fitted[best["key"]].prior, metric=metric,
        dev_scores={r["key"]: r["dev_score"] for r in records}, notes=notes, positive=positive,
        key=best["key"], class_balance=best["class_balance"], candidates=records, fitted=fitted,
        chosen_by=decided_by,
        judge_metric=judge.metric_name if judge else None,
        reason=reason,
    )


def one_row_tolerance(y_dev, metric: str, positive) -> float:
    """What one dev row is worth in the metric's units (labelkit.endmodel.training.one_row)."""
    from labelkit.endmodel.training import one_row

    return one_row(y_dev, (metric, positive))


def _one_blas_thread():
    """Label models are small dense problems: a second BLAS thread spins more than it helps (one
    logistic_votes fit on semeval's dev votes: 3.9 s with OpenBLAS's 2 threads on a busy 2-core
    machine, 0.12 s with one). Torch's threads are pinned by the snorkel model itself."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


def _evaluate_candidate(name, key, label, balance, model_options, c, classes) -> tuple[dict, LabelModel | None, dict]:
    """(JSON-able record, fitted model or None, bootstrap samples of its dev scores)."""
    from labelkit.labelmodels import make_label_model

    record = {"key": key, "model": name, "class_balance": label, "dev_score": float("nan"),
              "dev_interval": None, "predicts_only": None, "fit_seconds": None, "cross_fitted": False,
              "learns_from_dev": False, "judge_score": None, "judge_interval": None, "excluded": None}
    fit_kwargs = dict(cardinality=c["cardinality"], class_balance=balance, seed=c["seed"],
                      sample_weight=c["sample_weight"])
    build = lambda: make_label_model(name, **model_options)  # noqa: E731
    started = time.perf_counter()
    try:
        model, dev_pred, train_pred, judge_proba = _fit_and_predict_dev(build, fit_kwargs, c)
    except LabelModelError as error:  # e.g. snorkel with < 3 LFs: skip the candidate, say why
        record["error"] = str(error)
        return record, None, {}
    record["fit_seconds"] = round(time.perf_counter() - started, 3)
    record["learns_from_dev"] = record["cross_fitted"] = bool(getattr(model, "uses_dev", False))
    y_dev = c["y_dev"]
    record["dev_score"] = score_predictions(y_dev, dev_pred, cardinality=c["cardinality"], metric=c["metric"],
                                            positive=c["positive"])
    boot = {"dev_score": _bootstrap_scores(y_dev, dev_pred, c)}
    record["dev_interval"] = _percentiles(boot["dev_score"])
    if judge_proba is not None:
        judge = c["judge"]
        score, column = judge.score(y_dev, judge_proba)
        record["judge_score"] = round(score, 6)
        if judge.ranks:  # a score per row (average precision): resample it
            boot["judge_score"] = np.array([judge.score(y_dev[rows], judge_proba[rows], column)[0]
                                            for rows in c["resamples"]])
        else:  # class predictions: the task's metric from resampled confusion matrices
            boot["judge_score"] = _bootstrap_scores(y_dev, judge_proba[:, column].astype(np.int64), c)
        record["judge_interval"] = _percentiles(boot["judge_score"])
    predicted = np.union1d(np.unique(train_pred), np.unique(dev_pred))
    if predicted.size == 1:
        record["predicts_only"] = int(predicted[0])
    if record["learns_from_dev"] and c["supported"] is not None:
        flips = _flipped_votes(model, c["supported"], classes, c["lf_names"])
        if flips:
            record["excluded"] = ("flips LF votes the train evidence supports: " + ", ".join(flips[:5])
                                  + (f" and {len(flips) - 5} more" if len(flips) > 5 else ""))
    return record, model, boot


def _fit_and_predict_dev(build, fit_kwargs, c):
    """(model fitted on train (and all of dev if it learns from dev), its dev predictions, its train
    predictions, the judge's dev probabilities or None). A model that learns from dev is scored on
    folds it did not see. The train probabilities are computed once, for the judge and the predictions."""
    model = build()
    judge = c["judge"]
    if getattr(model, "uses_dev", False):
        dev_pred, judge_proba = _cross_fitted_dev_predictions(build, fit_kwargs, c)
        model.use_dev(c["L_dev"], c["y_dev"])
        model.fit(c["L_train"], **fit_kwargs)
        return model, dev_pred, model.predict(c["L_train"]), judge_proba
    model.fit(c["L_train"], **fit_kwargs)
    proba_train = model.predict_proba(c["L_train"])
    judge_proba = judge.judgements(proba_train) if judge is not None else None
    dev_pred = hard_predictions(model.predict_proba(c["L_dev"]), model.prior)
    return model, dev_pred, hard_predictions(proba_train, model.prior), judge_proba


def _cross_fitted_dev_predictions(build, fit_kwargs, c):
    y_dev, L_dev, judge = c["y_dev"], c["L_dev"], c["judge"]
    n_folds = max(2, min(int(c["dev_folds"]), y_dev.size))
    folds = np.random.default_rng(c["seed"]).permutation(y_dev.size) % n_folds
    predictions = np.empty(y_dev.size, dtype=np.int64)
    judge_proba = None
    for fold in range(n_folds):
        held_out = folds == fold
        model = build().use_dev(L_dev[~held_out], y_dev[~held_out])
        model.fit(c["L_train"], **fit_kwargs)
        predictions[held_out] = hard_predictions(model.predict_proba(L_dev[held_out]), model.prior)
        if judge is not None:  # the end model its labels teach, on the dev rows the label model did not see
            judged = judge.judgements(model.predict_proba(c["L_train"]))
            judge_proba = np.zeros_like(judged) if judge_proba is None else judge_proba
            judge_proba[held_out] = judged[held_out]
    return predictions, judge_proba


def _flipped_votes(model, supported: np.ndarray, classes, lf_names) -> list[str]:
    """One line per supported (LF, class) vote after which, alone on a row, the model believes that
    class less than its prior does: it reads the vote as evidence against its class."""
    n_lfs, k = supported.shape
    pairs = np.argwhere(supported)
    if not len(pairs):
        return []
    from labelkit.schema import vote_dtype

    L = np.full((len(pairs), n_lfs), -1, dtype=vote_dtype(k))
    L[np.arange(len(pairs)), pairs[:, 0]] = pairs[:, 1]
    proba = model.predict_proba(L)
    prior = np.asarray(model.prior, dtype=float)
    out = []
    for (j, cls), p in zip(pairs, proba):
        if p[cls] < prior[cls] - 1e-9:
            out.append(f"{lf_names[j]}'s {classes[cls]!r} vote lowers P({classes[cls]!r}) below its prior")
    return out


def _bootstrap_scores(y_dev, dev_pred, c) -> np.ndarray:
    from labelkit.evaluate.uncertainty import resampled_scores

    return resampled_scores(y_dev, dev_pred, c["resamples"], k=c["cardinality"], metric=c["metric"],
                            positive=c["positive"])


def _percentiles(samples: np.ndarray) -> list[float]:
    from labelkit.evaluate.uncertainty import percentile_interval

    return percentile_interval(samples, CONFIDENCE)


def _bounds(samples: np.ndarray) -> tuple[float, float]:
    from labelkit.evaluate.uncertainty import percentile_bounds

    return percentile_bounds(samples, CONFIDENCE)


def _eligible(records: list[dict]) -> list[dict]:
    fitted = [r for r in records if r["fit_seconds"] is not None]
    allowed = [r for r in fitted if not r["excluded"]] or fitted
    return [r for r in allowed if r["predicts_only"] is None] or allowed


def _choose_by_own_score(records: list[dict]) -> dict:
    eligible = _eligible(records)
    order = {id(r): i for i, r in enumerate(records)}
    return max(eligible, key=lambda r: (_finite(r["dev_score"]), -order[id(r)]))


def _own_score_confirmed(records: list[dict], samples: dict, tolerance: float, *, judged: bool) -> tuple[dict, str]:
    """The best own dev score; a winner that learns from dev is replaced by the best candidate that
    learns nothing from dev when the end model its train labels teach is worse on dev beyond noise (the
    95% paired interval of the judge's difference lies below 0): its dev score is measured on the dev
    votes it was fitted to, its labels are made from the train votes, and where the two differ (dev
    another draw: a held-back TREC set, 54% vs 66% majority-vote accuracy) its dev score says nothing
    of its labels."""
    best = _choose_by_own_score(records)
    reason = "the best dev score of its own predictions (the dev votes relate to dev gold as the train votes do)"
    if not judged or not best["learns_from_dev"] or best["judge_score"] is None:
        return best, reason
    plain = [r for r in _eligible(records) if not r["learns_from_dev"] and r["judge_score"] is not None]
    if not plain:
        return best, reason
    top = max(_finite(r["judge_score"]) for r in plain)  # the strongest alternative, as the end model sees it
    base = next(r for r in plain if _finite(r["judge_score"]) >= top - tolerance - 1e-12)
    difference = samples[best["key"]]["judge_score"] - samples[base["key"]]["judge_score"]
    low, high = _bounds(difference)
    shown = interval_text((low, high), "+.4f", percent=False)
    if high >= 0:
        return best, reason + f"; the end model its labels teach is not worse on dev than {base['key']}'s"
    best["note"] = (f"best dev score ({best['dev_score']:.4f}), but the end model its train labels teach scores "
                    f"{best['judge_score']:.4f} on dev against {base['judge_score']:.4f} for {base['key']} (paired 95% "
                    f"interval of the difference {shown}): it learned from dev votes that are not "
                    f"like the train votes it labels")
    return base, (f"the best end-model dev score of the candidates that learn nothing from dev: {best['key']} scored "
                  f"higher on the dev votes it learned from, but its train labels teach a worse end model")


def _choose(records: list[dict], samples: dict, by: str, tolerance: float, classes) -> tuple[dict, str]:
    """The first candidate that learns nothing from dev within `tolerance` of the best such score; a
    candidate that learns from dev replaces it only when better beyond dev noise. (winner, reason)"""
    eligible = _eligible(records)
    plain = [r for r in eligible if not r["learns_from_dev"]]
    learned = [r for r in eligible if r["learns_from_dev"]]
    what = "end-model dev score" if by == "judge_score" else "dev score"
    if not plain:
        best = max(learned, key=lambda r: _finite(r[by]))
        return best, f"the best {what}; every candidate left learns from dev"
    top = max(_finite(r[by]) for r in plain)
    base = next(r for r in plain if _finite(r[by]) >= top - tolerance - 1e-12)
    reason = (f"the best {what} of the candidates that learn nothing from dev"
              + ("" if _finite(base[by]) >= top else f" (within one dev row of the best, {top:.4f}; the earlier one is kept)"))
    if not learned:
        return base, reason
    challenger = max(learned, key=lambda r: _finite(r[by]))
    if _finite(challenger[by]) <= _finite(base[by]):
        return base, reason
    difference = samples[challenger["key"]][by] - samples[base["key"]][by]
    low, high = _bounds(difference)
    shown = interval_text((low, high), "+.4f", percent=False)
    if low > 0:
        return challenger, (f"learns from dev and beats {base['key']} ({what} {challenger[by]:.4f} vs {base[by]:.4f}) "
                            f"beyond dev noise (paired 95% interval of the difference {shown})")
    challenger["note"] = (f"{what} {challenger[by]:.4f} vs {base[by]:.4f} for {base['key']}: not beyond dev noise "
                          f"(paired 95% interval of the difference {shown}), so the candidate that "
                          f"learns nothing from dev was kept")
    return base, reason + f"; {challenger['key']} (learns from dev) was not better beyond dev noise"


def _selection_notes(records: list[dict], best: dict, classes, by: str) -> list[str]:
    notes = [f"{r['key']} predicts only {classes[r['predicts_only']]!r} on the train and dev votes; "
             + ("every candidate does, so it was kept." if r is best else "not chosen.")
             for r in records if r["predicts_only"] is not None]
    notes += [f"{r['key']} left out: {r['excluded']}." for r in records if r["excluded"] and r is not best]
    notes += [f"{r['key']}: {r['note']}." for r in records if r.get("note")]
    interval = "judge_interval" if by == "judge_score" else "dev_interval"
    close = [r["key"] for r in records if r is not best and r[interval] and r[by] is not None
             and r[interval][0] <= (best[by] if best[by] is not None else np.nan) <= r[interval][1]]
    if close:
        notes.append(f"{best['key']} chosen; not clearly better on dev than: {', '.join(close)} "
                     f"(their 95% dev intervals hold its score).")
    return notes


def _finite(value) -> float:
    return value if value is not None and np.isfinite(value) else -np.inf
