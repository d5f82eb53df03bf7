"""Recall per planted fault and precision per reason of the audit, on the bundled example and on real data.

    python benchmarks/planted_faults.py [labelkit.toml]                    # bundled support tickets
    python benchmarks/planted_faults.py --youtube DIR --seeds 0 1          # real YouTube comments

Bundled: each fault listed in datasets/support_tickets/planted_faults.csv counts as found when its
row gets one of the reasons in EXPECTED.

YouTube (the UCI YouTube Spam Collection: real comments, authors, dates): videos 1-4 are train, video
5 is split into 120 dev / 250 test rows (as in the snorkel tutorial). Each seed plants, at known rows:
exact copies of gold rows in train (case, whitespace, Unicode variants), near copies of 5-40-word
gold rows (a word changed by one letter, a number changed or, in 10+ word texts, a word replaced by
another, a token appended; a random word swapped in a 5-word text is NOT a near copy by the audit's
default: at that similarity natural pairs are independent comments, "i love this song" / "i like
this song"), train rows given an author of a gold row, test-log rows (QA
senders, placeholder texts, bot bursts, impossible timestamps), a code column that leaks the label and
flipped gold labels; plus decoys that must NOT be flagged (real-looking comments mentioning a test).
The default audit runs (every check, default policies). Precision counts a flagged row as correct
when a planted fault explains it, or, for natural duplicates and shared authors, when an independent
check confirms it: equal text after normalisation, or char 3-gram Jaccard >= 0.7 computed here
with plain Python sets. Unexplained test_row / label_issue flags are printed for a hand check.
"""
from __future__ import annotations

import argparse
import glob
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
EXPECTED = {  # planted fault -> audit reasons that catch it (bundled example)
    "test_text": {"test_row", "duplicate_within_split"},
    "test_customer_id": {"test_row"},
    "burst_duplicate": {"test_row", "duplicate_within_split"},
    "bad_timestamp": {"test_row", "bad_timestamp"},
    "exact_duplicate_of_train": {"exact_duplicate_cross_split"},
    "near_duplicate_of_train": {"near_duplicate_cross_split", "exact_duplicate_cross_split"},
    "customer_in_train": {"group_leakage"},
    "wrong_gold_label": {"label_issue"},
}


# ------------------------------------------------------------------ bundled example

def bundled(config_path: Path) -> None:
    from labelkit.settings.config import load_config
    from labelkit.data.load import load_task_data
    from labelkit.pipeline.stages import run_audit

    config = load_config(config_path)
    data = load_task_data(config)
    outcome = run_audit(config, data)
    findings = outcome.result.findings
    planted = pd.read_csv(config.resolve("datasets/support_tickets/planted_faults.csv"), dtype=str, keep_default_na=False)
    flagged = findings.groupby(["split", "row_id"])["reason"].apply(set).to_dict()
    print(f"{'planted fault':28} {'rows':>5} {'found':>6} {'recall':>7}")
    for fault, reasons in EXPECTED.items():
        rows = planted[planted["fault"] == fault]
        found = sum(bool(flagged.get((s, i), set()) & reasons) for s, i in zip(rows["split"], rows["ticket_id"]))
        print(f"{fault:28} {len(rows):5d} {found:6d} {found / max(len(rows), 1):7.1%}")
    column = findings[(findings["reason"] == "identifier_leakage") & findings["evidence"].str.contains("routing_code")]
    print(f"{'leaky_column (routing_code)':28} {1:5d} {int(len(column) > 0):6d} {float(len(column) > 0):7.1%}")
    explained = _bundled_explained(planted, data, config)
    natural = _NaturalCopies({s: f.set_index(config.data.id_column)[config.data.text_column]
                              for s, f in data.frames.items()})
    print(f"\n{'reason':30} {'flagged':>8} {'explained':>9} {'natural':>8} {'precision':>10}")
    for reason in explained:
        rows = findings[findings["reason"] == reason]
        keys = set(zip(rows["split"], rows["row_id"].astype(str)))
        good = keys & explained[reason]
        check = {"exact_duplicate_cross_split": natural.exact, "near_duplicate_cross_split": natural.near}.get(reason)
        extra = {k for k in keys - good if check(*k)} if check else set()
        print(f"{reason:30} {len(keys):8d} {len(good):9d} {len(extra):8d} {(len(good) + len(extra)) / max(len(keys), 1):10.1%}")
    _print_gold_kept(outcome.clean.accounting)


def _bundled_explained(planted: pd.DataFrame, data, config) -> dict[str, set]:
    test_faults = ["test_text", "test_customer_id", "burst_duplicate", "bad_timestamp"]
    rows = planted[planted["fault"].isin(test_faults)]
    test_like = set(zip(rows["split"], rows["ticket_id"]))
    copies = planted[planted["fault"].isin(["exact_duplicate_of_train", "near_duplicate_of_train"])]
    copy_rows = set(zip(copies["split"], copies["ticket_id"])) | {("train", d) for d in copies["detail"]}
    customers = set(planted.loc[planted["fault"] == "customer_in_train", "detail"])
    group_rows = set()
    for split, frame in data.frames.items():
        hit = frame[config.data.group_column].astype(str).isin(customers)
        group_rows |= {(split, str(i)) for i in frame.loc[hit, config.data.id_column]}
    wrong = planted[planted["fault"] == "wrong_gold_label"]
    return {
        "exact_duplicate_cross_split": copy_rows | test_like,  # QA texts repeat across splits too
        "near_duplicate_cross_split": copy_rows | test_like,
        "group_leakage": group_rows | test_like,
        "test_row": test_like,
        "label_issue": set(zip(wrong["split"], wrong["ticket_id"])),
    }


class _NaturalCopies:
    """Independent checks of natural duplicates: equal normalised text, or char 3-gram Jaccard >= 0.7
    (plain Python sets) with a row of another split."""

    def __init__(self, texts: dict[str, pd.Series]):
        from labelkit.quality.text_norm import normalize_texts

        self.norm = {s: dict(zip(t.index.astype(str), normalize_texts(t.reset_index(drop=True)))) for s, t in texts.items()}
        self.grams = {s: [_grams(x) for x in n.values()] for s, n in self.norm.items()}

    def exact(self, split: str, row_id: str) -> bool:
        text = self.norm[split][row_id]
        return any(o != split and text in set(n.values()) for o, n in self.norm.items())

    def near(self, split: str, row_id: str) -> bool:
        g = _grams(self.norm[split][row_id])
        return any(o != split and any(len(g & h) >= 0.7 * len(g | h) for h in hs) for o, hs in self.grams.items())


def _print_gold_kept(accounting: dict) -> None:
    parts = [f"{s} {a['kept']}/{a['rows_in']}" for s, a in accounting.items() if s in ("dev", "test")]
    print("gold rows kept under the default policies: " + ", ".join(parts))


# ------------------------------------------------------------------ YouTube comments

COLUMNS = dict(id_column="COMMENT_ID", text_column="CONTENT", label_column="label", group_column="AUTHOR",
               time_column="DATE")
QA_SENDERS = ["loadtest", "qa_bot", "test_user", "tester01", "QA Bot", "loadtest-07", "test.account", "qa-runner"]
PLACEHOLDERS = ["asdf asdf asdf", "this is a test", "test test", "Lorem ipsum dolor sit amet, consectetur adipiscing",
                "asdfghjkl", "qwerty", "test", "testing 123", "sdfsdf sdfsdf", "This is a test message"]
APPENDED = ["x", "lol", "!!", "2015", ":)", "wow", "xD", "pls"]
DECOYS = ["I think i've fixed it can you send a test message?", "Passed my driving test today listening to this song",
          "this song is a test of patience lol", "we had a math test and i still had this song in my head",
          "QA says the audio is fine now, great video", "lorem ipsum is what my teacher calls this song lol"]


def load_youtube(folder: Path) -> dict[str, pd.DataFrame]:
    files = sorted(glob.glob(str(folder / "Youtube0*.csv")))
    if len(files) != 5:
        raise SystemExit(f"expected 5 Youtube0*.csv files in {folder}, found {len(files)}")
    frames = [pd.read_csv(f, dtype=str, keep_default_na=False) for f in files]
    for f in frames:
        f["label"] = np.where(f["CLASS"] == "1", "spam", "ham")
    train = pd.concat(frames[:4], ignore_index=True).drop_duplicates("COMMENT_ID")
    gold = frames[4].sample(frac=1.0, random_state=123).reset_index(drop=True)
    return {"train": train, "dev": gold.iloc[:120].reset_index(drop=True), "test": gold.iloc[120:370].reset_index(drop=True)}


class Planter:
    """Adds planted rows to the splits and remembers which (split, id) each fault explains."""

    def __init__(self, splits: dict[str, pd.DataFrame], seed: int):
        self.splits = {k: v.copy() for k, v in splits.items()}
        self.rng = np.random.default_rng(seed)
        self.seed = seed
        self.faults: dict[str, list[tuple[str, str]]] = {}  # fault -> rows that must be flagged
        self.explains: dict[str, set] = {}  # fault -> rows it explains (both sides of a pair)
        self.used: set = set()
        self.n = 0
        dates = pd.to_datetime(self.splits["train"]["DATE"], errors="coerce", format="ISO8601").dropna()
        self.train_dates = dates.to_numpy()

    def new_id(self) -> str:
        self.n += 1
        return f"planted-{self.seed}-{self.n:04d}"

    def add(self, split: str, **values) -> str:
        row = {c: "" for c in self.splits[split].columns}
        row.update(values)
        row["COMMENT_ID"] = self.new_id()
        self.splits[split] = pd.concat([self.splits[split], pd.DataFrame([row])], ignore_index=True)
        return row["COMMENT_ID"]

    def record(self, fault: str, rows, explains=()) -> None:
        self.faults.setdefault(fault, []).extend(rows)
        self.explains.setdefault(fault, set()).update(rows, explains)

    def pick_gold(self, n: int, min_words: int, max_words: int = 10_000) -> list[tuple[str, int]]:
        out = []
        for split in ("dev", "test"):
            frame = self.splits[split]
            words = frame["CONTENT"].str.split().str.len()
            for i in np.flatnonzero(((words >= min_words) & (words <= max_words)).to_numpy()):
                if (split, frame["COMMENT_ID"][i]) not in self.used:
                    out.append((split, int(i)))
        picks = [out[i] for i in self.rng.choice(len(out), size=n, replace=False)]
        self.used |= {(s, self.splits[s]["COMMENT_ID"][i]) for s, i in picks}
        return picks

    def train_date(self) -> str:
        return pd.Timestamp(self.rng.choice(self.train_dates)).isoformat()

    def author(self) -> str:  # a plausible fresh author name, not in the data
        return f"{self.rng.choice(['maria', 'jay', 'kim', 'lukas', 'aiko', 'omar'])} {self.rng.integers(10, 99)}x{self.seed}"


def _variant(text: str, kind: int) -> str:
    if kind == 0:
        return text.upper()
    if kind == 1:
        return "  " + text.replace(" ", "   ") + "\n"
    if kind == 2:  # fullwidth letters: NFKC maps them back
        return "".join(chr(ord(c) + 0xFEE0) if "a" <= c <= "z" else c for c in text)
    return text.lower() + "\u200b"


def _near(text: str, kind: int, rng, vocab: list[str]) -> str:
    """kind 0: a word changed (one letter, as "busy" -> "buzy"); 1: a number changed, or in a text of
    10+ words a word replaced by another corpus word; 2: a token appended."""
    words = text.split()
    numbers = [i for i, w in enumerate(words) if any(ch.isdigit() for ch in w)]
    plain = [i for i, w in enumerate(words) if w.isalpha() and 3 <= len(w) <= 12]
    if kind == 1 and numbers:
        i = numbers[int(rng.integers(len(numbers)))]
        words[i] = "".join(str((int(ch) + 1 + int(rng.integers(8))) % 10) if ch.isdigit() else ch for ch in words[i])
        return " ".join(words)
    if kind == 1 and plain and len(words) >= 10:
        i = plain[int(rng.integers(len(plain)))]
        same = [v for v in vocab if abs(len(v) - len(words[i])) <= 1 and v.lower() != words[i].lower()]
        words[i] = same[int(rng.integers(len(same)))]
        return " ".join(words)
    if kind in (0, 1) and plain:
        i = plain[int(rng.integers(len(plain)))]
        j = int(rng.integers(1, len(words[i])))
        letter = "zxqjkv"[int(rng.integers(6))]
        words[i] = words[i][:j] + (letter if words[i][j].lower() != letter else "y") + words[i][j + 1:]
        return " ".join(words)
    return text + " " + APPENDED[int(rng.integers(len(APPENDED)))]


def plant(splits: dict[str, pd.DataFrame], seed: int) -> Planter:
    p = Planter(splits, seed)
    vocab = sorted({w for t in p.splits["train"]["CONTENT"] for w in t.split() if w.isalpha() and len(w) > 2})
    for k, (split, i) in enumerate(p.pick_gold(40, min_words=3)):  # exact copies, normalised variants
        src = p.splits[split].loc[i]
        new = p.add("train", CONTENT=_variant(src["CONTENT"], k % 4), AUTHOR=p.author(), DATE=p.train_date(),
                    label=src["label"])
        p.record("exact copy across splits", [("train", new)], [(split, src["COMMENT_ID"])])
    for k, (split, i) in enumerate(p.pick_gold(40, min_words=5, max_words=40)):  # near copies
        src = p.splits[split].loc[i]
        new = p.add("train", CONTENT=_near(src["CONTENT"], k % 3, p.rng, vocab), AUTHOR=p.author(),
                    DATE=p.train_date(), label=src["label"])
        p.record("near copy across splits", [("train", new)], [(split, src["COMMENT_ID"])])
    _plant_same_sender(p)
    _plant_test_rows(p)
    _plant_label_flips(p)
    for frame in p.splits.values():  # a code assigned after review: encodes the label
        codes = p.rng.integers(1000, 9999, size=len(frame))
        frame["review_code"] = [f"{'S' if lab == 'spam' else 'H'}{c}" for lab, c in zip(frame["label"], codes)]
    for k, text in enumerate(DECOYS):  # real-looking gold rows that mention a test: must stay untouched
        split = ("dev", "test")[k % 2]
        new = p.add(split, CONTENT=text, AUTHOR=p.author(), DATE="2015-05-2%dT1%d:00:00" % (k, k), label="ham",
                    review_code=f"H{k}")
        p.record("decoy (must not be test_row)", [(split, new)])
    return p


def _plant_same_sender(p: Planter) -> None:
    gold_authors = pd.concat([p.splits["dev"]["AUTHOR"], p.splits["test"]["AUTHOR"]]).unique()
    train = p.splits["train"]
    candidates = np.flatnonzero(~train["AUTHOR"].isin(gold_authors).to_numpy())
    rows = p.rng.choice(candidates, size=30, replace=False)
    authors = p.rng.choice(gold_authors, size=30, replace=False)
    train.loc[rows, "AUTHOR"] = authors
    explains = set()
    for split in ("dev", "test"):
        frame = p.splits[split]
        explains |= {(split, i) for i in frame.loc[frame["AUTHOR"].isin(authors), "COMMENT_ID"]}
    p.record("same sender on both sides", [("train", i) for i in train.loc[rows, "COMMENT_ID"]], explains)


def _plant_test_rows(p: Planter) -> None:
    splits = ["train"] * 7 + ["dev", "test"] * 2  # mostly train, some in the gold splits
    texts, labels = p.splits["train"]["CONTENT"].to_numpy(), p.splits["train"]["label"].to_numpy()
    for k in range(20):  # QA senders with ordinary-looking text (and that text's label)
        split = splits[k % len(splits)]
        j = int(p.rng.integers(len(texts)))
        new = p.add(split, CONTENT=texts[j][:200] + f" #{k}", AUTHOR=QA_SENDERS[k % len(QA_SENDERS)],
                    DATE=p.train_date(), label=labels[j])
        p.record("test-log: QA sender", [(split, new)])
    for k in range(20):  # placeholder texts from ordinary authors (every 4th from a QA sender too)
        split = splits[(k + 3) % len(splits)]
        author = QA_SENDERS[k % len(QA_SENDERS)] if k % 4 == 0 else p.author()
        new = p.add(split, CONTENT=PLACEHOLDERS[k % len(PLACEHOLDERS)], AUTHOR=author, DATE=p.train_date(), label="ham")
        p.record("test-log: placeholder text", [(split, new)])
    for k in range(5):  # bot bursts: 3 identical rows from one source within minutes
        split = ("train", "train", "test", "train", "dev")[k]
        start = pd.Timestamp(p.train_date())
        text, author = f"Get free followers now at followz{k}.example {p.rng.integers(100, 999)}", f"promo-{p.seed}-{k}"
        rows = [(split, p.add(split, CONTENT=text, AUTHOR=author, DATE=(start + pd.Timedelta(minutes=2 * j)).isoformat(),
                              label="spam")) for j in range(3)]
        p.record("test-log: bot burst", rows)
    for k in range(10):  # impossible timestamps
        split = splits[(k + 5) % len(splits)]
        date = ["2031-03-14T09:26:53", "1970-01-01T00:00:00", "2099-12-31T23:59:59", "2027-08-01T10:00:00",
                "2003-02-01T08:00:00"][k % 5]
        j = int(p.rng.integers(len(texts)))
        new = p.add(split, CONTENT=texts[j][:200] + f" ({k})", AUTHOR=p.author(), DATE=date, label=labels[j])
        p.record("test-log: impossible timestamp", [(split, new)])


def _plant_label_flips(p: Planter) -> None:
    for split, i in p.pick_gold(10, min_words=1):
        frame = p.splits[split]
        frame.loc[i, "label"] = "ham" if frame.loc[i, "label"] == "spam" else "spam"
        p.record("wrong gold label", [(split, frame.loc[i, "COMMENT_ID"])])


FAULT_REASONS = {
    "exact copy across splits": {"exact_duplicate_cross_split"},
    "near copy across splits": {"near_duplicate_cross_split", "exact_duplicate_cross_split"},
    "same sender on both sides": {"group_leakage"},
    "test-log: QA sender": {"test_row"},
    "test-log: placeholder text": {"test_row"},
    "test-log: bot burst": {"test_row"},
    "test-log: impossible timestamp": {"test_row"},
    "wrong gold label": {"label_issue"},
}


def youtube(folder: Path, seeds: list[int]) -> None:
    from labelkit.quality import AuditSpec, apply_policies, run_audit

    base = load_youtube(folder)
    for seed in seeds:
        p = plant(base, seed)
        spec = AuditSpec(classes=("ham", "spam"), seed=seed, **COLUMNS)
        result = run_audit(p.splits, spec)
        clean = apply_policies(p.splits, result.findings, spec.policies)
        f = result.findings
        flagged = f.groupby(["split", "row_id"])["reason"].apply(set).to_dict()
        print(f"\n== seed {seed}: train {len(p.splits['train'])}, dev {len(p.splits['dev'])}, test {len(p.splits['test'])} rows")
        print(f"{'planted fault':34} {'rows':>5} {'found':>6} {'recall':>7}")
        for fault, reasons in FAULT_REASONS.items():
            rows = p.faults[fault]
            found = sum(bool(flagged.get(r, set()) & reasons) for r in rows)
            print(f"{fault:34} {len(rows):5d} {found:6d} {found / len(rows):7.1%}")
        leak = f[(f["reason"] == "identifier_leakage") & f["evidence"].str.contains("review_code")]
        print(f"{'leaky column (review_code)':34} {1:5d} {int(len(leak) > 0):6d} {float(len(leak) > 0):7.1%}")
        decoys = p.faults["decoy (must not be test_row)"]
        print(f"{'decoys flagged as test_row':34} {len(decoys):5d} "
              f"{sum('test_row' in flagged.get(r, set()) for r in decoys):6d}")
        _precision(p, f)
        _print_gold_kept(clean.accounting)
        dropped = clean.quarantine[clean.quarantine["split"].isin(["dev", "test"])]
        for _, row in dropped.iterrows():
            print(f"  gold row dropped: {row['split']} {row['row_id']}: {row['reasons']}: {str(row['evidence'])[:120]}")


def _grams(text: str) -> set:
    return {text[i:i + 3] for i in range(max(len(text) - 2, 1))}


def _precision(p: Planter, f: pd.DataFrame) -> None:
    from labelkit.quality.text_norm import normalize_texts

    norm = {s: normalize_texts(fr["CONTENT"]).tolist() for s, fr in p.splits.items()}
    ids = {s: fr["COMMENT_ID"].astype(str).tolist() for s, fr in p.splits.items()}
    grams = {s: [_grams(t) for t in norm[s]] for s in norm}
    authors = {s: set(fr["AUTHOR"]) for s, fr in p.splits.items()}

    def natural_duplicate(split, row_id) -> bool:
        g = grams[split][ids[split].index(row_id)]
        return any(other != split and max((len(g & h) / max(len(g | h), 1) for h in grams[other]), default=0) >= 0.7
                   for other in grams)

    def natural_exact(split, row_id) -> bool:
        text = norm[split][ids[split].index(row_id)]
        return any(other != split and text in norm[other] for other in norm)

    def shared_author(split, row_id) -> bool:
        author = p.splits[split].loc[p.splits[split]["COMMENT_ID"] == row_id, "AUTHOR"].iloc[0]
        return any(author in authors[o] for o in authors if o != split)

    copies = p.explains["exact copy across splits"] | p.explains["near copy across splits"]
    test_like = set().union(*(v for k, v in p.explains.items() if k.startswith("test-log")))
    rules = {
        "exact_duplicate_cross_split": lambda k: k in copies or k in test_like or natural_exact(*k),
        "near_duplicate_cross_split": lambda k: k in copies or k in test_like or natural_duplicate(*k),
        "group_leakage": lambda k: shared_author(*k),
        "test_row": lambda k: k in test_like,
        "label_issue": lambda k: k in p.explains["wrong gold label"],
    }
    print(f"{'reason':30} {'flagged':>8} {'correct':>8} {'precision':>10}")
    for reason, ok in rules.items():
        rows = f[f["reason"] == reason]
        keys = list(zip(rows["split"], rows["row_id"].astype(str)))
        good = [k for k in keys if ok(k)]
        print(f"{reason:30} {len(keys):8d} {len(good):8d} {len(good) / max(len(keys), 1):10.1%}")
        if reason in ("test_row", "label_issue"):
            for k in [k for k in keys if k not in good][:8]:
                row = rows[(rows["split"] == k[0]) & (rows["row_id"] == k[1])].iloc[0]
                text = p.splits[k[0]].loc[p.splits[k[0]]["COMMENT_ID"] == k[1], "CONTENT"].iloc[0]
                print(f"    unexplained {reason}: {k[0]} {text[:70]!r}: {row['evidence'][:90]}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", nargs="?", default=str(ROOT / "labelkit.toml"))
    parser.add_argument("--youtube", type=Path, help="folder of the UCI YouTube Spam Collection CSVs")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    args = parser.parse_args(argv)
    if args.youtube:
        youtube(args.youtube, args.seeds)
    else:
        bundled(Path(args.config))


if __name__ == "__main__":
    main(sys.argv[1:])
