"""The AVEC post-processing chain of Tiny EmotioNet, learnt on validation.

Steps, in order, each kept only if it raises the validation score: a median
filter, centring (add mu_gold - mu_pred), scaling (by sd_gold / sd_pred about
the prediction mean) and a time shift (edge-filled). Centring and scaling fold
into one affine map ``a * p + b``, so the chain stays pointwise except for the
median (non-causal, ``nearest`` edges) and the shift; the streaming version in
``tiny_emotionet.py`` reproduces it exactly.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Callable, Sequence

import numpy as np
from scipy.ndimage import median_filter

# Median windows in label steps. The original searched (k+1)*100/3 steps;
# emobench keeps those two first values (33, 67) and adds shorter ones that
# suit 10 Hz labels (emobench reconstruction).
MEDIAN_WINDOWS = (3, 5, 9, 17, 33, 67)
SHIFT_RANGE, SHIFT_STEP = 200, 4


def shift_edge(p: np.ndarray, s: int) -> np.ndarray:
    """out[j] = p[clip(j - s)]: positive s delays the sequence, edges repeat."""
    if s == 0 or len(p) == 0:
        return p
    idx = np.clip(np.arange(len(p)) - s, 0, len(p) - 1)
    return p[idx]


@dataclass
class PostProcess:
    median: int = 0      # odd window in label steps; 0 = off
    a: float = 1.0       # affine map from centring and scaling
    b: float = 0.0
    shift: int = 0       # steps; positive delays the predictions

    def apply(self, p: np.ndarray) -> np.ndarray:
        p = np.asarray(p, dtype=np.float64)
        if self.median > 1 and len(p):
            p = median_filter(p, size=self.median, mode="nearest")
        p = self.a * p + self.b
        return shift_edge(p, self.shift)

    def to_dict(self) -> dict:
        return asdict(self)


def learn_postprocess(preds: Sequence[np.ndarray], golds: Sequence[np.ndarray],
                      score: Callable[[list[np.ndarray]], float]) -> PostProcess:
    """Greedy chain on validation predictions; ``score`` is higher-is-better."""
    pp = PostProcess()
    best = score([pp.apply(p) for p in preds])

    def trial(candidate: PostProcess) -> float:
        return score([candidate.apply(p) for p in preds])

    for w in MEDIAN_WINDOWS:
        cand = PostProcess(median=w)
        val = trial(cand)
        if val > best:
            best, pp = val, cand
    cat_gold = np.concatenate([np.asarray(g, dtype=np.float64) for g in golds])
    cur = np.concatenate([pp.apply(p) for p in preds])
    offset = float(cat_gold.mean() - cur.mean())
    cand = PostProcess(pp.median, pp.a, pp.b + offset, pp.shift)
    val = trial(cand)
    if val > best:
        best, pp = val, cand
    cur = np.concatenate([pp.apply(p) for p in preds])
    sd = float(cur.std())
    if sd > 1e-12:
        ratio = float(cat_gold.std() / sd)
        mu = float(cur.mean())
        # (a p + b - mu) * ratio + mu
        cand = PostProcess(pp.median, pp.a * ratio, (pp.b - mu) * ratio + mu, pp.shift)
        val = trial(cand)
        if val > best:
            best, pp = val, cand
    max_len = max((len(p) for p in preds), default=0)
    limit = min(SHIFT_RANGE, max(0, max_len - 1))
    best_shift = 0
    for s in range(-(limit // SHIFT_STEP) * SHIFT_STEP, limit + 1, SHIFT_STEP):
        if s == 0:
            continue
        val = trial(PostProcess(pp.median, pp.a, pp.b, s))
        if val > best:
            best, best_shift = val, s
    pp.shift = best_shift
    return pp
