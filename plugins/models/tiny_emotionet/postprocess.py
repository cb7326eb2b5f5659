"""The AVEC post-processing chain of Tiny EmotioNet, learnt on validation.

Steps, in order, each kept only if it raises the score of the validation part it
is fitted on: a median filter, centring (add mu_gold - mu_pred), scaling (by
sd_gold / sd_pred about the prediction mean) and a time shift (edge-filled).
The other part of the validation subjects then selects how much of the chain to
keep (none, or a prefix of it), so fitting and selection never share data, and
the tuner scores a post-processed trial on cross-fitted predictions (each part
post-processed by a chain learnt on the other part alone). Centring and scaling fold
into one affine map ``a * p + b``, so the chain stays pointwise except for the
median (non-causal, ``nearest`` edges) and the shift; the streaming version in
``tiny_emotionet.py`` reproduces it exactly.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Callable, Sequence

import numpy as np

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
        from scipy.ndimage import median_filter
        p = np.asarray(p, dtype=np.float64)
        if self.median > 1 and len(p):
            p = median_filter(p, size=self.median, mode="nearest")
        p = self.a * p + self.b
        return shift_edge(p, self.shift)

    def to_dict(self) -> dict:
        return asdict(self)


def split_parts(groups: Sequence, seed: int = 0) -> tuple[list[int], list[int]]:
    """Indices of the validation sequences the chain is fitted on and those it is
    selected on: half of the subjects (``groups``) each, shuffled by ``seed``;
    with one subject, half of its sequences each. Empty parts with fewer than two
    sequences (then no post-processing can be chosen honestly)."""
    n = len(groups)
    if n < 2:
        return [], []
    rng = np.random.default_rng(seed)
    subjects = sorted(set(groups), key=str)
    if len(subjects) >= 2:
        order = [subjects[i] for i in rng.permutation(len(subjects))]
        fit_subjects = set(order[:len(order) // 2])
        fit = [i for i in range(n) if groups[i] in fit_subjects]
    else:
        fit = sorted(int(i) for i in rng.permutation(n)[:n // 2])
    return fit, [i for i in range(n) if i not in set(fit)]


def learn_postprocess(preds: Sequence[np.ndarray], golds: Sequence[np.ndarray],
                      score: Callable[[list[int], list[np.ndarray]], float],
                      groups: Sequence | None = None, seed: int = 0) -> PostProcess:
    """Fit the chain on one part of the validation sequences, select on the other.

    ``score(indices, predictions)`` is higher-is-better on the validation
    sequences ``indices``. The greedy chain (median, centring, scaling, shift)
    is fitted on the first part of :func:`split_parts`; on the second part the
    best of no post-processing and each prefix of the fitted chain is kept.
    Both parts have then shaped the chain, so a score of it on either part is
    in-sample: :func:`cross_fitted` gives the honest validation predictions."""
    fit, select = split_parts(list(groups) if groups is not None else list(range(len(preds))), seed)
    if not fit or not select:
        return PostProcess()
    chain = _fit_chain([preds[i] for i in fit], [golds[i] for i in fit],
                       lambda ps: score(fit, ps))
    steps = [PostProcess(),
             PostProcess(chain.median),
             PostProcess(chain.median, 1.0, chain.b_centre),
             PostProcess(chain.median, chain.a, chain.b),
             PostProcess(chain.median, chain.a, chain.b, chain.shift)]
    sel = [preds[i] for i in select]
    best, best_val = steps[0], score(select, sel)
    for cand in steps[1:]:
        val = score(select, [cand.apply(p) for p in sel])
        if val > best_val + 1e-12:
            best, best_val = cand, val
    return best


def cross_fitted(preds: Sequence[np.ndarray], golds: Sequence[np.ndarray],
                 score: Callable[[list[int], list[np.ndarray]], float],
                 groups: Sequence | None = None, seed: int = 0) -> list[np.ndarray]:
    """The validation predictions post-processed by chains that never saw them.

    With the two parts of :func:`split_parts`, every sequence of one part is
    post-processed by the chain that :func:`learn_postprocess` learns on the
    other part alone (fitted on half of it, selected on the rest), so a score of
    the result is an out-of-sample estimate of what learning the chain on half
    of the validation subjects gains, comparable with the unprocessed score on
    the same sequences. The tuner ranks a post-processed trial by this (a score
    of the final chain on validation would favour post-processing). A part too
    small to learn a chain leaves the other part unprocessed."""
    groups = list(groups) if groups is not None else list(range(len(preds)))
    out = [np.asarray(p, dtype=np.float64) for p in preds]
    first, second = split_parts(groups, seed)
    for learn_on, apply_to in ((first, second), (second, first)):
        if not learn_on:
            continue
        pp = learn_postprocess([preds[i] for i in learn_on], [golds[i] for i in learn_on],
                               lambda idx, ps, m=learn_on: score([m[i] for i in idx], ps),
                               [groups[i] for i in learn_on], seed)
        for i in apply_to:
            out[i] = pp.apply(preds[i])
    return out


@dataclass
class _Chain:
    median: int = 0
    b_centre: float = 0.0
    a: float = 1.0
    b: float = 0.0
    shift: int = 0


def _fit_chain(preds: Sequence[np.ndarray], golds: Sequence[np.ndarray],
               score: Callable[[list[np.ndarray]], float]) -> _Chain:
    """Greedy chain on the fitting part; each step kept if it raises its score."""
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
    b_centre = pp.b
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
    return _Chain(pp.median, b_centre, pp.a, pp.b, best_shift)
