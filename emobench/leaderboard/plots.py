"""The leaderboard's pictures: accuracy against speed (Pareto, drawn as a step),
row-normalised confusion matrices and online earliness-accuracy curves. Every file is written to a temporary
name and renamed, and a title says "synthetic" when its rows are."""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path

import numpy as np

PREFIXES = ("pareto-", "confusion-", "online-")  # the PNGs the leaderboard owns in its folder


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=".png", dir=path.parent)
    os.close(fd)
    try:
        fig.savefig(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _title(t, what: str) -> str:
    return f"{'SYNTHETIC stand-in: ' if t.synthetic else ''}{t.title}\n{what}"


def pareto_front(points: list[dict], greater_is_better: bool) -> list[dict]:
    """Points no other point beats in both score and FPS, sorted by FPS."""
    sign = 1 if greater_is_better else -1
    front = [p for p in points if not any(
        sign * q["score"] >= sign * p["score"] and q["fps"] >= p["fps"]
        and (sign * q["score"] > sign * p["score"] or q["fps"] > p["fps"]) for q in points)]
    return sorted(front, key=lambda p: p["fps"])


def pareto(t, points: list[dict], path: Path) -> Path:
    """Score against FPS for every entry with a latency; the front as a step."""
    plt = _plt()
    front = pareto_front(points, t.greater_is_better)
    fig, ax = plt.subplots(figsize=(6.4, 4.4), dpi=110)
    try:
        ax.scatter([p["fps"] for p in points], [p["score"] for p in points], zorder=3)
        for p in points:
            ax.annotate(p["model"], (p["fps"], p["score"]), textcoords="offset points",
                        xytext=(4, 4), fontsize=8)
        if front:
            # from the fastest point leftwards, the best score reachable at >= that speed
            xs = [p["fps"] for p in front]
            ys = [p["score"] for p in front]
            ax.step(xs, ys, where="pre", color="tab:red",
                    linestyle="--", label="Pareto front", zorder=2)
            ax.legend(loc="best", fontsize=8)
        ax.set_xscale("log")
        ax.set_xlabel("frames per second (batch 1, profiling machine)")
        ax.set_ylabel(t.metric + ("" if t.greater_is_better else " (lower is better)"))
        ax.set_title(_title(t, f"{t.metric} vs FPS"), fontsize=9)
        ax.grid(True, which="both", alpha=0.3)
        fig.tight_layout()
        _save(fig, path)
    finally:
        plt.close(fig)
    return path


def row_normalised_confusion(y_true, y_pred, labels) -> np.ndarray:
    """Confusion counts (rows: truth, columns: prediction) divided by each row's
    total; a class absent from the truth gives a row of nan."""
    idx = {v: i for i, v in enumerate(labels)}
    cm = np.zeros((len(labels), len(labels)))
    for a, b in zip(y_true, y_pred):
        if a in idx and b in idx:
            cm[idx[a], idx[b]] += 1
    with np.errstate(invalid="ignore", divide="ignore"):
        return cm / cm.sum(axis=1, keepdims=True)


def confusion(t, path: Path, class_names: tuple[str, ...] = ()) -> Path | None:
    """One panel per entry; an entry with several seeds sums their counts."""
    entries = [e for e in t.entries if e.y_true.size]
    if not entries:
        return None
    labels = np.unique(np.concatenate([entries[0].y_true] + [e.y_pred.ravel() for e in entries]))
    names = [class_names[int(v)] if class_names and float(v).is_integer() and 0 <= int(v) < len(class_names)
             else f"{v:g}" for v in labels]
    plt = _plt()
    n = len(entries)
    cols = min(n, 3)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.4 * cols, 3.2 * rows + 0.6), dpi=100, squeeze=False)
    try:
        for ax in axes.ravel()[n:]:
            ax.axis("off")
        for ax, e in zip(axes.ravel(), entries):
            yt = np.tile(e.y_true, e.y_pred.shape[0])
            cm = row_normalised_confusion(yt, e.y_pred.ravel(), list(labels))
            ax.imshow(np.nan_to_num(cm), vmin=0, vmax=1, cmap="Blues")
            for i in range(len(labels)):
                for j in range(len(labels)):
                    if np.isfinite(cm[i, j]):
                        ax.text(j, i, f"{cm[i, j]:.2f}", ha="center", va="center", fontsize=7,
                                color="white" if cm[i, j] > 0.5 else "black")
            ax.set_xticks(range(len(labels)), names, rotation=45, fontsize=7)
            ax.set_yticks(range(len(labels)), names, fontsize=7)
            ax.set_title(e.model, fontsize=8)
            ax.set_xlabel("predicted", fontsize=7)
            ax.set_ylabel("true", fontsize=7)
        fig.suptitle(_title(t, "confusion matrices, rows normalised (recall per true class)"),
                     fontsize=9)
        fig.tight_layout()
        _save(fig, path)
    finally:
        plt.close(fig)
    return path


def online_curves(t, curves, path: Path) -> Path:
    """Primary metric against the observed fraction of the clip, one line per
    entry (``curves``: objects with model, fractions, primary, auc and
    decision_fraction); a deciding model's mean decision time is a dashed line."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.4, 4.4), dpi=110)
    try:
        for c in curves:
            line, = ax.plot([0.0, *c.fractions], [0.0, *c.primary], marker="o", ms=3,
                            label=f"{c.model} (AUC {c.auc:.3f})")
            if c.decision_fraction is not None:
                ax.axvline(c.decision_fraction, color=line.get_color(), ls="--", lw=0.9)
        ref = (t.reference or {}).get(t.metric)
        if ref is not None and math.isfinite(float(ref)):
            ax.axhline(float(ref), color="grey", ls=":", lw=0.8, label="stand-in oracle")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("observed fraction of the clip (dashed: mean decision time)")
        ax.set_ylabel(t.metric)
        ax.set_title(_title(t, f"online early classification: {t.metric} vs observed fraction"),
                     fontsize=9)
        ax.grid(True, alpha=0.3)
        ax.legend(loc="best", fontsize=7)
        fig.tight_layout()
        _save(fig, path)
    finally:
        plt.close(fig)
    return path


def remove_stale(out: Path, keep: set[str]) -> list[Path]:
    """Delete the leaderboard's own PNGs in ``out`` that this rendering did not write."""
    gone = []
    for p in out.glob("*.png"):
        if p.name.startswith(PREFIXES) and p.name not in keep:
            p.unlink(missing_ok=True)
            gone.append(p)
    return gone
