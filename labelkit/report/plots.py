"""Small PNG charts for the HTML report, returned base64-encoded.

matplotlib is imported lazily and used through its object API with the Agg canvas (no pyplot
global state); math text is switched off so `$` in LF names or slice values prints as-is.

Charts of named rows (systems, slices, LFs) draw them top to bottom in the order of the table beside
them, on a 0-100% axis; the PNG's "Description" text says that order as drawn ("y, top to bottom:
a | b | c"), so a test can compare it with the table. Colours: the model blue, the rules dark grey,
the label model purple, trivial baselines light grey; red only marks a failed guardrail.
"""
from __future__ import annotations

import base64
import io

DPI = 90
WIDTH = 8.0
BASELINE_COLOR = "#6e7781"
MODEL_COLOR = "#0969da"
LABEL_MODEL_COLOR = "#8250df"
TRIVIAL_COLOR = "#c4cbd2"
TRIVIAL = ("majority_class", "stratified_random")
OTHER_COLORS = ("#54aeff", "#bf8700", "#1a7f37", "#9a6700", "#6639ba")  # never red: red marks failures
FLAG_COLOR = "#cf222e"
MAX_BARS = 40
MAX_LABEL = 42
ORDERED = ("headline", "slices", "lfs")  # charts whose y axis lists the rows of the table beside them


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
        return _encode(figure, drawn_order(figure) if kind in ORDERED else None)


def _new_figure(height: float, width: float = WIDTH):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, max(1.8, height)), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _encode(figure, order: list[str] | None = None) -> str:
    buffer = io.BytesIO()
    metadata: dict[str, str | None] = {"Software": None}
    if order is not None:
        metadata["Description"] = "y, top to bottom: " + " | ".join(order)
    figure.savefig(buffer, format="png", dpi=DPI, metadata=metadata)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def drawn_order(figure) -> list[str]:
    """The first axes' y tick labels as drawn, top to bottom (after any axis inversion)."""
    ax = figure.axes[0]
    ticks = [(ax.transData.transform((0, y))[1], label.get_text())
             for y, label in zip(ax.get_yticks(), ax.get_yticklabels())]
    return [text for _, text in sorted(ticks, key=lambda t: -t[0])]


def _percent_axis(axis) -> None:
    from matplotlib.ticker import PercentFormatter

    axis.set_major_formatter(PercentFormatter(1.0, decimals=0))


def _colors(names: list[str], baseline: str = "rule_baseline", model: str = "end_model") -> dict:
    others = iter(OTHER_COLORS * 4)
    fixed = {baseline: BASELINE_COLOR, model: MODEL_COLOR, "label_model": LABEL_MODEL_COLOR,
             **{n: TRIVIAL_COLOR for n in TRIVIAL}}
    return {n: fixed[n] if n in fixed else next(others) for n in names}


def _label(text: str) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= MAX_LABEL else text[: MAX_LABEL - 1] + "…"


def headline_plot(data: dict):
    systems = data["systems"]  # name -> labelkit.results.SystemScores, in the table's order
    names = list(systems)
    colors = _colors(names)
    figure = _new_figure(0.34 * len(names) + 0.9)
    axes = figure.subplots(1, 2, sharey=True)
    for ax, metric, title in zip(axes, ("accuracy", "macro_f1"), ("accuracy", "macro F1")):
        values = [getattr(systems[n], metric) or 0.0 for n in names]
        errors = [_error(getattr(systems[n], metric), getattr(systems[n], f"{metric}_ci")) for n in names]
        ax.barh(range(len(names)), values, color=[colors[n] for n in names], height=0.7,
                xerr=list(zip(*errors)) if errors else None, capsize=3, error_kw={"elinewidth": 1})
        for y, (value, (_, high)) in enumerate(zip(values, errors)):
            ax.text(value + high + 0.015, y, f"{100 * value:.1f}%", va="center", fontsize=9, color="#1f2328")
        ax.set_xlim(0, 1.12)
        ax.set_xticks([0, 0.25, 0.5, 0.75, 1.0])
        _percent_axis(ax.xaxis)
        ax.set_title(title, fontsize=10)
        ax.grid(axis="x", alpha=0.3)
    axes[0].set_yticks(range(len(names)), [_label(n) for n in names])
    axes[0].invert_yaxis()  # once: the axes share y, so inverting both would undo it
    return figure


def _error(value, ci) -> tuple[float, float]:
    if value is None or not ci:
        return (0.0, 0.0)
    return (max(0.0, value - ci[0]), max(0.0, ci[1] - value))


def confusion_plot(data: dict):
    """The key systems side by side; cells coloured by share of the gold row, annotated with counts."""
    import numpy as np

    classes = [_label(c) for c in data["classes"]]
    matrices = data["matrices"]
    k = len(classes)
    if k == 0 or k > 30 or not matrices:
        return None
    long_names = max(len(c) for c in classes) > 8 or k > 4
    label_room = min(1.6, 0.075 * max(len(c) for c in classes)) if long_names else 0.3
    panel = min(2.6, (WIDTH - 0.6 - label_room) / len(matrices))
    figure = _new_figure(panel + 0.6 + label_room, width=min(WIDTH, panel * len(matrices) + label_room + 0.6))
    axes = np.atleast_1d(figure.subplots(1, len(matrices), sharey=True))
    for ax, (name, matrix) in zip(axes, matrices.items()):
        matrix = np.asarray(matrix, dtype=float)
        rows = matrix.sum(axis=1, keepdims=True)
        share = np.divide(matrix, rows, out=np.zeros_like(matrix), where=rows > 0)
        ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
        if k <= 12:
            for i in range(k):
                for j in range(k):
                    ax.text(j, i, f"{int(matrix[i, j])}", ha="center", va="center", fontsize=8 if k > 6 else 9,
                            color="white" if share[i, j] > 0.6 else "#1f2328")
        ax.set_xticks(range(k), classes, rotation=40 if long_names else 0, ha="right" if long_names else "center",
                      fontsize=8.5)
        ax.set_title(_label(name), fontsize=10)
        ax.set_xlabel("predicted", fontsize=9)
        for spine in ax.spines.values():
            spine.set_visible(False)
    axes[0].set_yticks(range(k), classes, fontsize=8.5)
    axes[0].set_ylabel("gold", fontsize=9)
    return figure


def slices_plot(data: dict):
    slices = data["slices"][:MAX_BARS]  # labelkit.results.SliceScores
    if not slices:
        return None
    flagged = {tuple(key) for key in data.get("flagged", [])}
    baseline, model = data.get("baseline", "rule_baseline"), data.get("model", "end_model")
    # the guardrail compares rules and model: the trivial baselines would only crowd the chart
    names = data.get("systems") or [n for n in slices[0].scores if n in (baseline, "label_model", model)] \
        or list(slices[0].scores)
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
    _percent_axis(ax.xaxis)
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
        _percent_axis(ax.xaxis)
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
    many = len(periods) > 8  # then the rows per period are in the table under the chart
    ax.set_xticks(list(xs), [_label(p.period) if many else f"{_label(p.period)}\nn={p.n}" for p in periods],
                  rotation=45 if many else 0, ha="right" if many else "center", fontsize=8 if many else 9)
    ax.set_ylim(0, 1.02)
    _percent_axis(ax.yaxis)
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
