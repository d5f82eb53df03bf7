"""`labelkit label-next`: which unlabelled rows a person should label next, from any pool a team has.

Pools: the build's own train rows (default), a file of unlabelled rows (CSV, Parquet, JSONL), or the requests
of a `labelkit serve` log (inputs logged in full). Every pool row is scored by its expected value to the
next build, from four terms:

- **uncertainty**: cleanlab's ActiveLab score of the end model's probabilities
  (`cleanlab.multiannotator.get_active_learning_scores(pred_probs_unlabeled=...)`; for rows nobody labelled
  yet it is the mean of the model's top probability and 1/k, i.e. least-confidence sampling), rescaled to
  [0, 1] (1 = the model cannot tell the classes apart);
- **disagreement**: the rules (the build's label model on the LFs' votes) vote and say another class than
  the end model (one of them is wrong);
- **guardrail**: the row is in a slice whose guardrail fired in the build (the model is below the rules
  there, so its confidence is not to be trusted there);
- **diversity**: the batch is chosen greedily, each next row's value discounted by its largest cosine
  similarity (character 3-5-gram TF-IDF) to the rows already chosen, so it is not 50 copies of one ticket.

value = uncertainty + DISAGREE x disagreement + GUARDRAIL x guardrail, then x (1 - similarity to the batch).
`--slice COLUMN=VALUE` (or a slicing function's name) restricts the pool to a slice. Rows are left out when
the build could not use their label: already in the human labels file, train rows the audit quarantined,
copies of each other, and rows with the same id or (near-)same text as a dev/test row
(labelkit.human.labels.leak_reasons, the check the build applies). The batch is appended to the human labels
file (`[data] human_labels`, default `label_next.csv` beside the config) with a blank label column: fill
it in (a spreadsheet, or the studio's review queue, source "label next") and build again.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from labelkit.errors import ConfigError, DatasetError
from labelkit.settings.declare import check_values
from labelkit.settings.options import LabelNextOptions

DISAGREE = 0.5
GUARDRAIL = 1.0
DIVERSITY_POOL = 20  # the greedy batch is chosen among this many x budget top-valued rows (at least 2,000)
STRATEGIES = ("picker", "activelab", "random")
LOG_SUFFIXES = (".sqlite", ".sqlite3", ".db")


@dataclass
class Pool:
    frame: pd.DataFrame
    kind: str  # train | file | log
    description: str
    path: str | None = None
    sha256: str | None = None


@dataclass
class LabelNext:
    """One batch: the rows chosen (most valuable first) and how the pool was filtered."""

    batch: pd.DataFrame
    pool: Pool
    candidates: int  # pool rows that could be chosen
    left_out: dict = field(default_factory=dict)  # reason -> rows
    slices: list[str] = field(default_factory=list)  # fired guardrails (or --slice) the value used
    strategy: str = "picker"
    written: Path | None = None
    pending_before: int = 0  # rows of earlier batches still without a label


def label_next(run_dir, *, budget: int, slices=(), pool=None, out=None, strategy: str = "picker",
               seed: int | None = None, write: bool = True, batch_name: str | None = None) -> LabelNext:
    """Rank a pool for labelling and append the top `budget` rows to the human labels file (or `out`)."""
    from labelkit.data.load import load_task_data
    from labelkit.runs import load_run

    check_values(LabelNextOptions, "label_next", budget=budget, seed=seed)
    if strategy not in STRATEGIES:
        raise ConfigError(f"strategy {strategy!r}: use one of {', '.join(STRATEGIES)}.")
    run = load_run(run_dir)
    config = run.config
    seed = config.task.seed if seed is None else seed
    data = load_task_data(config)
    target = Path(out) if out else _human_file(config)
    existing = _read_existing(target, config)
    source = load_pool(run, data, pool)
    frame, left_out = _candidates(run, data, source, existing)
    chosen_slices = _slices(run, slices)
    if chosen_slices and slices:  # --slice: only rows of the named slices
        inside = np.zeros(len(frame), dtype=bool)
        for s in chosen_slices:
            inside |= s.mask(frame, run.slicing_functions)
        left_out["outside --slice"] = int((~inside).sum())
        frame = frame[inside].reset_index(drop=True)
    if not len(frame):
        raise DatasetError(f"No row of {source.description} can be labelled next: "
                           + (", ".join(f"{n} {r}" for r, n in left_out.items() if n) or "the pool is empty") + ".")
    scored = score_rows(run, frame, chosen_slices, votes=_pool_votes(run, data, frame, source))
    order = choose(scored, frame, run.text_column, min(budget, len(frame)), strategy=strategy, seed=seed)
    batch = _batch_table(run, frame, scored, order, source, batch_name or _now())
    result = LabelNext(batch, source, len(frame), left_out, [s.name for s in chosen_slices], strategy,
                       pending_before=int((existing["_label"] == "").sum()) if existing is not None else 0)
    if write:
        result.written = append_batch(target, batch, config, existing)
    return result


def _human_file(config) -> Path:
    from labelkit.human.labels import human_label_paths

    paths = human_label_paths(config)
    if not paths:
        raise ConfigError("[data] human_labels is empty: name the file `labelkit label-next` writes (e.g. "
                          "human_labels = \"label_next.csv\"), or give --out FILE.")
    return paths[0]


def _read_existing(path: Path, config) -> pd.DataFrame | None:
    from labelkit.human.labels import read_human_file

    if not path.is_file():
        return None
    return read_human_file(path, config, tuple(config.task.classes))


# ---------------------------------------------------------------- pools

def load_pool(run, data, pool) -> Pool:
    """The rows to rank: the build's train rows (pool None), a file, or a serve log's requests."""
    from labelkit.io.files import read_table, sha256_file

    config = run.config
    id_column = config.data.id_column
    if pool is None:
        frame = data.frames["train"].copy()
        return Pool(frame, "train", f"the train rows of {run.path}")
    path = Path(pool)
    if not path.is_file():
        raise DatasetError(f"--pool {pool}: no such file (give a file of unlabelled rows, or a `labelkit serve` log).")
    if path.suffix.lower() in LOG_SUFFIXES:
        from labelkit.serve.replay import read_requests

        frame = read_requests(path)
        if id_column not in frame.columns:
            frame[id_column] = frame["_id"].astype(str)
        frame = frame.drop(columns=[c for c in ("_id", "_ts") if c in frame.columns])
        kind, what = "log", f"the requests logged in {path}"
    else:
        frame = read_table(path, string_columns=(id_column,))
        if id_column not in frame.columns:
            frame[id_column] = [f"{path.stem}:{i + 2}" for i in range(len(frame))]  # its line numbers
        kind, what = "file", f"the rows of {path}"
    missing = [c for c in run.input_columns if c not in frame.columns]
    if missing:
        raise DatasetError(f"--pool {pool}: no column(s) {', '.join(map(repr, missing))}, which the build's model "
                           f"reads; its columns are: {', '.join(map(str, frame.columns))}.")
    frame[id_column] = frame[id_column].astype(str)
    return Pool(frame.reset_index(drop=True), kind, what, str(path.resolve()), sha256_file(path))


def _candidates(run, data, source: Pool, existing) -> tuple[pd.DataFrame, dict]:
    """The pool without rows the build could not use: already in the human labels file, quarantined
    train rows, repeated ids or texts, and rows that match a dev/test row (id, text, near duplicate)."""
    from labelkit.human.labels import leak_reasons
    from labelkit.quality.text_norm import normalize_texts, text_keys

    config = run.config
    id_column, text_column = config.data.id_column, config.data.text_column
    frame = source.frame
    left: dict[str, int] = {}
    keep = np.ones(len(frame), dtype=bool)
    ids = frame[id_column].astype(str).to_numpy()
    if existing is not None and len(existing):
        known = np.isin(ids, existing[id_column].astype(str).to_numpy())
        left["already in the human labels file"] = int(known.sum())
        keep &= ~known
    quarantined = _quarantined(run)
    if quarantined:
        hit = np.isin(ids, list(quarantined))
        left["quarantined by the build's audit"] = int((hit & keep).sum())
        keep &= ~hit
    repeated = pd.Series(ids).duplicated().to_numpy().copy()
    if text_column and text_column in frame.columns:
        keys = text_keys(normalize_texts(frame[text_column].astype("string").fillna("").astype(str)))
        repeated |= pd.Series(keys).duplicated().to_numpy() & (keys != 0)
        empty = keys == 0
        left["empty text"] = int((empty & keep).sum())
        keep &= ~empty
    left["repeated id or text in the pool"] = int((repeated & keep).sum())
    keep &= ~repeated
    frame = frame[keep].reset_index(drop=True)
    leaks = leak_reasons(frame, data, config)
    if leaks:
        left["same id or (near-)same text as a dev/test row"] = len(leaks)
        frame = frame.drop(index=list(leaks)).reset_index(drop=True)
    return frame, {k: v for k, v in left.items() if v}


def _quarantined(run) -> set[str]:
    table = run.table("quarantine.csv")
    if table is None or "split" not in table or "row_id" not in table:
        return set()
    return set(table.loc[table["split"] == "train", "row_id"])


def _slices(run, wanted):
    from labelkit.evaluate.guardrail_slices import choose_slices

    return choose_slices(run.results, tuple(wanted), slicing_functions=run.slicing_functions)


# ---------------------------------------------------------------- scoring and choosing

def _pool_votes(run, data, frame: pd.DataFrame, source: Pool):
    """The LFs' votes on the pool rows: the build's LFs applied to them, or, for a build from precomputed
    votes (WRENCH, vote columns) ranking its own train rows, those rows' votes; None when there are none."""
    if run.lfs:
        return run.votes(frame)
    if source.kind == "train" and data.votes is not None:
        id_column = run.config.data.id_column
        position = pd.Series(np.arange(len(data.frames["train"])),
                             index=data.frames["train"][id_column].astype(str).to_numpy())
        return data.votes["train"][position.loc[frame[id_column].astype(str).to_numpy()].to_numpy()]
    return None


def score_rows(run, frame: pd.DataFrame, fired, votes=None) -> pd.DataFrame:
    """Per row: the model's class and confidence, the rules' class (where an LF votes), and the value terms.
    `votes`: the LFs' votes on `frame` (default: the build's LFs applied to it)."""
    L = votes if votes is not None else (run.votes(frame) if run.lfs else None)
    rules_pred, rules_proba = run.predict_rules(L) if L is not None else (None, None)
    if run.end_model is not None:
        proba = run.predict_proba(frame)
    elif rules_proba is not None:
        proba = rules_proba
    else:
        raise ConfigError(f"{run.path} has neither an end model nor LFs to judge rows with.")
    active, uncertainty = activelab_uncertainty(proba)
    model_pred = proba.argmax(axis=1)
    covered = (L >= 0).any(axis=1) if L is not None else np.zeros(len(frame), dtype=bool)
    disagree = covered & (rules_pred != model_pred) if rules_pred is not None else np.zeros(len(frame), dtype=bool)
    guardrail = np.zeros(len(frame), dtype=bool)
    names = [""] * len(frame)
    for s in fired:
        mask = s.mask(frame, run.slicing_functions)
        guardrail |= mask
        for i in np.flatnonzero(mask):
            names[i] = names[i] + ("; " if names[i] else "") + s.name
    value = uncertainty + DISAGREE * disagree + GUARDRAIL * guardrail
    return pd.DataFrame({"model": model_pred, "confidence": proba.max(axis=1), "active_learning_score": active,
                         "uncertainty": uncertainty, "covered": covered,
                         "rules": rules_pred if rules_pred is not None else -1,
                         "disagree": disagree, "guardrail": guardrail, "slices": names, "value": value})


def activelab_uncertainty(proba: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row: cleanlab's ActiveLab score of the (n, k) probabilities of rows nobody labelled yet, and that
    score rescaled to the uncertainty term in [0, 1] (1 = the model cannot tell the classes apart)."""
    from cleanlab.multiannotator import get_active_learning_scores

    k = proba.shape[1]
    _, active = get_active_learning_scores(pred_probs_unlabeled=np.clip(proba, 1e-12, 1.0))
    low, high = 1.0 / k, (1.0 + 1.0 / k) / 2  # ActiveLab's range for unlabelled rows: top probability 1/k .. 1
    return active, np.clip((high - active) / (high - low), 0.0, 1.0)


def choose(scored: pd.DataFrame, frame: pd.DataFrame, text_column: str, budget: int, *, strategy: str = "picker",
           seed: int = 0) -> np.ndarray:
    """Row positions of the batch, in the order chosen (most valuable first)."""
    n = len(scored)
    if strategy == "random":
        return np.random.default_rng(seed).permutation(n)[:budget]
    value = scored["uncertainty" if strategy == "activelab" else "value"].to_numpy(dtype=np.float64)
    tie = np.random.default_rng(seed).random(n) * 1e-9  # seeded tie-break among equal values
    ranked = np.argsort(-(value + tie), kind="stable")
    if strategy == "activelab" or not text_column or text_column not in frame.columns:
        return ranked[:budget]
    top = ranked[: min(n, max(DIVERSITY_POOL * budget, 2000))]
    X = _text_vectors(frame[text_column].iloc[top])
    gain = value[top] + tie[top]
    similar = np.zeros(len(top))
    chosen = []
    available = np.ones(len(top), dtype=bool)
    for _ in range(min(budget, len(top))):
        score = np.where(available, gain * (1.0 - similar), -np.inf)
        best = int(np.argmax(score))
        chosen.append(best)
        available[best] = False
        similar = np.maximum(similar, np.asarray((X @ X[best].T).todense()).ravel())
    return top[np.asarray(chosen, dtype=np.int64)]


def _text_vectors(texts: pd.Series):
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True, min_df=1)
    return vectorizer.fit_transform(texts.astype("string").fillna("").astype(str).tolist())


# ---------------------------------------------------------------- the batch file

def _batch_table(run, frame: pd.DataFrame, scored: pd.DataFrame, order: np.ndarray, source: Pool, batch: str):
    """The chosen rows with a blank label column first after the id, then the data columns, then why
    (no system's answer is shown: a person labels the text, not the model's guess)."""
    config = run.config
    id_column, label_column = config.data.id_column, config.data.label_column
    data_columns = [c for c in frame.columns if c not in (id_column, label_column)]
    table = frame.iloc[order][[id_column, *data_columns]].reset_index(drop=True)
    table.insert(1, label_column, "")
    rows = scored.iloc[order].reset_index(drop=True)
    why = []
    for r in rows.itertuples():
        parts = [f"model unsure ({r.uncertainty:.2f})" if r.uncertainty >= 0.5 else f"uncertainty {r.uncertainty:.2f}"]
        if r.disagree:
            parts.append("rules and model disagree")
        if r.guardrail:
            parts.append(f"guardrail slice {r.slices}")
        why.append("; ".join(parts))
    table["pool"] = source.path or source.description
    table["why"] = why
    table["priority"] = np.arange(1, len(table) + 1)
    table["batch"] = batch
    return table


def append_batch(path: Path, batch: pd.DataFrame, config, existing: pd.DataFrame | None) -> Path:
    """The batch appended to the human labels file (labels already filled in are kept), written atomically
    and formula-safe for spreadsheets (labelkit.io.files.write_review_csv)."""
    from labelkit.io.files import atomic_file, write_review_csv

    path = Path(path)
    if existing is not None and len(existing):
        table = pd.concat([existing.drop(columns=["_label"]), batch], ignore_index=True)
    else:
        table = batch
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(path) as tmp:
        write_review_csv(table, tmp)
    return path


def _now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


def summary_text(result: LabelNext, budget: int) -> str:
    """What the CLI prints: the pool, what was left out, the batch's make-up, and what to do next."""
    lines = [f"pool: {result.pool.description} ({len(result.pool.frame):,} rows; {result.candidates:,} could be "
             f"labelled)"]
    if result.left_out:
        lines.append("left out: " + ", ".join(f"{n:,} {reason}" for reason, n in result.left_out.items()))
    batch = result.batch
    if result.slices:
        lines.append(f"guardrail slices weighed: {', '.join(result.slices)}")
    if len(batch) < budget:
        lines.append(f"only {len(batch)} rows could be chosen (budget {budget}).")
    reasons = batch["why"].str.contains("disagree").sum(), batch["why"].str.contains("guardrail").sum()
    lines.append(f"chose {len(batch)} rows ({result.strategy}): {reasons[0]} where rules and model disagree, "
                 f"{reasons[1]} in a guardrail slice")
    if result.written is not None:
        lines.append(f"wrote {result.written}: fill in its label column (a spreadsheet, or `labelkit studio` -> "
                     f"Review queue -> label next), then `labelkit build` trains on the labelled rows"
                     + (f" ({result.pending_before} rows of earlier batches are still unlabelled)"
                        if result.pending_before else "") + ".")
    return "\n".join(lines)


def pool_json(result: LabelNext) -> dict:
    return {"pool": {"kind": result.pool.kind, "path": result.pool.path, "sha256": result.pool.sha256,
                     "rows": len(result.pool.frame)},
            "candidates": result.candidates, "left_out": result.left_out, "slices": result.slices,
            "strategy": result.strategy, "written": str(result.written) if result.written else None,
            "rows": json.loads(result.batch.to_json(orient="records"))}




def record_human_label(path: Path, config, row_id: str, label: str, *, labelled_by: str, row: dict | None = None) -> None:
    """A label given in the studio written into the human labels file: the row's label cell (the row is
    appended, with `row`'s columns, when the file does not hold it yet), with who and when. Atomic."""
    from labelkit.io.files import atomic_file, read_review_csv, write_review_csv

    id_column, label_column = config.data.id_column, config.data.label_column
    path = Path(path)
    if path.is_file():
        table = read_review_csv(path, dtype=str, keep_default_na=False)
    else:
        table = pd.DataFrame(columns=[id_column, label_column])
    for column in (label_column, "labelled_by", "labelled_at"):
        if column not in table.columns:
            table[column] = ""
    where = np.flatnonzero(table[id_column].astype(str).to_numpy() == str(row_id))
    if not len(where):
        if row is None:
            raise DatasetError(f"Row {row_id!r} is not in {path}.")
        extra = {k: ("" if v is None or v != v else str(v)) for k, v in row.items() if k not in ("_label", "_from")}
        table = pd.concat([table, pd.DataFrame([{**extra, id_column: str(row_id)}]).astype(str)], ignore_index=True)
        table = table.fillna("")
        where = np.array([len(table) - 1])
    for i in where:
        table.loc[table.index[i], [label_column, "labelled_by", "labelled_at"]] = [label, labelled_by, _now()]
    with atomic_file(path) as tmp:
        write_review_csv(table, tmp)


def read_pending(path: Path, config) -> pd.DataFrame | None:
    """The human labels file as the studio's queue reads it (`_label`: "" while waiting), or None."""
    return _read_existing(Path(path), config) if path is not None else None


def slice_rows_to_label(frame: pd.DataFrame, mask: np.ndarray, proba: np.ndarray, rules: np.ndarray,
                        covered: np.ndarray, *, slice_name: str, id_column: str, text_column: str,
                        label_column: str = "label", limit: int, seed: int = 0) -> pd.DataFrame:
    """`labelkit repair`'s rows to label next for one slice, chosen like `label-next --slice` does (ActiveLab
    uncertainty of `proba`, rules-vs-model disagreement, diversity; every row is in the fired slice) and
    written in the same blind format (id, a blank label, the row's data, slice, why, priority): the studio
    shows them in its "label next" queue, and a filled file is a human labels file the next build reads."""
    positions = np.flatnonzero(mask)
    columns = [id_column, label_column, *[c for c in frame.columns if c not in (id_column, label_column)]]
    if len(positions) == 0 or limit <= 0:
        return pd.DataFrame(columns=[*columns, "slice", "why", "priority"])
    p = np.asarray(proba, dtype=np.float64)[positions]
    _, uncertainty = activelab_uncertainty(p)
    disagree = np.asarray(covered)[positions] & (np.asarray(rules)[positions] != p.argmax(axis=1))
    scored = pd.DataFrame({"uncertainty": uncertainty, "disagree": disagree,
                           "value": uncertainty + DISAGREE * disagree + GUARDRAIL})
    rows = frame.iloc[positions].reset_index(drop=True)
    order = choose(scored, rows, text_column, min(limit, len(rows)), seed=seed)
    table = rows.iloc[order][[c for c in columns if c != label_column]].reset_index(drop=True)
    table.insert(1, label_column, "")
    chosen = scored.iloc[order].reset_index(drop=True)
    table["slice"] = slice_name
    table["why"] = [("model unsure" if u >= 0.5 else "uncertainty") + f" ({u:.2f})"
                    + ("; rules and model disagree" if d else "") for u, d in zip(chosen["uncertainty"],
                                                                                   chosen["disagree"])]
    table["priority"] = np.arange(1, len(table) + 1)
    return table
