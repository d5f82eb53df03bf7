"""Human-labelled training rows ("gold training rows"): where they come from, the checks that keep them
out of dev and test, and what the build says about them.

Sources, later ones winning for the same row id:
- train rows that carry a label in `[data] label_column`, with `[data] use_train_labels = true`;
- the `[data] human_labels` files (default `label_next.csv` beside the config: the batch `labelkit
  label-next` writes, filled in by a person or in the studio): the id column, the label column and the
  row's data (text, slice and feature columns); a row whose id is a train row takes that row's data.
  A blank label means "not labelled yet" and is counted, not used;
- the corrections file's decisions on train rows (`change` -> the new label, `confirm` -> the label
  confirmed): studio decisions.

A row is refused (listed with the reason, never trained on) when it has no text (or no value in a feature
column), when it is a train row the
audit quarantined, or when it could reach dev or test: the same id as a dev/test row, the same text after
the audit's normalisation, or a near duplicate of one (character n-gram Jaccard >= [audit]
near_duplicate_threshold, the audit's own similarity join). The end model trains on the rest beside the
weak labels (labelkit/endmodel/gold.py chooses their weight); a human row that is a train row replaces
that row's weak label.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from labelkit.errors import DatasetError

SOURCE_TRAIN = "train rows with a label ([data] use_train_labels)"
DEFAULT_FILE = "label_next.csv"
NOTE_COLUMNS = ("pool", "why", "priority", "batch", "labelled_by", "labelled_at")  # label-next's and the studio's


@dataclass
class HumanLabels:
    """The human-labelled rows a build trains on."""

    frame: pd.DataFrame  # the rows (data columns as in train), in source order
    y: np.ndarray  # class indices
    source: list[str]  # per row: the file (or corrections file / train) it came from
    train_position: np.ndarray  # per row: its position in the (cleaned) train split, -1 when not a train row
    files: list[dict] = field(default_factory=list)  # per source: path, sha256, rows, labelled, pending, used
    refused: list[dict] = field(default_factory=list)  # row_id, source, reason, evidence
    notes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.y)

    def train_weights(self, n_train: int) -> np.ndarray | None:
        """Per train row: 0 for rows a human labelled (they train as human rows instead), else 1."""
        inside = self.train_position[self.train_position >= 0]
        if not len(inside):
            return None
        weights = np.ones(n_train)
        weights[inside] = 0.0
        return weights

    def counts(self, classes) -> dict[str, int]:
        found = np.bincount(self.y, minlength=len(classes))
        return {c: int(n) for c, n in zip(classes, found) if n}

    def record(self, classes) -> dict:
        """The metrics.json / manifest.json entry (without the effect on test, added by `describe`)."""
        refused: dict[str, int] = {}
        for item in self.refused:
            refused[item["reason"]] = refused.get(item["reason"], 0) + 1
        return {"rows": len(self), "per_class": self.counts(classes), "in_train": int((self.train_position >= 0).sum()),
                "sources": self.files, "refused": refused, "refused_rows": self.refused[:200],
                "notes": list(self.notes)}


def human_label_paths(config) -> list[Path]:
    """The [data] human_labels files. A task built in code (no config file, no folder) reads them only when
    named: the default, label_next.csv beside the config, has no config to be beside. A build loaded back
    (labelkit.runs) keeps its config's folder, so label-next and repair find the file the build read."""
    names = config.data.human_labels
    names = [names] if isinstance(names, str) else list(names)
    if config.path is None and Path(config.root) == Path(".") and names == [DEFAULT_FILE]:  # Task.from_frames
        return []
    return [config.resolve(n) for n in names if n]


def load_human_labels(config, raw, data, corrections=None, notify=None) -> HumanLabels | None:
    """The human-labelled training rows of a build (None when there are none and no file was named).
    `raw`: the data as loaded (dev/test rows to check against, train rows before the audit); `data`: after
    the audit (the train rows that train); `corrections`: labelkit.data.corrections.AppliedCorrections or None."""
    from labelkit.io.files import sha256_file

    classes = data.schema.classes
    id_column, label_column = config.data.id_column, config.data.label_column
    train = data.frames["train"]
    columns = [str(c) for c in raw.frames["train"].columns if c != label_column]
    entries: list[tuple[str, dict, str]] = []  # (row id, {column: value} or {}, source), with label in "_label"
    files, notes = [], []
    if config.data.use_train_labels and label_column in train.columns:
        labels = train[label_column].astype("string").fillna("").str.strip()
        given = labels != ""
        for row_id, label in zip(train.loc[given, id_column].astype(str), labels[given]):
            entries.append((row_id, {"_label": _class_of(label, classes, SOURCE_TRAIN, None, row_id)}, SOURCE_TRAIN))
        files.append({"path": SOURCE_TRAIN, "rows": int(len(train)), "labelled": int(given.sum()), "pending": 0})
    for path in human_label_paths(config):
        if not path.is_file():
            if path.name != DEFAULT_FILE or path.parent.resolve() != Path(config.root).resolve():
                notes.append(f"[data] human_labels file {path} does not exist: no human labels from it.")
            continue
        frame = read_human_file(path, config, classes)
        labelled = frame["_label"] != ""
        files.append({"path": str(path), "sha256": sha256_file(path), "rows": int(len(frame)),
                      "labelled": int(labelled.sum()), "pending": int((~labelled).sum())})
        keep = [c for c in frame.columns if c in columns or c == "_label"]
        for row_id, record in zip(frame.loc[labelled, id_column].astype(str), frame.loc[labelled, keep].to_dict("records")):
            entries.append((row_id, record, str(path)))
    if corrections is not None:
        decided = [c for c in corrections.decisions if c.split == "train" and c.action in ("change", "confirm")]
        if decided:
            files.append({"path": f"{corrections.path} (studio decisions on train rows)", "sha256": corrections.sha256,
                          "rows": len(decided), "labelled": len(decided), "pending": 0})
        for item in decided:
            label = item.new if item.action == "change" else item.old
            if label not in classes:
                continue  # a confirm of a row without a label: nothing to learn
            entries.append((item.row_id, {"_label": label}, f"{corrections.path} (studio decisions on train rows)"))
    if not entries:
        if not files and not notes:
            return None
        return HumanLabels(pd.DataFrame(columns=columns), np.zeros(0, np.int64), [], np.zeros(0, np.int64),
                           files, [], notes)
    return _resolve(entries, config, raw, data, files, notes, notify=notify)


def read_human_file(path: Path, config, classes) -> pd.DataFrame:
    """A human labels file with its label column checked: `_label` holds the class name or "" (not labelled
    yet). One error line names the file, line and row for a label that is not a class."""
    from labelkit.io.files import read_review_csv

    id_column, label_column = config.data.id_column, config.data.label_column
    try:
        frame = read_review_csv(path, dtype={id_column: str, label_column: str}, encoding="utf-8")
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise DatasetError(f"Cannot read human labels file {path}: {str(exc).splitlines()[0]}") from None
    except pd.errors.EmptyDataError:
        frame = pd.DataFrame(columns=[id_column, label_column])
    missing = [c for c in (id_column, label_column) if c not in frame.columns]
    if missing:
        raise DatasetError(f"Human labels file {path} lacks column(s) {', '.join(map(repr, missing))} ([data] id_column "
                           f"and label_column); its columns are: {', '.join(map(str, frame.columns))}.")
    frame[id_column] = frame[id_column].astype("string").fillna("").str.strip()
    blank = frame[id_column] == ""
    if blank.any():
        line = int(np.flatnonzero(blank.to_numpy())[0]) + 2
        raise DatasetError(f"Human labels file {path} line {line}: the id ({id_column!r}) is empty.")
    labels = frame[label_column].astype("string").fillna("").str.strip().tolist()
    frame["_label"] = [_class_of(label, classes, path, i + 2, row_id) if label else ""
                       for i, (label, row_id) in enumerate(zip(labels, frame[id_column]))]
    return frame


def _class_of(label: str, classes, path, line, row_id) -> str:
    if label in classes:
        return label
    folded = {c.casefold(): c for c in classes}
    if label.casefold() in folded:  # "Billing" in a spreadsheet means billing
        return folded[label.casefold()]
    close = difflib.get_close_matches(label, list(classes), n=1)
    where = f"Human labels file {path}" + (f" line {line}" if line else "") + f" (row {row_id!r})"
    raise DatasetError(f"{where}: label {label!r} is not a class" + (f" (did you mean {close[0]!r}?)" if close else "")
                       + f"; classes are: {', '.join(classes)}.")


def _resolve(entries, config, raw, data, files, notes, notify=None) -> HumanLabels:
    """Entries -> rows (the last entry per id wins), with train rows' data, then the checks."""
    id_column, text_column = config.data.id_column, config.data.text_column
    classes = list(data.schema.classes)
    last: dict[str, tuple[dict, str]] = {}
    changed = 0
    for row_id, record, source in entries:
        if row_id in last and last[row_id][0]["_label"] != record["_label"]:
            changed += 1
        last.pop(row_id, None)
        last[row_id] = (record, source)
    if changed:
        notes.append(f"{changed} human label(s) given twice with different classes: the later source wins "
                     f"(order: train labels, [data] human_labels files in order, then studio decisions).")
    train = data.frames["train"]
    train_ids = train[id_column].astype(str).to_numpy()
    position = {v: i for i, v in enumerate(train_ids)}
    raw_ids = set(raw.frames["train"][id_column].astype(str))
    rows, ys, sources, positions, refused = [], [], [], [], []
    for row_id, (record, source) in last.items():
        at = position.get(row_id)
        if at is not None:
            row = train.iloc[at].to_dict()
        elif row_id in raw_ids:
            refused.append({"row_id": row_id, "source": source, "reason": "quarantined",
                            "evidence": "a train row the audit quarantined (quarantine.csv says why)"})
            continue
        else:
            row = {k: v for k, v in record.items() if k != "_label"}
            text = row.get(text_column) if text_column else ""
            if text_column and (text is None or text != text or not str(text).strip()):
                refused.append({"row_id": row_id, "source": source, "reason": "no_text",
                                "evidence": f"not a train row and no {text_column!r} value"})
                continue
            absent = [c for c in config.data.feature_columns if row.get(c) is None or row.get(c) != row.get(c)]
            if absent:
                refused.append({"row_id": row_id, "source": source, "reason": "no_feature_values",
                                "evidence": f"not a train row and no value in {', '.join(map(repr, absent))}"})
                continue
        row[id_column] = row_id
        rows.append(row)
        ys.append(classes.index(record["_label"]))
        sources.append(source)
        positions.append(-1 if at is None else at)
    frame = pd.DataFrame.from_records(rows, columns=list(dict.fromkeys([*map(str, train.columns), id_column]))) \
        if rows else pd.DataFrame(columns=list(map(str, train.columns)))
    leaks = leak_reasons(frame, raw, config)
    keep = np.ones(len(frame), dtype=bool)
    for i, (reason, evidence) in leaks.items():
        keep[i] = False
        refused.append({"row_id": str(frame[id_column].iloc[i]), "source": sources[i], "reason": reason,
                        "evidence": evidence})
    if refused and notify:
        notify(f"human labels: {len(refused)} row(s) refused (" + ", ".join(
            sorted({r['reason'] for r in refused})) + "); metrics.json human_labels lists them.")
    for entry in files:
        entry["used"] = sum(1 for s, k in zip(sources, keep) if k and s == entry["path"])
    index = np.flatnonzero(keep)
    return HumanLabels(frame.iloc[index].reset_index(drop=True), np.asarray(ys, dtype=np.int64)[index],
                       [sources[i] for i in index], np.asarray(positions, dtype=np.int64)[index], files, refused, notes)


def leak_reasons(frame: pd.DataFrame, raw, config) -> dict[int, tuple[str, str]]:
    """Rows of `frame` that could reach dev or test: {position: (reason, evidence)} — the same id as a
    dev/test row, the same normalised text (the audit's normalisation), or a near duplicate (the audit's
    character n-gram Jaccard join at [audit] near_duplicate_threshold)."""
    from labelkit.quality.near_duplicates import similar_pairs
    from labelkit.quality.text_norm import normalize_texts, text_keys

    id_column, text_column = config.data.id_column, config.data.text_column
    found: dict[int, tuple[str, str]] = {}
    if not len(frame):
        return found
    ids = frame[id_column].astype(str).to_numpy()
    for split in ("dev", "test"):
        other = raw.frames.get(split)
        if other is None or not len(other):
            continue
        other_ids = set(other[id_column].astype(str))
        for i in np.flatnonzero(np.isin(ids, list(other_ids))):
            found.setdefault(int(i), ("same_id_as_gold", f"same id as {split} row {ids[i]!r}"))
    if not text_column or text_column not in frame.columns:
        return found
    texts = normalize_texts(frame[text_column].astype("string").fillna("").astype(str))
    keys = text_keys(texts)
    limit = config.audit.max_similarity_chars
    for split in ("dev", "test"):
        other = raw.frames.get(split)
        if other is None or not len(other) or text_column not in other.columns:
            continue
        other_texts = normalize_texts(other[text_column].astype("string").fillna("").astype(str))
        other_keys = pd.Series(other[id_column].astype(str).to_numpy(), index=text_keys(other_texts))
        other_keys = other_keys[~other_keys.index.duplicated()]
        for i in np.flatnonzero((keys != 0) & np.isin(keys, other_keys.index.to_numpy())):
            found.setdefault(int(i), ("same_text_as_gold", f"same text as {split} row {other_keys[keys[i]]!r}"))
        pairs = similar_pairs(texts.str.slice(0, limit), other_texts.str.slice(0, limit),
                              threshold=config.audit.near_duplicate_threshold, ngram=config.audit.near_duplicate_ngram)
        if len(pairs):
            best = pairs.sort_values("sim", ascending=False, kind="stable").drop_duplicates("u")
            other_ids = other[id_column].astype(str).to_numpy()
            for u, v, sim in zip(best["u"], best["v"], best["sim"]):
                found.setdefault(int(u), ("near_duplicate_of_gold",
                                          f"near duplicate of {split} row {other_ids[int(v)]!r} (Jaccard {sim:.2f})"))
    return found


# ---------------------------------------------------------------- what they changed (metrics.json human_labels)

BEFORE = "end_model_before_human_labels"  # the system name of the end model without the human rows


def describe(human: HumanLabels, config, data, preds: dict, guardrails, end_model, *,
             slicing_functions=()) -> dict:
    """The human_labels section: sources (file + SHA-256), rows, the weight chosen, and on gold test the end
    model without and with them overall and on every slice where the model without them was below the rules
    beyond the guardrail tolerance (or still is): "country=FR: 57.5% → 85.0% after 50 human labels (92% of the
    rules-vs-model gap)", with the paired test; then what the next labels are worth (`worth`)."""
    from labelkit.evaluate.slices import iter_slices
    from labelkit.evaluate.uncertainty import paired_test

    classes = data.schema.classes
    section = human.record(classes)
    if end_model is None or BEFORE not in preds or not len(human):
        section["summary"] = [f"{len(human)} human labels" + ("" if len(human) else ": none used")
                              + ("; the end model is off, so they trained nothing." if end_model is None and len(human)
                                 else ".")]
        return section
    section["weight"] = getattr(end_model, "human_weight", None)
    section["weight_scores"] = getattr(end_model, "human_scores", {})
    y = data.gold["test"]
    before, after, rules = preds[BEFORE], preds["end_model"], preds["rule_baseline"]
    n = len(human)
    seed, boot = config.task.seed, config.evaluate.bootstrap
    effect: dict[str, Any] = {"overall": {"n": int(len(y)), **_effect(y, before, after, rules, k=len(classes), seed=seed, n_boot=boot,
                                                      paired=paired_test)}}
    tolerance = config.evaluate.guardrail_tolerance
    test = data.frames["test"]
    rows = []
    slice_columns = list(config.evaluate.slice_columns or config.data.slice_columns)
    flagged = {(g.column, str(g.value)) for g in guardrails}  # the build's fired guardrails (results.Guardrail)
    seen = []  # (name, mask) of every slice, for `worth`: the slicing functions run once
    for kind, column, value, mask in iter_slices(test, slice_columns, list(slicing_functions),
                                                 auto_slices=False, exclude_columns=()):
        name = column if kind == "function" else f"{column}={value}"
        seen.append((name, mask))
        if mask.sum() < config.evaluate.min_slice_size:
            continue
        entry = _effect(y[mask], before[mask], after[mask], rules[mask], k=len(classes), seed=seed, n_boot=boot,
                        paired=paired_test)
        fired_before = entry["rules"] - entry["before"] > tolerance
        if fired_before or (column, str(value)) in flagged:
            in_slice = _in_slice(human.frame, kind, column, value, slicing_functions)
            rows.append({"slice": name, "n": int(mask.sum()), "human_rows_in_slice": in_slice, **entry,
                         "guardrail_before": fired_before, "guardrail_after": (column, str(value)) in flagged})
    effect["slices"] = rows
    section["effect"] = effect
    summary = [_sentence(r["slice"], r, n) for r in rows]
    summary.append(_sentence("overall", effect["overall"], n))
    section["summary"] = summary
    reported = {r["slice"] for r in rows}
    masks = {"overall": np.ones(len(y), dtype=bool)}
    masks.update((name, mask) for name, mask in seen if name in reported)
    section["worth"] = worth(human, config, data, preds, end_model, masks)
    return section


def _effect(y, before, after, rules, *, k, seed, n_boot, paired) -> dict:
    b, a, r = (float(np.mean(p == y)) if len(y) else None for p in (before, after, rules))
    gap = None if r is None or b is None or a is None or r - b <= 0 else (a - b) / (r - b)
    test = paired(y, before, after, k=k, n_boot=n_boot, seed=seed, names=("before", "after")) if len(y) else None
    return {"before": b, "after": a, "rules": r, "gap_recovered": None if gap is None else round(gap, 4),
            "paired_test": None if test is None else {key: test[key] for key in (
                "only_baseline_correct", "only_model_correct", "accuracy_difference", "accuracy_difference_ci",
                "mcnemar_p", "verdict")}}


def _in_slice(frame, kind, column, value, slicing_functions) -> int | None:
    if not len(frame):
        return 0
    if kind == "function":
        from labelkit.evaluate.slices import slicing_function_name, slicing_mask

        found = [f for f in slicing_functions if slicing_function_name(f) == column]
        return int(slicing_mask(found[0], frame).sum()) if found else None
    if column not in frame.columns:
        return None
    return int((frame[column].astype(str) == str(value)).sum())


def _sentence(name: str, entry: dict, n: int) -> str:
    text = f"{name}: {100 * entry['before']:.1f}% → {100 * entry['after']:.1f}% after {n} human label{'s' * (n != 1)}"
    extra = []
    if entry.get("gap_recovered") is not None:
        extra.append(f"{100 * entry['gap_recovered']:.0f}% of the rules-vs-model gap; rules {100 * entry['rules']:.1f}%")
    elif entry.get("rules") is not None:
        extra.append(f"rules {100 * entry['rules']:.1f}%")
    test = entry.get("paired_test")
    if test:
        from labelkit.evaluate.verdict import format_p

        extra.append(f"McNemar {format_p(test['mcnemar_p'])}")
    return text + (f" ({'; '.join(extra)})" if extra else "")


NEXT = 50  # "the next 50 labels are worth about ..."


def worth(human: HumanLabels, config, data, preds: dict, end_model, masks: dict) -> dict:
    """What more labels are worth, from this build's own human rows, on gold test (reported, never used to
    choose): the end model without them, with a seeded half of them (same weight and features) and with all
    of them; and a model trained on the human rows alone (half, all), against the rules. Extrapolated on a
    log scale in the number of labels (score = a + b ln n): "the next 50 labels are worth about +x points;
    gold alone overtakes the rules at about n labels". `masks`: name -> test row mask (overall and the
    slices reported). One build's estimate from its own rows; benchmarks/learning_curve.py measures it
    over draws, budgets and sets."""
    from labelkit.endmodel import train_end_model

    n = len(human)
    half_model = getattr(end_model, "half_human_labels", None)
    if n < 8 or half_model is None:
        return {"verdict": f"not estimated: {n} human labels (8 or more are needed, and an in-memory end model)."}
    test, y = data.frames["test"], data.gold["test"]
    with_weak = {0: preds[BEFORE], n // 2: half_model.predict(test), n: preds["end_model"]}
    alone = {}
    halves = np.sort(np.random.default_rng(config.task.seed).permutation(n)[: n // 2])
    for rows in (halves, np.arange(n)):
        if len(np.unique(human.y[rows])) < 2:
            continue
        model = train_end_model(human.frame.iloc[rows], human.y[rows], data.schema.classes, soft=False,
                                text_column=config.data.text_column, feature_columns=list(config.data.feature_columns),
                                dev=data.frames["dev"], y_dev=data.gold["dev"], Cs=list(config.end_model.C),
                                features=tuple(config.end_model.features), class_weights=("none",),
                                max_features=config.end_model.max_features, seed=config.task.seed,
                                metric=config.label_model.metric, stream_rows=10 ** 9,
                                id_column=config.data.id_column)
        alone[len(rows)] = np.asarray(model.predict(test))
    out = {}
    for name, mask in masks.items():
        scores = {k: float(np.mean(p[mask] == y[mask])) for k, p in with_weak.items()}
        gold = {k: float(np.mean(p[mask] == y[mask])) for k, p in alone.items()}
        rules = float(np.mean(preds["rule_baseline"][mask] == y[mask]))
        out[name] = worth_verdict(scores, gold, rules_score=rules, n=n)
    return out


def worth_verdict(scores: dict, alone: dict, *, rules_score: float | None, n: int) -> dict:
    """{n labels: score} with weak labels and with gold alone -> the next-50 gain and the crossover."""
    out: dict[str, Any] = {"with_weak_labels": {str(k): round(v, 4) for k, v in sorted(scores.items())},
           "gold_alone": {str(k): round(v, 4) for k, v in sorted(alone.items())}, "rules": rules_score}
    points = sorted((k, v) for k, v in scores.items() if k > 0)
    if len(points) >= 2 and points[-1][0] > points[0][0]:
        (n1, s1), (n2, s2) = points[0], points[-1]
        slope = max(0.0, (s2 - s1) / np.log(n2 / n1))  # a loss between two points is noise, not a trend
        out["next_50"] = round(float(slope * np.log((n2 + NEXT) / n2)), 4)
    parts = []
    if "next_50" in out:
        parts.append(f"the next {NEXT} labels are worth about {100 * out['next_50']:+.1f} points")
    if rules_score is not None and alone:
        sizes = sorted(alone)
        a2, g2 = sizes[-1], alone[sizes[-1]]
        if g2 >= rules_score:
            out["gold_alone_overtakes_at"] = a2
            parts.append(f"gold alone already beats the rules at {a2} labels ({100 * g2:.1f}% vs "
                         f"{100 * rules_score:.1f}%)")
        elif len(sizes) >= 2 and g2 > alone[sizes[0]]:
            a1, g1 = sizes[0], alone[sizes[0]]
            b = (g2 - g1) / np.log(a2 / a1)
            cross = a2 * float(np.exp(min((rules_score - g2) / b, 50.0)))
            out["gold_alone_overtakes_at"] = int(min(cross, 1e9))
            parts.append(f"gold alone overtakes the rules at about {_round_labels(cross)} labels")
        else:
            parts.append(f"gold alone ({100 * g2:.1f}% at {a2} labels) shows no trend toward the rules "
                         f"({100 * rules_score:.1f}%) yet")
    out["verdict"] = "; ".join(parts) if parts else "not estimated"
    return out


def _round_labels(value: float) -> str:
    if value >= 1e6:
        return "more than a million"
    digits = max(0, len(str(int(value))) - 2)
    return f"{int(round(value, -digits)):,}"


def summary_lines(results) -> list[str]:
    """The CLI summary's lines about human labels (none when the build had none)."""
    human = results.human_labels
    lines = []
    if human:
        files = [s for s in human.get("sources") or [] if s.get("labelled")]
        where = "; ".join(f"{s['path']}" + (f" (sha256 {s['sha256'][:12]})" if s.get("sha256") else "")
                          + f": {s.get('used', s.get('labelled'))} used" for s in files)
        refused = sum((human.get("refused") or {}).values())
        pending = sum(s.get("pending", 0) for s in human.get("sources") or [])
        lines.append(f"human labels: {human.get('rows', 0)} rows" + (f" from {where}" if where else "")
                     + (f"; {refused} refused (dev/test copies, quarantined or no text)" if refused else "")
                     + (f"; {pending} rows wait for a label" if pending else "")
                     + (f"; weight {human['weight']:g}" if human.get("weight") else ""))
        for sentence in human.get("summary") or []:
            lines.append(f"human labels: {sentence}")
        worth = human.get("worth") or {}
        for name, entry in worth.items():
            if isinstance(entry, dict) and entry.get("verdict"):
                lines.append(f"human labels, {name}: {entry['verdict']}")
    changes = (results.corrections.extra or {}).get("gold_changes") if results.corrections is not None else None
    if changes and any(changes.get("changed", {}).values()):
        lines.append(f"gold labels changed by reviewers: dev {changes['changed'].get('dev', 0)}, test "
                     f"{changes['changed'].get('test', 0)} (report: Human labels)")
    return lines
