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
from labelkit.quality.text_norm import simple_lower

ACCOUNT_COLUMN_HINTS = ("author", "user", "email", "customer", "account", "login", "sender", "source", "channel")
TEST_ACCOUNT_PATTERN = (
    r"(?i)(?:^|[^a-z])(?:test|tester|testing|qa|dummy|fake|demo)(?:[^a-z]|$)"
    r"|@(?:example|test)\.(?:com|org|net)$|^0{4,}\d*$|^(?:1234\d*|0+)$"
)
ID_TEST_PATTERN = r"(?i)^(?:test|qa|dummy|fake|demo)(?:[\W_\d]|$)|^0{4,}\d*$"  # ids: prefix only
BOT_PATTERN = r"(?i)(?:^|[^a-z])(?:bot|noreply|no-reply)(?:[^a-z]|$)|(?:spam|auto|chat|web)bot"
PLACEHOLDER_PATTERN = (
    r"^(?:test(?:ing)?(?: ?\d+| test(?:ing)?)*|lorem ipsum.*|asdf\w*|qwerty\w*|foo(?: ?bar)?(?: baz)?"
    r"|x{3,}|null|none|n a|tbd|todo|placeholder|dummy(?: text)?|sample text|hello world|abc ?\d*|123|1234\d*"
    r"|a{3,}|blah(?: blah)*)$"
)
# Marker phrases of test traffic, searched anywhere in SHORT texts only (a real customer may write
# "please ignore my last message" in a long ticket).
TEST_MARKER_PATTERN = (
    r"\b(?:(?:please|pls|plz) ignore|ignore this|do not (?:route|reply|process|answer)|dont route"
    r"|test (?:ticket|message|post|entry|case|run)|qa (?:run|test|check)|load ?test|smoke ?test)\b"
    r"|^x{3,} test x{3,}$"
)
TEST_MARKER_MAX_CHARS = 60
EPOCH_YEAR_MAX = 1970
FAR_FUTURE_YEAR = 2100


def test_row_detector(name: str):
    """Decorator naming a user detector: `func(df) -> boolean mask` (array or Series, len(df))."""
    if callable(name):
        raise ConfigError("test_row_detector needs a name: use @test_row_detector('my_detector').")

    def decorate(func: Callable):
        func.detector_name = name
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
    raw = frame[ctx.spec.text_column]
    simple = simple_lower(raw)
    blank = raw.fillna("").astype(str).str.strip() == ""  # emoji-only text is not blank
    mask = (simple.str.fullmatch(PLACEHOLDER_PATTERN) & (simple != "") | blank).to_numpy()
    if mask.any():
        shown = raw.fillna("").astype(str)[mask].str.slice(0, 40)
        yield mask, [f"placeholder_text: text={v!r}" for v in shown]
    short = (raw.fillna("").astype(str).str.len() <= TEST_MARKER_MAX_CHARS).to_numpy()
    marked = simple.str.contains(TEST_MARKER_PATTERN, regex=True).fillna(False).to_numpy(dtype=bool) & short & ~mask
    if marked.any():
        shown = raw.fillna("").astype(str)[marked].str.slice(0, 40)
        yield marked, [f"test_marker_text: text={v!r}" for v in shown]


def _bursts(ctx, split, frame):
    """Same normalised text from the same source at least burst_min_rows times in one split."""
    source = ctx.spec.burst_source
    if source is None or ctx.spec.text_column is None:
        return
    keys = ctx.text_key[split]
    table = pd.DataFrame({"src": frame[source].astype(str).to_numpy(), "key": keys})
    sizes = table.groupby(["src", "key"])["key"].transform("size").to_numpy()
    mask = (sizes >= ctx.spec.burst_min_rows) & (keys != 0) & frame[source].notna().to_numpy()
    if mask.any():
        yield mask, [f"burst: {n} identical rows from {source}={s!r}" for n, s in zip(sizes[mask], table["src"][mask])]


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
    if ctx.spec.now is not None:
        now = pd.Timestamp(ctx.spec.now)
        now = now.tz_localize("UTC") if now.tzinfo is None else now.tz_convert("UTC")
        checks.append(((times > now), "future_timestamp"))
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


def _detections(ctx: AuditContext, split: str):
    frame = ctx.splits[split]
    accounts = _account_columns(ctx, frame)
    yield from _pattern_hits(frame, accounts[:1], ID_TEST_PATTERN, "test_account")
    yield from _pattern_hits(frame, accounts[1:], TEST_ACCOUNT_PATTERN, "test_account")
    yield from _pattern_hits(frame, accounts[1:], BOT_PATTERN, "bot_source")
    yield from _placeholder_text(ctx, split, frame)
    yield from _bursts(ctx, split, frame)
    yield from _odd_timestamps(ctx, split, frame)
    yield from _user_rules(ctx, split, frame)
    yield from _user_detectors(ctx, split, frame)


@register_check("test_rows", reasons=("test_row",))
def test_rows(ctx: AuditContext) -> pd.DataFrame:
    frames = []
    for split in ctx.split_names:
        positions, evidence = [], []
        for mask, notes in _detections(ctx, split):
            positions.append(np.flatnonzero(mask))
            evidence.extend(notes)
        if not positions:
            continue
        hits = pd.DataFrame({"pos": np.concatenate(positions), "evidence": evidence})
        joined = hits.groupby("pos", sort=True)["evidence"].agg("; ".join)
        ids = ctx.ids[split][joined.index.to_numpy()]
        frames.append(make_findings(split, ids, "test_row", 1.0, joined.to_numpy()))
    return combine_findings(frames).drop_duplicates(["split", "row_id", "reason"]).reset_index(drop=True)


test_row_detector.__test__ = False  # keep pytest from collecting these when imported into tests
test_rows.__test__ = False
