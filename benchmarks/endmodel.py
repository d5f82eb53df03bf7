"""End-model candidates on a task: every feature set x class weight x C, dev and test scores, the one
chosen on dev, and the streaming model beside the in-memory one.

Usage:
  PYTHONPATH=. python benchmarks/endmodel.py --wrench ../shared/data/wrench_youtube
  PYTHONPATH=. python benchmarks/endmodel.py labelkit.toml --stream     # bundled example + streaming model

The label model is chosen as `labelkit build --no-audit` chooses it (or `--label-model NAME` fits only
that one, for speed); the end model trains on its labels of covered train rows. Choices are made on dev;
test is only scored. Gold-trained LR (train gold, where the set has it) is printed for reference.
"""
from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", nargs="?", type=Path)
    parser.add_argument("--wrench", type=Path)
    parser.add_argument("--label-model", default="")
    parser.add_argument("--C", default="0.1,0.3,1,3,10,100")
    parser.add_argument("--features", default="tfidf")
    parser.add_argument("--class-weights", default="auto")
    parser.add_argument("--labels", default="soft", choices=("soft", "hard"))
    parser.add_argument("--stream", action="store_true", help="also fit the streaming model (forced)")
    parser.add_argument("--no-table", action="store_true", help="skip fitting each candidate on its own")
    args = parser.parse_args(argv)
    config, data, votes, proba, prior = label_model(args)
    Cs = [float(c) for c in args.C.split(",")]
    table(config, data, votes, proba, prior, args, Cs)
    if args.stream:
        streaming(config, data, votes, proba, prior, args)
    return 0


def label_model(args):
    from labelkit.cli.build import load_wrench_config
    from labelkit.settings.config import load_config
    from labelkit.data.load import load_task_data
    from labelkit.pipeline.stages import apply_votes, choose_label_model, load_labeling_functions

    sets = [f"label_model.candidates=[\"{args.label_model}\"]"] if args.label_model else []
    if args.wrench:
        config = load_wrench_config(str(args.wrench), [], {"data.wrench": str(args.wrench.resolve()),
                                                           **dict(s.split("=", 1) for s in sets)})
    else:
        config = load_config(args.config, overrides=dict(s.split("=", 1) for s in sets))
    data = load_task_data(config)
    modules, _ = load_labeling_functions(config, require_lfs=data.votes is None)
    votes = apply_votes(config, data, modules.lfs)
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        selection, prior = choose_label_model(config, votes, data)
    proba = selection.model.predict_proba(votes.L["train"])
    from labelkit.labelmodels import hard_predictions, score_predictions

    acc = score_predictions(data.gold["test"], hard_predictions(selection.model.predict_proba(votes.L["test"]), prior),
                            cardinality=data.schema.cardinality)
    print(f"# {config.task.name}: {', '.join(f'{s} {len(f)}' for s, f in data.frames.items())} rows, "
          f"{data.schema.cardinality} classes; label model {selection.name} test accuracy {acc:.3f} "
          f"({time.perf_counter() - started:.1f}s)")
    return config, data, votes, proba, prior


def _fit(config, data, votes, proba, prior, **options):
    from labelkit.endmodel import train_end_model
    from labelkit.pipeline.stages import train_targets

    labels = options.pop("labels", "soft")
    keep, targets = train_targets(labels, config, proba, votes.L["train"], prior)
    return train_end_model(
        data.frames["train"].loc[keep], targets, data.schema.classes, text_column=config.data.text_column,
        feature_columns=list(config.data.feature_columns), dev=data.frames["dev"], y_dev=data.gold["dev"],
        soft=labels == "soft", seed=config.task.seed, id_column=config.data.id_column, **options)


def _scores(model, data):
    test = model.predict(data.frames["test"])
    y = data.gold["test"]
    from labelkit.labelmodels import score_predictions

    k = data.schema.cardinality
    return np.mean(test == y), score_predictions(y, test, cardinality=k, metric="macro_f1")


def table(config, data, votes, proba, prior, args, Cs):
    print(f"\n| {'features':<8} | {'class weight':<12} | {'C':>6} | {'dev acc':>7} | {'test acc':>8} | "
          f"{'test macro-F1':>13} | {'fit s':>6} |")
    print("|" + "|".join("-" * w for w in (10, 14, 8, 9, 10, 15, 8)) + "|")
    for name in [] if args.no_table else args.features.split(","):
        for weight in ["none", "balanced"] if args.class_weights == "auto" else args.class_weights.split(","):
            for C in Cs:
                started = time.perf_counter()
                model = _fit(config, data, votes, proba, prior, features=(name,), class_weights=(weight,), Cs=[C],
                             labels=args.labels)
                seconds = time.perf_counter() - started
                dev = next(iter(model.dev_scores.values()))
                acc, f1 = _scores(model, data)
                print(f"| {name:<8} | {weight:<12} | {C:>6g} | {dev:>7.3f} | {acc:>8.3f} | {f1:>13.3f} | {seconds:>6.1f} |")
    started = time.perf_counter()
    chosen = _fit(config, data, votes, proba, prior, features=tuple(args.features.split(",")),
                  class_weights=tuple(args.class_weights.split(",")), Cs=Cs, labels=args.labels)
    acc, f1 = _scores(chosen, data)
    print("dev scores of the selection (a C path stops once a larger C gains <= 1 dev row): "
          + ", ".join(f"{key} {value:.3f}" for key, value in chosen.dev_scores.items()))
    print(f"\nchosen on dev: {chosen.features}, class weight {chosen.class_weight}, C={chosen.C:g} -> test accuracy "
          f"{acc:.3f}, macro-F1 {f1:.3f} (whole selection {time.perf_counter() - started:.1f}s)")
    dev_too = _fit(config, data, votes, proba, prior, features=(chosen.features,), class_weights=(chosen.class_weight,),
                   Cs=[chosen.C], labels=args.labels, dev_gold=True)
    acc, f1 = _scores(dev_too, data)
    print(f"same setting, train_on_dev = true -> test accuracy {acc:.3f}, macro-F1 {f1:.3f}")
    _gold_reference(config, data, chosen)


def _gold_reference(config, data, chosen):
    if config.data.wrench:
        from labelkit.wrench import read_wrench

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            gold = read_wrench(Path(config.data.wrench)).labels["train"]
        if gold.min() < 0 or len(gold) != len(data.frames["train"]):
            return
        from labelkit.endmodel import train_end_model

        model = train_end_model(data.frames["train"], gold, data.schema.classes, text_column=config.data.text_column,
                                dev=data.frames["dev"], y_dev=data.gold["dev"], soft=False,
                                features=(chosen.features,), Cs=[chosen.C], seed=config.task.seed)
        acc, f1 = _scores(model, data)
        print(f"reference, same setting on train GOLD labels -> test accuracy {acc:.3f}, macro-F1 {f1:.3f}")


def streaming(config, data, votes, proba, prior, args):
    """The streaming model (forced with stream_rows=1) beside the in-memory default."""
    lines = []
    started = time.perf_counter()
    memory = _fit(config, data, votes, proba, prior, features=tuple(args.features.split(",")),
                  class_weights=("none",), Cs=list(config.end_model.C))
    t_memory = time.perf_counter() - started
    started = time.perf_counter()
    stream = _fit(config, data, votes, proba, prior, Cs=list(config.end_model.C), stream_rows=1,
                  progress=lambda m: lines.append(m))
    t_stream = time.perf_counter() - started
    a, _ = _scores(memory, data)
    b, _ = _scores(stream, data)
    print(f"\nin-memory ({memory.features}, C={memory.C:g}): test accuracy {a:.3f} ({t_memory:.1f}s)")
    print(f"streaming (hashing + SGD, C={stream.C:g}): test accuracy {b:.3f} ({t_stream:.1f}s); "
          f"difference {100 * (b - a):+.1f} points")
    print(f"progress lines: {len(lines)}; last: {lines[-1] if lines else '-'}")


if __name__ == "__main__":
    sys.exit(main())
