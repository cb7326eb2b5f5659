"""Score against speed: the Pareto front and its plot."""

from __future__ import annotations

import numpy as np


def pareto_front(points: list[dict]) -> list[dict]:
    """Points not dominated in (score, fps), both higher-is-better, sorted by fps."""
    pts = [p for p in points if np.isfinite(p.get("score", np.nan)) and p.get("fps", 0) > 0]
    front = [p for p in pts if not any(
        q["score"] >= p["score"] and q["fps"] >= p["fps"] and (q["score"] > p["score"] or q["fps"] > p["fps"])
        for q in pts)]
    return sorted(front, key=lambda p: p["fps"])


def pareto_plot(points: list[dict], out_png, title: str = "", *, metric: str = "score") -> list[dict]:
    """Scatter of score against FPS (log x) with the Pareto front drawn and
    every point labelled with its ``model``; writes ``out_png`` and returns the front."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    front = pareto_front(points)
    fig, ax = plt.subplots(figsize=(6.4, 4.4), dpi=120)
    try:
        usable = [p for p in points if np.isfinite(p.get("score", np.nan)) and p.get("fps", 0) > 0]
        ax.scatter([p["fps"] for p in usable], [p["score"] for p in usable], color="tab:blue", zorder=3)
        for p in usable:
            ax.annotate(str(p.get("model", "?")), (p["fps"], p["score"]), textcoords="offset points",
                        xytext=(4, 4), fontsize=8)
        if front:
            ax.plot([p["fps"] for p in front], [p["score"] for p in front], "--",
                    color="tab:red", label="Pareto front", zorder=2)
            ax.legend(loc="best", fontsize=8)
        ax.set_xscale("log")
        ax.set_xlabel("frames per second (batch 1, this machine)")
        ax.set_ylabel(metric)
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
        fig.tight_layout()
        fig.savefig(out_png)
    finally:
        plt.close(fig)
    return front
