"""Human review decisions, kept in a corrections file that the next build applies and records.

One CSV row per decision (append-only; the last decision on a row wins):

    row_id, split, action, old, new, reason, reviewer, time

- `confirm`: the label `old` was checked and is right (recorded, nothing changes);
- `change`: the label becomes `new` (gold label on dev/test; the training label on train);
- `not_test_row`: the audit flagged the row as test/QA traffic and a human says it is real: it is
  not quarantined for that reason.

Cells that a spreadsheet would run as a formula are written with a leading `'`, removed on reading.
"""
from __future__ import annotations

import dataclasses
import io
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from labelkit.errors import DatasetError
from labelkit.io.files import atomic_write_text, read_review_csv, spreadsheet_safe

COLUMNS = ("row_id", "split", "action", "old", "new", "reason", "reviewer", "time")
ACTIONS = ("confirm", "change", "not_test_row")
SPLITS = ("train", "dev", "test")


@dataclass(frozen=True)
class Correction:
    row_id: str
    split: str
    action: str
    old: str = ""
    new: str = ""
    reason: str = ""
    reviewer: str = ""
    time: str = ""

    @property
    def topic(self) -> str:
        return "test_row" if self.action == "not_test_row" else "label"


def now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


def read_corrections(path: Path, *, classes=None) -> list[Correction]:
    """Every decision in the file, in order (a missing file holds none)."""
    path = Path(path)
    if not path.is_file():
        return []
    try:
        frame = read_review_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")  # formula escaping undone
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DatasetError(f"Cannot read corrections file {path}: {str(exc).splitlines()[0]}") from None
    except pd.errors.EmptyDataError:
        return []
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise DatasetError(f"Corrections file {path} lacks column(s) {', '.join(missing)}; columns must be: {', '.join(COLUMNS)}.")
    out = []
    for number, record in enumerate(frame[list(COLUMNS)].to_dict("records"), start=2):
        item = Correction(**{k: str(v) for k, v in record.items()})
        _check(item, path, number, classes)
        out.append(item)
    return out


def _check(item: Correction, path: Path, line: int, classes) -> None:
    where = f"Corrections file {path} line {line} (row {item.row_id!r})"
    if item.action not in ACTIONS:
        raise DatasetError(f"{where}: action {item.action!r} is not one of {', '.join(ACTIONS)}.")
    if item.split not in SPLITS:
        raise DatasetError(f"{where}: split {item.split!r} is not one of {', '.join(SPLITS)}.")
    if not item.row_id:
        raise DatasetError(f"{where}: row_id is empty.")
    if item.action == "change" and classes is not None and item.new not in classes:
        raise DatasetError(f"{where}: new label {item.new!r} is not a class; classes are: {', '.join(classes)}.")


def append_correction(path: Path, item: Correction) -> None:
    """Add one decision, its cells formula-safe for spreadsheets (labelkit.io.files.spreadsheet_safe); the file is
    rewritten atomically (never left half written)."""
    path = Path(path)
    old = path.read_text(encoding="utf-8") if path.is_file() else ""
    buffer = io.StringIO()
    row = pd.DataFrame([{k: spreadsheet_safe(str(getattr(item, k))) for k in COLUMNS}], columns=list(COLUMNS))
    row.to_csv(buffer, index=False, header=not old.strip())
    if old and not old.endswith("\n"):
        old += "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, old + buffer.getvalue())


def latest(items: list[Correction]) -> list[Correction]:
    """The last decision per row and topic (label / test-row), in file order of those decisions."""
    last: dict[tuple, Correction] = {}
    for item in items:
        key = (item.split, item.row_id, item.topic)
        last.pop(key, None)
        last[key] = item
    return list(last.values())


# ---------------------------------------------------------------- applying them in a build

@dataclass
class AppliedCorrections:
    """What a build did with the corrections file, recorded in metrics.json and manifest.json."""

    path: str
    sha256: str
    decisions: list[Correction]
    applied: list[dict] = dataclasses.field(default_factory=list)
    skipped: list[dict] = dataclasses.field(default_factory=list)

    def by_action(self, action: str, split: str | None = None) -> list[Correction]:
        return [c for c in self.decisions if c.action == action and (split is None or c.split == split)]

    def record(self, data=None, preds: dict | None = None, id_column: str = "id") -> dict:
        """The metrics.json / manifest.json entry; with the build's `data` and test `preds`, also what the gold
        changes did (`gold_changes`: per queue, and every system's test score with the old and new gold)."""
        counts = {a: len(self.by_action(a)) for a in ACTIONS}
        out = {"path": self.path, "sha256": self.sha256, "decisions": counts,
               "applied": self.applied, "skipped": self.skipped}
        if data is not None and preds is not None:
            out["gold_changes"] = gold_changes(self, data, preds, id_column)
        return out


def queue_of(reason: str) -> str:
    """The review queue a decision came from, from its reason ("gold_review: drawn at random for audit",
    "rules_vs_model: rules say ...", "label_issue: ...")."""
    head, _, rest = str(reason).partition(":")
    head = head.strip() or "unknown"
    return f"{head}: {rest.strip()}" if head == "gold_review" and rest.strip() else head


def gold_changes(applied: AppliedCorrections, data, preds: dict, id_column: str) -> dict:
    """How many gold labels were reviewed and changed, per queue and split, and what the test changes did
    to each system's accuracy (scored with the old gold labels and with the new ones)."""
    reviewed: dict[str, dict[str, dict[str, int]]] = {}
    for entry in applied.applied:
        if entry["split"] not in ("dev", "test") or entry["action"] not in ("change", "confirm"):
            continue
        counts = reviewed.setdefault(queue_of(entry.get("reason", "")), {}).setdefault(
            entry["split"], {"reviewed": 0, "changed": 0})
        counts["reviewed"] += 1
        counts["changed"] += entry["action"] == "change"
    out = {"by_queue": reviewed, "changed": {s: sum(q.get(s, {}).get("changed", 0) for q in reviewed.values())
                                             for s in ("dev", "test")}}
    test = data.frames.get("test")
    y_after = np.asarray(data.gold.get("test", []), dtype=np.int64)
    changes = [e for e in applied.applied if e["split"] == "test" and e["action"] == "change"]
    if test is None or not len(y_after) or not changes:
        return out
    classes = list(data.schema.classes)
    position = {str(v): i for i, v in enumerate(test[id_column].astype(str))}
    y_before = y_after.copy()
    counted = 0
    for entry in changes:
        i = position.get(entry["row_id"])
        if i is not None and entry["old"] in classes:
            y_before[i] = classes.index(entry["old"])
            counted += 1
    out["test_rows_changed"] = counted
    out["test_effect"] = {name: {"with_old_gold": round(float(np.mean(p == y_before)), 4),
                                 "with_new_gold": round(float(np.mean(p == y_after)), 4)}
                          for name, p in preds.items() if len(p) == len(y_after)}
    return out


def load_for_build(config, data):
    """(data with gold corrections applied, AppliedCorrections or None when there is no file)."""
    from labelkit.io.files import sha256_file

    path = corrections_path(config)
    if path is None or not path.is_file():
        return data, None
    decisions = latest(read_corrections(path, classes=data.schema.classes))
    applied = AppliedCorrections(str(path), sha256_file(path), decisions)
    return apply_gold(data, applied, config), applied


def corrections_path(config) -> Path | None:
    name = getattr(config.data, "corrections", "")
    return config.resolve(name) if name else None


def apply_gold(data, applied: AppliedCorrections, config):
    """Dev/test gold labels changed by `change` decisions (inputs untouched: frames are copied)."""
    label = config.data.label_column
    frames, gold = dict(data.frames), dict(data.gold)
    for split in ("dev", "test"):
        changes = applied.by_action("change", split) + applied.by_action("confirm", split)
        if not changes or split not in frames or label not in frames[split].columns:
            continue
        frame = frames[split].copy()
        position = {str(v): i for i, v in enumerate(frame[config.data.id_column].tolist())}
        column = frame[label].tolist()
        for item in changes:
            i = position.get(item.row_id)
            why = _skip_reason(i, column, item)
            if why:
                applied.skipped.append({**dataclasses.asdict(item), "why": why})
                continue
            if item.action == "change":
                column[i] = item.new
            effect = f"gold label {item.old} -> {item.new}" if item.action == "change" else "gold label confirmed"
            applied.applied.append({**dataclasses.asdict(item), "effect": effect})
        frame[label] = column
        frames[split] = frame
        gold[split] = data.schema.encode_gold(column, where=f"{split} after corrections")
    return dataclasses.replace(data, frames=frames, gold=gold)


def _skip_reason(i, column, item: Correction) -> str:
    if i is None:
        return "row not in the data"
    if item.old and str(column[i]) != item.old:
        return f"gold label is {column[i]!r} now; the decision was made on {item.old!r}"
    return ""


def unquarantine(findings: pd.DataFrame, applied: AppliedCorrections | None) -> pd.DataFrame:
    """Drop `test_row` findings on rows a human marked "not a test row"."""
    items = [] if applied is None else applied.by_action("not_test_row")
    if applied is None or not items or not len(findings):
        return findings
    marked = {(c.split, c.row_id) for c in items}
    keys = list(zip(findings["split"].astype(str), findings["row_id"].astype(str)))
    drop = np.array([k in marked and r == "test_row" for k, r in zip(keys, findings["reason"])], dtype=bool)
    found = {k for k, d in zip(keys, drop) if d}
    for c in items:
        entry = {**dataclasses.asdict(c)}
        if (c.split, c.row_id) in found:
            applied.applied.append({**entry, "effect": "test-row finding removed (row kept)"})
        else:
            applied.skipped.append({**entry, "why": "the audit did not flag this row as a test row"})
    kept = findings[~drop].reset_index(drop=True)
    kept.attrs.update(findings.attrs)
    return kept


def apply_train(proba: np.ndarray, frame: pd.DataFrame, applied: AppliedCorrections | None, classes, *,
                id_column: str) -> np.ndarray:
    """Train rows whose label a human changed train on that label (one-hot) instead of the weak label."""
    items = [] if applied is None else applied.by_action("change", "train")
    if applied is None or not items:
        return proba
    proba = proba.copy()
    position = {str(v): i for i, v in enumerate(frame[id_column].tolist())}
    for item in items:
        i = position.get(item.row_id)
        if i is None:
            applied.skipped.append({**dataclasses.asdict(item), "why": "row not in the (cleaned) train split"})
            continue
        proba[i] = 0.0
        proba[i, list(classes).index(item.new)] = 1.0
        applied.applied.append({**dataclasses.asdict(item), "effect": f"training label -> {item.new}"})
    return proba
