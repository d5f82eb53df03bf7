"""Small PNG charts for the HTML report, returned base64-encoded.

matplotlib is imported lazily and used through its object API with the Agg canvas (no pyplot
global state); math text is switched off so `$` in LF names or slice values prints as-is.
"""
from __future__ import annotations

import base64
import io

DPI = 90
WIDTH = 8.0
BASELINE_COLOR = "#8c959f"
MODEL_COLOR = "#0969da"
OTHER_COLORS = ("#bf8700", "#1a7f37", "#8250df", "#cf222e", "#6e7781")
FLAG_COLOR = "#cf222e"
MAX_BARS = 40
MAX_LABEL = 42


def render_plot(kind: str, data) -> str | None:
    """Base64 PNG of plot `kind`, or None when there is nothing to draw."""
    draw = PLOTS.get(kind)
    if draw is None:
        return None
    import matplotlib

    with matplotlib.rc_context({"text.parse_math": False, "font.size": 10, "axes.spines.top": False,
                                "axes.spines.right": False}):
        figure = draw(data)
        if figure is None:
            return None
        return _encode(figure)


def _new_figure(height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(WIDTH, max(1.8, height)), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _encode(figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _colors(names: list[str], baseline: str = "rule_baseline", model: str = "end_model") -> dict:
    others = iter(OTHER_COLORS * 4)
    return {n: BASELINE_COLOR if n == baseline else MODEL_COLOR if n == model else next(others) for n in names}


def _label(text: str) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= MAX_LABEL else text[: MAX_LABEL - 1] + "…"


def headline_plot(data: dict):
    systems = data["systems"]  # name -> labelkit.results.SystemScores
    names = list(systems)
    colors = _colors(names)
    figure = _new_figure(0.5 * len(names) + 1.0)
    axes = figure.subplots(1, 2, sharey=True)
    for ax, metric, title in zip(axes, ("accuracy", "macro_f1"), ("accuracy", "macro F1")):
        values = [getattr(systems[n], metric) or 0.0 for n in names]
        errors = [_error(getattr(systems[n], metric), getattr(systems[n], f"{metric}_ci")) for n in names]
        ax.barh(range(len(names)), values, color=[colors[n] for n in names],
                xerr=list(zip(*errors)) if errors else None, capsize=4)
        for y, value in enumerate(values):
            ax.text(0.01, y, f"{100 * value:.1f}%", va="center", color="white", fontweight="bold")
        ax.set_xlim(0, 1)
        ax.set_title(title)
        ax.invert_yaxis()
    axes[0].set_yticks(range(len(names)), [_label(n) for n in names])
    return figure


def _error(value, ci) -> tuple[float, float]:
    if value is None or not ci:
        return (0.0, 0.0)
    return (max(0.0, value - ci[0]), max(0.0, ci[1] - value))


def confusion_plot(data: dict):
    """All systems side by side; cells coloured by share of the gold row, annotated with counts."""
    import numpy as np

    classes = [_label(c) for c in data["classes"]]
    matrices = data["matrices"]
    k = len(classes)
    if k == 0 or k > 30 or not matrices:
        return None
    long_names = max(len(c) for c in classes) > 8 or k > 4
    figure = _new_figure(min(8.0, 2.4 + 0.4 * k + (1.5 if long_names else 0)))
    axes = np.atleast_1d(figure.subplots(1, len(matrices), sharey=True))
    for ax, (name, matrix) in zip(axes, matrices.items()):
        matrix = np.asarray(matrix, dtype=float)
        rows = matrix.sum(axis=1, keepdims=True)
        share = np.divide(matrix, rows, out=np.zeros_like(matrix), where=rows > 0)
        ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
        if k <= 12:
            for i in range(k):
                for j in range(k):
                    ax.text(j, i, f"{int(matrix[i, j])}", ha="center", va="center", fontsize=9,
                            color="white" if share[i, j] > 0.6 else "#1f2328")
        ax.set_xticks(range(k), classes, rotation=35 if long_names else 0, ha="right" if long_names else "center")
        ax.set_title(_label(name))
        ax.set_xlabel("predicted")
    axes[0].set_yticks(range(k), classes)
    axes[0].set_ylabel("gold")
    return figure


def slices_plot(data: dict):
    slices = data["slices"][:MAX_BARS]  # labelkit.results.SliceScores
    if not slices:
        return None
    flagged = {tuple(key) for key in data.get("flagged", [])}
    baseline, model = data.get("baseline", "rule_baseline"), data.get("model", "end_model")
    # the guardrail compares rules and model: the trivial baselines would only crowd the chart
    names = [n for n in slices[0].scores if n in (baseline, "label_model", model)] or list(slices[0].scores)
    colors = _colors(names, baseline, model)
    figure = _new_figure(0.32 * len(slices) + 1.3)
    ax = figure.subplots()
    offsets = {n: (i - (len(names) - 1) / 2) * 0.25 for i, n in enumerate(names)}
    for name in names:
        ys = [y + offsets[name] for y in range(len(slices))]
        xs = [s.scores.get(name) for s in slices]
        lows = [x - s.ci.get(name, [x, x])[0] for x, s in zip(xs, slices)]
        highs = [s.ci.get(name, [x, x])[1] - x for x, s in zip(xs, slices)]
        ax.errorbar(xs, ys, xerr=[lows, highs], fmt="o", color=colors[name], label=_label(name),
                    markersize=5, capsize=2, linewidth=1)
    labels = [_label(f"{s.column} = {s.value} (n={s.size})") for s in slices]
    ax.set_yticks(range(len(slices)), labels)
    for tick, s in zip(ax.get_yticklabels(), slices):
        if (s.column, s.value) in flagged:
            tick.set_color(FLAG_COLOR)
            tick.set_fontweight("bold")
    ax.invert_yaxis()
    lowest = min(s.ci.get(n, [s.scores[n]])[0] for s in slices for n in names)
    ax.set_xlim(max(0.0, lowest - 0.05), 1.01)
    ax.set_xlabel(f"{data.get('metric', 'accuracy')} with 95% interval (red label: guardrail failure)")
    ax.grid(axis="x", alpha=0.3)
    figure.legend(loc="outside upper center", ncols=len(names), fontsize=9, frameon=False)
    return figure


def lfs_plot(data: dict):
    lfs = data["lfs"][:MAX_BARS]  # labelkit.results.LFStats
    if not lfs:
        return None
    figure = _new_figure(0.3 * len(lfs) + 1.2)
    axes = figure.subplots(1, 2, sharey=True)
    names = [_label(lf.name) for lf in lfs]
    for ax, key, title, color in ((axes[0], "coverage", "coverage (train)", "#57606a"),
                                  (axes[1], "dev_accuracy", "accuracy on dev", MODEL_COLOR)):
        values = [getattr(lf, key) or 0.0 for lf in lfs]
        ax.barh(range(len(lfs)), values, color=color)
        for y, lf in enumerate(lfs):
            if getattr(lf, key) is None:
                ax.text(0.01, y, "no dev votes", va="center", fontsize=8, color="#57606a")
        ax.set_xlim(0, 1)
        ax.set_title(title)
        ax.grid(axis="x", alpha=0.3)
    axes[0].set_yticks(range(len(lfs)), names)
    axes[0].invert_yaxis()
    return figure


CALIBRATION_MIN_ROWS = 10


def calibration_plot(data):
    """`data`: labelkit.results.Calibration."""
    confidence, accuracy = data.confidence, data.accuracy
    counts = data.count or [CALIBRATION_MIN_ROWS] * len(confidence)
    # a bin of 1 or 2 rows says nothing about calibration; they stay in the table below the chart
    points = [(c, a) for c, a, n in zip(confidence, accuracy, counts)
              if c is not None and a is not None and n >= CALIBRATION_MIN_ROWS]
    if not points:
        return None
    figure = _new_figure(3.6)
    figure.set_size_inches(5.2, 3.8)
    ax = figure.subplots()
    ax.plot([0, 1], [0, 1], linestyle="--", color=BASELINE_COLOR, label="perfectly calibrated")
    ax.plot(*zip(*points), marker="o", color=MODEL_COLOR, label=f"label model (bins of >= {CALIBRATION_MIN_ROWS} rows)")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("mean predicted confidence")
    ax.set_ylabel("accuracy on dev")
    ax.legend(loc="upper left", fontsize=9)
    return figure


def drift_plot(data):
    """`data`: labelkit.results.Drift."""
    periods = data.periods
    if len(periods) < 2:
        return None
    model = data.model
    names = [n for n in periods[0].systems if n in ("rule_baseline", "label_model", model)] or list(periods[0].systems)
    colors = _colors(names, model=model)
    figure = _new_figure(3.4)
    ax = figure.subplots()
    xs = range(len(periods))
    for name in names:
        ax.plot(xs, [p.systems[name].accuracy for p in periods], marker="o", color=colors[name],
                label=_label(name))
    ax.set_xticks(list(xs), [f"{_label(p.period)}\nn={p.n}" for p in periods],
                  rotation=0 if len(periods) <= 8 else 45, fontsize=9)
    ax.set_ylim(0, 1.02)
    ax.set_ylabel("accuracy")
    ax.grid(axis="y", alpha=0.3)
    figure.legend(loc="outside upper center", ncols=len(names), fontsize=9, frameon=False)
    return figure


PLOTS = {
    "headline": headline_plot,
    "confusion": confusion_plot,
    "slices": slices_plot,
    "lfs": lfs_plot,
    "calibration": calibration_plot,
    "drift": drift_plot,
}
