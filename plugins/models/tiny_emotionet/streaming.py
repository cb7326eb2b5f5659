"""Row-by-row inference for the frame-level convolutional models, equal to offline predict."""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

import numpy as np

from emobench.data import Task
from emobench.model import Streamer

from emobench_plugins.models.tiny_emotionet.postprocess import PostProcess

if TYPE_CHECKING:
    from .base import _FrameConvModel


class ConvStreamer(Streamer):
    """Row-by-row inference that equals offline :meth:`predict`.

    The filters are centred (non-causal), so the network output for step t is
    computed once row t + R has arrived (R = right context: 40 for K = 80),
    from the last L + R + 1 rows; before the sequence start the window is cut
    exactly where offline 'same' padding starts, so the values are identical.
    The label-delay shift-back maps output t to label position t + d, which
    for SEWA arousal (d = 40) means the prediction for the newest row is due
    as soon as that row arrives. ``push`` returns the newest prediction that
    became due (``self.position`` is its index) or None; ``flush()`` ends the
    stream and returns the remaining predictions (the last R outputs and any
    post-processing look-ahead), as offline zero padding at the end defines them.
    Label delay: ``spec['label_delay_s']``, else the fitted model's (estimated on validation).
    """

    def __init__(self, model: _FrameConvModel, kind: str, task: Task, **spec):
        super().__init__(model, kind, task, **spec)
        self.left, self.right = model.net_.context
        if "label_delay_s" in spec:
            self.delay = int(round(float(spec["label_delay_s"]) * (task.rate or 10.0)))
        else:
            self.delay = model._delay_steps(None, task)
        self.pp: PostProcess = model.postprocess_
        self.reset()

    def reset(self) -> None:
        self.rows: deque[np.ndarray] = deque(maxlen=self.left + self.right + 1)
        self.n_rows = 0
        self.raw: list[float] = []
        self.a: list[float] = []
        self.c: list[float] = []
        self.out: list[float] = []
        self.position: int | None = None
        self.buffer = []

    def _net_at(self, t: int, final: bool) -> float:
        first_row = self.n_rows - len(self.rows)
        lo = max(0, t - self.left)
        hi = min(self.n_rows, t + self.right + 1)
        window = np.stack(list(self.rows)[lo - first_row:hi - first_row])
        return float(self.model._raw(window.astype(np.float32))[t - lo])

    def _advance(self, final: bool) -> list[float]:
        n, d, pp = self.n_rows, self.delay, self.pp
        limit_raw = n if final else n - self.right
        while len(self.raw) < limit_raw:
            self.raw.append(self._net_at(len(self.raw), final))
        if not self.raw:
            return []
        limit_a = n if final else min(len(self.raw) + d, n)
        while len(self.a) < limit_a:
            j = len(self.a)
            self.a.append(self.raw[min(max(j - d, 0), len(self.raw) - 1)])
        h = pp.median // 2 if pp.median > 1 else 0
        limit_c = len(self.a) if final else max(0, len(self.a) - h)
        while len(self.c) < limit_c:
            j = len(self.c)
            if h:
                idx = np.clip(np.arange(j - h, j + h + 1), 0, len(self.a) - 1)
                v = float(np.median(np.asarray(self.a, dtype=np.float64)[idx]))
            else:
                v = self.a[j]
            self.c.append(pp.a * v + pp.b)
        if not self.c:
            return []
        limit_out = n if final else min(n, len(self.c) + pp.shift)
        fresh = []
        while len(self.out) < limit_out:
            j = len(self.out)
            self.out.append(self.c[min(max(j - pp.shift, 0), len(self.c) - 1)])
            fresh.append(self.out[-1])
        return fresh

    def push(self, x: np.ndarray):
        row = np.nan_to_num(np.asarray(x, dtype=np.float32).reshape(-1))
        self.rows.append(self.model.scaler_(row[None])[0])
        self.n_rows += 1
        fresh = self._advance(final=False)
        if not fresh:
            return None
        self.position = len(self.out) - 1
        return fresh[-1]

    def flush(self) -> list[float]:
        fresh = self._advance(final=True)
        self.position = len(self.out) - 1 if self.out else None
        return fresh


