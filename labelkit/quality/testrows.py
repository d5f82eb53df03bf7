"""Test, placeholder and bot rows: built-in detectors, user rules and user detector functions.

Every detector yields (mask, evidence) over one split; a row hit by several detectors gets one
`test_row` finding whose evidence lists each detector and the matched value.
"""
from __future__ import annotations

import re
from typing import Callable

import numpy as np
import pandas as pd

from labelkit.errors import ConfigError
from labelkit.quality.findings import combine_findings, make_findings
from labelkit.quality.registry import AuditContext, plausible_time_range, register_check
from labelkit.quality.text_norm import by_ascii, simple_lower
from labelkit.io.times import utc_timestamp

ACCOUNT_COLUMN_HINTS = ("author", "user", "email", "mail", "customer", "account", "login", "sender", "source",
                        "channel", "owner", "agent", "client", "from", "handle", "username")
TEST_ACCOUNT_PATTERN = (
    r"(?i)(?:^|[^a-z])(?:test|tester|testers|testing|qa|dummy|fake|demo)(?:[^a-z]|$)"  # test_user, tester01, qa_bot
    r"|(?:load|smoke|stress|perf|unit|e2e|auto|bot|api)[\W_]?test"  # loadtest, smoke-test
    r"|^test[\W_]?(?:user|account|acct|bot|sender|author|customer|client|login)"  # testuser
    r"|@(?:example|test)\.(?:com|org|net)$|^0{4,}\d*$|^(?:1234\d*|0+)$"
)
# ids: a prefix followed by a separator or digits only ("TEST-6415", "qa3"; not a random "QA7xk9..." id)
ID_TEST_PATTERN = r"(?i)^(?:test|qa|dummy|fake|demo|loadtest)(?:[\W_]|\d+$|$)|^0{4,}\d*$"
BOT_PATTERN = r"(?i)(?:^|[^a-z])(?:bot|noreply|no-reply)(?:[^a-z]|$)|(?:spam|auto|chat|web|qa|test)[\W_]?bot"
# a run of 4+ keyboard-row consonants with no letter repeated in a row ("sdfgh", "jkljkl", not "wwww")
_MASH = (r"(?:[qwertyuiop]*(?:([qwrtyp])(?!\1)){4,}[qwertyuiop]*|[asdfghjkl]*(?:([sdfghjkl])(?!\2)){4,}[asdfghjkl]*"
         r"|(?:([zxcvbnm])(?!\3)){4,})")
_MASH_PREFIX = r"(?:asdf|qwer|zxcv|hjkl|uiop|sdfg|dfgh|fghj|ghjk|jkl;?)\w*"
_TEST_NOUN = r"(?:message|msg|post|comment|ticket|entry|email|run|case|submission|event)"
# Whole-text placeholders only (on lowercased text with punctuation as spaces): a real message that
# mentions a test ("can you send a test message?") is never one.
PLACEHOLDER_PATTERN = (
    r"^(?:"
    r"test(?:ing)?(?: (?:test(?:ing)?|\d+))*"  # test, test test, testing 123
    rf"|(?:this|it) is (?:a |just a |only a |another )?(?:test|testing)(?: {_TEST_NOUN})?(?: \d+)?(?: please ignore| ignore)?"
    rf"|(?:a |another )?test {_TEST_NOUN}(?: \d+)?(?: please ignore| ignore)?"
    r"|(?:load|smoke|qa|stress) ?test(?:ing)?(?: \d+)?|qa (?:run|check|test)(?: \d+)?|x{2,} test x{2,}"
    r"|(?:please |pls |plz )?ignore(?: this| me)?(?: please)?"
    rf"|(?=[a-z])(?:(?:{_MASH_PREFIX}|{_MASH}|\d+)(?: |$))+"  # asdf asdf, sdfgh jkl, qwerty
    r"|lorem ipsum(?: dolor.*)?"
    r"|foo(?: ?bar)?(?: baz)?|x{3,}|null|none|nan|n a|tbd|todo|placeholder|dummy(?: text)?|sample text"
    r"|hello world|abc ?\d*|123|1234\d*|a{3,}|blah(?: blah)*"
    r")$"
)
# In a short text, a word of test traffic AND an ignore/do-not-route instruction, anywhere:
# "TEST ticket from load script - pls ignore", "qa run 67, please ignore".
TEST_WORD = r"\b(?:test|testing|qa|load script|smoke test|dummy)\b"
IGNORE_PHRASE = r"\b(?:(?:please|pls|plz) (?:ignore|disregard)|ignore this|do not (?:route|reply|process|answer)|dont route)\b"
TEST_MARKER_MAX_CHARS = 80
PLACEHOLDER_MAX_CHARS = 1000  # placeholder matching looks at the first characters only
EPOCH_YEAR_MAX = 1970
FAR_FUTURE_YEAR = 2100
# Independent kinds of evidence: a gold row is dropped only when two kinds agree (policy drop_corroborated)
SIGNALS = {"test_account": "account", "bot_source": "account", "placeholder_text": "text",
           "test_marker_text": "text", "burst": "burst", "epoch_timestamp": "time", "far_future_timestamp": "time",
           "out_of_range_timestamp": "time", "future_timestamp": "time", "rule": "user rule", "detector": "user detector"}


def test_row_detector(name: str):
    """Decorator naming a user detector: `func(df) -> boolean mask` (array or Series, len(df))."""
    if callable(name):
        raise ConfigError("test_row_detector needs a name: use @test_row_detector('my_detector').")

    def decorate(func: Callable):
        func.detector_name = name  # type: ignore[attr-defined]  # marks the function as a detector
        return func

    return decorate


def _account_columns(ctx: AuditContext, frame: pd.DataFrame) -> list[str]:
    hinted = [c for c in frame.columns if any(h in str(c).lower() for h in ACCOUNT_COLUMN_HINTS)]
    columns = [ctx.spec.id_column] + [c for c in hinted if c != ctx.spec.id_column]
    return [c for c in columns if c not in (ctx.spec.text_column, ctx.spec.label_column)]


def _pattern_hits(frame, columns, pattern: str, detector: str):
    for column in columns:
        values = frame[column].astype(str).where(frame[column].notna(), "")
        mask = values.str.contains(pattern, regex=True).to_numpy()
        if mask.any():
            yield mask, [f"{detector}: {column}={v!r}" for v in values[mask]]


def _placeholder_text(ctx, split, frame):
    if ctx.spec.text_column is None:
        return
    raw = frame[ctx.spec.text_column].fillna("").astype(str).str.slice(0, PLACEHOLDER_MAX_CHARS)
    simple = simple_lower(raw)
    blank = raw.str.strip() == ""  # emoji-only text is not blank
    mask = (simple.str.fullmatch(PLACEHOLDER_PATTERN) & (simple != "") | blank).to_numpy()
    if mask.any():
        yield mask, [f"placeholder_text: text={v!r}" for v in raw[mask].str.slice(0, 40)]
    short = (raw.str.len() <= TEST_MARKER_MAX_CHARS).to_numpy() & ~mask
    marked = np.zeros(len(raw), dtype=bool)
    if short.any():  # only short texts can be test markers: the patterns run on those alone
        marked[short] = by_ascii(simple[short], lambda part: part.str.contains(TEST_WORD)
                                 & part.str.contains(IGNORE_PHRASE)).to_numpy(dtype=bool)
    if marked.any():
        yield marked, [f"test_marker_text: text={v!r}" for v in raw[marked].str.slice(0, 40)]


def _source_column(ctx, frame) -> str | None:
    """Who wrote a row: spec.source_column, else group_column, else the first account-like column."""
    if ctx.spec.burst_source:
        return ctx.spec.burst_source
    accounts = _account_columns(ctx, frame)[1:]
    return accounts[0] if accounts else None


def _burst_masks(ctx) -> dict[str, np.ndarray]:
    """Per split: rows in a burst of >= burst_min_rows identical texts from one source, all splits
    together, within burst_window when a time column is set (anywhere in the data otherwise)."""
    first = ctx.splits[ctx.split_names[0]]
    source = _source_column(ctx, first)
    if source is None or ctx.spec.text_column is None or any(source not in f for f in ctx.splits.values()):
        return {}
    parts = []
    for split in ctx.split_names:
        frame = ctx.splits[split]
        part = pd.DataFrame({"split": split, "pos": np.arange(len(frame)), "key": ctx.text_key[split],
                             "src": frame[source].astype(str).to_numpy(), "has_src": frame[source].notna().to_numpy()})
        if ctx.spec.time_column:
            part["t"] = ctx.times[split].to_numpy()
        parts.append(part)
    table = pd.concat(parts, ignore_index=True)
    table = table[(table["key"] != 0) & table["has_src"]]
    table["group"] = table.groupby(["src", "key"], sort=False).ngroup()
    table = table[table.groupby("group")["group"].transform("size") >= ctx.spec.burst_min_rows]
    if table.empty:
        return {}
    in_burst = np.ones(len(table), dtype=bool)
    if ctx.spec.time_column:
        in_burst = _within_window(table, ctx.spec.burst_min_rows, pd.Timedelta(ctx.spec.burst_window))
    table = table[in_burst]
    table["n"] = table.groupby("group")["group"].transform("size")
    return {split: part.assign(source=source) for split, part in table.groupby("split")}


def _within_window(table: pd.DataFrame, k: int, window: pd.Timedelta) -> np.ndarray:
    """Rows that belong to k or more rows of their group whose times span at most `window`."""
    timed = table["t"].notna().to_numpy()
    seconds = np.where(timed, table["t"].to_numpy(dtype="datetime64[s]").astype(np.int64), 0)
    seconds = seconds - seconds[timed].min() if timed.any() else seconds
    span = int(seconds.max()) + int(window.total_seconds()) + 1
    key = table["group"].to_numpy(np.int64) * span + seconds
    order = np.argsort(np.where(timed, key, -1), kind="mergesort")
    sorted_key, sorted_timed = key[order], timed[order]
    end = np.searchsorted(sorted_key, sorted_key + int(window.total_seconds()), side="right")
    start = np.arange(len(order))
    full = sorted_timed & (end - start >= k)
    cover = np.zeros(len(order) + 1, dtype=np.int64)  # mark every row of each full window
    np.add.at(cover, start[full], 1)
    np.add.at(cover, end[full], -1)
    marked = np.cumsum(cover)[:-1] > 0
    out = np.zeros(len(order), dtype=bool)
    out[order] = marked
    return out


def _bursts(ctx, split, frame, bursts: dict):
    part = bursts.get(split)
    if part is None or part.empty:
        return
    mask = np.zeros(len(frame), dtype=bool)
    mask[part["pos"].to_numpy()] = True
    n_by_pos = dict(zip(part["pos"], part["n"]))
    src_by_pos = dict(zip(part["pos"], part["src"]))
    window = f" within {ctx.spec.burst_window}" if ctx.spec.time_column else ""
    source = part["source"].iloc[0]
    yield mask, [f"burst: {n_by_pos[p]} identical rows from {source}={src_by_pos[p]!r}{window}"
                 for p in np.flatnonzero(mask)]


def _odd_timestamps(ctx, split, frame):
    if ctx.spec.time_column is None:
        return
    times = ctx.times[split]
    years = times.dt.year
    checks = [
        ((years <= EPOCH_YEAR_MAX), "epoch_timestamp"),
        ((years >= FAR_FUTURE_YEAR), "far_future_timestamp"),
    ]
    low, high = _data_time_range(ctx)
    if low is not None:
        checks.append((((times < low) | (times > high)) & (years > EPOCH_YEAR_MAX) & (years < FAR_FUTURE_YEAR),
                       "out_of_range_timestamp"))
    if ctx.spec.now is not None and not (isinstance(ctx.spec.now, str) and ctx.spec.now == ""):  # "": off
        now = utc_timestamp(ctx.spec.now)
        checks.append(((times > now) & (years < FAR_FUTURE_YEAR), "future_timestamp"))
    for mask, name in checks:
        mask = mask.fillna(False).to_numpy(dtype=bool)
        if mask.any():
            yield mask, [f"{name}: {ctx.spec.time_column}={t.isoformat()}" for t in times[mask]]


def _data_time_range(ctx):
    """Plausible times over all splits together; None when there are too few times to tell."""
    times = pd.concat([t.dropna() for t in ctx.times.values()]) if ctx.times else pd.Series(dtype="datetime64[ns, UTC]")
    if len(times) < 20:
        return None, None
    return plausible_time_range(times)


def _user_rules(ctx, split, frame):
    for rule in ctx.spec.rules:
        name = rule.get("name") or rule.get("reason") or "rule"
        column = rule["column"]
        values = frame[column].astype(str).where(frame[column].notna(), "")
        if "pattern" in rule:
            mask = values.str.contains(rule["pattern"], regex=True).to_numpy()
        else:
            mask = values.isin([str(v) for v in rule["values"]]).to_numpy()
        if mask.any():
            yield mask, [f"rule {name}: {column}={v!r}" for v in values[mask]]


def _user_detectors(ctx, split, frame):
    for detector in ctx.spec.detectors:
        name = getattr(detector, "detector_name", getattr(detector, "__name__", repr(detector)))
        try:
            result = detector(frame.copy())
        except Exception as exc:  # user code: name it, keep the cause
            raise ConfigError(f"Test-row detector {name!r} raised {type(exc).__name__}: {exc}; fix the detector.") from exc
        mask = np.asarray(result)
        if mask.shape != (len(frame),) or mask.dtype != bool:
            raise ConfigError(
                f"Test-row detector {name!r} returned shape {mask.shape} dtype {mask.dtype} on split {split!r}; "
                f"expected a boolean mask of length {len(frame)}."
            )
        if mask.any():
            yield mask, [f"detector {name}"] * int(mask.sum())


def validate_rules(rules: list[dict]) -> None:
    for rule in rules:
        if not isinstance(rule, dict) or "column" not in rule or ("pattern" in rule) == ("values" in rule):
            raise ConfigError(
                f"Invalid test-row rule {rule!r}; a rule needs 'column' and exactly one of 'pattern' (regex) "
                "or 'values' (list), e.g. {'column': 'email', 'pattern': '@example\\\\.com$'}."
            )
        if "pattern" in rule:
            try:
                re.compile(rule["pattern"])
            except re.error as exc:
                raise ConfigError(f"Test-row rule {rule!r} has an invalid regex: {exc}.") from None


def _detections(ctx: AuditContext, split: str, bursts: dict):
    frame = ctx.splits[split]
    accounts = _account_columns(ctx, frame)
    yield from _pattern_hits(frame, accounts[:1], ID_TEST_PATTERN, "test_account")
    yield from _pattern_hits(frame, accounts[1:], TEST_ACCOUNT_PATTERN, "test_account")
    yield from _pattern_hits(frame, accounts[1:], BOT_PATTERN, "bot_source")
    yield from _placeholder_text(ctx, split, frame)
    yield from _bursts(ctx, split, frame, bursts)
    yield from _odd_timestamps(ctx, split, frame)
    yield from _user_rules(ctx, split, frame)
    yield from _user_detectors(ctx, split, frame)


@register_check("test_rows", reasons=("test_row",))
def test_rows(ctx: AuditContext) -> pd.DataFrame:
    frames = []
    bursts = _burst_masks(ctx)
    for split in ctx.split_names:
        positions, evidence = [], []
        for mask, notes in _detections(ctx, split, bursts):
            positions.append(np.flatnonzero(mask))
            evidence.extend(notes)
        if not positions:
            continue
        hits = pd.DataFrame({"pos": np.concatenate(positions), "evidence": evidence})
        hits["signal"] = hits["evidence"].str.extract(r"^(\w+)", expand=False).map(SIGNALS).fillna("other")
        grouped = hits.groupby("pos", sort=True)
        joined, kinds = grouped["evidence"].agg("; ".join), grouped["signal"].agg(lambda k: sorted(set(k)))
        ids = ctx.ids[split][joined.index.to_numpy()]
        evidence = [f"{e} [{len(k)} independent signal{'s' if len(k) > 1 else ''}: {', '.join(k)}]"
                    for e, k in zip(joined, kinds)]
        frames.append(make_findings(split, ids, "test_row", [float(len(k)) for k in kinds], evidence))
    return combine_findings(frames).drop_duplicates(["split", "row_id", "reason"]).reset_index(drop=True)


test_row_detector.__test__ = False  # type: ignore[attr-defined]  # keep pytest from collecting these when imported into tests
test_rows.__test__ = False
