"""The LF report a domain expert iterates on: coverage, overlaps, conflicts, dev accuracy, examples."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd


def lf_summary(L_train: np.ndarray, lf_names: list[str], classes: tuple[str, ...], *,
               L_dev: np.ndarray | None = None, y_dev: np.ndarray | None = None,
               kinds: list[str] | None = None) -> list[dict]:
    """One dict per LF. Coverage/overlaps/conflicts come from snorkel's LFAnalysis on the train votes;
    accuracy is measured on the gold dev rows where the LF votes (its dev coverage is given beside it)."""
    from snorkel.labeling import LFAnalysis

    with warnings.catch_warnings():  # scipy's diags() deprecation inside snorkel is not the user's business
        warnings.simplefilter("ignore", FutureWarning)
        train = LFAnalysis(L_train.astype(np.int64)).lf_summary()
    rows = []
    for j, name in enumerate(lf_names):
        votes = L_train[:, j]
        labels = sorted({int(v) for v in np.unique(votes) if v >= 0})
        row = {
            "name": name,
            "kind": kinds[j] if kinds else "python",
            "polarity": [classes[i] for i in labels],
            "coverage": float(train["Coverage"].iloc[j]),
            "overlaps": float(train["Overlaps"].iloc[j]),
            "conflicts": float(train["Conflicts"].iloc[j]),
            "dev_coverage": None, "dev_accuracy": None, "dev_n": 0, "dev_correct": 0,
        }
        if L_dev is not None and y_dev is not None:
            fired = L_dev[:, j] >= 0
            row["dev_n"] = int(fired.sum())
            row["dev_coverage"] = float(fired.mean()) if len(fired) else 0.0
            if fired.any():
                correct = int((L_dev[fired, j] == y_dev[fired]).sum())
                row["dev_correct"] = correct
                row["dev_accuracy"] = correct / int(fired.sum())
        rows.append(row)
    return rows


def lf_examples(frame_train: pd.DataFrame, L_train: np.ndarray, frame_dev: pd.DataFrame | None,
                L_dev: np.ndarray | None, y_dev: np.ndarray | None, lf_names: list[str],
                classes: tuple[str, ...], *, id_column: str, text_column: str, k: int = 3,
                seed: int = 0) -> dict[str, dict[str, list[dict]]]:
    """Per LF: a few train rows where it fires, dev rows where it is wrong, rows where it conflicts."""
    rng = np.random.default_rng(seed)
    out = {}
    for j, name in enumerate(lf_names):
        votes = L_train[:, j]
        fires = np.flatnonzero(votes >= 0)
        others = np.delete(L_train, j, axis=1)
        conflict = np.flatnonzero((votes >= 0) & ((others >= 0) & (others != votes[:, None])).any(axis=1))
        entry = {
            # the lambdas are called inside _pick, in this iteration
            "fires": _pick(frame_train, fires, rng, k, id_column, text_column, lambda i: classes[votes[i]]),  # noqa: B023
            "conflicts": _pick(frame_train, conflict, rng, k, id_column, text_column,
                               lambda i: classes[votes[i]], others=lambda i: _other_votes(L_train[i], j, lf_names, classes)),  # noqa: B023
            "wrong_on_dev": [],
        }
        if frame_dev is not None and L_dev is not None and y_dev is not None:
            dv = L_dev[:, j]
            wrong = np.flatnonzero((dv >= 0) & (dv != y_dev))
            entry["wrong_on_dev"] = _pick(frame_dev, wrong, rng, k, id_column, text_column,
                                          lambda i: classes[dv[i]], gold=lambda i: classes[y_dev[i]])  # noqa: B023
        out[name] = entry
    return out


def _pick(frame, positions, rng, k, id_column, text_column, vote, gold=None, others=None) -> list[dict]:
    if len(positions) > k:
        positions = np.sort(rng.choice(positions, size=k, replace=False))
    picked = []
    for i in positions:
        item = {"row_id": str(frame[id_column].iloc[i])}
        if text_column and text_column in frame.columns:  # rows without text (votes, feature vectors): no text key
            item["text"] = _clip(frame[text_column].iloc[i])
        item["vote"] = vote(i)
        if gold is not None:
            item["gold"] = gold(i)
        if others is not None:
            item["others"] = others(i)
        picked.append(item)
    return picked


def _other_votes(row: np.ndarray, j: int, lf_names, classes) -> dict[str, str]:
    return {lf_names[i]: classes[v] for i, v in enumerate(row) if i != j and v >= 0}


def _clip(text, limit: int = 240) -> str:
    text = "" if text is None or text != text else str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def matrix_stats(L: np.ndarray) -> dict:
    """Overall coverage figures of a label matrix."""
    voted = (L >= 0).sum(axis=1)
    return {
        "rows": int(L.shape[0]),
        "lfs": int(L.shape[1]),
        "covered": float((voted > 0).mean()) if len(L) else 0.0,
        "all_abstain_rows": int((voted == 0).sum()),
        "multi_vote": float((voted > 1).mean()) if len(L) else 0.0,
    }


