"""PNG pictures of a model's efficacy (matplotlib, headless): precision-recall curve, score
distributions by class, recall per attack category. Returned as PNG bytes."""

from __future__ import annotations

import io

import numpy as np


def _png(figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    return buffer.getvalue()


def _figure(width: float = 5.0, height: float = 3.4):
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height))
    return figure, figure.add_subplot()


def precision_recall_png(y: np.ndarray, scores: np.ndarray, threshold: float) -> bytes:
    from sklearn.metrics import precision_recall_curve

    precision, recall, cuts = precision_recall_curve(y, scores)
    figure, axes = _figure()
    axes.plot(recall, precision, color="#1f77b4")
    if len(cuts):
        at = int(np.clip(np.searchsorted(cuts, threshold), 0, len(cuts) - 1))
        axes.scatter(
            [recall[at]],
            [precision[at]],
            color="#d62728",
            zorder=3,
            label=f"threshold {threshold:.3g}",
        )
        axes.legend(loc="lower left")
    axes.set(
        xlabel="recall",
        ylabel="precision",
        title="Precision-recall (test window)",
        xlim=(0, 1.01),
        ylim=(0, 1.01),
    )
    return _png(figure)


def score_distribution_png(y: np.ndarray, scores: np.ndarray, threshold: float) -> bytes:
    figure, axes = _figure()
    bins = [i / 40 for i in range(41)]
    axes.hist(scores[y == 0], bins=bins, alpha=0.6, label="safe", color="#2ca02c", log=True)
    axes.hist(scores[y == 1], bins=bins, alpha=0.6, label="attack", color="#d62728", log=True)
    axes.axvline(threshold, color="black", linestyle="--", label="threshold")
    axes.set(xlabel="score", ylabel="messages (log)", title="Scores by class (test window)")
    axes.legend()
    return _png(figure)


def category_recall_png(recall: dict[str, float], floors: dict[str, float]) -> bytes:
    figure, axes = _figure(5.5, 3.4)
    names = sorted(recall)
    values = [recall[n] for n in names]
    colours = ["#d62728" if recall[n] < floors.get(n, 0.0) else "#1f77b4" for n in names]
    axes.barh(names, values, color=colours)
    for index, name in enumerate(names):
        if name in floors:
            axes.plot([floors[name]] * 2, [index - 0.4, index + 0.4], color="black")
    axes.set(
        xlim=(0, 1.0),
        xlabel="recall at threshold (black: floor)",
        title="Recall per attack category",
    )
    return _png(figure)
