"""Per window: the monitored metrics as a tidy table (one row per window x metric x subject).

Each row carries its value, the reference value, the band outside which it is a breach, an interval
where one applies, and (after `alerts.apply_alerts`) whether it alerts. HTML, JSON and the exit code
are all rendered from this one table.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from labelkit.io.display import interval_text
from labelkit.evaluate.uncertainty import ALPHA_Z, wilson
from labelkit.monitor.drift import js_distance, js_noise_threshold, label_shift_accuracy, rate_band
from labelkit.serve.logdata import LogData
from labelkit.monitor.reference import Reference, conflicts
from labelkit.monitor.windows import window_index, window_label, window_starts
from labelkit.settings.declare import check_declared, same_as
from labelkit.settings.options import MonitorOptions, MonitorThresholds

COLUMNS = ["window", "start", "metric", "subject", "n", "value", "reference", "lower", "upper", "ci_low", "ci_high",
           "breach", "note"]


@dataclass
class MonitorSettings:
    """The window and the alert thresholds, with the defaults and rules declared once for `labelkit monitor`
    (labelkit/settings/options.py: --window, --threshold NAME=VALUE); a bad value is refused when made.
    The window's text is read by windows.parse_window."""

    window: str = same_as(MonitorOptions, "window")
    z: float = same_as(MonitorThresholds, "z")  # standard errors a rate must move before it can alert
    relative: float = same_as(MonitorThresholds, "relative")  # ... and by this fraction of its reference value
    absolute: float = same_as(MonitorThresholds, "absolute")  # ... and by at least this much
    min_rows: int = same_as(MonitorThresholds, "min_rows")  # fewer rows in a window/slice: reported, not alerted on
    js_max: float = same_as(MonitorThresholds, "js_max")  # output drift: JS distance above this and above noise
    challenger_max: float = same_as(MonitorThresholds, "challenger_max")  # disagreement of an unknown challenger
    accuracy_drop: float = same_as(MonitorThresholds, "accuracy_drop")  # under the reference test accuracy
    min_requests: int = same_as(MonitorThresholds, "min_requests")  # fewer requests in a window alert (no traffic)
    clear_fraction: float = same_as(MonitorThresholds, "clear_fraction")  # hysteresis: back within this share
    cooldown: int = same_as(MonitorThresholds, "cooldown")  # windows after a clear in which a breach only warns

    def __post_init__(self) -> None:
        check_declared(self, "MonitorSettings")


def compute_metrics(log: LogData, ref: Reference, settings: MonitorSettings, seconds: int,
                    labels: np.ndarray | None = None, challengers: dict | None = None) -> pd.DataFrame:
    """The tidy table; `labels` (class index per request, -1 unknown) gives real accuracy; `challengers`
    maps a challenger's name to its PairReference (its disagreement with the champion on the gold test
    rows), or to None: then its disagreement is held to the fixed `challenger_max`."""
    if ref.classes != log.meta.classes:
        from labelkit.errors import ConfigError

        raise ConfigError(f"The log's classes {list(log.meta.classes)} differ from the reference build's "
                          f"{list(ref.classes)}; monitor a log against the build that served it.")
    starts = window_index(log.ts, seconds)
    grid = window_starts(int(starts.min()), int(starts.max()), seconds)
    pos = np.searchsorted(grid, starts)
    ctx = _Context(log, ref, settings, grid, pos)
    rows = ctx.requests()
    rows += ctx.rules_metrics()
    rows += ctx.output_drift("end_model", log.pred, np.ones(len(log), bool))
    rules = log.systems.get("rules")
    if rules is not None:
        rows += ctx.output_drift("label_model", rules.pred, rules.pred >= 0)
        rows += ctx.disagreement("rules_vs_model", rules.pred, ref.disagreement, None, ref.slice_sizes)
    for name, column in log.systems.items():
        if name == "rules":
            continue
        pair = (challengers or {}).get(name)
        if pair is not None:
            rows += ctx.disagreement(f"challenger:{name}", column.pred, pair.rates, None, pair.sizes)
        else:
            rows += ctx.disagreement(f"challenger:{name}", column.pred, {}, settings.challenger_max)
    rows += ctx.estimated_accuracy()
    if labels is not None:
        rows += ctx.real_accuracy(labels)
    frame = pd.DataFrame(rows, columns=COLUMNS)
    return frame.sort_values(["start", "metric", "subject"], kind="stable").reset_index(drop=True)


class _Context:
    def __init__(self, log: LogData, ref: Reference, settings: MonitorSettings, grid: np.ndarray, pos: np.ndarray):
        self.log, self.ref, self.s, self.grid, self.pos = log, ref, settings, grid, pos
        self.labels = [window_label(t) for t in grid]
        self.n = np.bincount(pos, minlength=len(grid))

    def row(self, w: int, metric: str, subject: str, n: int, value, reference=None, lower=None, upper=None,
            ci=(None, None), note: str = "") -> list:
        breach = bool(n >= self.s.min_rows and value is not None and not np.isnan(value) and (
            (lower is not None and value < lower) or (upper is not None and value > upper)))
        if 0 < n < self.s.min_rows:
            few = f"only {n} rows (< {self.s.min_rows}): not alerted on"
            note = f"{few}; {note}" if note else few
        return [self.labels[w], int(self.grid[w]), metric, subject, int(n), _num(value), _num(reference),
                _num(lower), _num(upper), _num(ci[0]), _num(ci[1]), breach, note]

    def counts(self, valid: np.ndarray, hits: np.ndarray, codes: np.ndarray | None = None, n_codes: int = 1):
        key = self.pos if codes is None else self.pos * n_codes + codes
        size = len(self.grid) * n_codes
        total = np.bincount(key[valid], minlength=size).reshape(len(self.grid), n_codes)
        hit = np.bincount(key[valid & hits], minlength=size).reshape(len(self.grid), n_codes)
        return total, hit

    def window_sums(self, valid: np.ndarray, matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Valid rows per window, and per window the column sums of a boolean (n, m) matrix."""
        pos = self.pos[valid]
        rows = matrix[valid]
        if len(pos) > 1 and np.any(pos[1:] < pos[:-1]):
            order = np.argsort(pos, kind="stable")
            pos, rows = pos[order], rows[order]
        total = np.bincount(pos, minlength=len(self.grid))
        sums = np.zeros((len(self.grid), matrix.shape[1]), np.int64)
        present = np.flatnonzero(total)
        if len(present):
            starts = np.concatenate([[0], np.cumsum(total)[:-1]])[present]
            sums[present] = np.add.reduceat(rows.astype(np.int32), starts, axis=0)
        return total, sums

    def requests(self) -> list:
        out = []
        for w, n in enumerate(self.n):
            note = "" if n else "no requests in this window"
            breach = n < self.s.min_requests
            row = self.row(w, "requests", "all", int(n), float(n), None, float(self.s.min_requests), None, note=note)
            row[COLUMNS.index("breach")] = bool(breach)
            out.append(row)
        return out

    def rules_metrics(self) -> list:
        rules = self.log.systems.get("rules")
        if rules is None or rules.votes is None:
            return []
        L = rules.votes
        valid = rules.ok
        total, voted = self.window_sums(valid, L >= 0)
        out = []
        for j, name in enumerate(self.log.meta.lf_names):
            ref = self.ref.lf_coverage.get(name)
            out += self.rate_rows("lf_coverage", name, total, voted[:, j], ref,
                                  also=self.ref.test_rates.get(f"lf:{name}"), **self._ref_sizes())
        total, hit = self.counts(valid, conflicts(L))
        out += self.rate_rows("lf_conflict_rate", "all", total[:, 0], hit[:, 0], self.ref.conflict_rate,
                              also=self.ref.test_rates.get("conflict"), **self._ref_sizes())
        total, hit = self.counts(valid, np.any(L >= 0, axis=1))
        out += self.rate_rows("rules_coverage", "all", total[:, 0], hit[:, 0], self.ref.any_coverage,
                              also=self.ref.test_rates.get("any"), **self._ref_sizes())
        return out

    def _ref_sizes(self) -> dict:
        """Rows behind the train rates and the test rates (the `also` of rate_rows)."""
        return {"n_ref": self.ref.n_train or None, "n_also": self.ref.n_test or None}

    def rate_rows(self, metric: str, subject: str, total, hit, ref: float | None, *, upper_only: float | None = None,
                  also: float | None = None, n_ref: int | None = None, n_also: int | None = None):
        """One row per window with rows; the band is around `ref` (widened to cover `also` as well);
        `n_ref`/`n_also`: the rows those reference rates were measured on (their own sampling error)."""
        out = []
        band = {"z": self.s.z, "relative": self.s.relative, "absolute": self.s.absolute}
        for w in range(len(self.grid)):
            n = int(total[w])
            if n == 0:
                continue
            value = hit[w] / n
            lower = upper = None
            if upper_only is not None:
                upper = upper_only
            elif ref is not None:
                lower, upper = rate_band(ref, n, n_ref=n_ref, **band)
                if also is not None:
                    low2, up2 = rate_band(also, n, n_ref=n_also, **band)
                    lower, upper = min(lower, low2), max(upper, up2)
            out.append(self.row(w, metric, subject, n, value, ref, lower, upper, wilson(hit[w], n)))
        return out

    def output_drift(self, system: str, pred: np.ndarray, valid: np.ndarray) -> list:
        ref = self.ref.class_dist.get(system)
        if ref is None:
            return []
        k = len(self.ref.classes)
        key = self.pos * k + np.clip(pred, 0, k - 1)
        counts = np.bincount(key[valid], minlength=len(self.grid) * k).reshape(len(self.grid), k)
        out = []
        for w in range(len(self.grid)):
            n = int(counts[w].sum())
            if n == 0:
                continue
            upper = max(self.s.js_max, js_noise_threshold(ref, n))
            out.append(self.row(w, "output_drift", system, n, js_distance(counts[w], ref), 0.0, None, upper))
        return out

    def disagreement(self, metric: str, other: np.ndarray, refs: dict, fixed: float | None,
                     sizes: dict | None = None) -> list:
        """Disagreement with the primary overall and per slice value, against `refs` (rates on the gold
        test rows, measured on `sizes` rows) or, without them, against the fixed upper limit `fixed`."""
        sizes = sizes or {}
        valid = other >= 0
        differ = other != self.log.pred
        total, hit = self.counts(valid, differ)
        out = self.rate_rows(metric, "overall", total[:, 0], hit[:, 0], refs.get("overall"), upper_only=fixed,
                             n_ref=sizes.get("overall"))
        for column in self.log.meta.slice_columns:
            cat = self.log.slices[column]
            codes = cat.cat.codes.to_numpy().astype(np.int64)
            names = list(cat.cat.categories)
            total, hit = self.counts(valid, differ, codes, max(1, len(names)))
            for c, value in enumerate(names):
                subject = f"{column}={value}"
                ref, n_ref = refs.get(subject), sizes.get(subject)
                if fixed is None and ref is None:  # a slice the test rows never had: judged against overall
                    ref, n_ref = refs.get("overall"), sizes.get("overall")
                out += self.rate_rows(metric, subject, total[:, c], hit[:, c], ref, upper_only=fixed, n_ref=n_ref)
        return out

    def estimated_accuracy(self) -> list:
        """CBPE's estimate (the end model's confidence mapped to correctness on gold test) per window. It
        assumes what makes a row hard is unchanged; when the class shares move instead (label shift),
        correctness at a given confidence moves with them. The interval therefore spans CBPE's and the
        label-shift estimate's (BBSE, drift.label_shift_accuracy): where the two assumptions agree it is
        narrow, where they part it says the accuracy is not known from the inputs alone."""
        if self.ref.calibration is None or self.ref.test_accuracy is None or not len(self.log):
            return []
        p = self.ref.calibrated(self.log.confidence)
        assert p is not None  # the reference has a calibration
        sums = np.bincount(self.pos, weights=p, minlength=len(self.grid))
        var = np.bincount(self.pos, weights=p * (1 - p), minlength=len(self.grid))
        base = self.ref.test_accuracy
        ref_var = base * (1 - base) / max(self.ref.n_test, 1)
        k = len(self.ref.classes)
        predicted = np.bincount(self.pos * k + np.clip(self.log.pred, 0, k - 1),
                                minlength=len(self.grid) * k).reshape(len(self.grid), k)
        out = []
        for w in range(len(self.grid)):
            n = int(self.n[w])
            if n == 0:
                continue
            value = sums[w] / n
            se = np.sqrt(var[w] / n**2 + ref_var)
            low, high = max(0.0, value - ALPHA_Z * se), min(1.0, value + ALPHA_Z * se)
            note = ""
            shifted = None if self.ref.confusion is None else label_shift_accuracy(self.ref.confusion, predicted[w],
                                                                                   seed=w)
            if shifted is not None:
                low, high = min(low, shifted[1]), max(high, shifted[2])
                note = (f"if the class shares moved (label shift): {shifted[0]:.3f} "
                        f"{interval_text(shifted[1:], '.3f', percent=False)}")
            out.append(self.row(w, "estimated_accuracy", "end_model", n, value, base, base - self.s.accuracy_drop,
                                None, (low, high), note=note))
        return out

    def real_accuracy(self, labels: np.ndarray) -> list:
        valid = labels >= 0
        total, hit = self.counts(valid, labels == self.log.pred)
        base = self.ref.test_accuracy
        out = []
        for w in range(len(self.grid)):
            n = int(total[w, 0])
            if n == 0:
                continue
            lower = None if base is None else base - self.s.accuracy_drop
            out.append(self.row(w, "accuracy", "end_model", n, hit[w, 0] / n, base, lower, None,
                                wilson(hit[w, 0], n), note="labelled rows joined by request id"))
        return out


def _num(value):
    if value is None:
        return None
    value = float(value)
    return None if np.isnan(value) else round(value, 6)
