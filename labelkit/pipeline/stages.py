"""The stages of a build, one function each, and the types they pass on: load LFs, apply them,
audit, choose a label model, fit end models. They import only downward; `labelkit.pipeline.run`
strings them together."""
from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from labelkit.schema import distinct_votes
from labelkit.apply.local import KeptParser
from labelkit.settings.config import Config
from labelkit.data.load import GOLD_SPLITS, TaskData
from labelkit.errors import LabelingFunctionError, LabelModelError

if TYPE_CHECKING:
    from labelkit.quality import AuditResult, CleanResult


@dataclass
class Votes:
    L: dict[str, np.ndarray]  # split -> label matrix
    lf_names: list[str]
    kinds: list[str]
    errors: dict[str, int] = field(default_factory=dict)
    parser_description: str | None = None
    parser: KeptParser | None = field(default=None, repr=False, compare=False)  # the build's, for later tables


@dataclass
class AuditOutcome:
    result: AuditResult
    clean: CleanResult
    weak_findings: pd.DataFrame | None = None

    def findings(self) -> pd.DataFrame:
        """Every finding: the audit's, then the weak-label audit's (audit_findings.csv)."""
        if self.weak_findings is not None and len(self.weak_findings):
            return pd.concat([self.result.findings, self.weak_findings], ignore_index=True)
        return self.result.findings


def load_labeling_functions(config: Config, *, require_lfs: bool = True, columns=None):
    """The LF modules' LFs (then the rules files' rules), slicing functions and test-row detectors, and
    the modules' and rules files' paths. `columns` (the data's) lets rules naming unknown columns fail early."""
    from labelkit.lfs import ModuleContents, load_modules

    if not config.task.labeling_functions and not config.task.rules:
        if not require_lfs:
            return ModuleContents(), []
        raise LabelingFunctionError("No LF modules configured; set [task -> labeling_functions] to a list of .py files.")
    paths = [config.resolve(p) for p in config.task.labeling_functions]
    contents = load_modules(paths) if paths else ModuleContents()
    if config.task.rules:
        from labelkit.lfs.rules import add_rules

        paths += add_rules(contents, [config.resolve(p) for p in config.task.rules], config.task.classes, columns)
    if require_lfs and not contents.lfs:
        from labelkit.lfs.loader import no_lfs_message

        raise LabelingFunctionError(no_lfs_message(contents, paths))
    return contents, paths


def apply_votes(config: Config, data: TaskData, lfs, *, splits=("train", "dev", "test"), notify=None) -> Votes:
    if data.votes is not None:  # WRENCH folder or precomputed vote columns
        names = list(data.vote_names or ())
        return Votes({s: data.votes[s] for s in splits}, names, ["precomputed"] * len(names))
    L, errors = {}, {}
    shared = KeptParser(config.lfs.spacy_model or None)
    for split in splits:
        result = apply_votes_to(config, data.frames[split], lfs, data.schema.classes,
                                where=f"{split} ({data.inputs[split]['path']})", notify=notify, parser=shared)
        L[split] = result.L
        for name, count in result.errors.items():
            errors[f"{name}@{split}"] = count
    described = spacy_pipeline_name(config.lfs.spacy_model) if any(lf.kind.startswith("spacy") for lf in lfs) else None
    votes = Votes(L, [lf.name for lf in lfs], [lf.kind for lf in lfs], errors, described, parser=shared)
    if any(lf.kind == "similar" for lf in lfs):  # similarity rules: the dev precision check (lfs/similar.py)
        from labelkit.lfs.similar import precision_gate

        precision_gate(votes, lfs, data.gold.get("dev"), data.schema.classes)
    return votes


WEAK_AUDIT_ROWS = 200_000  # above this many covered train rows the weak-label audit checks a seeded sample
PROGRESS_CHUNK_ROWS = 100_000  # the local engine labels larger tables in chunks of this size, with progress


def apply_votes_to(config: Config, frame: pd.DataFrame, lfs, classes: tuple[str, ...], *, where: str, notify=None,
                   parser: KeptParser | None = None):
    """The LFs' votes on one table, with the configured engine. `parser`: the build's kept spaCy
    parser (local engine; the other engines load one per worker)."""
    from labelkit.apply.engines import apply_with_engine

    local = config.lfs.engine == "local"
    if local and len(frame) > PROGRESS_CHUNK_ROWS:
        return _apply_local_in_chunks(config, frame, lfs, classes, where=where, notify=notify, parser=parser)
    return apply_with_engine(
        lfs, frame, classes, engine=config.lfs.engine,
        scheduler=config.lfs.scheduler or None, text_column=config.data.text_column,
        id_column=config.data.id_column, spacy_model=config.lfs.spacy_model or None,
        on_error=config.lfs.on_error, where=where,
        parser=parser.take(lfs, len(frame)) if local and parser is not None else None,
    )


def _apply_local_in_chunks(config: Config, frame: pd.DataFrame, lfs, classes, *, where: str, notify=None,
                           parser: KeptParser | None = None):
    """The local engine chunk by chunk (the same votes; row numbers in errors stay the table's),
    reporting rows done, rate and time left."""
    from labelkit.apply.local import ApplyResult, apply_lfs
    from labelkit.io.progress import Progress, chunks

    parser = parser or KeptParser(config.lfs.spacy_model or None)
    progress = Progress(f"apply LFs: {where.split(' ')[0]}", len(frame), notify=notify)
    parts: list[np.ndarray] = []
    errors: dict[str, int] = {}  # LF name -> rows it raised on
    for start, stop in chunks(len(frame), PROGRESS_CHUNK_ROWS):
        result = apply_lfs(lfs, frame.iloc[start:stop], classes, text_column=config.data.text_column,
                           id_column=config.data.id_column, parser=parser.take(lfs, stop - start),
                           on_error=config.lfs.on_error, where=where, row_offset=start)
        parts.append(result.L)
        for name, count in result.errors.items():
            errors[name] = errors.get(name, 0) + count
        progress.advance(stop - start)
    return ApplyResult(np.concatenate(parts), [lf.name for lf in lfs], errors)


def spacy_pipeline_name(model: str) -> str:
    """Which spaCy pipeline parsed the texts, for the manifest."""
    from importlib import metadata

    if not model or model.startswith("blank:"):
        lang = model.split(":", 1)[1] if model else "en"
        return f"spacy.blank({lang!r}) (spaCy {metadata.version('spacy')})"
    try:
        return f"{model} {metadata.version(model)}"
    except metadata.PackageNotFoundError:
        return model


def check_votes(votes: Votes, candidates: list[str], *, audit: AuditOutcome | None = None) -> None:
    L = votes.L["train"]
    if L.shape[0] == 0:
        raise LabelModelError(
            f"No train rows are left after the audit quarantined them all{_train_reasons(audit)}; look at quarantine "
            f"reasons with `labelkit audit`, relax [audit -> policies], or build with --no-audit."
        )
    if not (L >= 0).any():
        raise LabelModelError(
            f"No LF fired on any train row ({L.shape[0]} rows, {L.shape[1]} LFs); check the LFs' keywords "
            f"and the text column."
        )


def _train_reasons(audit: AuditOutcome | None) -> str:
    """' (reason: rows, ...)' of the quarantined train rows, most frequent first; '' without an audit."""
    if audit is None or not len(audit.clean.quarantine):
        return ""
    quarantine = audit.clean.quarantine
    reasons = quarantine.loc[quarantine["split"] == "train", "reasons"].astype(str).str.split(";").explode()
    counts = reasons.str.strip().value_counts()
    return " (" + ", ".join(f"{reason}: {n} rows" for reason, n in counts.items()) + ")" if len(counts) else ""


def run_audit(config: Config, data: TaskData, detectors=(), corrections=None, notify=None) -> AuditOutcome:
    """`notify` gets the audit's progress lines (None: on stderr, for 100k rows or more)."""
    from labelkit.data.corrections import unquarantine
    from labelkit.quality import apply_policies
    from labelkit.quality import run_audit as audit

    spec = audit_spec(config, data, detectors)
    result = audit(data.frames, spec, notify=notify)
    result.findings = unquarantine(result.findings, corrections)  # rows a reviewer said are not test rows
    clean = apply_policies(data.frames, result.findings, spec.policies)
    return AuditOutcome(result, clean)


def audit_spec(config: Config, data: TaskData, detectors=()):
    from labelkit.quality import AuditSpec

    d, a = config.data, config.audit
    return AuditSpec(
        id_column=d.id_column, text_column=d.text_column or None, label_column=d.label_column,
        classes=data.schema.classes, group_column=d.group_column or None, time_column=d.time_column or None,
        checks=tuple(a.checks) or None, policies=dict(a.policies), rules=list(a.rules),
        near_duplicate_threshold=a.near_duplicate_threshold, seed=config.task.seed, detectors=list(detectors),
        near_duplicate_ngram=a.near_duplicate_ngram, max_similarity_chars=a.max_similarity_chars,
        burst_min_rows=a.burst_min_rows, burst_window=a.burst_window,
        label_issue_min_confidence=a.label_issue_min_confidence, now=a.now or None,
        feature_columns=tuple(d.feature_columns),
        paraphrase_model=a.paraphrase_model, paraphrase_threshold=a.paraphrase_threshold, root=config.root,
    )


def cleaned_data(data: TaskData, frames: dict[str, pd.DataFrame], config: Config) -> TaskData:
    gold = {s: data.schema.encode_gold(frames[s][config.data.label_column].tolist(), where=f"{s} (cleaned)")
            for s in GOLD_SPLITS}
    votes = None
    if data.votes is not None:  # keep the precomputed votes of the rows that stayed
        votes = {split: data.votes[split][_kept_rows(data, frame, split, config)] for split, frame in frames.items()}
    return dataclasses.replace(data, frames=frames, gold=gold, votes=votes)


def kept_votes(raw_votes: Votes, raw: TaskData, data: TaskData, config: Config) -> Votes:
    """The votes of the rows the audit kept, taken from the votes on all rows (LFs run once)."""
    L = {split: raw_votes.L[split][_kept_rows(raw, data.frames[split], split, config)] for split in raw_votes.L}
    return dataclasses.replace(raw_votes, L=L)


def _kept_rows(raw: TaskData, kept: pd.DataFrame, split: str, config: Config) -> np.ndarray:
    """Positions in the raw split of the rows in `kept` (ids are unique: the loader makes them so)."""
    return pd.Index(raw.frames[split][config.data.id_column]).get_indexer(kept[config.data.id_column])


def choose_label_model(config: Config, votes: Votes, data: TaskData, *, notify=None):
    """The label model chosen on dev ([label_model] candidates x class balances, judged per
    [label_model] choose_by), and the dev class prior. With [checks] enabled, the train evidence about
    the votes (labelkit.pipeline.checks.vote_evidence) comes first, and with [checks] fallback it decides what
    may be chosen: no aggregation learned from dev votes found unrelated to dev gold, no flip of an LF
    vote the train evidence supports. `selection.evidence` and `selection.probe` keep them."""
    from labelkit.pipeline.checks import vote_evidence
    from labelkit.evaluate.metrics import resolve_metric
    from labelkit.labelmodels import class_balance_from_dev, select_label_model
    from labelkit.labelmodels.selection import Judge

    k, lm = data.schema.cardinality, config.label_model
    y_dev, L_train = data.gold["dev"], votes.L["train"]
    prior = class_balance_from_dev(y_dev, k)
    balances = _class_balances(lm.class_balance, prior, k)
    positive = positive_class_index(config, data.schema.classes)
    patterns, counts, inverse = distinct_votes(L_train)  # fitted from vote patterns with counts: same fit
    probe = evidence = judge = None
    if (config.checks.enabled or lm.choose_by == "end_model") and len(y_dev):
        probe = _probe(config, data, L_train, resolve_metric(lm.metric, y_dev, cardinality=k, positive=positive))
    if config.checks.enabled and len(y_dev):
        evidence = vote_evidence(probe, L_train, votes.L["dev"], y_dev, k=k, prior=prior, lf_names=votes.lf_names,
                                 classes=data.schema.classes, seed=config.task.seed)
    acting = evidence if config.checks.fallback else None  # the evidence the choice acts on
    trusted = acting is None or acting.trust_dev_votes
    candidates = list(lm.candidates)
    if probe is not None:
        from labelkit.pipeline.checks import majority_proba

        if trusted and config.end_model.include_uncovered is not False:  # as the end model will train
            probe.uncovered_target = uncovered_target(votes.L["dev"], y_dev, prior)
        majority = majority_proba(L_train[probe.rows], k, prior)
        if evidence is None:
            probe.choose_alpha(majority, y_dev)
        else:
            evidence.reference_pred = probe.dev_predictions(majority, y_dev)
    if lm.choose_by != "label_model" and probe is not None:
        judge = Judge(probe, inverse[probe.rows], _judge_metric_name(probe, data.schema.classes))
    selection = select_label_model(
        candidates, patterns, votes.L["dev"], y_dev,
        cardinality=k, seed=config.task.seed, metric=lm.metric, class_balances=balances,
        positive=positive, classes=list(data.schema.classes), sample_weight=counts, judge=judge,
        choose_by=lm.choose_by, trust_dev_votes=acting.trust_dev_votes if acting else True,
        supported=acting.contradicted_support() if acting else None, lf_names=votes.lf_names, options={
            "snorkel": {"max_width": lm.snorkel_max_width},
            "logistic_votes": {"max_parameters": lm.logistic_votes_max_parameters}},
    )
    selection.evidence, selection.probe = evidence, probe
    return selection, prior


def _class_balances(setting, prior: np.ndarray, k: int) -> dict:
    if isinstance(setting, list):  # given by the user
        return {"given": np.asarray(setting, dtype=float) / np.sum(setting)}
    if setting == "auto":
        return {"dev": prior, "uniform": np.full(k, 1.0 / k)}
    return {setting: {"dev": prior, "uniform": np.full(k, 1.0 / k), "estimate": None}[setting]}


def _probe(config: Config, data: TaskData, L_train: np.ndarray, metric: tuple):
    from labelkit.endmodel.fit import class_weight_settings
    from labelkit.endmodel.probe import PROBE_FEATURES, Probe

    em = config.end_model
    return Probe.build(data.frames["train"], data.frames["dev"], np.any(L_train >= 0, axis=1),
                       text_column=config.data.text_column, feature_columns=list(config.data.feature_columns),
                       k=data.schema.cardinality, metric=metric, seed=config.task.seed,
                       max_features=min(em.max_features, PROBE_FEATURES),
                       balanced="balanced" in class_weight_settings(em.class_weight, data.gold["dev"],
                                                                    data.schema.cardinality),
                       uncovered=em.include_uncovered is not False and em.labels == "soft")


def _judge_metric_name(probe, classes) -> str:
    name, positive = probe.metric
    if name == "f1" and positive is not None and probe.k == 2:
        return f"average precision of {classes[positive]!r}"
    return name


def end_model_checks(config: Config, data: TaskData, votes: Votes, selection, end_model, proba_train) -> list[dict]:
    """The end model checked on dev (labelkit.pipeline.checks): against the probe on majority-vote labels (do no
    harm), its predicted class shares, and the rules (when the dev votes are trusted)."""
    from labelkit.pipeline import checks
    from labelkit.evaluate.metrics import resolve_metric

    y_dev, k = data.gold["dev"], data.schema.cardinality
    evidence = selection.evidence
    if evidence is None or end_model is None or not len(y_dev):
        return []
    metric = resolve_metric(config.label_model.metric, y_dev, cardinality=k,
                            positive=positive_class_index(config, data.schema.classes))
    predicted = np.asarray(end_model.predict(data.frames["dev"]), dtype=np.int64)
    found = [checks.class_shares(predicted, y_dev, proba_train.mean(axis=0), data.schema.classes)]
    if evidence.reference_pred is not None:
        found.append(checks.do_no_harm(y_dev, predicted, evidence.reference_pred, k=k, metric=metric,
                                       seed=config.task.seed))
    if evidence.trust_dev_votes:
        from labelkit.pipeline.baselines import rule_baseline

        rules = checks.rules_on_dev(y_dev, predicted, rule_baseline(votes.L["dev"], selection.prior), k=k,
                                    metric=metric, seed=config.task.seed)
        found += [rules] if rules else []
    return found


def train_on_dev_gold(config: Config, data: TaskData, proba: np.ndarray, L_train: np.ndarray, prior: np.ndarray,
                      end_model, checks: list[dict], *, human=None, notify=None):
    """When the dev votes were found unrelated to dev gold, the dev rows' gold labels stay valid and
    are the only labels left that the LFs did not produce: the end model's chosen setting is refitted
    on train + the gold dev rows (as [end_model] train_on_dev does), after dev has chosen and checked it.
    The dev_votes finding says so."""
    refit = fit_end_model(config, data, proba, L_train, prior, like=end_model, human=human, notify=notify,
                          dev_gold=True)
    refit.dev_scores = {**end_model.dev_scores, **refit.dev_scores}
    for finding in checks:
        if finding["name"] == "dev_votes" and finding["severity"] == "error":
            finding["action"] += (f"; the end model's chosen setting was then refitted on train + the "
                                  f"{len(data.gold['dev'])} gold dev rows (their labels stay valid; dev scores are "
                                  f"from before that)")
    return refit


def fall_back_to_majority(config: Config, votes: Votes, data: TaskData, selection):
    """`selection` switched to majority vote (the candidate fitted with the dev prior if there was one):
    the do-no-harm labels the build falls back to."""
    import dataclasses as dc

    from labelkit.labelmodels import class_balance_from_dev, make_label_model

    key = next((key for key in selection.fitted if key.startswith("majority")), None)
    if key is None:
        prior = class_balance_from_dev(data.gold["dev"], data.schema.cardinality)
        model = make_label_model("majority").fit(votes.L["train"], cardinality=data.schema.cardinality,
                                                 class_balance=prior, seed=config.task.seed)
        key = "majority (dev prior)"
        selection.fitted[key] = model
    record = next((r for r in selection.candidates if r["key"] == key), None)
    model = selection.fitted[key]
    return dc.replace(selection, name="majority", model=model, prior=model.prior, key=key,
                      class_balance=record["class_balance"] if record else "dev",
                      reason="the build's checks of itself fell back to majority vote (do no harm)",
                      notes=selection.notes + [f"fell back from {selection.key} to {key}: the end model its labels "
                                               f"trained did worse on dev than one on plain majority-vote labels."])


def label_model_proba(model, L: np.ndarray) -> np.ndarray:
    """`model.predict_proba(L)`, computed once per distinct vote pattern."""
    patterns, _, inverse = distinct_votes(L)
    return model.predict_proba(patterns)[inverse]


def positive_class_index(config: Config, classes) -> int | None:
    """[label_model] positive_class as a class index (None when not set)."""
    from labelkit.errors import ConfigError

    name = config.label_model.positive_class
    if not name:
        return None
    if name not in classes:
        raise ConfigError(f"[label_model -> positive_class] is {name!r}, which is not a class; classes are: "
                          f"{', '.join(classes)}.")
    return list(classes).index(name)


def train_targets(labels: str, config: Config, proba: np.ndarray, L: np.ndarray, prior: np.ndarray):
    """Rows and targets the end model trains on from the label model: the covered rows (rows where
    every LF abstained are added by the end model itself, see `uncovered_target`)."""
    from labelkit.labelmodels import hard_predictions

    keep = np.asarray((L >= 0).any(axis=1), dtype=bool)
    if labels == "soft":
        return keep, proba[keep]
    return keep, hard_predictions(proba[keep], prior)


def uncovered_target(L_dev: np.ndarray, y_dev: np.ndarray, prior: np.ndarray) -> np.ndarray:
    """The soft label of a train row where every LF abstains: the gold class shares of the dev rows
    where every LF abstains, smoothed toward the prior with k pseudo-rows. The label model gives such
    rows the prior of all rows, but the rows rules miss are rarely a random draw: on YouTube comments
    cut to 13% spam, 2-3% of them are spam against 17-19% of the covered rows."""
    k = len(prior)
    missed = ~(np.asarray(L_dev) >= 0).any(axis=1)
    counts = np.bincount(np.asarray(y_dev, dtype=np.int64)[missed], minlength=k)[:k]
    return (counts + k * np.asarray(prior, dtype=np.float64)) / (missed.sum() + k)


def fit_end_model(config: Config, data: TaskData, proba: np.ndarray, L_train: np.ndarray, prior: np.ndarray,
                  Cs=None, labels: str | None = None, *, like=None, sample_weight=None, notify=None,
                  stream_rows: int | None = None, L_dev: np.ndarray | None = None, human=None,
                  dev_gold: bool | None = None):
    """The end model on the label model's labels of the covered train rows ([end_model] settings),
    plus the uncovered rows per [end_model] include_uncovered (their soft label from `L_dev`, the dev
    votes; soft labels only). `like`: an EndModel whose chosen features / class weight / C and
    uncovered rows are reused instead of searched (a comparison or holdout model); `sample_weight`:
    one weight per train row (all rows, as `proba`); `stream_rows`: overrides [end_model] stream_rows.
    `human`: labelkit.human.labels.HumanLabels, human-labelled rows trained beside the weak labels (at `like`'s
    weight when given, else at a weight of [end_model] gold_weight chosen on dev). `dev_gold`: overrides
    [end_model] train_on_dev."""
    from labelkit.endmodel import train_end_model

    em = config.end_model
    labels = labels or em.labels
    keep, targets = train_targets(labels, config, proba, L_train, prior)
    search: dict[str, Any] = dict(features=tuple(em.features), class_weights=tuple(em.class_weight),
                                  Cs=list(Cs or em.C))
    uncovered: dict[str, Any] = dict(uncovered_target=None, uncovered_always=False)
    if like is not None and like.C is not None:
        search = dict(features=(like.features,), class_weights=(like.class_weight,), Cs=[like.C])
        if labels == "soft" and like.uncovered_target is not None:
            uncovered = dict(uncovered_target=np.asarray(like.uncovered_target), uncovered_always=True)
    elif labels == "soft" and em.include_uncovered is not False and L_dev is not None:
        uncovered = dict(uncovered_target=uncovered_target(L_dev, data.gold["dev"], prior),
                         uncovered_always=em.include_uncovered is True)
    weights = None if sample_weight is None else np.asarray(sample_weight)
    gold: dict[str, Any] = {}
    if human is not None and len(human) and (like is None or getattr(like, "human_weight", None) is not None):
        inside = human.train_weights(len(data.frames["train"]))  # a human-labelled train row trains as one, once
        if inside is not None:
            weights = inside if weights is None else weights * inside
        gold = dict(gold=human.frame, y_gold=human.y,
                    gold_weights=(like.human_weight,) if like is not None else tuple(em.gold_weight))
    from labelkit.embeddings import using

    with using(config):  # embedding feature sets use [embeddings] model
        return train_end_model(
            data.frames["train"].loc[keep], targets, data.schema.classes, text_column=config.data.text_column,
            feature_columns=list(config.data.feature_columns), dev=data.frames["dev"], y_dev=data.gold["dev"],
            soft=labels == "soft", sample_weight=None if weights is None else weights[keep],
            unlabeled_weight=None if weights is None else weights[~keep], **uncovered,
            dev_gold=em.train_on_dev if dev_gold is None else dev_gold, max_features=em.max_features,
            max_text_chars=em.max_text_chars,
            stream_rows=stream_rows or em.stream_rows, seed=config.task.seed, metric=config.label_model.metric,
            positive=positive_class_index(config, data.schema.classes), id_column=config.data.id_column,
            unlabeled=data.frames["train"].loc[~keep], progress=notify, **search, **gold,
        )


COMPARE_ROWS = 50_000  # from [end_model] stream_rows covered train rows, comparison models use a sample this size


def fit_comparison_model(config: Config, data: TaskData, proba: np.ndarray, L_train: np.ndarray, prior: np.ndarray,
                         *, like, what: str, labels: str | None = None, notify=None, human=None):
    """An extra end model with `like`'s setting for a comparison (`what`: the hard-label model, the model
    before the audit, the temporal holdout's). From [end_model] stream_rows covered train rows on it is
    trained on a seeded sample of COMPARE_ROWS of them, as the same kind of model as `like`, and
    `sampling` says so: returns (model, sampling), sampling = {"sampled_rows": n, "note": ...} or {}."""
    if notify:  # its progress lines say which model they are about, not "end model" again
        notify = _tagged(notify, what)
    covered = np.flatnonzero(train_targets(labels or config.end_model.labels, config, proba, L_train, prior)[0])
    limit = config.end_model.stream_rows
    if len(covered) < limit or len(covered) <= COMPARE_ROWS:
        return fit_end_model(config, data, proba, L_train, prior, labels=labels, like=like, notify=notify,
                             human=human), {}
    rows = np.sort(np.random.default_rng(config.task.seed).choice(covered, COMPARE_ROWS, replace=False))
    frames = {**data.frames, "train": data.frames["train"].iloc[rows]}
    note = (f"{what} was trained on a seeded sample of {COMPARE_ROWS:,} of its {len(covered):,} covered train rows "
            f"(comparison models are sampled from [end_model] stream_rows = {limit:,} covered rows on); "
            f"stream_rows above {len(covered):,} trains it on every row.")
    if notify:
        notify(note)
    model = fit_end_model(config, dataclasses.replace(data, frames=frames), proba[rows], L_train[rows], prior,
                          labels=labels, like=like, notify=notify,
                          stream_rows=1 if like is not None and like.kind == "streaming_sgd" else None)
    return model, {"sampled_rows": COMPARE_ROWS, "note": note}


def _tagged(notify, what: str):
    name = {"end_model_hard_labels": "the hard-label model"}.get(what, what[0].lower() + what[1:])
    return lambda message: notify(message.replace("end model:", f"comparison ({name}):", 1))


def fit_end_models(config: Config, data: TaskData, proba: np.ndarray, L_train: np.ndarray, prior: np.ndarray,
                   notify=None, *, L_dev: np.ndarray | None = None, human=None):
    """The end model, and the hard-label comparison model (None when off or impossible; a note says
    why). The hard-label model's `comparison_sampling` says whether it was trained on a sample.
    `human`: human-labelled training rows (labelkit.human.labels), for both."""
    end_model = fit_end_model(config, data, proba, L_train, prior, notify=notify, L_dev=L_dev, human=human)
    if not (config.end_model.compare_hard and config.end_model.labels == "soft"):
        return end_model, None
    hard_model, sampling = fit_comparison_model(config, data, proba, L_train, prior, labels="hard", like=end_model,
                                                what="end_model_hard_labels", notify=notify, human=human)
    if hard_model.kind == "constant":  # the hard labels hold one class: nothing to compare
        only = hard_model.classes[int(hard_model.pipeline.classes_[0])]
        end_model.notes.append(
            f"end_model_hard_labels was skipped: the label model's hard labels of the train rows are all {only!r}, "
            f"so a model trained on them could only predict that class; [end_model] compare_hard = false stops "
            f"trying it.")
        return end_model, None
    hard_model.comparison_sampling = sampling
    return end_model, hard_model


def weak_label_findings(config: Config, data: TaskData, proba_train: np.ndarray, L_train: np.ndarray, notes=None):
    """Covered train rows whose weak label a cross-validated model doubts (rows no LF voted on have
    no weak label to doubt). Its k model fits grow with the rows, so past WEAK_AUDIT_ROWS covered
    rows a seeded sample is checked (the findings only flag rows; nothing is dropped)."""
    from labelkit.quality import audit_weak_labels
    from labelkit.quality.findings import combine_findings

    frame = data.frames["train"]
    if config.data.text_column not in frame.columns and not config.data.feature_columns:
        if notes is not None:  # a votes-only task: nothing but the votes to doubt them with
            notes.append("weak-label audit skipped: the rows carry no text and no feature columns to check the "
                         "weak labels against.")
        return combine_findings([])
    rows = np.flatnonzero((L_train >= 0).any(axis=1))
    if len(rows) > WEAK_AUDIT_ROWS:
        if notes is not None:
            notes.append(f"weak-label audit: {len(rows):,} covered train rows; a seeded sample of "
                         f"{WEAK_AUDIT_ROWS:,} was checked.")
        rows = np.sort(np.random.default_rng(config.task.seed).choice(rows, WEAK_AUDIT_ROWS, replace=False))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return audit_weak_labels(data.frames["train"].iloc[rows], proba_train[rows], audit_spec(config, data))
