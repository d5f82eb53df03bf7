"""The gate for defaults: labelkit's build on every real set in ../shared and stress variants, current vs previous.

Usage (from the repository root):
  PYTHONPATH=. nice .venv/bin/python benchmarks/suite.py --quick            # ~2 min: the development subset
  PYTHONPATH=. nice .venv/bin/python benchmarks/suite.py                    # the full gate (~10 min on 2 busy cores)
  PYTHONPATH=. nice .venv/bin/python benchmarks/suite.py --sets wrench_youtube,imdb --variants clean,shuffled-dev
  PYTHONPATH=. nice .venv/bin/python benchmarks/suite.py --current end_model.C=[1.0] --previous end_model.C=[0.1]
  PYTHONPATH=. nice .venv/bin/python benchmarks/suite.py --list             # the plan: sets x variants

Every cell (a set, or a stress variant of it) runs labelkit's real pipeline in this process
(`labelkit.settings.config.load_config` -> `labelkit.data.load.load_task_data` -> `labelkit.pipeline.run.run_pipeline`) twice:
once with the **current** defaults and once with the overrides that restore the **previous** ones
(`PREVIOUS` below; `--previous KEY=VALUE` replaces it, `--current KEY=VALUE` changes the current side,
`--set KEY=VALUE` both). Every run gets `SPEED` (no audit, no hard-label comparison model) so the
full suite stays in minutes; label-model and end-model defaults are untouched.

Per cell it prints the build's metric (accuracy, or F1 of the positive class when the build resolves
metric "auto" that way), the rule baseline, the chosen label model, the end model, a **do-no-harm
reference** (the build's own end-model search, `labelkit.pipeline.stages.fit_end_model`, trained on plain
majority-vote probabilities of the covered train rows: each class's share of the votes, so a tie is
split evenly rather than broken), a
**gold-trained reference** (the same search on gold train labels, where the set has them), the
error-level findings of the build's checks (metrics "checks") and the wall time; both references use
the current run's config and are computed once per distinct (train votes, rows) and reused by the
variants that leave them unchanged. All scores are on the set's gold test rows.

Gate (benchmarks/README.md, "The gate for defaults"): PASS only when no cell loses more than 1 point
(current vs previous, the headline system: end model, or the label model where there is none) and
the mean over the cells does not drop. The issue-22 targets are printed beside it.

Data: `--data` (default ../shared/data beside the repository); read-only, never copied into the
project: census is extracted, votes-only matrices are written as WRENCH folders, stress variants
are made, all in a temporary folder removed at the end. A set that is absent is skipped with a line.
Same `--seed` => same table.
"""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import importlib.util
import json
import subprocess
import sys
import tarfile
import tempfile
import time
import warnings
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"

# The overrides that restore the defaults before issue 22 (a default change updates this constant in the
# same commit, so the suite always compares the new default with the one it replaces):
# - label_model.choose_by: candidates were judged by their own dev score on the dev votes ("label_model");
#   the new default ("auto") does so while the build's checks trust the dev votes, and judges them by the
#   end model their train labels train when it does not.
# - checks.fallback: an error-level finding of the build's checks of itself did not change the build.
PREVIOUS = {"label_model.choose_by": "label_model", "checks.fallback": "false"}

# Applied to both runs of every cell, for speed only: the audit (leakage, test rows, label issues) and the
# end_model_hard_labels comparison model do not change the label model, the end model or their scores.
SPEED = {"audit.enabled": "false", "end_model.compare_hard": "false"}

VOTES_ONLY_SPLIT = (0.6, 0.2, 0.2)  # seeded train/dev/test of a votes-only set that has one pooled matrix
RAW_VIDEOS = {"train": ("Psy", "KatyPerry", "LMFAO"), "dev": ("Eminem",), "test": ("Shakira",)}


# ---------------------------------------------------------------- sets and variants

@dataclass(frozen=True)
class SetSpec:
    key: str
    kind: str  # wrench | votes | raw | bundled
    path: str = ""  # under --data (wrench, votes, raw)
    share: float = 0.0  # raw comments: spam subsampled to this share (0 = natural)
    archive: str = ""  # a .tar.gz inside the folder (census)
    note: str = ""


SETS = {s.key: s for s in [
    SetSpec("wrench_youtube", "wrench", "wrench_youtube", note="2 classes, 10 LFs"),
    SetSpec("wrench_semeval", "wrench", "wrench_semeval", note="9 classes, 164 LFs"),
    SetSpec("wrench_hausa", "wrench", "wrench_hausa", note="5 classes, 5 LFs, Hausa"),
    SetSpec("wrench_mushroom", "wrench", "wrench_mushroom", note="tabular, 20 LFs"),
    SetSpec("wrench_census", "wrench", "wrench_census", archive="census.tar.gz", note="tabular, 83 LFs"),
    SetSpec("imdb", "votes", "votes_only/imdb"),
    SetSpec("yelp", "votes", "votes_only/yelp"),
    SetSpec("basketball", "votes", "votes_only/basketball"),
    SetSpec("commercial", "votes", "votes_only/commercial_merged"),
    SetSpec("tennis", "votes", "votes_only/tennis_merged"),
    SetSpec("cdr", "votes", "votes_only/cdr_merged"),
    SetSpec("crowd_bird", "votes", "votes_only/crowd_bird"),
    SetSpec("crowd_dog", "votes", "votes_only/crowd_dog"),
    SetSpec("crowd_rte", "votes", "votes_only/crowd_rte"),
    SetSpec("crowd_web", "votes", "votes_only/crowd_web"),
    SetSpec("youtube_comments", "raw", "youtube_spam_collection", note="raw comments, 10 hand-written LFs"),
    SetSpec("youtube_comments_13", "raw", "youtube_spam_collection", share=0.13, note="the same, spam cut to 13%"),
    SetSpec("bundled", "bundled", note="labelkit.toml: support tickets, 5 classes"),
]}

# variant -> steps, each (operation, argument); applied in order to the loaded set
VARIANTS = {
    "clean": (),
    "imbalance-5": (("imbalance", 0.05),),
    "imbalance-10": (("imbalance", 0.10),),
    "imbalance-13": (("imbalance", 0.13),),
    "imbalance-20": (("imbalance", 0.20),),
    "shuffled-dev": (("shuffle_dev", None),),
    "imbalance-13+shuffled-dev": (("imbalance", 0.13), ("shuffle_dev", None)),
    "lfs-dropped": (("drop_lfs", 1 / 3),),
    "lfs-duplicated": (("duplicate_lfs", None),),
    "lf-inverted": (("invert_lf", None),),
    "dev-30": (("small_dev", 30),),
    "dev-100": (("small_dev", 100),),
    "dev-test-shift": (("shift", None),),
    "noisy-dev": (("noise_dev", 0.3),),
}
VARIANT_TEXT = {
    "clean": "as given",
    "imbalance-N": "class 1 subsampled to N% of every split (benchmarks/wrench.py imbalanced_copy)",
    "shuffled-dev": "rows of the dev label matrix permuted (votes joined on the wrong key); dev text and gold untouched",
    "lfs-dropped": "a seeded third of the LFs removed",
    "lfs-duplicated": "every LF twice",
    "lf-inverted": "the LF with the most right minus wrong dev votes votes for the next class (c -> c+1 mod k) "
                   "in every split",
    "dev-N": "a seeded subsample of N dev rows",
    "noisy-dev": "30% of the dev votes moved to another class (seeded): LFs less accurate on dev than on train and "
                 "test, as when dev is another draw (a held-back TREC set: majority vote right on 54% of covered "
                 "dev rows, 66% of test)",
    "dev-test-shift": "dev and test from different sources: raw comments dev = Eminem video, test = Shakira "
                      "(train: the other three); bundled: dev+test pooled, older half dev, newer half test by created_at",
}

# set -> variants of the full run (each variant where it makes sense, not the full cross product)
PLAN = {
    "wrench_youtube": ["clean", "imbalance-5", "imbalance-10", "imbalance-13", "imbalance-20", "shuffled-dev",
                       "imbalance-13+shuffled-dev", "lfs-dropped", "lfs-duplicated", "lf-inverted", "dev-30", "dev-100",
                       "noisy-dev"],
    "wrench_semeval": ["clean", "shuffled-dev", "lf-inverted", "noisy-dev"],  # its end-model search alone is ~15 s a fit
    "wrench_hausa": ["clean", "shuffled-dev", "lfs-dropped", "lf-inverted", "dev-30", "noisy-dev"],
    "wrench_mushroom": ["clean", "imbalance-13", "shuffled-dev", "lf-inverted"],
    "wrench_census": ["clean", "shuffled-dev"],
    "imdb": ["clean", "imbalance-13", "lf-inverted", "dev-30"],
    "yelp": ["clean", "imbalance-13", "shuffled-dev", "lfs-dropped", "dev-100", "noisy-dev"],
    "basketball": ["clean", "shuffled-dev", "lfs-duplicated"],
    "commercial": ["clean", "lf-inverted"],
    "tennis": ["clean", "lfs-dropped"],
    "cdr": ["clean", "shuffled-dev", "lfs-dropped"],
    "crowd_bird": ["clean"],
    "crowd_dog": ["clean", "shuffled-dev"],
    "crowd_rte": ["clean"],
    "crowd_web": ["clean"],  # 176 workers x 5 classes: ~30 s a build for label models alone
    "youtube_comments": ["clean", "dev-test-shift"],
    "youtube_comments_13": ["clean", "shuffled-dev"],
    "bundled": ["clean", "dev-test-shift", "noisy-dev"],
}
QUICK = {
    "wrench_youtube": ["clean", "shuffled-dev", "lf-inverted"],
    "wrench_semeval": ["clean"],
    "wrench_hausa": ["clean"],
    "imdb": ["clean"],
    "basketball": ["clean", "shuffled-dev"],
    "crowd_dog": ["clean"],
    "tennis": ["clean"],
}
# a shuffled-dev cell is held against the cell of the same set with clean dev
CLEAN_OF = {"shuffled-dev": "clean", "imbalance-13+shuffled-dev": "imbalance-13"}


@dataclass
class Prepared:
    """One set (or variant) ready to build: its config overrides, its data as loaded, its LFs."""

    spec: SetSpec
    overrides: dict  # set-specific config settings (dotted key -> value as `--set` takes it)
    config_path: Path | None
    data: object  # labelkit.data.load.TaskData
    modules: object  # labelkit.lfs.ModuleContents (empty for WRENCH / votes-only sets)
    gold_by_id: dict | None = None  # train row id -> gold class name, where train rows carry no label
    folder: Path | None = None  # the WRENCH folder it was read from (imbalance copies it)
    comments: pd.DataFrame | None = None  # raw comments (label, text, video) behind a raw set
    notes: list = field(default_factory=list)


# ---------------------------------------------------------------- loading the sets (once per run)

def load_set(spec: SetSpec, data_root: Path, tmp: Path, seed: int) -> Prepared:
    if spec.kind == "wrench":
        folder = data_root / spec.path
        if spec.archive:
            folder = _extracted(folder / spec.archive, tmp / spec.key)
        return load_wrench(spec, folder)
    if spec.kind == "votes":
        return load_wrench(spec, votes_only_folder(data_root / spec.path, tmp / spec.key, seed))
    if spec.kind == "raw":
        return load_raw(spec, data_root / spec.path, tmp / spec.key, seed)
    return load_bundled(spec)


def available(spec: SetSpec, data_root: Path) -> Path | None:
    """None when the set can be loaded, else the path that is missing."""
    if spec.kind == "bundled":
        path = ROOT / "labelkit.toml"
    elif spec.archive:
        path = data_root / spec.path / spec.archive
    else:
        path = data_root / spec.path
    return None if path.exists() else path


def _extracted(archive: Path, out: Path) -> Path:
    out.mkdir(parents=True)
    with tarfile.open(archive) as tar:
        tar.extractall(out, filter="data")
    found = sorted(p.parent for p in out.rglob("train.json"))
    if not found:
        raise RuntimeError(f"{archive} holds no train.json")
    return found[0]


def load_wrench(spec: SetSpec, folder: Path) -> Prepared:
    """A WRENCH folder as `labelkit build --wrench DIR` reads it (votes-only folders: no text, no end model)."""
    from labelkit.data.load import load_task_data
    from labelkit.lfs import ModuleContents

    overrides = {"task.name": spec.key, "data.wrench": str(folder)}
    if spec.kind == "votes":
        overrides.update({"data.text_column": "", "end_model.enabled": "false"})
    config = make_config(None, overrides, {})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data = load_task_data(config)
    return Prepared(spec, overrides, None, data, ModuleContents(), folder=folder)


def votes_only_folder(source: Path, out: Path, seed: int) -> Path:
    """A .mat label matrix (keys train_pred/train_labels[, val_pred/validation_labels, test_pred/test_labels])
    as a WRENCH folder without data fields; one pooled matrix is split train/dev/test (seeded)."""
    import scipy.io

    files = sorted(source.glob("*.mat"))
    if len(files) != 1:
        raise RuntimeError(f"{source}: expected one .mat file, found {len(files)}")
    mat = scipy.io.loadmat(files[0])
    splits = {}
    if {"val_pred", "validation_labels", "test_pred", "test_labels"} <= set(mat):
        for name, votes, labels in (("train", "train_pred", "train_labels"), ("valid", "val_pred", "validation_labels"),
                                    ("test", "test_pred", "test_labels")):
            splits[name] = (np.asarray(mat[votes]), np.asarray(mat[labels]).reshape(-1))
    else:
        L, y = np.asarray(mat["train_pred"]), np.asarray(mat["train_labels"]).reshape(-1)
        order = np.random.default_rng(seed).permutation(len(y))
        n_train, n_dev = round(VOTES_ONLY_SPLIT[0] * len(y)), round(VOTES_ONLY_SPLIT[1] * len(y))
        for name, rows in (("train", order[:n_train]), ("valid", order[n_train:n_train + n_dev]),
                           ("test", order[n_train + n_dev:])):
            rows = np.sort(rows)
            splits[name] = (L[rows], y[rows])
    k = int(max(max(int(y.max()), int(L.max())) for L, y in splits.values())) + 1
    out.mkdir(parents=True)
    for name, (L, y) in splits.items():
        rows = {str(i): {"data": {}, "label": int(y[i]), "weak_labels": [int(v) for v in L[i]]} for i in range(len(y))}
        (out / f"{name}.json").write_text(json.dumps(rows), encoding="utf-8")
    (out / "label.json").write_text(json.dumps({str(i): f"class_{i}" for i in range(k)}), encoding="utf-8")
    return out


def load_raw(spec: SetSpec, folder: Path, out: Path, seed: int) -> Prepared:
    """The raw YouTube comments as benchmarks/raw_rules.py writes them (one headerless latin-1 TSV, its ten
    LFs, a config splitting the file), read through labelkit's own loader."""
    from labelkit.data.load import load_task_data
    from labelkit.pipeline.stages import load_labeling_functions

    raw_rules = bench_module("raw_rules")
    comments = raw_rules.read_comments(folder)
    comments["video"] = comment_videos(folder)
    data = raw_rules.subsample(comments, spec.share, seed).reset_index(drop=True)
    out.mkdir(parents=True)
    config_path = raw_rules.write_user_files(data[["label", "text"]], out, seed, [0.7, 0.15, 0.15])
    overrides = {"task.name": spec.key}
    config = make_config(config_path, overrides, {})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        task_data = load_task_data(config)
        modules, _ = load_labeling_functions(config)
    gold_by_id = {str(i + 1): label for i, label in enumerate(data["label"])}  # headerless file: ids are line numbers
    return Prepared(spec, overrides, config_path, task_data, modules, gold_by_id=gold_by_id, comments=data)


def comment_videos(folder: Path) -> list[str]:
    """The video of each comment, in the order raw_rules.read_comments concatenates the CSVs."""
    videos = []
    for path in sorted(folder.glob("*.csv")):
        videos += [path.stem.split("-", 1)[-1]] * len(pd.read_csv(path))
    return videos


def load_bundled(spec: SetSpec) -> Prepared:
    from labelkit.data.load import load_task_data
    from labelkit.pipeline.stages import load_labeling_functions

    config_path = ROOT / "labelkit.toml"
    config = make_config(config_path, {}, {})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data = load_task_data(config)
        modules, _ = load_labeling_functions(config, columns=list(data.frames["train"].columns))
    return Prepared(spec, {}, config_path, data, modules)


def make_config(path: Path | None, *layers: dict):
    """load_config with the layers' settings merged in order (environment variables ignored: same table everywhere)."""
    from labelkit.settings.config import load_config

    merged: dict = {}
    for layer in layers:
        merged.update(layer)
    return load_config(path, overrides=merged, environ={})


def bench_module(name: str):
    """Another benchmark script as a module (benchmarks/ is not a package)."""
    key = f"labelkit_bench_{name}"
    if key not in sys.modules:
        spec = importlib.util.spec_from_file_location(key, Path(__file__).resolve().parent / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[key] = module
        spec.loader.exec_module(module)
    return sys.modules[key]


# ---------------------------------------------------------------- stress variants (seeded, in memory or in tmp)

def make_variant(base: Prepared, variant: str, *, seed: int, tmp: Path, cache: dict) -> Prepared:
    prepared = base
    for step, argument in VARIANTS[variant]:
        rng = np.random.default_rng([seed, zlib.crc32(f"{base.spec.key}/{step}".encode())])
        if step == "imbalance":
            prepared = imbalanced(prepared, argument, seed=seed, tmp=tmp, cache=cache)
        elif step == "shift":
            prepared = shifted(prepared)
        else:
            prepared = with_votes(prepared)
            data = STEPS[step](prepared.data, argument, rng)
            names = prepared.data.vote_names
            notes = list(prepared.notes)
            if step == "invert_lf":
                notes.append(f"inverted {names[inverted_lf(prepared.data)]}")
            elif step == "drop_lfs":
                notes.append("dropped " + ", ".join(n for n in names if n not in data.vote_names))
            prepared = dataclasses.replace(prepared, data=data, notes=notes)
    return prepared


def imbalanced(prepared: Prepared, share: float, *, seed: int, tmp: Path, cache: dict) -> Prepared:
    if prepared.folder is None or prepared.data.schema.cardinality != 2:
        raise VariantNotApplicable("imbalance needs a binary WRENCH-shaped set")
    key = (prepared.spec.key, share)
    if key not in cache:
        out = tmp / f"{prepared.spec.key}-imbalance-{round(100 * share)}"
        out.mkdir(parents=True)
        folder = bench_module("wrench").imbalanced_copy(prepared.folder, out, share, seed=seed)
        cache[key] = load_wrench(prepared.spec, folder)
    return cache[key]


def with_votes(prepared: Prepared) -> Prepared:
    """The set with its LFs' votes on every split precomputed (labelkit's own apply stage), so that
    variants can change the votes; sets that come with votes are returned as they are."""
    from labelkit.pipeline.stages import apply_votes

    if prepared.data.votes is not None:
        return prepared
    config = make_config(prepared.config_path, prepared.overrides)
    votes = apply_votes(config, prepared.data, prepared.modules.lfs)
    data = dataclasses.replace(prepared.data, votes=dict(votes.L), vote_names=list(votes.lf_names))
    return dataclasses.replace(prepared, data=data)


def shuffle_dev_votes(data, _argument, rng):
    """Dev votes permuted between dev rows (the votes were joined on the wrong key); text and gold stay."""
    votes = dict(data.votes)
    votes["dev"] = votes["dev"][rng.permutation(len(votes["dev"]))]
    return dataclasses.replace(data, votes=votes)


def noise_dev_votes(data, share, rng):
    """A share of the dev votes moved to another class, chosen at random (votes only; abstains stay)."""
    k = data.schema.cardinality
    votes = dict(data.votes)
    L = votes["dev"].copy()
    voted = np.argwhere(L >= 0)
    hit = voted[rng.random(len(voted)) < share]
    L[hit[:, 0], hit[:, 1]] = (L[hit[:, 0], hit[:, 1]] + rng.integers(1, k, size=len(hit))) % k
    votes["dev"] = L
    return dataclasses.replace(data, votes=votes)


def drop_lfs(data, fraction, rng):
    n = len(data.vote_names)
    drop = set(rng.choice(n, size=min(n - 1, max(1, round(fraction * n))), replace=False).tolist())
    keep = [j for j in range(n) if j not in drop]
    return dataclasses.replace(data, votes={s: L[:, keep] for s, L in data.votes.items()},
                               vote_names=[data.vote_names[j] for j in keep])


def duplicate_lfs(data, _argument, _rng):
    return dataclasses.replace(data, votes={s: np.hstack([L, L]) for s, L in data.votes.items()},
                               vote_names=list(data.vote_names) + [f"{name}~copy" for name in data.vote_names])


def invert_lf(data, _argument, _rng):
    """The most useful LF (see inverted_lf) votes c -> (c + 1) mod k in every split: a rule whose meaning
    was flipped, consistently, train evidence included."""
    k = data.schema.cardinality
    j = inverted_lf(data)
    votes = {}
    for split, L in data.votes.items():
        L = L.copy()
        fired = L[:, j] >= 0
        L[fired, j] = (L[fired, j] + 1) % k
        votes[split] = L
    return dataclasses.replace(data, votes=votes)


def inverted_lf(data) -> int:
    """Which LF lf-inverted flips: the one with the most right minus wrong votes on gold dev, first on ties
    (gold only picks the variant; the build never sees it). Right votes alone could pick a frequent LF near
    chance (WRENCH youtube's lf_9: 56 dev votes, 68% right, 53% on test) whose inversion helps the rules."""
    L, y = data.votes["dev"], np.asarray(data.gold["dev"])[:, None]
    return int(np.argmax((L == y).sum(axis=0) - ((L >= 0) & (L != y)).sum(axis=0)))


def small_dev(data, rows, rng):
    n = len(data.frames["dev"])
    if rows >= n:
        raise VariantNotApplicable(f"dev has only {n} rows")
    keep = np.sort(rng.choice(n, size=rows, replace=False))
    frames = {**data.frames, "dev": data.frames["dev"].iloc[keep].reset_index(drop=True)}
    votes = None if data.votes is None else {**data.votes, "dev": data.votes["dev"][keep]}
    return dataclasses.replace(data, frames=frames, gold={**data.gold, "dev": data.gold["dev"][keep]}, votes=votes)


STEPS = {"shuffle_dev": shuffle_dev_votes, "drop_lfs": drop_lfs, "duplicate_lfs": duplicate_lfs,
         "invert_lf": invert_lf, "small_dev": small_dev, "noise_dev": noise_dev_votes}


class VariantNotApplicable(Exception):
    pass


def shifted(prepared: Prepared) -> Prepared:
    """Dev and test drawn from different sources: raw comments by video, the bundled example by created_at."""
    from labelkit.data.load import task_data_from_frames

    config = make_config(prepared.config_path, prepared.overrides)
    if prepared.comments is not None:
        c = prepared.comments
        text = c["text"].map(lambda t: t.encode("latin-1", errors="replace").decode("latin-1"))  # as the TSV holds it
        frame = pd.DataFrame({"id": [str(i + 1) for i in range(len(c))], "label": c["label"], "text": text})
        frames = {split: frame[c["video"].isin(videos).to_numpy()].reset_index(drop=True)
                  for split, videos in RAW_VIDEOS.items()}
        frames["train"] = frames["train"].drop(columns=["label"])
    elif prepared.spec.kind == "bundled":
        from labelkit.io.times import parse_utc

        d = prepared.data
        pooled = pd.concat([d.frames["dev"], d.frames["test"]], ignore_index=True)
        order = np.argsort(parse_utc(pooled[config.data.time_column]).to_numpy(), kind="stable")
        half = len(order) // 2
        frames = {"train": d.frames["train"], "dev": pooled.iloc[np.sort(order[:half])].reset_index(drop=True),
                  "test": pooled.iloc[np.sort(order[half:])].reset_index(drop=True)}
    else:
        raise VariantNotApplicable("no sources or times to split dev and test by")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data = task_data_from_frames(config, frames)
    return dataclasses.replace(prepared, data=data)


# ---------------------------------------------------------------- one cell: two builds and the references

def run_build(prepared: Prepared, side: dict, extra: dict):
    """One build of the prepared set with the side's settings; nothing is written."""
    from labelkit.pipeline.manifest import StageTimer
    from labelkit.pipeline.run import run_pipeline

    config = make_config(prepared.config_path, prepared.overrides, SPEED, extra, side)
    if tuple(config.task.classes) != prepared.data.schema.classes:  # a WRENCH folder names its classes
        config = dataclasses.replace(config, task=dataclasses.replace(config.task,
                                                                      classes=list(prepared.data.schema.classes)))
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = run_pipeline(config, prepared.data, prepared.modules, timer=StageTimer(None))
    return result, time.perf_counter() - started


def score(result, pred, metric: str, positive) -> float:
    from labelkit.evaluate.metrics import score_predictions

    return score_predictions(result.data.gold["test"], pred, cardinality=result.data.schema.cardinality,
                             metric=metric, positive=positive)


def summarize_run(result, seconds: float, metric: str, positive) -> dict:
    preds = result.preds
    checks = [_check_record(c) for c in result.results.checks]
    return {
        "rules": score(result, preds["rule_baseline"], metric, positive),
        "label_model": score(result, preds["label_model"], metric, positive),
        "label_model_key": result.selection.key,
        "end_model": score(result, preds["end_model"], metric, positive) if "end_model" in preds else None,
        "checks": checks,
        "error_checks": [c.get("name", "?") for c in checks if c.get("severity") == "error"],
        "seconds": seconds,
    }


def _check_record(check) -> dict:
    """A finding of the build's checks as a dict (name, severity, message, ...), whatever record holds it."""
    if isinstance(check, dict):
        return check
    if dataclasses.is_dataclass(check):
        return dataclasses.asdict(check)
    return {k: getattr(check, k, None) for k in ("name", "severity", "message")}


def gold_train(prepared: Prepared, result) -> np.ndarray | None:
    """Gold class indices of the build's train rows, where the set has them (WRENCH train labels, raw comments)."""
    data, id_column = result.data, result.config.data.id_column
    train = data.frames["train"]
    label_column = result.config.data.label_column
    if label_column in train.columns and train[label_column].notna().all():
        names = train[label_column]
    elif prepared.gold_by_id is not None:
        names = train[id_column].astype(str).map(prepared.gold_by_id)
        if names.isna().any():
            return None
    else:
        return None
    return data.schema.encode_gold(names.tolist(), where="train (gold reference)")


def references(prepared: Prepared, result, metric: str, positive, cache: dict) -> dict:
    """Do-no-harm (plain majority-vote probabilities of the covered train rows) and gold-trained end models, with the
    build's own end-model search; each is computed once per distinct input and reused."""
    from labelkit.labelmodels import make_label_model
    from labelkit.pipeline.stages import fit_end_model

    if result.end_model is None:
        return {"do_no_harm": None, "gold_trained": None}
    config, data, prior = result.config, result.data, result.prior
    k, L = data.schema.cardinality, result.votes.L["train"]
    inputs = _fingerprint(config.end_model, config.label_model.metric, config.label_model.positive_class,
                          config.task.seed, *(data.frames[s][config.data.id_column].astype(str).tolist() for s in data.frames),
                          data.gold["dev"], data.gold["test"], metric, positive)
    out = {}
    for name in ("do_no_harm", "gold_trained"):
        if name == "do_no_harm":
            majority = make_label_model("majority").fit(L, cardinality=k, class_balance=prior)
            targets, votes = majority.predict_proba(L), L  # vote shares: a tie is split evenly, not broken
        else:
            gold = gold_train(prepared, result)
            if gold is None:
                out[name] = None
                continue
            targets, votes = np.eye(k)[gold], np.zeros((len(gold), 1), dtype=np.int8)
        key = (name, inputs, _fingerprint(targets, votes >= 0))
        if key not in cache:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model = fit_end_model(config, data, targets, votes, prior, labels="soft")  # no L_dev: covered rows only
            cache[key] = score(result, model.predict(data.frames["test"]), metric, positive)
        out[name] = cache[key]
    return out


def _fingerprint(*parts) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(np.ascontiguousarray(part).tobytes() if isinstance(part, np.ndarray) else repr(part).encode())
        digest.update(b"|")
    return digest.hexdigest()


def run_cell(prepared: Prepared, variant: str, sides: dict, extra: dict, cache: dict) -> dict:
    row = {"set": prepared.spec.key, "variant": variant, "status": "ok", "errors": {}, "notes": list(prepared.notes)}
    data = prepared.data
    row["rows"] = "/".join(str(len(data.frames[s])) for s in ("train", "dev", "test"))
    row["lfs"] = len(data.vote_names) if data.vote_names else len(prepared.modules.lfs)
    results = {}
    for side, settings in sides.items():
        try:
            results[side] = run_build(prepared, settings, extra)
        except Exception as error:  # one clear line, and the suite goes on
            row["errors"][side] = _one_line(error)
    if not results:
        row["status"] = "error"
        return row
    first = results.get("current") or results["previous"]
    result = first[0]
    metric, positive = result.selection.metric, result.selection.positive
    row["metric"] = metric if metric != "f1" else f"F1({result.data.schema.classes[positive]})"
    row["classes"] = len(result.data.schema.classes)
    for side, (res, seconds) in results.items():
        row[side] = summarize_run(res, seconds, metric, positive)
    row["headline"] = "end_model" if row[next(iter(results))]["end_model"] is not None else "label_model"
    if "current" in results:
        try:
            row.update(references(prepared, results["current"][0], metric, positive, cache))
        except Exception as error:
            row["errors"]["references"] = _one_line(error)
    if len(results) < len(sides):
        row["status"] = "error"
    return row


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text[:300]}"


# ---------------------------------------------------------------- the run

def plan(args) -> list[tuple[str, str]]:
    chosen = QUICK if args.quick else PLAN
    sets = _names(args.sets, SETS, "--sets")
    variants = _names(args.variants, VARIANTS, "--variants")
    cells = []
    for key, names in chosen.items():
        if sets and key not in sets:
            continue
        cells += [(key, v) for v in names if not variants or v in variants]
    return cells


def warm_up() -> None:
    """Import the heavy libraries before the first cell (counted in the run's wall time, not in a cell's),
    so the first cell's two runs are timed like every other's."""
    import labelkit.endmodel  # noqa: F401
    import labelkit.pipeline.run  # noqa: F401
    import sklearn.linear_model  # noqa: F401
    import snorkel.labeling.model  # noqa: F401


def _names(values, known, option) -> list[str]:
    names = [n.strip() for value in values for n in value.split(",") if n.strip()]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise SystemExit(f"error: {option}: unknown {', '.join(unknown)}; known: {', '.join(known)}")
    return names


def _settings(values, option) -> dict:
    out = {}
    for value in values:
        if "=" not in value or "." not in value.split("=", 1)[0]:
            raise SystemExit(f"error: {option} {value!r}: write section.key=value, e.g. {option} end_model.C=[1.0]")
        key, setting = value.split("=", 1)
        out[key.strip()] = setting
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DATA, help=f"the shared data folder (default {DATA})")
    parser.add_argument("--quick", action="store_true", help="the development subset (~2 minutes)")
    parser.add_argument("--sets", action="append", default=[], help="only these sets (comma-separated; repeatable)")
    parser.add_argument("--variants", action="append", default=[], help="only these variants (comma-separated)")
    parser.add_argument("--set", dest="extra", action="append", default=[], metavar="KEY=VALUE",
                        help="a config setting for both runs, as `labelkit build --set`")
    parser.add_argument("--current", action="append", default=[], metavar="KEY=VALUE",
                        help="a setting of the current side only (default: none, the defaults)")
    parser.add_argument("--previous", action="append", default=[], metavar="KEY=VALUE",
                        help=f"the previous side's settings, replacing PREVIOUS = {PREVIOUS}")
    parser.add_argument("--seed", type=int, default=0, help="seed of the variants and of the votes-only splits")
    parser.add_argument("--json", type=Path, help="also write the table and summary as JSON here")
    parser.add_argument("--list", action="store_true", help="print the plan (sets x variants) and exit")
    args = parser.parse_args(argv)
    cells = plan(args)
    if not cells:
        raise SystemExit("error: no cell left: the plan (--list) has no such set and variant")
    if args.list:
        for key in dict.fromkeys(k for k, _ in cells):
            print(f"{key} ({SETS[key].note or SETS[key].kind}): {', '.join(v for k, v in cells if k == key)}")
        return 0
    sides = {"current": _settings(args.current, "--current"),
             "previous": _settings(args.previous, "--previous") if args.previous else dict(PREVIOUS)}
    extra = _settings(args.extra, "--set")
    for name, side in sides.items():  # a typo in a setting stops here, not in every cell
        try:
            make_config(None, SPEED, extra, side)
        except Exception as error:
            raise SystemExit(f"error: the {name} settings {side or ''} {extra or ''}: {_one_line(error)}") from None
    started = time.perf_counter()
    warm_up()
    rows, skipped = [], []
    with tempfile.TemporaryDirectory(prefix="labelkit-suite-") as tmp_name:
        tmp = Path(tmp_name)
        loaded: dict = {}
        cache: dict = {}
        variant_cache: dict = {}
        for number, (key, variant) in enumerate(cells, 1):
            spec = SETS[key]
            missing = available(spec, args.data)
            if missing is not None:
                if key not in loaded:
                    skipped.append(f"{key}: {missing} is absent, skipped")
                    print(f"skipped {key}: {missing} is absent", file=sys.stderr, flush=True)
                    loaded[key] = None
                continue
            cell_started = time.perf_counter()
            if key not in loaded:
                try:
                    loaded[key] = load_set(spec, args.data, tmp, args.seed)
                except Exception as error:
                    loaded[key] = error
            base = loaded[key]
            if isinstance(base, Exception):
                row = {"set": key, "variant": variant, "status": "error", "errors": {"load": _one_line(base)}}
            else:
                try:
                    prepared = make_variant(base, variant, seed=args.seed, tmp=tmp, cache=variant_cache)
                except VariantNotApplicable as why:
                    row = {"set": key, "variant": variant, "status": "n/a", "errors": {"variant": str(why)}}
                except Exception as error:
                    row = {"set": key, "variant": variant, "status": "error", "errors": {"variant": _one_line(error)}}
                else:
                    row = run_cell(prepared, variant, sides, extra, cache)
            row["seconds"] = time.perf_counter() - cell_started
            rows.append(row)
            print(f"[{number}/{len(cells)}] {key} / {variant}: {row['status']}, {row['seconds']:.0f}s "
                  f"(total {time.perf_counter() - started:.0f}s)", file=sys.stderr, flush=True)
    wall = time.perf_counter() - started
    summary = summarize(rows)
    print_report(rows, summary, skipped, args, sides, extra, wall)
    if args.json:
        args.json.write_text(json.dumps({
            "command": " ".join(["benchmarks/suite.py", *(argv if argv is not None else sys.argv[1:])]),
            "commit": _commit(), "data": str(args.data), "seed": args.seed, "speed": SPEED, "set": extra,
            "current": sides["current"], "previous": sides["previous"], "wall_seconds": wall, "skipped": skipped,
            "rows": rows, "summary": summary}, indent=1, default=_json_default), encoding="utf-8")
    return 0


# ---------------------------------------------------------------- summary, gate, targets

# Every comparison is made on points rounded to one decimal, as the table prints them, so a reader can
# check the verdict from the table: a cell printed -1.0 passes, -1.1 fails.
GATE_LOSS = 1.0  # no cell may lose more than 1 point, current vs previous
DO_NO_HARM_SLACK = 1.0  # target: the end model at most 1 point below the do-no-harm reference
SHUFFLED_SLACK = 2.0  # target: shuffled dev within 2 points of the same set with clean dev


def points(value) -> float:
    """A score or a difference of scores in points, to one decimal (as printed)."""
    return round(100 * float(value), 1) + 0.0


def headline(row: dict, side: str):
    part = row.get(side)
    return None if part is None else part.get(row["headline"])


def summarize(rows: list[dict]) -> dict:
    paired = [r for r in rows if r.get("current") and r.get("previous")]
    broken = [r for r in rows if r["status"] == "error" and (r.get("current") or r.get("previous"))]  # one side failed
    failed_both = [r for r in rows if r["status"] == "error" and not (r.get("current") or r.get("previous"))]
    deltas = [(points(headline(r, "current") - headline(r, "previous")), r) for r in paired]
    means = {}
    for column in ("rules", "label_model", "end_model", "headline"):
        for side in ("current", "previous"):
            values = [headline(r, side) if column == "headline" else r[side][column] for r in paired]
            values = [v for v in values if v is not None]
            means[f"{column}_{side}"] = float(np.mean(values)) if values else None
    for column in ("do_no_harm", "gold_trained"):
        values = [r.get(column) for r in paired if r.get(column) is not None]
        means[column] = float(np.mean(values)) if values else None
    worst = min(deltas, key=lambda d: d[0]) if deltas else None
    losers = [f"{r['set']} / {r['variant']} ({d:+.1f})" for d, r in deltas if d < -GATE_LOSS]
    mean_drop = (means["headline_current"] is not None
                 and points(means["headline_current"]) < points(means["headline_previous"]))
    verdict = "PASS" if paired and not losers and not mean_drop and not broken else "FAIL"
    harm = [f"{r['set']} / {r['variant']} (end {100 * r['current']['end_model']:.1f} vs do-no-harm "
            f"{100 * r['do_no_harm']:.1f})" for r in rows
            if r.get("current") and r["current"].get("end_model") is not None and r.get("do_no_harm") is not None
            and points(r["current"]["end_model"] - r["do_no_harm"]) < -DO_NO_HARM_SLACK]
    shuffled = []
    for r in rows:
        if r["variant"] not in CLEAN_OF or not r.get("current"):
            continue
        clean = next((c for c in rows if c["set"] == r["set"] and c["variant"] == CLEAN_OF[r["variant"]]
                      and c.get("current")), None)
        if clean is None:
            shuffled.append({"cell": f"{r['set']} / {r['variant']}", "gap": None, "met": None})
            continue
        gap = points(headline(r, "current") - headline(clean, "current"))
        shuffled.append({"cell": f"{r['set']} / {r['variant']}", "gap": gap, "met": gap >= -SHUFFLED_SLACK})
    return {
        "cells": len(rows), "paired": len(paired), "means": means,
        "worst": None if worst is None else {"cell": f"{worst[1]['set']} / {worst[1]['variant']}", "delta": worst[0]},
        "losers": losers, "mean_drops": bool(mean_drop), "one_side_failed": [f"{r['set']} / {r['variant']}" for r in broken],
        "failed_both": [f"{r['set']} / {r['variant']}" for r in failed_both], "verdict": verdict,
        "targets": {"below_do_no_harm": harm, "shuffled_dev": shuffled},
    }


# ---------------------------------------------------------------- output

def print_report(rows, summary, skipped, args, sides, extra, wall) -> None:
    head = ["set", "variant", "train/dev/test", "LFs", "metric", "rules", "label model (current)",
            "label model (previous)", "end current", "end previous", "Δ", "do-no-harm", "gold-trained",
            "error checks (current / previous)", "s"]
    table, notes = [], []
    for r in rows:
        cur, prev = r.get("current"), r.get("previous")
        mark = ""
        if r["errors"]:
            notes.append(f"[{len(notes) + 1}] {r['set']} / {r['variant']}: "
                         + "; ".join(f"{side}: {text}" for side, text in r["errors"].items()))
            mark = f"{r['status']} [{len(notes)}]"
        if not cur and not prev:
            table.append([r["set"], r["variant"], r.get("rows", ""), str(r.get("lfs", "")), "", "", mark] + [""] * 7
                         + [f"{r['seconds']:.0f}"])
            continue
        some = cur or prev
        delta = (headline(r, "current") - headline(r, "previous")) if cur and prev else None
        checks = " / ".join(", ".join(side["error_checks"]) or "-" if side else "?" for side in (cur, prev))
        table.append([
            r["set"], r["variant"], r["rows"], str(r["lfs"]), r["metric"], _pct(some["rules"]),
            _lm(cur) or mark, _lm(prev) or mark, _pct(cur and cur["end_model"]), _pct(prev and prev["end_model"]),
            "" if delta is None else f"{points(delta):+.1f}" + ("" if r["headline"] == "end_model" else " (LM)"),
            _pct(r.get("do_no_harm")) or (f"error [{len(notes)}]" if "references" in r["errors"] else ""),
            _pct(r.get("gold_trained")), checks, f"{r['seconds']:.0f}"])
    scope = "--quick" if args.quick else "full"
    print(f"\n## labelkit benchmark suite ({scope}): current = defaults"
          + (f" + {sides['current']}" if sides["current"] else "") + f"; previous = {sides['previous']}"
          + (f"; both: {extra}" if extra else "") + f"; every run: {SPEED}\n")
    print(_markdown(head, table))
    print()
    for line in notes + skipped:
        print(line)
    for r in rows:
        if r.get("notes"):
            print(f"{r['set']} / {r['variant']}: {'; '.join(r['notes'])}")
    m = summary["means"]
    parts = [f"{name} {_pct(m[key + '_current'])} vs {_pct(m[key + '_previous'])}" for name, key in
             (("headline (end model, else label model)", "headline"), ("label model", "label_model"),
              ("end model", "end_model")) if m[key + "_current"] is not None]
    parts += [f"{name} {_pct(m[key])}" for name, key in (("rules", "rules_current"), ("do-no-harm", "do_no_harm"),
                                                       ("gold-trained", "gold_trained")) if m[key] is not None]
    print(f"\nmean over {summary['paired']} cells built by both sides, current vs previous (points): "
          + "; ".join(parts) + " (each mean over the cells that have the column)")
    worst = summary["worst"]
    if worst:
        print(f"worst cell, current - previous: {worst['cell']} {worst['delta']:+.1f}")
    if summary["failed_both"]:
        print(f"not gated (failed with both configs): {', '.join(summary['failed_both'])}")
    why = []
    if summary["losers"]:
        why.append("cells losing more than 1 point: " + ", ".join(summary["losers"]))
    if summary["mean_drops"]:
        why.append("the mean drops")
    if summary["one_side_failed"]:
        why.append("cells that failed with one config only: " + ", ".join(summary["one_side_failed"]))
    if not summary["paired"]:
        why.append("no cell was built by both configs")
    print(f"GATE: {summary['verdict']}" + (f" ({'; '.join(why)})" if why else
                                           " (no cell loses more than 1 point; the mean does not drop)"))
    harm = summary["targets"]["below_do_no_harm"]
    print(f"target, end model >= do-no-harm - 1 point: {'met' if not harm else 'NOT met: ' + ', '.join(harm)}")
    for item in summary["targets"]["shuffled_dev"]:
        state = ("clean cell not in this run" if item["met"] is None else
                 f"{item['gap']:+.1f} vs clean dev: {'met' if item['met'] else 'NOT met'}")
        print(f"target, shuffled dev within 2 points: {item['cell']} {state}")
    print(f"wall time: {wall:.0f}s ({wall / 60:.1f} min) for {summary['cells']} cells")


def _lm(side) -> str:
    if not side:
        return ""
    return f"{side['label_model_key'].replace(' prior)', ')')} {_pct(side['label_model'])}"


def _pct(value) -> str:
    return bench_module("wrench").pct_cell(value)  # the benchmarks' one table format


def _markdown(head, rows) -> str:
    return bench_module("wrench").markdown_table(head, rows)


def _commit() -> str | None:
    done = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                          check=False)
    return done.stdout.strip() or None


def _json_default(value):
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


if __name__ == "__main__":
    sys.exit(main())
