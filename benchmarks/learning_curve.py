"""What human labels are worth (issue 23): test score against the number of human labels, chosen by the picker
(`labelkit label-next`), chosen at random, and a model trained on the gold labels alone.

Usage (from the repository root):
  PYTHONPATH=. nice .venv/bin/python benchmarks/learning_curve.py                        # the three sets
  PYTHONPATH=. nice .venv/bin/python benchmarks/learning_curve.py --sets wrench_youtube --budgets 0 25 50
  PYTHONPATH=. nice .venv/bin/python benchmarks/learning_curve.py --fr-target            # the FR target, CLI only

Sets (shared data at ../shared/data beside the repository, read in place, never copied into the project):
- `bundled_fr`: the bundled example (labelkit.toml). The pool: the test splits of six other draws of
  datasets/make_support_tickets.py (seeds 1-6; 6,000 tickets of every country, the recent months, as traffic
  is); their gold labels stand in for the person. The picker ranks with `--slice country=FR` (the slice whose
  guardrail fired), random draws FR rows of the same pool. Score: accuracy on the bundled test's FR rows (the
  overall accuracy is printed beside it).
- `wrench_youtube`: WRENCH youtube; the pool is the build's train rows, their WRENCH gold labels stand in.
  Score: the build's metric on test.
- `youtube_comments`: the raw UCI YouTube comments as benchmarks/raw_rules.py builds them (one labelled file,
  split 0.7/0.15/0.15, ten hand-written LFs); the pool is the build's train rows, the file's labels stand in.

Per set, one build (labelkit's pipeline, written to a temporary folder: what label-next reads). The picker
(labelkit.human.label_next.label_next, the code behind `labelkit label-next`) ranks one batch of the largest budget,
whose prefixes are the smaller budgets (a team labels 25, then 25 more); random takes prefixes of seeded
permutations of the same candidates (--random-seeds of them, averaged). For every budget the prefix, labelled by
the stand-in, becomes the build's human labels (labelkit.human.labels.load_human_labels) and the build's end-model
stage runs again with them (labelkit.pipeline.stages.fit_end_models: the weight chosen on dev + the human rows
cross-fitted, as in `labelkit build`; the votes and the label model do not depend on human labels and are
reused). Gold alone: the end model's search (labelkit.endmodel.train_end_model, C chosen on dev) on the random
rows' gold labels alone. Per set it prints the table and "the next 50 labels are worth about +x points
(picker, 50 -> 100); gold alone overtakes the rules at about n labels".

`--fr-target` runs the issue's target through the user's path only, as subprocesses of the CLI: `labelkit
build` -> `labelkit label-next RUN --budget 50 --slice country=FR --pool POOL` (and without --slice) -> the
stand-in fills the label column -> `labelkit build --set data.human_labels=FILE`, and prints FR before/after,
the share of the rules-vs-model gap, and the overall change.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
BUDGETS = (0, 25, 50, 100, 200, 400)
SETS = ("bundled_fr", "wrench_youtube", "youtube_comments")
POOL_SEEDS = (1, 2, 3, 4, 5, 6)  # draws of the generator whose test splits make the bundled pool
SPEED = {"end_model.compare_hard": "false"}  # the hard-label comparison model is not what is measured


@dataclass
class Setup:
    name: str
    config: object
    result: object  # labelkit.pipeline.run.Build of the base build
    run: Path  # its folder
    pool: Path | None  # None: the build's train rows
    slices: tuple = ()
    gold: dict = field(default_factory=dict)  # row id -> the stand-in's label
    mask: np.ndarray | None = None  # test rows scored (None: all, with the build's metric)
    mask_name: str = ""


# ---------------------------------------------------------------- the sets

def bundled_pool(folder: Path) -> tuple[Path, dict]:
    """Six other draws' test splits: the pool file (no label column) and the stand-in's labels."""
    spec = importlib.util.spec_from_file_location("make_support_tickets", ROOT / "datasets" / "make_support_tickets.py")
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    parts = []
    for seed in POOL_SEEDS:
        test = generator.generate(seed)["test"]
        test["ticket_id"] = f"D{seed}-" + test["ticket_id"]  # ids of another draw may repeat the bundled ones
        parts.append(test)
    pool = pd.concat(parts, ignore_index=True)
    path = folder / "pool.csv"
    pool.drop(columns=["label"]).to_csv(path, index=False)
    return path, dict(zip(pool["ticket_id"], pool["label"]))


def prepare(name: str, tmp: Path, data_root: Path) -> Setup:
    from labelkit.settings.config import load_config
    from labelkit.data.load import load_task_data
    from labelkit.pipeline.artifacts import write_build
    from labelkit.pipeline.run import run_pipeline
    from labelkit.pipeline.stages import load_labeling_functions

    folder = tmp / name
    folder.mkdir(parents=True)
    pool, gold, slices = None, {}, ()
    if name == "bundled_fr":
        config = load_config(ROOT / "labelkit.toml", overrides=dict(SPEED), environ={})
        pool, gold = bundled_pool(folder)
        slices = ("country=FR",)
    elif name == "wrench_youtube":
        config = load_config(None, overrides={**SPEED, "task.name": name,
                                              "data.wrench": str(data_root / "wrench_youtube")}, environ={})
    elif name == "youtube_comments":
        from suite import bench_module  # benchmarks/, this script's folder, is on sys.path

        raw_rules = bench_module("raw_rules")
        comments = raw_rules.read_comments(data_root / "youtube_spam_collection")
        config_path = raw_rules.write_user_files(comments, folder, 0, [0.7, 0.15, 0.15])
        config = load_config(config_path, overrides={**SPEED, "task.name": name}, environ={})
        gold = {str(i + 1): label for i, label in enumerate(comments["label"])}  # headerless: ids are line numbers
    else:
        raise SystemExit(f"error: unknown set {name!r}; sets are: {', '.join(SETS)}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data = load_task_data(config)
        modules, paths = load_labeling_functions(config, require_lfs=data.votes is None,
                                                 columns=list(data.frames["train"].columns))
        result = run_pipeline(config, data, modules, lf_paths=paths)
    run = folder / "run"
    write_build(result, run)
    if name == "wrench_youtube":  # WRENCH train rows carry their gold labels
        train = result.raw.frames["train"]
        gold = dict(zip(train[config.data.id_column].astype(str), train[config.data.label_column]))
    setup = Setup(name, config, result, run, pool, slices, gold)
    if name == "bundled_fr":
        test = result.data.frames["test"]
        setup.mask, setup.mask_name = (test["country"] == "FR").to_numpy(), "country=FR"
    return setup


# ---------------------------------------------------------------- one curve

def ranked_ids(setup: Setup, strategy: str, budget: int, seed: int) -> list[str]:
    """The batch label-next would write (not written), most valuable first."""
    from labelkit.human.label_next import label_next

    batch = label_next(setup.run, budget=budget, slices=setup.slices, pool=setup.pool, strategy=strategy,
                       seed=seed, write=False, out=setup.run.parent / "unused.csv").batch
    return batch[setup.config.data.id_column].astype(str).tolist()


def refit(setup: Setup, ids: list[str], folder: Path):
    """The build's end-model stage with these rows as human labels: test predictions of the end model."""
    import dataclasses

    from labelkit.human.labels import load_human_labels
    from labelkit.human.label_next import label_next  # noqa: F401 - the same module wrote the batch
    from labelkit.pipeline.stages import fit_end_models

    r = setup.result
    config = setup.config
    id_column, label_column = config.data.id_column, config.data.label_column
    source = _pool_frame(setup)
    rows = source.set_index(source[id_column].astype(str)).loc[ids].reset_index(drop=True)
    rows[label_column] = [setup.gold[i] for i in ids]
    path = folder / f"human_{len(ids)}.csv"
    rows.to_csv(path, index=False)
    config = dataclasses.replace(config, data=dataclasses.replace(config.data, human_labels=str(path)))
    human = load_human_labels(config, r.raw, r.data, None)
    trusted = r.selection.evidence is None or r.selection.evidence.trust_dev_votes or not config.checks.fallback
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model, _ = fit_end_models(config, r.data, r.proba_train, r.votes.L["train"], r.selection.prior,
                                  L_dev=r.votes.L["dev"] if trusted else None, human=human)
    return np.asarray(model.predict(r.data.frames["test"])), len(human)


def gold_alone(setup: Setup, ids: list[str]):
    from labelkit.endmodel import train_end_model

    r, config = setup.result, setup.config
    id_column = config.data.id_column
    source = _pool_frame(setup)
    rows = source.set_index(source[id_column].astype(str)).loc[ids].reset_index(drop=True)
    y = r.data.schema.encode_gold([setup.gold[i] for i in ids], where="stand-in labels")
    if len(np.unique(y)) < 2:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = train_end_model(rows, y, r.data.schema.classes, soft=False, text_column=config.data.text_column,
                                feature_columns=list(config.data.feature_columns), dev=r.data.frames["dev"],
                                y_dev=r.data.gold["dev"], Cs=list(config.end_model.C),
                                features=tuple(config.end_model.features), class_weights=tuple(config.end_model.class_weight),
                                max_features=config.end_model.max_features, seed=config.task.seed,
                                metric=config.label_model.metric, stream_rows=10 ** 9)
    return np.asarray(model.predict(r.data.frames["test"]))


_POOLS: dict = {}


def _pool_frame(setup: Setup) -> pd.DataFrame:
    if setup.name not in _POOLS:
        if setup.pool is None:
            _POOLS[setup.name] = setup.result.raw.frames["train"].drop(columns=[setup.config.data.label_column],
                                                                      errors="ignore")
        else:
            _POOLS[setup.name] = pd.read_csv(setup.pool, dtype={setup.config.data.id_column: str})
    return _POOLS[setup.name]


def score(setup: Setup, pred) -> float:
    from labelkit.evaluate.metrics import resolve_metric
    from labelkit.labelmodels import score_predictions

    y = setup.result.data.gold["test"]
    if setup.mask is not None:
        return float(np.mean(pred[setup.mask] == y[setup.mask]))
    metric, positive = resolve_metric(setup.config.label_model.metric, setup.result.data.gold["dev"],
                                      cardinality=setup.result.data.schema.cardinality, positive=None)
    return float(score_predictions(y, pred, cardinality=setup.result.data.schema.cardinality, metric=metric,
                                   positive=positive))


def overall(setup: Setup, pred) -> float:
    return float(np.mean(pred == setup.result.data.gold["test"]))


def curve(setup: Setup, budgets, random_seeds, folder: Path, log) -> dict:
    top = max(budgets)
    rules = score(setup, setup.result.preds["rule_baseline"])
    base = setup.result.preds["end_model"]
    out = {"rules": rules, "picker": {}, "random": {}, "gold_alone": {}, "overall": {"picker": {}, "random": {}}}
    picked = ranked_ids(setup, "picker", top, seed=0)
    randoms = [ranked_ids(setup, "random", top, seed=s) for s in random_seeds]
    for b in budgets:
        started = time.perf_counter()
        if b == 0:
            out["picker"][0] = out["random"][0] = score(setup, base)
            out["overall"]["picker"][0] = out["overall"]["random"][0] = overall(setup, base)
            continue
        pred, n = refit(setup, picked[:b], folder)
        out["picker"][b], out["overall"]["picker"][b] = score(setup, pred), overall(setup, pred)
        scores, overall_scores, alone = [], [], []
        for ids in randoms:
            pred, _ = refit(setup, ids[:b], folder)
            scores.append(score(setup, pred))
            overall_scores.append(overall(setup, pred))
            only = gold_alone(setup, ids[:b])
            if only is not None:
                alone.append(score(setup, only))
        out["random"][b], out["overall"]["random"][b] = float(np.mean(scores)), float(np.mean(overall_scores))
        out["gold_alone"][b] = float(np.mean(alone)) if alone else None
        log(f"{setup.name}: {b} labels: picker {100 * out['picker'][b]:.1f}, random {100 * out['random'][b]:.1f}, "
            f"gold alone {'-' if not alone else f'{100 * np.mean(alone):.1f}'} ({time.perf_counter() - started:.0f}s)")
    return out


def verdict(result: dict) -> str:
    """'the next 50 labels are worth about +x points; gold alone overtakes the rules at about n labels'."""
    picker, alone, rules = result["picker"], result["gold_alone"], result["rules"]
    parts = []
    if 50 in picker and 100 in picker:
        parts.append(f"the next 50 labels are worth about {100 * (picker[100] - picker[50]):+.1f} points "
                     f"(picker, 50 -> 100 labels)")
    points = sorted((b, s) for b, s in alone.items() if s is not None and b > 0)
    over = next((i for i, (b, s) in enumerate(points) if s >= rules), None)
    if over == 0:
        parts.append(f"gold alone beats the rules from {points[0][0]} labels on")
    elif over is not None:
        (b1, s1), (b2, s2) = points[over - 1], points[over]
        cross = b1 * float(np.exp((rules - s1) / (s2 - s1) * np.log(b2 / b1)))
        parts.append(f"gold alone overtakes the rules at about {cross:.0f} labels")
    elif len(points) >= 2 and points[-1][1] > points[-2][1]:
        (b1, s1), (b2, s2) = points[-2], points[-1]
        cross = b2 * float(np.exp(min((rules - s2) / ((s2 - s1) / np.log(b2 / b1)), 50)))
        parts.append(f"gold alone does not overtake the rules within {b2} labels (on its trend, at about "
                     f"{cross:,.0f})")
    elif points:
        parts.append(f"gold alone stays below the rules within {points[-1][0]} labels")
    return "; ".join(parts)


def print_table(setup: Setup, result: dict, budgets) -> None:
    what = setup.mask_name or "test"
    print(f"\n### {setup.name} ({what}; rules {100 * result['rules']:.1f})\n")
    print("| human labels | picker | random | picker - random | gold alone | overall: picker | overall: random |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for b in budgets:
        p, r, g = result["picker"].get(b), result["random"].get(b), result["gold_alone"].get(b)
        op, orr = result["overall"]["picker"].get(b), result["overall"]["random"].get(b)
        print(f"| {b} | {_pct(p)} | {_pct(r)} | {'' if p is None or r is None else f'{100 * (p - r):+.1f}'} | "
              f"{_pct(g)} | {_pct(op)} | {_pct(orr)} |")
    print(f"\n{setup.name}: {verdict(result)}")


def _pct(value) -> str:
    return "–" if value is None else f"{100 * value:.1f}"


# ---------------------------------------------------------------- the FR target through the CLI only

def fr_target(tmp: Path, budget: int = 50) -> None:
    from labelkit.io.files import read_review_csv, write_review_csv

    labelkit = str(Path(sys.executable).with_name("labelkit"))

    def cli(*args):
        done = subprocess.run([labelkit, *map(str, args)], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise SystemExit(f"error: labelkit {args[0]} failed: {(done.stderr or done.stdout).strip()[-1500:]}")
        return done.stdout

    pool, gold = bundled_pool(tmp)
    before = tmp / "before"
    cli("build", ROOT / "labelkit.toml", "--out", before, "-q")
    rows = []
    for name, extra in (("--slice country=FR", ["--slice", "country=FR"]), ("no --slice", [])):
        batch = tmp / f"label_next {name}.csv"
        print(cli("label-next", before, "--budget", budget, "--pool", pool, "-o", batch, *extra))
        table = read_review_csv(batch, dtype={"ticket_id": str, "label": str}, keep_default_na=False)
        table["label"] = table["ticket_id"].map(gold)  # the person fills in the label column
        write_review_csv(table, batch)
        after = tmp / f"after {name}"
        cli("build", ROOT / "labelkit.toml", "--out", after, "--set", f"data.human_labels={batch}", "-q")
        human = json.loads((after / "metrics.json").read_text())["human_labels"]
        fr = next(s for s in human["effect"]["slices"] if s["slice"] == "country=FR")
        total = human["effect"]["overall"]
        rows.append((name, int((table["country"] == "FR").sum()), fr, total, human["weight"]))
    print("| picker | FR rows labelled | FR rules | FR before | FR after | gap recovered | McNemar p | overall before "
          "| overall after | weight |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, n_fr, fr, total, weight in rows:
        print(f"| {name} | {n_fr} | {100 * fr['rules']:.1f} | {100 * fr['before']:.1f} | {100 * fr['after']:.1f} | "
              f"{100 * fr['gap_recovered']:.0f}% | {fr['paired_test']['mcnemar_p']:.2g} | {100 * total['before']:.1f} | "
              f"{100 * total['after']:.1f} | {weight:g} |")
    best = rows[0][2]
    ok = best["gap_recovered"] >= 0.8 and rows[0][3]["after"] >= rows[0][3]["before"] - 0.005
    print(f"\ntarget (>= 80% of the FR gap with <= {budget} labels at <= 0.5 points overall loss): "
          f"{'met' if ok else 'NOT met'}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default=",".join(SETS), help="comma-separated: " + ", ".join(SETS))
    parser.add_argument("--budgets", type=int, nargs="+", default=list(BUDGETS))
    parser.add_argument("--random-seeds", type=int, default=3, help="random batches averaged per budget")
    parser.add_argument("--data", type=Path, default=DATA, help="the shared data folder (default ../shared/data)")
    parser.add_argument("--fr-target", action="store_true", help="only the FR target, through the CLI")
    args = parser.parse_args(argv)
    budgets = sorted(set(args.budgets) | {0})
    with tempfile.TemporaryDirectory(prefix="labelkit-curve-") as tmp:
        tmp = Path(tmp)
        if args.fr_target:
            fr_target(tmp)
            return 0
        summary = []
        for name in [s.strip() for s in args.sets.split(",") if s.strip()]:
            if name != "bundled_fr" and not args.data.exists():
                print(f"{name}: skipped, {args.data} is missing")
                continue
            started = time.perf_counter()
            setup = prepare(name, tmp, args.data)
            result = curve(setup, budgets, range(args.random_seeds), tmp / name,
                           log=lambda m: print(m, file=sys.stderr, flush=True))
            print_table(setup, result, budgets)
            wins = [b for b in budgets if b and result["picker"][b] > result["random"][b]]
            worst = min((result["picker"][b] - result["random"][b] for b in budgets if b), default=0.0)
            summary.append((name, wins, worst, [b for b in budgets if b]))
            print(f"({time.perf_counter() - started:.0f}s)")
        print("\n| set | picker beats random at | worst picker - random (points) |")
        print("|---|---|---:|")
        for name, wins, worst, all_budgets in summary:
            every = "every budget" if len(wins) == len(all_budgets) else ", ".join(map(str, wins)) or "none"
            print(f"| {name} | {every} | {100 * worst:+.1f} |")
        beats = sum(len(w) == len(a) for _, w, _, a in summary)
        print(f"\ntarget (picker beats random at every budget on >= 2 of 3 sets, never loses by more than a point): "
              f"{'met' if beats >= 2 and all(w >= -0.01 for _, _, w, _ in summary) else 'NOT met'} "
              f"({beats} set(s) at every budget)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
