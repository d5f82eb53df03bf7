"""A build's results as typed records: what metrics.json holds, what the report, `labelkit compare`,
`build --json` and the notebook API read.

Every record is a keyword-only dataclass whose field names are the JSON keys. ``to_json()`` gives the
dict written to metrics.json (same keys and order as before the schema existed, plus
``schema_version``); ``BuildResults.from_json(data, source=path)`` reads one back and names the file
and the key path (``systems.systems.end_model.accuracy``) in a one-line error when a required key is
missing, a section has the wrong shape or the version is unknown. A field without a default is
required; a field marked ``absent`` is left out of the JSON when it is None (a section a build may
skip: no audit, no time column, no expectations). Keys a record does not know (another module's new
field, e.g. a ``note`` from a sampled comparison) are kept in ``extra`` and written back unchanged, so
reading and writing never loses data. A metrics.json without ``schema_version`` is a version-1 file.

>>> results = load_results("runs/support_tickets/metrics.json")          # doctest: +SKIP
>>> results.systems.systems["end_model"].accuracy, results.task.rows["test"]  # doctest: +SKIP
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Sequence

from labelkit.io.display import interval_text
from labelkit.errors import DatasetError
from labelkit.io.files import read_build_json
from labelkit.io.records import Record, absent, expect, field_hints, join_key, json_fields, listed, load_value, mapped

SCHEMA_VERSION = 1
SUPPORTED_VERSIONS = (1,)
METRICS_FILE = "metrics.json"
BUILT = "the build's results"  # where a malformed section made in memory comes from, in an error message


# ---------------------------------------------------------------- task, label model, LFs

@dataclass(kw_only=True)
class TaskInfo(Record):
    name: str
    classes: list[str]
    rows: dict[str, int]  # per split, after the audit's policies
    rows_before_audit: dict[str, int] = mapped()


@dataclass(kw_only=True)
class Calibration(Record):
    """The chosen label model on dev: per confidence bin, mean confidence, accuracy and row count."""

    bins: list[Any] = listed()  # [low, high] per bin shown
    confidence: list[float] = listed()
    accuracy: list[float] = listed()
    count: list[int] = listed()


@dataclass(kw_only=True)
class LabelModelCandidate(Record):
    key: str  # "snorkel (dev prior)"
    model: str
    class_balance: str | None = None
    dev_score: float | None = None  # NaN when the candidate could not be fitted
    dev_interval: list[float] | None = None
    predicts_only: str | None = None  # the one class it predicts, by name
    cross_fitted: bool = False
    learns_from_dev: bool = False  # fitted to gold dev rows (scored on dev folds it did not see)
    judge_score: float | None = absent()  # dev score of a quick end model trained on its train labels
    judge_interval: list[float] | None = absent()
    excluded: str | None = absent()  # why it could not be chosen
    note: str | None = absent()  # e.g. why a better dev score did not win
    error: str | None = absent()  # why it was skipped


@dataclass(kw_only=True)
class LabelModels(Record):
    chosen: str
    candidate: str | None = None
    class_balance: str | None = None
    dev_scores: dict[str, float] = mapped()
    metric: str = "accuracy"
    positive_class: str | None = None
    candidates: list[LabelModelCandidate] = listed()
    notes: list[str] = listed()
    class_prior: dict[str, float] = mapped()
    calibration: Calibration | None = None
    chosen_by: str | None = absent()  # end_model (a quick end model's dev score) | label_model (its own)
    judge_metric: str | None = absent()  # what a candidate's judge_score is
    reason: str | None = absent()  # why the chosen one won


@dataclass(kw_only=True)
class MatrixStats(Record):
    rows: int
    lfs: int
    covered: float
    all_abstain_rows: int
    multi_vote: float


@dataclass(kw_only=True)
class LFStats(Record):
    """One LF: train coverage/overlaps/conflicts and accuracy on the gold dev rows where it votes."""

    name: str
    kind: str | None = None
    polarity: list[str] = listed()
    coverage: float | None = None
    overlaps: float | None = None
    conflicts: float | None = None
    dev_coverage: float | None = None
    dev_accuracy: float | None = None
    dev_n: int | None = None
    dev_correct: int | None = None
    train_agreement: float | None = absent()  # its train votes vs a probe trained on the other rows (labelkit.pipeline.checks)


@dataclass(kw_only=True)
class EndModelInfo(Record):
    C: float | None = None
    metric: str | None = None
    features: str | None = None
    class_weight: str | None = None
    kind: str | None = None
    dev_score_by_candidate: dict[str, float] = mapped()
    trained_on_dev: bool = False
    train_rows: int | None = None
    labels: str | None = None
    notes: list[str] = listed()
    # binary tasks scored by a positive class's F1: P(threshold_class) >= threshold predicts it
    threshold: float | None = absent()
    threshold_class: str | None = absent()
    # trained on the train rows where every LF abstains too, with this soft label (class -> share)
    uncovered_label: dict[str, float] | None = absent()


# ---------------------------------------------------------------- the build's checks of itself

@dataclass(kw_only=True)
class Check(Record):
    """One finding of the build's checks of itself (labelkit/pipeline/checks.py): an `error` made the build fall
    back to a safe choice (`action` says which), a `warning` is worth reading, `info` is evidence."""

    name: str  # e.g. "dev_votes_vs_gold", "lf_dev_vs_train", "class_shares", "do_no_harm"
    severity: str  # error | warning | info
    message: str  # one line for people
    subject: str | None = absent()  # the LF, system or split it is about
    summary: str | None = absent()  # a few words for the verdict's headline (errors)
    evidence: dict[str, Any] = mapped()
    action: str | None = absent()  # what the build did about it


# ---------------------------------------------------------------- systems on the gold test rows

@dataclass(kw_only=True)
class ClassScores(Record):
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(kw_only=True)
class PositiveClassScores(Record):
    name: str
    precision: float
    recall: float
    f1: float


@dataclass(kw_only=True)
class SystemScores(Record):
    """One system on the gold test rows; intervals are [low, high] percentile-bootstrap bounds."""

    n: int
    accuracy: float
    macro_f1: float
    balanced_accuracy: float | None = None
    per_class: dict[str, ClassScores] = mapped()
    confusion: list[list[int]] = listed()  # rows gold, columns predicted, in class order
    predicts_only: str | None = None
    positive_class: PositiveClassScores | None = absent()
    accuracy_ci: list[float] | None = None
    macro_f1_ci: list[float] | None = None
    coverage: float | None = absent()  # rules only: share of rows with a vote before the abstain policy
    note: str | None = absent()  # e.g. a comparison fitted on a sample at scale
    sampled_rows: int | None = absent()


@dataclass(kw_only=True)
class PairedTest(Record):
    baseline: str
    model: str
    n: int
    only_baseline_correct: int
    only_model_correct: int
    accuracy_difference: float
    accuracy_difference_ci: list[float | None]
    mcnemar_p: float
    verdict: str
    alpha: float = 0.05
    needed_n: int | None = None

    ORDER: ClassVar = ("baseline", "model", "n", "only_baseline_correct", "only_model_correct",
                       "accuracy_difference", "accuracy_difference_ci", "mcnemar_p", "alpha", "needed_n", "verdict")


@dataclass(kw_only=True)
class Systems(Record):
    """Every system scored on the same gold test rows, and the paired test rules vs model."""

    n: int
    classes: list[str]
    systems: dict[str, SystemScores]
    confidence: float = 0.95
    n_boot: int | None = None
    seed: int | None = None
    baseline: str = "rule_baseline"
    model: str = "end_model"
    positive_class: str | None = None
    metric: str = "accuracy"
    paired_test: PairedTest | None = None

    ORDER: ClassVar = ("n", "classes", "confidence", "n_boot", "seed", "baseline", "model", "positive_class",
                       "metric", "systems", "paired_test")


# ---------------------------------------------------------------- slices, guardrails, drift, expectations

@dataclass(kw_only=True)
class SliceScores(Record):
    kind: str  # column | auto | function
    column: str
    value: str
    size: int
    scores: dict[str, float]  # system -> metric on the slice's test rows
    metric: str = "accuracy"
    ci: dict[str, list[float]] = mapped()

    ORDER: ClassVar = ("kind", "column", "value", "size", "metric", "scores", "ci")


@dataclass(kw_only=True)
class Guardrail(Record):
    """A slice where the model is worse than the rules beyond the tolerance."""

    column: str
    value: str
    size: int
    baseline: str
    model: str
    baseline_score: float
    model_score: float
    gap: float
    kind: str | None = None
    metric: str = "accuracy"
    clear: bool | None = None  # the two intervals do not overlap

    ORDER: ClassVar = ("kind", "column", "value", "size", "metric", "baseline", "model", "baseline_score",
                       "model_score", "gap", "clear")


@dataclass(kw_only=True)
class PeriodScores(Record):
    accuracy: float
    macro_f1: float | None = None


@dataclass(kw_only=True)
class DriftPeriod(Record):
    period: str
    n: int
    systems: dict[str, PeriodScores]


@dataclass(kw_only=True)
class TemporalHoldout(Record):
    """An end model fitted on the train rows older than the newest test period, scored on it; or why not."""

    period: str | None = None
    skipped: str | None = absent()
    test_rows: int | None = absent()
    train_rows_before: int | None = absent()
    train_rows_total: int | None = absent()
    accuracy: dict[str, float] | None = absent()  # end_model_trained_on_older_data, end_model, rule_baseline
    note: str | None = absent()
    sampled_rows: int | None = absent()


@dataclass(kw_only=True)
class Drift(Record):
    time_column: str
    periods: list[DriftPeriod]
    drop_periods: list[str] = listed()
    freq: str | None = None
    n_missing_time: int = 0
    unparseable_time: str | None = None
    model: str = "end_model"
    drop: float | None = None
    drops: dict[str, float] = mapped()
    temporal_holdout: TemporalHoldout | None = absent()

    ORDER: ClassVar = ("time_column", "drop_periods", "freq", "n_missing_time", "unparseable_time", "periods",
                       "model", "drop", "drops", "temporal_holdout")


@dataclass(kw_only=True)
class ExpectationFailure(Record):
    row: int
    got: str | None
    text: str = ""
    expected: str | None = absent()
    not_expected: str | None = absent()

    ORDER: ClassVar = ("row", "text", "expected", "not_expected", "got")


@dataclass(kw_only=True)
class ExpectationResult(Record):
    passed: int
    failed: int
    total: int
    failures: list[ExpectationFailure] = listed()


@dataclass(kw_only=True)
class GoldRows(Record):
    given: int
    scored: int
    left_out: dict[str, int] = mapped()  # audit reason -> rows


# ---------------------------------------------------------------- the verdict

@dataclass(kw_only=True)
class VerdictSlice(Record):
    """A failed guardrail as the verdict names it: "country=FR" and the model's gap to the rules."""

    slice: str  # "country=FR"
    size: int
    gap: float  # model - rules on the slice (negative)
    clear: bool | None = None  # the two slice intervals do not overlap


@dataclass(kw_only=True)
class Verdict(Record):
    """The build's one answer (labelkit/evaluate/verdict.py), shown first by the report, report.md, the
    CLI and `build --json`: the paired test overall, every failed guardrail, the build's error-level
    checks of itself (in the headline) and its warning-level ones (listed under it)."""

    headline: str  # "model better overall (+14.0 points), worse than the rules on country=FR (−30.0 pts)"
    overall: str  # better | worse | unclear | none (no paired test)
    severity: str  # ok | warning | error
    baseline: str
    model: str
    difference: float | None = None  # accuracy, model - baseline, on the gold test rows
    difference_ci: list[float | None] = listed()
    mcnemar_p: float | None = None
    reason: str | None = absent()  # why the paired test cannot tell
    failed_guardrails: list[VerdictSlice] = listed()
    errors: list[str] = listed()  # error-level checks: the build fell back
    warnings: list[str] = listed()  # warning-level checks


# ---------------------------------------------------------------- audit, corrections, manifest

@dataclass(kw_only=True)
class AuditCount(Record):
    reason: str
    split: str
    count: int


@dataclass(kw_only=True)
class Accounting(Record):
    rows_in: int
    kept: int
    quarantined: int
    flagged: int = 0


@dataclass(kw_only=True)
class CleaningScores(Record):
    """One system's test accuracy without any cleaning (every given row) and after."""

    before: float | None
    after: float | None
    rows_before: int | None = absent()


@dataclass(kw_only=True)
class BeforeAfter(Record):
    """Before/after-cleaning scores per system. In JSON one object: system -> CleaningScores (an object
    with before/after), beside which other keys (``note``, ``sampled_rows``) say how it was made."""

    systems: dict[str, CleaningScores] = mapped()
    note: str | None = absent()
    sampled_rows: int | None = absent()

    def to_json(self) -> dict:
        out: dict[str, Any] = {name: scores.to_json() for name, scores in self.systems.items()}
        out.update({k: v for k, v in (("note", self.note), ("sampled_rows", self.sampled_rows)) if v is not None})
        out.update(self.extra)
        return out

    @classmethod
    def from_json(cls, data, *, source: str = METRICS_FILE, where: str = ""):
        expect(data, dict, source, where)
        scores = [k for k, v in data.items() if isinstance(v, dict) and ("before" in v or "after" in v)]
        systems = {k: CleaningScores.from_json(data[k], source=source, where=join_key(where, k)) for k in scores}
        rest = {k: v for k, v in data.items() if k not in systems}
        return cls(systems=systems, note=rest.pop("note", None), sampled_rows=rest.pop("sampled_rows", None), extra=rest)


@dataclass(kw_only=True)
class AuditExample(Record):
    reason: str
    split: str
    row_id: str
    text: str = ""
    evidence: str = ""


@dataclass(kw_only=True)
class Audit(Record):
    summary: list[AuditCount] = listed()  # findings per reason and split
    accounting: dict[str, Accounting] = mapped()  # per split: rows in = kept + quarantined
    before_after: BeforeAfter = field(default_factory=BeforeAfter)
    examples: list[AuditExample] = listed()
    warnings: list[str] = listed()


@dataclass(kw_only=True)
class Corrections(Record):
    """Reviewers' decisions the build applied (labelkit/data/corrections.py)."""

    path: str
    sha256: str | None = None
    decisions: dict[str, int] = mapped()
    applied: list[dict] = listed()
    skipped: list[dict] = listed()


@dataclass(kw_only=True)
class ManifestSummary(Record):
    seed: int | None = None
    git: Any = None  # {"commit", "dirty"} or None outside a git checkout
    lf_source_sha256: str | None = None
    inputs: dict[str, str] = mapped()  # split -> first 12 hex digits of the input's sha256


# ---------------------------------------------------------------- `labelkit repair`'s section

@dataclass(kw_only=True)
class RepairLimit(Record):
    max_overall_dev_loss: float
    dev_score_before: float
    dev_floor: float
    rule: str  # when a candidate is admissible and which one wins, in words


@dataclass(kw_only=True)
class RepairCandidate(Record):
    """One candidate fit of a slice's search: what got the weight, the weight and class weight, its dev scores."""

    strategy: str  # none (the model in place) | slice | errors
    weight: float
    class_weight: str | None = None
    dev_overall: float
    dev_slice: float  # NaN without dev rows in the slice
    dev_slice_ci: list[float] | None = None  # Wilson, 95%
    admissible: bool
    dev_earlier_slices: dict[str, float] | None = absent()  # slices repaired before it, on dev
    refused: str | None = absent()  # why it is not admissible


@dataclass(kw_only=True)
class RepairedRows(Record):
    """Test rows (a slice's, or all) before and after the repair, with the rules beside them: scores with
    bootstrap intervals, the change, the rules-vs-model gap before/after and the share recovered, and a
    paired test of the model after against the model before. Rows 0: nothing else."""

    rows: int
    before: float | None = None
    before_ci: list[float] | None = None
    after: float | None = None
    after_ci: list[float] | None = None
    rules: float | None = None
    rules_ci: list[float] | None = None
    change: float | None = None
    gap_before: float | None = None  # model - rules, as the guardrail reports it
    gap_after: float | None = None
    gap_recovered: float | None = None  # None: the model was not below the rules
    paired_test: PairedTest | None = None

    def to_json(self) -> dict:
        return {"rows": self.rows, **self.extra} if not self.rows else super().to_json()


@dataclass(kw_only=True)
class SliceRepair(Record):
    slice: str  # "country=FR", or a slicing function's name
    kind: str
    column: str
    value: str
    train_rows: int
    dev_rows: int
    chosen: RepairCandidate
    tried: list[RepairCandidate] = listed()
    not_fitted: dict[str, int] = mapped()  # budget (--max-candidates), below_floor (pruned)
    test: RepairedRows


@dataclass(kw_only=True)
class RepairSearch(Record):
    candidate_fits: int
    max_candidates: int | None = None
    fitted_by: str = ""


@dataclass(kw_only=True)
class CandidateLFs(Record):
    """Candidate LFs of one slice (offered, not applied): word n-grams of rows where the rules are right."""

    slice: str
    rows: int
    train_rows: int | None = absent()
    dev_rows: int | None = absent()
    ngrams: list[dict] = listed()


@dataclass(kw_only=True)
class Repair(Record):
    """`labelkit repair`'s section of a repaired build's metrics.json (labelkit/repair/plan.py), which
    repair.md, `repair --json` and the CLI's lines show."""

    metric: str
    limit: RepairLimit
    end_model_class_weight: dict[str, str | None] = mapped()  # build, repaired
    end_model_C: float | None = None
    error_set_rows: int = 0
    upweighted_train_rows: int = 0
    slices: list[SliceRepair] = listed()
    overall: RepairedRows
    test_used_for: str = ""
    search: RepairSearch | None = absent()
    candidate_lfs: list[CandidateLFs] = listed()
    from_run: str = ""
    reproduced: bool | None = None  # the re-run's first model predicts the run's test predictions (None: cannot tell)
    label_next_rows: int = 0


# ---------------------------------------------------------------- the whole build

@dataclass(kw_only=True)
class BuildResults(Record):
    """Everything metrics.json holds about one build."""

    task: TaskInfo
    systems: Systems
    schema_version: int = SCHEMA_VERSION
    policy: str | None = None  # the tie/abstain policy of the rules, as the report prints it
    checks: list[Check] = listed()  # the build's checks of itself, most severe first
    verdict: Verdict | None = absent()  # labelkit.evaluate.verdict; None in a file from before it
    label_models: LabelModels | None = absent()
    label_matrix: dict[str, MatrixStats] = mapped()
    lf_summary: list[LFStats] = listed()
    lf_errors: dict[str, int] = mapped()  # LF -> rows it raised on (counted as abstains)
    end_model: EndModelInfo | None = None  # None: the build ran without an end model
    slices: list[SliceScores] = listed()
    guardrails: list[Guardrail] = listed()
    drift: Drift | None = absent()  # None: no time column
    expectations: dict[str, ExpectationResult] | None = absent()  # None: no expectations file
    gold_rows: dict[str, GoldRows] = mapped()
    warnings: list[str] = listed()
    label_model_warnings: list[str] = listed()
    corrections: Corrections | None = absent()
    human_labels: dict | None = absent()  # human-labelled training rows and what they changed (labelkit/human/labels.py)
    repair: Repair | None = absent()  # `labelkit repair`'s section (labelkit/repair/plan.py)
    manifest: ManifestSummary | None = absent()
    audit: Audit | None = absent()  # None: --no-audit

    ORDER: ClassVar = ("schema_version", "task", "verdict", "checks", "policy", "label_models", "label_matrix", "lf_summary", "lf_errors",
                       "end_model", "systems", "slices", "guardrails", "drift", "expectations", "gold_rows",
                       "warnings", "label_model_warnings", "corrections", "human_labels", "repair", "manifest", "audit")

    @classmethod
    def from_json(cls, data, *, source: str = METRICS_FILE, where: str = ""):
        expect(data, dict, str(source), where)
        version = data.get("schema_version", 1)  # files from before the schema are version 1
        if version not in SUPPORTED_VERSIONS or isinstance(version, bool):
            raise DatasetError(f"{source}: schema_version {version!r} is not one this labelkit reads "
                               f"({', '.join(map(str, SUPPORTED_VERSIONS))}); use the labelkit that wrote it or rebuild.")
        return super().from_json(data, source=str(source), where=where)

    @property
    def classes(self) -> list[str]:
        return list(self.task.classes)


# ---------------------------------------------------------------- manifest.json: what a build was made from

@dataclass(kw_only=True)
class InputFile(Record):
    """One split's data as read: its file (or files, hashed as the hash of their hashes), SHA-256 and rows."""

    path: Any  # a path, or the list of paths read one after the other
    sha256: str
    files_sha256: list[str] | None = absent()  # several files: each one's SHA-256
    rows: int | None = absent()
    split: Any = absent()  # one labeled file split into train/dev/test: how


@dataclass(kw_only=True)
class ChosenLabelModel(Record):
    chosen: str
    candidate: str | None = None
    dev_scores: dict[str, float] = mapped()
    metric: str | None = None
    file: str = "label_model.json"


@dataclass(kw_only=True)
class ChosenEndModel(Record):
    C: float | None = None
    labels: str | None = None
    features: str | None = None
    class_weight: str | None = None
    kind: str | None = None
    file: str = "model.skops"
    embeddings: list[dict] | None = absent()  # the embedding models it references (name, version, SHA-256)


@dataclass(kw_only=True)
class Manifest(Record):
    """manifest.json: what a build was made from (input SHA-256s, LF source hash, the full config, seed,
    package versions, git commit) and how long each stage took. `config` is the config as built
    (labelkit.settings.config.from_dict reads it back); timings are the one part that differs run to run."""

    labelkit_build: int = 1
    config_path: str | None = None
    config: dict[str, Any] = mapped()
    seed: int | None = None
    inputs: dict[str, InputFile] = mapped()
    lf_modules: list[str] = listed()
    lf_source_sha256: str | None = None
    lf_names: list[str] = listed()
    data_columns: list[str] = listed()
    spacy_pipeline: str | None = None
    versions: dict[str, str | None] = mapped()
    git: Any = None  # {"commit", "dirty"} or None outside a git checkout
    label_model: ChosenLabelModel | None = absent()
    end_model: ChosenEndModel | None = None  # None: built without an end model
    rules_files: list[dict] = listed()
    corrections: Corrections | None = None
    human_labels: dict | None = absent()  # files, SHA-256s, rows and weight of the human-labelled rows
    repair: dict | None = absent()  # a `labelkit repair` output: the run it repaired, slices, chosen weights
    timings_seconds: dict[str, float] = mapped()


def describe(kind: str, results, tail: Sequence[str] = ()) -> str:
    """A build in a few lines (the repr of lk.run's Result and lk.load's Run): task, rows, the chosen
    label model, every system's test score, the verdict, what went wrong loudly, then `tail`."""
    t, systems = results.task, results.systems
    lines = [f"<{kind}: task {t.name!r}, {len(t.classes)} classes ({', '.join(t.classes)})"]
    given = t.rows_before_audit or {}
    rows = []
    for split, n in t.rows.items():
        before = given.get(split, n)
        rows.append(f"{split} {n:,}" + (f" of {before:,} ({before - n:,} quarantined)" if before != n else ""))
    lines.append("rows: " + ", ".join(rows))
    lm = results.label_models
    if lm is not None:
        score = lm.dev_scores.get(lm.candidate or lm.chosen)
        lines.append(f"label model: {lm.candidate or lm.chosen}, chosen on dev of {len(lm.dev_scores)} candidates"
                     + (f" (its dev {lm.metric} {_pct(score)})" if score is not None else ""))
    if results.end_model is not None:
        e = results.end_model
        parts = [e.features or e.kind, f"C={e.C:g}" if e.C is not None else None, f"{e.labels} labels" if e.labels else None]
        lines.append("end model: " + ", ".join(p for p in parts if p))
    scores = []
    for name, s in sorted(systems.systems.items(), key=lambda item: -item[1].accuracy):
        shown_ci = s.accuracy_ci and name not in ("majority_class", "stratified_random")  # baselines: the score is enough
        ci = f" {interval_text(s.accuracy_ci)}" if shown_ci else ""
        f1 = f", {s.positive_class.name} F1 {s.positive_class.f1:.3f}" if getattr(s, "positive_class", None) else ""
        scores.append(f"{name} {_pct(s.accuracy)}{ci}{f1}")
    lines.append(f"test accuracy on {systems.n:,} gold rows [95% CI]: " + "; ".join(scores))
    verdict = getattr(results, "verdict", None)
    if verdict is not None:
        lines.append(f"verdict: {verdict.headline}")
    else:
        if systems.paired_test is not None:
            p = systems.paired_test
            lines.append(f"{p.model} vs {p.baseline}: {p.verdict} ({100 * p.accuracy_difference:+.1f} points)")
        for g in results.guardrails:
            lines.append(f"guardrail: {g.column}={g.value}: {g.model} {_pct(g.model_score)} vs {g.baseline} "
                         f"{_pct(g.baseline_score)} ({g.size} test rows)")
    loud = [w for w in results.warnings if w.startswith("The audit quarantined")]
    lines += [f"warning: {w}" for w in loud]
    others = len(results.warnings) - len(loud)
    if others:
        lines.append(f"{others} more warning{'s' if others > 1 else ''}: .metrics.warnings")
    lines += list(tail)
    return "\n  ".join(lines) + ">"


def _pct(value) -> str:
    return "n/a" if value is None or value != value else f"{100 * value:.1f}%"


def load_results(path) -> BuildResults:
    """metrics.json (or a build folder holding one) read into BuildResults; one-line errors name the file."""
    path = Path(path)
    if path.is_dir():
        path = path / METRICS_FILE
    return BuildResults.from_json(read_build_json(path), source=str(path))


def read_sections(data: dict, *, source: str) -> tuple[dict, dict]:
    """Top-level metrics.json sections read by their BuildResults field types, and the keys it does not know."""
    known, hints = {f.name for f in json_fields(BuildResults)}, field_hints(BuildResults)
    sections = {k: load_value(hints[k], v, source, k) for k, v in data.items() if k in known}
    return sections, {k: v for k, v in data.items() if k not in known}
