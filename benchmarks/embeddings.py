"""End-model features with meaning (issue 24): TF-IDF alone vs embeddings alone vs TF-IDF + embeddings,
for each offline embedding model, on the same label-model labels and the same C grid chosen on dev.

Usage (from the repository root):
  PYTHONPATH=. nice .venv/bin/python benchmarks/embeddings.py                       # every set, every model here
  PYTHONPATH=. nice .venv/bin/python benchmarks/embeddings.py --sets wrench_youtube --models wordllama lsa
  PYTHONPATH=. nice .venv/bin/python benchmarks/embeddings.py --timing-only         # build time + cost per 1k texts

Per set (loaded exactly as benchmarks/suite.py loads it: WRENCH youtube, semeval, hausa from ../shared, the raw
YouTube comments with the ten hand-written LFs of benchmarks/raw_rules.py, the bundled example) it runs ONE
build with today's defaults (labelkit.pipeline.run.run_pipeline, audit off as in the suite), keeps its label
model's train labels, and then runs the build's own end-model search (labelkit.pipeline.stages.fit_end_model: the
same C grid, class weights, threshold, uncovered rows, chosen on dev) once per feature option:

  tfidf                              today's default
  embeddings / tfidf+embeddings      for each model: wordllama, minilm (if installed), lsa (fitted on train)
  dev picks tfidf | tfidf+embeddings ([end_model] features = ["tfidf", "tfidf+embeddings"]): what a default
                                     that lists both would do

and prints each option's test score (the build's metric: accuracy, or F1 of the positive class) with its
end-model fit time. `--timing` adds `labelkit build` wall time of the bundled example with the default features
and with ["tfidf", "tfidf+embeddings"], and each model's load time and embedding cost per 1,000 texts.
Models that are not installed are skipped with a line. Nothing is written in the project.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
SETS = ["wrench_youtube", "wrench_semeval", "wrench_hausa", "youtube_comments", "youtube_comments_13", "bundled"]
MODELS = ["wordllama", "minilm", "lsa"]


def suite():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import importlib.util

    spec = importlib.util.spec_from_file_location("labelkit_bench_suite", ROOT / "benchmarks" / "suite.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["labelkit_bench_suite"] = module
    spec.loader.exec_module(module)
    return module


def installed(model: str) -> bool:
    from labelkit.embeddings import available

    return model == "lsa" or available(model)


def options(models):
    out = [("tfidf", "wordllama", ["tfidf"])]
    for model in models:
        out += [(f"{model}: embeddings", model, ["embeddings"]),
                (f"{model}: tfidf+embeddings", model, ["tfidf+embeddings"]),
                (f"{model}: dev picks", model, ["tfidf", "tfidf+embeddings"])]
    return out


def run_set(s, key: str, models, data_root: Path, tmp: Path, seed: int) -> list[dict]:
    from labelkit.evaluate.metrics import score_predictions
    from labelkit.pipeline.stages import fit_end_model

    prepared = s.load_set(s.SETS[key], data_root, tmp, seed)
    result, seconds = s.run_build(prepared, {}, {})
    metric, positive = result.selection.metric, result.selection.positive
    data = result.data
    rows = []
    print(f"\n{key}: rows {'/'.join(str(len(data.frames[x])) for x in ('train', 'dev', 'test'))}, label model "
          f"{result.selection.key}, metric {metric if metric != 'f1' else 'F1(' + data.schema.classes[positive] + ')'}, "
          f"build {seconds:.0f}s", flush=True)
    for name, model, features in options(models):
        config = dataclasses.replace(result.config,
                                     end_model=dataclasses.replace(result.config.end_model, features=features),
                                     embeddings=dataclasses.replace(result.config.embeddings, model=model))
        started = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            end = fit_end_model(config, data, result.proba_train, result.votes.L["train"], result.selection.prior,
                                L_dev=result.votes.L["dev"])
        fit_seconds = time.perf_counter() - started
        test = score_predictions(data.gold["test"], end.predict(data.frames["test"]), cardinality=data.schema.cardinality,
                                 metric=metric, positive=positive)
        chosen = [v for k, v in end.dev_scores.items() if k.startswith(f"{end.features} C={end.C:g} ")]
        dev = chosen[-1] if chosen else float("nan")  # the chosen setting (after its uncovered-rows refit, if kept)
        rows.append({"set": key, "option": name, "features": end.features, "test": test, "dev": dev,
                     "seconds": fit_seconds})
        print(f"  {name:32s} chose {end.features:17s} C={end.C!s:6s} dev {dev:.3f}  test {test:.3f}  "
              f"({fit_seconds:.1f}s)", flush=True)
    return rows


def timing(models) -> None:
    import pandas as pd

    from labelkit.embeddings import EmbeddingSetting, LsaModel, load_model

    from labelkit import embeddings

    texts = pd.read_csv(ROOT / "datasets" / "support_tickets" / "train.csv")["text"].astype(str).tolist()
    print("\nembedding cost (bundled ticket texts never embedded before in this process; load from disk):")
    for model in models:
        embeddings._LOADED.clear()  # a fresh load, and no per-text cache from the sets above
        if model == "lsa":
            started = time.perf_counter()
            lsa = LsaModel.fit(texts, dimensions=EmbeddingSetting().lsa_dimensions)
            load = time.perf_counter() - started
            embed = lsa.embed
            what = f"fit on {len(texts):,} texts"
        else:
            started = time.perf_counter()
            embed = load_model(model).embed
            load = time.perf_counter() - started
            what = "load"
        embed(texts[:20])
        started = time.perf_counter()
        embed(texts[4000:6000])
        per_1k = (time.perf_counter() - started) / 2
        print(f"  {model:10s} {what} {load:.2f}s, {per_1k * 1000:.0f} ms per 1,000 texts", flush=True)
    print("\nlabelkit build of the bundled example (wall time, fresh process each):")
    for label, extra in [("features = [tfidf] (default)", []),
                         ("features = [tfidf, tfidf+embeddings] (wordllama)",
                          ["--set", 'end_model.features=["tfidf", "tfidf+embeddings"]'])]:
        times = []
        for _ in range(2):
            with tempfile.TemporaryDirectory() as out:
                started = time.perf_counter()
                subprocess.run([sys.executable, "-m", "labelkit.cli.main", "build", str(ROOT / "labelkit.toml"), "--out",
                                str(Path(out) / "run"), "-q", *extra], check=True, capture_output=True, cwd=ROOT)
                times.append(time.perf_counter() - started)
        print(f"  {label:50s} {min(times):.1f}s (best of {len(times)}: {', '.join(f'{t:.1f}' for t in times)})",
              flush=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sets", nargs="+", default=SETS, choices=SETS)
    parser.add_argument("--models", nargs="+", default=MODELS, choices=MODELS)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timing", action="store_true", help="also time the bundled build and the embedding cost")
    parser.add_argument("--timing-only", action="store_true")
    args = parser.parse_args(argv)
    models = [m for m in args.models if installed(m) or print(f"{m}: not installed here, skipped")]
    if not args.timing_only:
        s = suite()
        s.warm_up()
        rows = []
        with tempfile.TemporaryDirectory() as tmp:
            for key in args.sets:
                missing = s.available(s.SETS[key], args.data)
                if missing is not None:
                    print(f"{key}: {missing} not found, skipped")
                    continue
                rows += run_set(s, key, models, args.data, Path(tmp), args.seed)
        print_table(rows)
    if args.timing or args.timing_only:
        timing(models)
    return 0


def print_table(rows) -> None:
    import pandas as pd

    if not rows:
        return
    table = pd.DataFrame(rows).pivot(index="option", columns="set", values="test")
    order = [o for o, _, _ in options(MODELS) if o in table.index]
    table = table.loc[order, [s for s in SETS if s in table.columns]]
    table["mean"] = table.mean(axis=1)
    base = table.loc["tfidf"]
    print("\ntest score (the build's metric), same label-model labels, C chosen on dev:\n")
    header = "| option | " + " | ".join(table.columns) + " | worst vs tfidf |"
    print(header)
    print("|" + "---|" * (len(table.columns) + 2))
    for option, row in table.iterrows():
        worst = (row.drop("mean") - base.drop("mean")).min() * 100
        print(f"| {option} | " + " | ".join(f"{100 * v:.1f}" for v in row) + f" | {worst:+.1f} |")


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    sys.exit(main())
