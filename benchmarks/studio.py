"""Studio speed: the live preview after an edit, and the rule table page, at 100k rows x 50 rules.

Data: the bundled support tickets resampled with seeded word edits (train: --rows rows; dev: 5,000
gold rows). Rules: 40 keyword rules (words most typical of each class on dev) + 10 regex rules,
all in a real rules file. Timed through the real app (Starlette TestClient: form parsing, the
vectorised recompute, the label model before/after, template rendering):

  preview   POST /preview with one rule edited (a word added or removed), --edits times; p50 / p95
  table     GET / (every rule's coverage, overlaps, conflicts, dev accuracy, summary); p50 / p95
  start     computing every rule's votes once (what `labelkit studio` does before serving)

Targets (issue 15): preview p95 <= 300 ms, table <= 1 s, on 2 cores.

    PYTHONPATH=. python benchmarks/studio.py --rows 100000 --rules 50
"""
from __future__ import annotations

import argparse
import os
import re
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DATA = ROOT / "datasets" / "support_tickets"
CLASSES = ("billing", "connectivity", "account", "cancellation", "other")
FILLER = ["please", "thanks", "urgent", "again", "today", "help", "asap", "hi", "team", "regards", "still", "now"]


def resample(frame: pd.DataFrame, n: int, seed: int, prefix: str) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(frame), size=n)
    extra = rng.integers(0, len(FILLER), size=(n, 2))
    texts = frame["text"].astype(str).to_numpy()[picks]
    edited = [f"{FILLER[a]} {t} {FILLER[b]}" for t, (a, b) in zip(texts, extra)]
    out = frame.iloc[picks].reset_index(drop=True).copy()
    out["text"] = pd.array(edited, dtype="str")
    out["ticket_id"] = [f"{prefix}{i:07d}" for i in range(n)]
    return out


def typical_words(dev: pd.DataFrame, per_class: int) -> dict[str, list[str]]:
    """Words most specific to each class on dev (count in class / count overall, frequent words only)."""
    counts = {c: Counter() for c in CLASSES}
    for text, label in zip(dev["text"].astype(str), dev["label"]):
        counts[label].update(set(re.findall(r"[a-z]{4,}", text.lower())))
    total = sum(counts.values(), Counter())
    out = {}
    for c in CLASSES:
        scored = sorted((w for w in counts[c] if total[w] >= 5), key=lambda w: (-counts[c][w] / total[w], w))
        out[c] = scored[:per_class]
    return out


def write_task(folder: Path, rows: int, n_rules: int) -> tuple[Path, list[dict]]:
    train = resample(pd.read_csv(DATA / "train.csv"), rows, 0, "T")
    dev = resample(pd.read_csv(DATA / "dev.csv"), 5000, 1, "D")
    test = resample(pd.read_csv(DATA / "test.csv"), 1000, 2, "E")
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in (("train", train), ("dev", dev), ("test", test)):
        frame.to_parquet(folder / f"{name}.parquet", index=False)
    words = typical_words(pd.read_csv(DATA / "dev.csv"), 24)
    rules = []
    for i in range(n_rules):
        label = CLASSES[i % len(CLASSES)]
        pool = words[label]
        if i % 5 == 4:  # a regex rule
            rules.append({"name": f"re_{i}", "class": label, "kind": "regex",
                          "pattern": r"\b(?:" + "|".join(pool[(i // 5) % 8: (i // 5) % 8 + 3]) + r")\w*"})
        else:
            start = (i * 3) % max(1, len(pool) - 4)
            rules.append({"name": f"kw_{i}", "class": label, "kind": "keywords", "words": pool[start:start + 4]})
    import tomlkit

    document = tomlkit.document()
    document.add(tomlkit.comment("benchmark rules"))
    tables = tomlkit.aot()
    for rule in rules:
        tables.append(tomlkit.item(rule))
    document.append("rule", tables)
    (folder / "rules.toml").write_text(tomlkit.dumps(document))
    (folder / "labelkit.toml").write_text(f'''
[task]
name = "studio_bench"
classes = {list(CLASSES)!r}
rules = ["rules.toml"]

[data]
train = "train.parquet"
dev = "dev.parquet"
test = "test.parquet"
id_column = "ticket_id"
'''.replace("'", '"'))
    return folder / "labelkit.toml", rules


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--rules", type=int, default=50)
    parser.add_argument("--edits", type=int, default=40)
    parser.add_argument("--folder", default="/tmp/labelkit_studio_bench")
    args = parser.parse_args()

    from starlette.testclient import TestClient

    from labelkit.settings.config import load_config
    from labelkit.studio.app import create_app
    from labelkit.studio.state import open_studio

    config_path, rules = write_task(Path(args.folder), args.rows, args.rules)
    start = time.perf_counter()
    state = open_studio(load_config(config_path), run_dir=Path(args.folder) / "no_run")
    started = time.perf_counter() - start
    client = TestClient(create_app(state), base_url="http://127.0.0.1:8000")
    client.get(f"/?token={state.token}")
    headers = {"Origin": "http://127.0.0.1:8000", "X-CSRF-Token": state.csrf}

    table, table_cpu = [], []
    for _ in range(5):
        t, cpu = time.perf_counter(), time.process_time()
        response = client.get("/")
        table.append(time.perf_counter() - t)
        table_cpu.append(time.process_time() - cpu)
        assert response.status_code == 200 and response.text.count("<tr data-rule") == args.rules

    rng = np.random.default_rng(0)
    vocabulary = sorted({w for r in rules for w in r.get("words", [])})
    preview, preview_cpu = [], []
    for _ in range(args.edits):
        rule = rules[int(rng.integers(0, len(rules)))]
        form = {"name": rule["name"], "class": rule["class"], "kind": rule["kind"], "original": rule["name"],
                "sha": state.rules_sha256}
        if rule["kind"] == "keywords":
            words = list(rule["words"])
            words = words[:-1] if len(words) > 2 and rng.random() < 0.5 else words + [str(rng.choice(vocabulary))]
            form["words"] = "\n".join(words)
        else:
            form["pattern"] = rule["pattern"] + ("s?" if rng.random() < 0.5 else "")
        t, cpu = time.perf_counter(), time.process_time()
        response = client.post("/preview", data=form, headers=headers)
        preview.append(time.perf_counter() - t)
        preview_cpu.append(time.process_time() - cpu)
        assert response.status_code == 200 and 'id="preview-coverage"' in response.text, response.text[:300]

    def ms(values, q):
        return 1000 * float(np.percentile(values, q))

    load = os.getloadavg()[0]
    print(f"machine: {os.cpu_count()} cores, load average {load:.1f} (wall times include waiting for a core; "
          f"CPU = this process's CPU time, all threads)")
    print(f"data: {args.rows:,} train rows, 5,000 dev rows, {args.rules} rules (40 keywords : 10 regex)")
    print(f"start (every rule's votes once): {started:.1f} s")
    print(f"rule table page GET /:  wall p50 {ms(table, 50):.0f} ms  p95 {ms(table, 95):.0f} ms;  "
          f"CPU p95 {ms(table_cpu, 95):.0f} ms   (target <= 1000 ms)")
    print(f"preview after an edit:  wall p50 {ms(preview, 50):.0f} ms  p95 {ms(preview, 95):.0f} ms;  "
          f"CPU p50 {ms(preview_cpu, 50):.0f} ms  p95 {ms(preview_cpu, 95):.0f} ms  over {args.edits} edits   "
          f"(target p95 <= 300 ms)")


if __name__ == "__main__":
    main()
