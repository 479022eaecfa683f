"""Learning curves: saved as data (JSON) and as a picture (PNG)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

__all__ = ["save_learning_curve"]


def save_learning_curve(
    curve: Sequence[dict[str, float]],
    path_png: str | Path,
    path_json: str | Path,
    *,
    threshold: float | None = None,
    title: str = "DQN learning curve",
) -> None:
    """Write the evaluation curve of :func:`alamp.rl.train_dqn` as JSON and as a PNG plot.

    Args:
        curve: ``TrainResult.curve`` (dicts with at least ``step``, ``eval_mean`` and ``eval_std``).
        path_png: Where the plot goes.
        path_json: Where the data goes.
        threshold: Drawn as a dashed line when given.
        title: Plot title.
    """
    import matplotlib

    matplotlib.use("Agg")  # headless: runs happen on machines without a display
    import matplotlib.pyplot as plt

    path_png, path_json = Path(path_png), Path(path_json)
    path_json.parent.mkdir(parents=True, exist_ok=True)
    path_png.parent.mkdir(parents=True, exist_ok=True)
    path_json.write_text(json.dumps(list(curve), indent=1) + "\n")

    steps = [row["step"] for row in curve]
    means = [row["eval_mean"] for row in curve]
    stds = [row.get("eval_std", 0.0) for row in curve]
    figure, axis = plt.subplots(figsize=(6, 3.5))
    axis.plot(steps, means, marker="o", markersize=3, label="greedy evaluation mean")
    axis.fill_between(steps, [m - s for m, s in zip(means, stds, strict=True)],
                      [m + s for m, s in zip(means, stds, strict=True)], alpha=0.2, label="± std")
    if threshold is not None:
        axis.axhline(threshold, linestyle="--", color="grey", label=f"threshold {threshold:g}")
    axis.set_xlabel("environment steps")
    axis.set_ylabel("episode return")
    axis.set_title(title)
    axis.legend(loc="best", fontsize="small")
    figure.tight_layout()
    figure.savefig(path_png, dpi=100)
    plt.close(figure)
