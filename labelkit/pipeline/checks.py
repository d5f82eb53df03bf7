"""The build's checks of itself: each a small function over arrays returning findings (labelkit.results.Check
as dicts: name, severity, message, subject, evidence, action), most of them answered by a probe
(labelkit.endmodel.probe), a quick end model that needs no vote to be right.

Before the label model is chosen (`vote_evidence`):
- ``dev_votes``: are the dev votes related to dev gold the way the train votes are to what they teach?
  Agreement is Cohen's kappa of the majority vote on the covered rows: with dev gold, and (train
  evidence, no gold needed) with a probe trained on the train votes, out of fold on train and on dev.
  An ``error`` when the dev votes are unlike the train votes (the probe agrees with them far less than
  with the train votes: kappa's 95% upper bound under UNLIKE_TRAIN of train's) and unrelated to dev
  gold (kappa under UNRELATED_KAPPA): votes joined on the wrong key, a dev split voted by other LFs. The
  build then learns no aggregation from the dev votes. LFs weak everywhere are a warning (nothing to
  fall back from); so is a votes-only task whose dev votes look unrelated to gold (its 95% upper bound
  under UNRELATED_KAPPA), where the dev-learning candidates are still left out.
- ``lf_dev_vs_train``: LFs (and each class's votes, pooled over LFs) whose dev accuracy is far below
  what the train evidence says: how often the LF's train votes agree with a probe trained, out of fold,
  on the majority vote of the *other* LFs. A warning; it binds only where a class's pooled dev votes
  are worse than no vote (precision under the class's dev share) while train says they are right: a
  label model learned from dev may not flip such a vote where the train evidence supports it. (Per LF
  it does not bind: LFs that split on the same feature agree with each other on train whatever their
  accuracy, and a label model that reads one against its class was right to on census and mushroom.)

After the end model (`end_model_checks`):
- ``do_no_harm``: the end model on dev against a probe trained on plain majority-vote labels; worse
  beyond dev noise is an ``error``, and the build falls back to majority-vote labels.
- ``class_shares``: the end model's predicted class shares on dev against dev gold and the label
  model's estimate of train: an inverted model predicts the rare class on most rows.
- ``rules_on_dev``: the end model against the rules on dev (when the dev votes are trusted).

Thresholds were set on the broad suite (benchmarks/suite.py) so that none fires on the bundled example,
WRENCH youtube or semeval, and each fires on the stress variant made for it.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from labelkit.io.display import interval_text
from labelkit.labelmodels.selection import VoteEvidence
from labelkit.pipeline.baselines import rule_baseline

UNRELATED_KAPPA = 0.2  # dev votes vs dev gold: kappa under this (its 95% upper bound, without inputs) = unrelated
UNLIKE_TRAIN = 0.5  # dev votes vs the probe under this share of train's kappa (95% upper bound) = unlike train
LF_MIN_DEV_VOTES = 20  # an LF is compared with its train evidence from this many dev votes
LF_MARGIN = 0.2  # dev accuracy's 95% upper bound this far below the train estimate = contradicts
SUPPORT_MIN_VOTES = 10  # train votes (probe rows) from which an LF vote can be supported
SUPPORT_LIFT = 0.1  # supported: the probe says the class on the LF's votes this much more often than overall
SHARES_DISTANCE = 0.25  # total variation distance of predicted vs gold class shares that is worth a word
N_BOOT = 200
SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}


def finding(name: str, severity: str, message: str, *, subject=None, evidence=None, action=None,
            summary=None) -> dict:
    out: dict[str, Any] = {"name": name, "severity": severity, "message": message}
    if subject is not None:
        out["subject"] = subject
    if summary is not None:
        out["summary"] = summary
    out["evidence"] = evidence or {}
    if action is not None:
        out["action"] = action
    return out


def ordered(findings: list[dict]) -> list[dict]:
    """Most severe first, then in the order found."""
    return sorted(findings, key=lambda f: SEVERITY_ORDER.get(f["severity"], 3))


def majority_proba(L: np.ndarray, k: int, prior: np.ndarray) -> np.ndarray:
    """Majority-vote probabilities: vote shares on covered rows, ties split evenly, the prior elsewhere
    (the labels: labelkit.pipeline.baselines.rule_baseline)."""
    from labelkit.labelmodels.base import vote_counts

    counts = vote_counts(L, k)
    total = counts.sum(axis=1, keepdims=True)
    return np.where(total > 0, counts / np.maximum(total, 1), np.asarray(prior, dtype=float)[None, :])


def kappa(a: np.ndarray, b: np.ndarray, k: int) -> float:
    """Cohen's kappa of two labelings of the same rows (nan without rows)."""
    if not len(a):
        return float("nan")
    confusion = np.bincount(np.asarray(a) * k + np.asarray(b), minlength=k * k).reshape(k, k).astype(float)
    return _kappa_of(confusion[None])[0]


def kappa_interval(a: np.ndarray, b: np.ndarray, k: int, seed: int) -> list[float] | None:
    """95% bootstrap interval of kappa(a, b) (labelkit.evaluate.uncertainty); None below two rows."""
    from labelkit.evaluate.uncertainty import percentile_interval, resampled_confusions, resamples

    if len(a) < 2:
        return None
    confusion = resampled_confusions(a, b, resamples(len(a), N_BOOT, seed), k).astype(float)
    return percentile_interval(_kappa_of(confusion))


def _kappa_of(confusion: np.ndarray) -> np.ndarray:
    n = confusion.sum(axis=(1, 2))
    observed = np.trace(confusion, axis1=1, axis2=2) / n
    expected = (confusion.sum(axis=2) * confusion.sum(axis=1)).sum(axis=1) / n ** 2
    with np.errstate(invalid="ignore", divide="ignore"):
        out = (observed - expected) / (1 - expected)
    return np.where(expected >= 1, 0.0, out)  # one class everywhere: no agreement beyond chance to speak of


# ---------------------------------------------------------------- before the label model

def vote_evidence(probe, L_train: np.ndarray, L_dev: np.ndarray, y_dev: np.ndarray, *, k: int, prior: np.ndarray,
                  lf_names: list[str], classes, seed: int) -> VoteEvidence:
    """The dev-votes and per-LF checks; `probe` None (a votes-only task) leaves only what dev gold says."""
    evidence = VoteEvidence()
    covered_dev = (L_dev >= 0).any(axis=1)
    mv_dev = rule_baseline(L_dev, prior)
    gold: dict[str, Any] = {"kappa": _round(kappa(mv_dev[covered_dev], y_dev[covered_dev], k)),
            "interval": kappa_interval(mv_dev[covered_dev], y_dev[covered_dev], k, seed),
            "covered_rows": int(covered_dev.sum())}
    train = None
    if probe is not None:
        L_probe = L_train[probe.rows][probe.covered]
        targets = majority_proba(L_probe, k, prior)
        probe.choose_alpha(majority_proba(L_train[probe.rows], k, prior), y_dev)
        oof_train, oof_dev = probe.out_of_fold(targets)
        mv_train = rule_baseline(L_probe, prior)
        train = {"kappa": _round(kappa(mv_train, oof_train.argmax(axis=1), k))}
        dev_vs_probe = {"kappa": _round(kappa(mv_dev[covered_dev], oof_dev[covered_dev].argmax(axis=1), k)),
                        "interval": kappa_interval(mv_dev[covered_dev], oof_dev[covered_dev].argmax(axis=1), k, seed)}
        evidence.findings += _dev_votes_findings(gold, train, dev_vs_probe, evidence)
        taught = _taught_without_each_lf(probe, L_probe, k, prior)
        evidence.findings += _lf_findings(evidence, L_probe, taught, L_dev, y_dev, k, lf_names, classes)
    else:
        learned = _learned_relation(L_train, L_dev, y_dev, k, prior, seed)
        if learned is not None and learned["kappa"] is not None and learned["kappa"] > (gold["kappa"] or -1):
            gold = {**learned, "covered_rows": gold["covered_rows"], "by": "a regression on the votes, cross-fitted"}
        evidence.findings += _dev_votes_findings(gold, None, None, evidence)
    return evidence


def _learned_relation(L_train, L_dev, y_dev, k: int, prior, seed: int) -> dict | None:
    """Kappa of dev gold with the cross-fitted predictions of a regression on the dev votes
    (logistic_votes): without inputs, the dev votes are unrelated to gold only if even a model fitted
    to them cannot predict it. Majority vote alone would call an LF that is inverted everywhere (imdb
    with one LF's votes flipped: kappa of majority vote < 0) unrelated, where learning from dev undoes it."""
    from labelkit.errors import LabelModelError
    from labelkit.labelmodels import hard_predictions, make_label_model
    from labelkit.labelmodels.base import UsesDevMixin

    folds = np.random.default_rng(seed).permutation(len(y_dev)) % 5
    predicted = np.empty(len(y_dev), dtype=np.int64)
    try:
        for fold in range(5):
            held = folds == fold
            model = make_label_model("logistic_votes")
            assert isinstance(model, UsesDevMixin)
            model.use_dev(L_dev[~held], y_dev[~held])
            model.fit(L_train[:1], cardinality=k, class_balance=prior, seed=seed)
            predicted[held] = hard_predictions(model.predict_proba(L_dev[held]), model.prior)
    except LabelModelError:  # too few dev rows to learn from
        return None
    return {"kappa": _round(kappa(predicted, y_dev, k)), "interval": kappa_interval(predicted, y_dev, k, seed)}


def _dev_votes_findings(gold: dict, train: dict | None, dev_vs_probe: dict | None, evidence: VoteEvidence) -> list[dict]:
    """Dev votes unrelated to dev gold are an error only when they are also unlike the train votes:
    the train votes teach a probe that reads the dev rows, and the dev votes disagree with it far more
    than the train votes do (no gold needed for that). LFs that are weak everywhere (census: kappa .17
    with gold on dev and test alike, and dev votes as predictable from the rows as train's) get a
    warning, since no label model can do better than read them."""
    facts: dict[str, Any] = {"dev_votes_vs_dev_gold": gold}  # kappa of majority vote, or of a regression on the votes (votes only)
    if train is not None:
        facts["train_votes_vs_probe"] = train
        facts["dev_votes_vs_probe"] = dev_vs_probe
    if gold["interval"] is None or gold["covered_rows"] < 20:
        return [finding("dev_votes", "info", f"only {gold['covered_rows']} dev rows carry a vote: too few to check "
                        f"the dev votes against dev gold.", evidence=facts)]
    unlike_train = train is not None and dev_vs_probe is not None and dev_vs_probe["interval"] is not None and \
        dev_vs_probe["interval"][1] < UNLIKE_TRAIN * train["kappa"]
    if train is not None:  # inputs to check the dev votes against: broken = unlike train and unlike gold
        broken = unlike_train and gold["kappa"] < UNRELATED_KAPPA
        weak_everywhere = not unlike_train and gold["interval"][1] < UNRELATED_KAPPA
    else:  # votes only: gold alone, and only when it is clear
        broken, weak_everywhere = gold["interval"][1] < UNRELATED_KAPPA, False
    if weak_everywhere:
        return [finding("dev_votes", "warning", f"the votes look unrelated to the labels: majority vote vs dev gold "
                        f"kappa {gold['kappa']:.2f} {interval_text(gold['interval'], '.2f', percent=False)}, while the dev "
                        f"votes are as predictable from the dev rows as the train votes are from theirs"
                        f"{_train_words(train, dev_vs_probe)}: the LFs are weak everywhere, not only on dev; check them.",
                        evidence=facts)]
    if not broken:
        shifted = unlike_train and not broken  # dev votes unlike train's but related to dev gold
        return [finding("dev_votes", "warning" if shifted else "info",
                        (f"dev votes relate to dev gold (majority vote vs gold: kappa {gold['kappa']:.2f}) but not to what "
                         f"the train votes teach{_train_words(train, dev_vs_probe)}: are dev and train from different "
                         f"sources?") if shifted else
                        f"dev votes relate to dev gold ({gold.get('by', 'majority vote')} vs gold: kappa "
                        f"{gold['kappa']:.2f}{_train_words(train, dev_vs_probe)}).", evidence=facts)]
    evidence.trust_dev_votes = False
    action = ("no aggregation is learned from the dev votes: label models that learn from dev "
              "(weighted_majority, logistic_votes) are left out")
    if train is None or dev_vs_probe is None:  # votes only: a shuffled dev split and weak LFs look the same here
        return [finding(
            "dev_votes", "warning",
            f"the dev votes look unrelated to dev gold ({gold.get('by', 'majority vote')} vs gold: kappa "
            f"{gold['kappa']:.2f}, 95% interval {interval_text(gold['interval'], '.2f', percent=False)}): LFs weak "
            f"everywhere, or dev votes joined on the wrong key (a votes-only task has no inputs to tell which).",
            subject="dev", evidence=facts, action=action + "; the others are chosen by their dev score")]
    return [finding(
        "dev_votes", "error",
        f"the dev votes look unrelated to dev gold (majority vote vs gold: kappa {gold['kappa']:.2f}, 95% interval "
        f"{interval_text(gold['interval'], '.2f', percent=False)}) and unlike the train votes: a model trained on the "
        f"train votes agrees with them far less than with the train votes (kappa {dev_vs_probe['kappa']:.2f} on dev vs "
        f"{train['kappa']:.2f} on train, no gold needed): dev votes joined on the wrong key, or voted by other LFs "
        f"than train?",
        subject="dev", evidence=facts,
        summary="the dev votes look unrelated to dev gold and unlike the train votes, so no label model learned "
                "from them",
        action=action + ", the rows no LF votes on are not labelled from dev, and the label model is judged by the "
                        "end model its labels train")]


def _train_words(train: dict | None, dev_vs_probe: dict | None = None) -> str:
    if train is None:
        return ""
    return (f"; a model trained on the train votes agrees with them with kappa {train['kappa']:.2f} on train"
            + (f" and {dev_vs_probe['kappa']:.2f} on dev" if dev_vs_probe and dev_vs_probe["kappa"] is not None else ""))


def _taught_without_each_lf(probe, L_probe: np.ndarray, k: int, prior: np.ndarray) -> dict[int, np.ndarray]:
    """Per LF j (that votes on the probe's rows): what a probe trained, out of fold, on the majority vote
    of the *other* LFs says of the rows where j votes. Leaving j out keeps the evidence independent of
    j itself: a frequent LF that votes alone is otherwise taught back to the probe and agrees with it
    (semeval's lf_136: 97% agreement with j in the targets, where dev gold says 54%)."""
    out = {}
    for j in range(L_probe.shape[1]):
        voted = L_probe[:, j] >= 0
        if voted.sum() < SUPPORT_MIN_VOTES and voted.sum() < LF_MIN_DEV_VOTES:
            continue
        others = L_probe.copy()
        others[:, j] = -1
        train, _ = probe.out_of_fold(majority_proba(others, k, prior))
        out[j] = train[voted].argmax(axis=1)
    return out


def _lf_findings(evidence: VoteEvidence, L_probe, taught: dict, L_dev, y_dev, k, lf_names, classes) -> list[dict]:
    """Per LF, its train agreement: how often its train votes agree with a probe trained, out of fold, on
    the other LFs' votes (`taught`). It stands in for the LF's train accuracy (the probe is often wrong
    itself, so it runs low for accurate LFs: a contradiction is only called when dev is far below).
    The same comparison pools each class's votes over LFs, since an LF may vote too rarely on dev to
    tell alone (the held-back SMS set: 26 dev 'spam' votes from many LFs, 1 right)."""
    n_lfs = L_probe.shape[1]
    supported = np.zeros((n_lfs, k), dtype=bool)
    contradicted = np.zeros((n_lfs, k), dtype=bool)
    flagged_lfs, flagged_classes = [], []
    pooled_right, pooled_all = np.zeros(k), np.zeros(k)
    for j, name in enumerate(lf_names):
        if j not in taught:
            continue
        votes = L_probe[L_probe[:, j] >= 0, j]
        agree = taught[j] == votes
        evidence.lf_train_accuracy[name] = round(float(agree.mean()), 4)
        for c in range(k):
            on = votes == c
            pooled_right[c] += agree[on].sum()
            pooled_all[c] += on.sum()
            # supported: the other LFs teach class c on these rows clearly more often than on the others
            share_elsewhere = np.mean(taught[j][~on] == c) if (~on).any() else 1.0 / k
            if on.sum() >= SUPPORT_MIN_VOTES and agree[on].mean() > max(share_elsewhere, 1.0 / k) + SUPPORT_LIFT:
                supported[j, c] = True
        far = _far_below(L_dev[:, j], y_dev, evidence.lf_train_accuracy[name])
        if far:  # worth a word; not enough to bind a label model (correlated LFs inflate train agreement)
            flagged_lfs.append({"lf": name, **far})
    for c in range(k):
        if not pooled_all[c]:
            continue
        dev_votes = np.where(L_dev == c, c, -1)  # every LF's dev votes for c, pooled
        far = _far_below(dev_votes.reshape(-1), np.repeat(y_dev, L_dev.shape[1]), pooled_right[c] / pooled_all[c])
        if far:
            base_rate = float(np.mean(y_dev == c))
            # binding only when dev's votes for c are worse than no vote at all (below c's dev share), where
            # train says they are right: a label model learned from them would read every such vote backwards
            far["below_dev_share"] = far["dev_accuracy_upper"] < base_rate
            contradicted[:, c] = far["below_dev_share"]
            flagged_classes.append({"class": str(classes[c]), "dev_share": round(base_rate, 4), **far})
    evidence.supported, evidence.contradicted = supported, contradicted
    if not flagged_lfs and not flagged_classes:
        return []
    parts = [f"{f['lf']} (dev {f['dev_accuracy']:.0%} of {f['dev_votes']} vs train ~{f['train_agreement']:.0%})"
             for f in flagged_lfs[:5]]
    parts += [f"votes for {f['class']!r} (dev {f['dev_accuracy']:.0%} of {f['dev_votes']} vs train ~{f['train_agreement']:.0%})"
              for f in flagged_classes]
    more = f" and {len(flagged_lfs) - 5} more LFs" if len(flagged_lfs) > 5 else ""
    return [finding("lf_dev_vs_train", "warning",
                    f"dev votes far less accurate than the train evidence says: {', '.join(parts)}{more}; they "
                    f"contradict the train votes (LFs edited after dev was voted, or dev from another draw?).",
                    evidence={"lfs": flagged_lfs, "classes": flagged_classes},
                    action=("label models that learn from dev may not flip votes for "
                            + ", ".join(repr(f["class"]) for f in flagged_classes if f["below_dev_share"])
                            + " where the train evidence supports them (on dev they are worse than no vote)")
                    if any(f["below_dev_share"] for f in flagged_classes) else None)]


def _far_below(votes: np.ndarray, y: np.ndarray, train_agreement: float) -> dict | None:
    """The dev accuracy of `votes` (-1 = abstain) when its 95% upper bound lies LF_MARGIN below the
    train agreement, from LF_MIN_DEV_VOTES votes on; else None."""
    from labelkit.evaluate.uncertainty import wilson

    voted = votes >= 0
    n = int(voted.sum())
    if n < LF_MIN_DEV_VOTES:
        return None
    right = int((votes[voted] == y[voted]).sum())
    interval = wilson(right, n)
    assert interval is not None  # n > 0
    high = interval[1]
    if high >= train_agreement - LF_MARGIN:
        return None
    return {"dev_accuracy": round(right / n, 4), "dev_votes": n, "dev_accuracy_upper": round(high, 4),
            "train_agreement": round(train_agreement, 4)}


# ---------------------------------------------------------------- after the end model

def paired_difference(y: np.ndarray, a: np.ndarray, b: np.ndarray, *, k: int, metric: tuple, seed: int) -> list[float]:
    """95% paired bootstrap interval of score(a) - score(b) on the rows y (hard predictions)."""
    from labelkit.evaluate.uncertainty import percentile_interval, resampled_scores, resamples

    index = resamples(len(y), N_BOOT, seed)
    score = lambda pred: resampled_scores(y, pred, index, k=k, metric=metric[0], positive=metric[1])  # noqa: E731
    return percentile_interval(score(a) - score(b))


def _against(y_dev, end_pred, other_pred, *, k: int, metric: tuple, seed: int) -> tuple[float, float, list[float]]:
    """(the end model's dev score, the other system's, the 95% paired interval of their difference)."""
    from labelkit.evaluate.metrics import score_predictions

    score = lambda p: score_predictions(y_dev, p, cardinality=k, metric=metric[0], positive=metric[1])  # noqa: E731
    return score(end_pred), score(other_pred), paired_difference(y_dev, end_pred, other_pred, k=k, metric=metric,
                                                                 seed=seed)


def do_no_harm(y_dev, end_pred, reference_pred, *, k: int, metric: tuple, seed: int) -> dict:
    """The end model against the probe on majority-vote labels, on dev: an error when worse beyond noise."""
    end, reference, interval = _against(y_dev, end_pred, reference_pred, k=k, metric=metric, seed=seed)
    facts = {"metric": metric[0], "end_model": _round(end), "majority_vote_reference": _round(reference),
             "difference_interval": interval}
    if interval[1] < 0:
        return finding("do_no_harm", "error",
                       f"the end model scores {end:.3f} on dev, below {reference:.3f} for a quick model trained on plain "
                       f"majority-vote labels (difference 95% interval {interval_text(interval, '+.3f', percent=False)}).",
                       subject="end_model", evidence=facts,
                       summary=f"the end model did worse on dev than one trained on plain majority-vote labels "
                               f"({end:.3f} vs {reference:.3f}), so majority vote labelled train")
    return finding("do_no_harm", "info", f"the end model scores {end:.3f} on dev, a quick model on plain majority-vote "
                   f"labels {reference:.3f}.", subject="end_model", evidence=facts)


def class_shares(predicted_dev: np.ndarray, y_dev: np.ndarray, train_estimate: np.ndarray, classes) -> dict:
    """The end model's predicted class shares on dev against dev gold and the label model's train estimate."""
    k = len(classes)
    predicted = np.bincount(predicted_dev, minlength=k)[:k] / max(len(predicted_dev), 1)
    gold = np.bincount(y_dev, minlength=k)[:k] / max(len(y_dev), 1)
    estimate = np.asarray(train_estimate, dtype=float)
    distance = 0.5 * float(np.abs(predicted - gold).sum())
    facts = {"predicted_dev": _shares(predicted, classes), "gold_dev": _shares(gold, classes),
             "label_model_train": _shares(estimate, classes), "distance_to_gold": round(distance, 4)}
    if distance > SHARES_DISTANCE and 0.5 * float(np.abs(predicted - estimate).sum()) > SHARES_DISTANCE:
        worst = int(np.argmax(predicted - gold))  # the class predicted far more often than it occurs
        return finding("class_shares", "warning",
                       f"the end model predicts {classes[worst]!r} on {predicted[worst]:.0%} of dev rows; dev gold has "
                       f"{gold[worst]:.0%} and the label model estimates {estimate[worst]:.0%} of train.",
                       subject="end_model", evidence=facts)
    return finding("class_shares", "info", f"the end model's class shares on dev are within {distance:.0%} "
                   f"(total variation) of dev gold.", subject="end_model", evidence=facts)


def rules_on_dev(y_dev, end_pred, rules_pred, *, k: int, metric: tuple, seed: int) -> dict | None:
    """The end model against the rules on dev: a warning when worse beyond dev noise."""
    end, rules, interval = _against(y_dev, end_pred, rules_pred, k=k, metric=metric, seed=seed)
    if interval[1] >= 0:
        return None
    return finding("rules_on_dev", "warning",
                   f"the end model scores {end:.3f} on dev, below the rules' {rules:.3f} (difference 95% interval "
                   f"{interval_text(interval, '+.3f', percent=False)}): the rules may be the better system to ship.",
                   subject="end_model", evidence={"metric": metric[0], "end_model": _round(end),
                                                  "rule_baseline": _round(rules), "difference_interval": interval})


def _shares(values, classes) -> dict[str, float]:
    return {str(c): round(float(v), 4) for c, v in zip(classes, values)}


def _round(value: float) -> float | None:
    return None if value is None or not np.isfinite(value) else round(float(value), 4)
