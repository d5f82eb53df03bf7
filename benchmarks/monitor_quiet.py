"""Is `labelkit monitor` quiet when nothing changed, and does its accuracy estimate hold on real drift?

Three scenarios, each through the real commands (`labelkit shadow replay`, `labelkit monitor`); every
command run is printed, then the figures.

    weeks    real gold test rows of the primary's task, sampled at random into --weeks weekly windows
             (default 4 x 600), replayed through the primary, its rules and a challenger; monitor
             --window 1w. Nothing changed, so every alert is a false alarm.
    year     the same over 52 weeks (default 300 rows a week).
    youtube  the UCI YouTube Spam Collection (../shared/data/youtube_spam_collection, relative to the
             repository): a build on the comments before 2014-11-01 (time split), the 1,099 newer
             comments replayed at their own times and monitored with their labels (--labels): how often
             the label-free accuracy estimate's interval holds the real accuracy.

    labelkit build --out runs/champion
    labelkit build --set end_model.labels=hard --out runs/hard
    .venv/bin/python benchmarks/monitor_quiet.py weeks --primary runs/champion --challenger runs/hard
    .venv/bin/python benchmarks/monitor_quiet.py year --primary runs/champion --challenger runs/hard
    .venv/bin/python benchmarks/monitor_quiet.py youtube
"""
from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
LABELKIT = str(Path(sys.executable).with_name("labelkit"))
YOUTUBE = ROOT.parent / "shared" / "data" / "youtube_spam_collection"
WEEK = 7 * 86400
T0 = 2800 * WEEK  # a window boundary (windows are aligned on the epoch): 2023-08-31


def run(*args: str, ok=(0,)) -> subprocess.CompletedProcess:
    print("$", " ".join(shlex.quote(a) for a in ["labelkit", *args]), flush=True)
    done = subprocess.run([LABELKIT, *args], capture_output=True, text=True)
    if done.returncode not in ok:
        raise SystemExit(f"labelkit {args[0]} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done


def stable_requests(primary: Path, weeks: int, per_week: int, seed: int) -> pd.DataFrame:
    """Gold test rows of the primary's task, drawn at random (with replacement) into weekly windows."""
    from labelkit.runs import load_run

    built = load_run(primary)
    data = built.config.data
    test = pd.read_csv(Path(data.test), dtype=str, keep_default_na=False)
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(test), weeks * per_week)
    out = test.iloc[picks].reset_index(drop=True)
    out["request_id"] = [f"w{i // per_week}-{i % per_week}" for i in range(len(out))]
    out["ts"] = T0 + (np.arange(len(out)) // per_week) * WEEK + rng.random(len(out)) * WEEK
    return out.drop(columns=[c for c in (data.label_column,) if c in out.columns])


def stable(args, weeks: int, per_week: int) -> dict:
    folder = Path(args.out or tempfile.mkdtemp(prefix=f"monitor_{args.scenario}_"))
    folder.mkdir(parents=True, exist_ok=True)
    requests = stable_requests(Path(args.primary), weeks, per_week, args.seed)
    requests.to_csv(folder / "requests.csv", index=False)
    challengers = [a for c in args.challenger for a in ("--challenger", c)]
    run("shadow", "replay", str(folder / "requests.csv"), "--primary", args.primary, *challengers, "--log",
        str(folder / "log.sqlite"), "--id-column", "request_id", "--time-column", "ts", "--force")
    done = run("monitor", str(folder / "log.sqlite"), "--reference", args.primary, "--window", "1w",
               "-o", str(folder / "monitor"), ok=(0, 1))
    frame = pd.DataFrame(json.loads((folder / "monitor" / "monitor.json").read_text())["metrics"])
    raised = frame[frame["event"] == "raised"]
    figures = {"windows": int(frame["window"].nunique()), "rows": len(requests), "exit_code": done.returncode,
               "raised": len(raised), "alerting_windows": int(frame.loc[frame["alert"], "window"].nunique()),
               "raised_by_metric": raised.groupby("metric").size().to_dict(),
               "challenger_alerts": int(frame[frame["metric"].str.startswith("challenger:")]["alert"].sum())}
    print(raised[["window", "metric", "subject", "n", "value", "reference", "lower", "upper"]].to_string(index=False)
          if len(raised) else "no alert raised")
    return figures


def youtube(args) -> dict:
    if not YOUTUBE.is_dir():
        raise SystemExit(f"{YOUTUBE} not found: the YouTube scenario needs ../shared/data next to the repository.")
    folder = Path(args.out or tempfile.mkdtemp(prefix="monitor_youtube_"))
    folder.mkdir(parents=True, exist_ok=True)
    comments, labels = youtube_files(folder)
    run("build", str(folder / "labelkit.toml"), "--out", str(folder / "run"), "-q")
    run("shadow", "replay", str(comments), "--primary", str(folder / "run"), "--log", str(folder / "new.sqlite"),
        "--id-column", "COMMENT_ID", "--time-column", "DATE", "--force")
    figures = {}
    for window in ("1w", "2w"):
        run("monitor", str(folder / "new.sqlite"), "--reference", str(folder / "run"), "--window", window,
            "--labels", str(labels), "--labels-id-column", "COMMENT_ID", "-o", str(folder / f"monitor_{window}"),
            ok=(0, 1))
        frame = pd.DataFrame(json.loads((folder / f"monitor_{window}" / "monitor.json").read_text())["metrics"])
        figures[window] = coverage(frame, min_rows=30)
    return figures


def youtube_files(folder: Path) -> tuple[Path, Path]:
    """labelkit.toml + old.csv (comments before 2014-11-01, split by time), requests.csv and labels.csv
    (the newer comments); comments without a date are left out."""
    frames = [pd.read_csv(path, dtype=str, keep_default_na=False) for path in sorted(YOUTUBE.glob("Youtube0*.csv"))]
    data = pd.concat(frames, ignore_index=True)
    data["t"] = pd.to_datetime(data["DATE"], errors="coerce", utc=True, format="mixed")
    data = data.dropna(subset=["t"]).sort_values("t", kind="stable").drop_duplicates("COMMENT_ID")
    data["label"] = data["CLASS"].map({"0": "ham", "1": "spam"})
    old = data[data["t"] < pd.Timestamp("2014-11-01", tz="UTC")]
    new = data[data["t"] >= pd.Timestamp("2014-11-01", tz="UTC")]
    old[["COMMENT_ID", "AUTHOR", "DATE", "CONTENT", "label"]].to_csv(folder / "old.csv", index=False)
    new[["COMMENT_ID", "AUTHOR", "DATE", "CONTENT"]].to_csv(folder / "requests.csv", index=False)
    new[["COMMENT_ID", "label"]].to_csv(folder / "labels.csv", index=False)
    (folder / "labelkit.toml").write_text(textwrap.dedent(f'''
        [task]
        name = "youtube_oldest_months"
        classes = ["ham", "spam"]
        labeling_functions = ["{ROOT / 'labeling_functions' / 'youtube_spam.py'}"]
        seed = 123

        [data]
        labeled = "old.csv"
        split = "time"
        split_fractions = [0.6, 0.2, 0.2]
        id_column = "COMMENT_ID"
        text_column = "CONTENT"
        label_column = "label"
        time_column = "DATE"
        group_column = "AUTHOR"
    '''))
    return folder / "requests.csv", folder / "labels.csv"


def coverage(frame: pd.DataFrame, *, min_rows: int) -> dict:
    """How often the estimate's interval holds the accuracy measured with the labels: in windows of at
    least `min_rows` labelled rows (those that can alert) and in all windows; CBPE's own interval beside it."""
    estimate = frame[frame["metric"] == "estimated_accuracy"].set_index("window")
    real = frame[frame["metric"] == "accuracy"].set_index("window")["value"].rename("real")
    table = estimate[["n", "value", "ci_low", "ci_high", "note"]].join(real, how="inner")
    table["holds"] = (table["ci_low"] <= table["real"]) & (table["real"] <= table["ci_high"])
    big = table[table["n"] >= min_rows]
    print(big[["n", "value", "ci_low", "ci_high", "real", "holds"]].round(3).to_string())
    return {"windows": len(table), "holds": int(table["holds"].sum()),
            f"windows_n>={min_rows}": len(big), f"holds_n>={min_rows}": int(big["holds"].sum()),
            f"mean_width_n>={min_rows}": round(float((big["ci_high"] - big["ci_low"]).mean()), 3),
            f"mean_abs_error_n>={min_rows}": round(float((big["value"] - big["real"]).abs().mean()), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("scenario", choices=["weeks", "year", "youtube"])
    parser.add_argument("--primary", help="the served build (weeks, year)")
    parser.add_argument("--challenger", action="append", default=[], help="a challenger build (repeatable)")
    parser.add_argument("--weeks", type=int, default=None)
    parser.add_argument("--per-week", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="folder for the files made (default: a new temporary one)")
    args = parser.parse_args()
    if args.scenario == "youtube":
        figures = youtube(args)
    else:
        if not args.primary:
            parser.error(f"{args.scenario} needs --primary RUN_DIR")
        default_weeks, default_rows = (4, 600) if args.scenario == "weeks" else (52, 300)
        figures = stable(args, args.weeks or default_weeks, args.per_week or default_rows)
    print(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
