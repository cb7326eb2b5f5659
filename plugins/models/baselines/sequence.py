"""Honest learned baselines over sequences and face frames.

* ``sequence-rnn``: a GRU or LSTM (``cell``) over a series modality. Frame-level
  tasks get one output per step (trained on chunks, predicted on the whole
  sequence); clip-level tasks pool the states (mean over valid steps, or the
  last state) into one output. Long clip-level series are block-averaged to
  at most ``max_steps`` steps.
* ``frame-cnn``: a small 2D CNN applied to ``n_frames`` evenly sampled grey
  face crops of a video; frame embeddings are averaged and one head predicts
  the clip's class or value.

Both standardise their inputs with training statistics, use Adam, keep the
best validation epoch and are seeded from ``ctx.seed``.
"""

from __future__ import annotations

import numpy as np

from emobench import hookimpl
from emobench.data import Sample
from emobench.model import FitContext, Model

from emobench_plugins.models.common.lazy import no_grad

SERIES_KINDS = ("features", "au_series", "physio", "eye_movement", "landmarks")


def _block_mean(x: np.ndarray, max_steps: int) -> np.ndarray:
    """Average consecutive rows so that at most ``max_steps`` remain."""
    if not max_steps or len(x) <= max_steps:
        return x
    factor = int(np.ceil(len(x) / max_steps))
    n = len(x) // factor * factor
    head = x[:n].reshape(-1, factor, x.shape[1]).mean(1)
    return np.concatenate([head, x[n:].mean(0, keepdims=True)]) if n < len(x) else head


class _Targets:
    """Class indices, or regression values standardised with training statistics."""

    def __init__(self, task, values: np.ndarray):
        self.classification = task.kind == "classification"
        self.n_out = len(task.classes) if self.classification else 1
        self.mean = 0.0 if self.classification else float(np.nanmean(values))
        sd = 1.0 if self.classification else float(np.nanstd(values))
        self.sd = sd if sd > 1e-12 else 1.0

    def encode(self, y) -> np.ndarray:
        y = np.asarray(y, dtype=np.float64)
        return y.astype(np.int64) if self.classification else ((y - self.mean) / self.sd).astype(np.float32)

    def decode(self, out: np.ndarray):
        if self.classification:
            return out.argmax(-1)
        return out[..., 0].astype(np.float64) * self.sd + self.mean


class SequenceRNN(Model):
    name = "sequence-rnn"
    version = "1"
    description = "GRU/LSTM over a series: per-step outputs (frame level) or pooled states (clip level)"
    consumes = SERIES_KINDS
    consumes_any = True
    paper_params = {"cell": "gru", "hidden": 32, "layers": 1, "bidirectional": False,
                    "dropout": 0.0, "lr": 3e-3, "batch_size": 16, "chunk": 200, "max_steps": 128,
                    "pool": "mean", "loss": "auto", "weight_decay": 0.0, "epochs": None}

    @classmethod
    def search_space(cls, profile: str = "default") -> dict:
        import optuna.distributions as od
        space = {"lr": od.FloatDistribution(3e-4, 1e-2, log=True),
                 "hidden": od.CategoricalDistribution([16, 32, 64])}
        if profile != "smoke":
            space.update({"cell": od.CategoricalDistribution(["gru", "lstm"]),
                          "bidirectional": od.CategoricalDistribution([False, True]),
                          "pool": od.CategoricalDistribution(["mean", "last"]),
                          "layers": od.IntDistribution(1, 2)})
        return space

    def _series(self, s: Sample) -> np.ndarray:
        from emobench_plugins.models.common.torch_training import input_kind
        kind = input_kind(self.name, self.consumes, s)
        x = np.asarray(s.x(kind), dtype=np.float32)
        x = x.reshape(len(x), -1) if x.ndim != 1 else x[:, None]
        x = np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0)
        if self.task_.level == "clip":
            x = _block_mean(x, int(self.params["max_steps"] or 0))
        return x

    def fit(self, train: list[Sample], valid: list[Sample], ctx: FitContext) -> "SequenceRNN":
        from emobench_plugins.models.baselines.sequence_nets import _RNNNet
        import torch
        from torch import nn
        from torch.nn import functional as F
        from emobench_plugins.models.common.torch_training import Standardizer, ccc_loss, masked_mse, pad_sequences, resolve_epochs, seed_everything, train_epochs
        if not train:
            raise ValueError("sequence-rnn: no training samples")
        rng = seed_everything(ctx.seed)
        p, self.task_ = self.params, ctx.task
        frame = ctx.task.level == "frame"
        raw = [self._series(s) for s in train]
        self.scaler_ = Standardizer(np.concatenate(raw))
        xs = [self.scaler_(x) for x in raw]
        ys = [np.asarray(s.y, dtype=np.float64).reshape(-1) if frame else s.y for s in train]
        self.targets_ = _Targets(ctx.task, np.concatenate([np.atleast_1d(y) for y in ys]).astype(float))
        if frame:
            # Train on chunks so that long recordings batch evenly.
            size = int(p["chunk"])
            pieces = []
            for x, y in zip(xs, ys):
                n = min(len(x), len(y))
                pieces += [(x[a:a + size], y[a:a + size]) for a in range(0, n, size)]
            xs, ys = [c[0] for c in pieces], [c[1] for c in pieces]
        t = self.targets_
        self.net_ = _RNNNet(xs[0].shape[1], t.n_out, p["cell"], int(p["hidden"]), int(p["layers"]),
                            bool(p["bidirectional"]), float(p["dropout"])).to(ctx.device)
        loss_name = p["loss"]
        if loss_name == "auto":
            loss_name = "ccc" if ctx.task.primary_metric.startswith("ccc") and frame else "mse"
        opt = torch.optim.Adam(self.net_.parameters(), lr=float(p["lr"]),
                               weight_decay=float(p["weight_decay"] or 0.0))
        batch = int(p["batch_size"])

        def step(epoch: int) -> None:
            order = rng.permutation(len(xs))
            for a in range(0, len(xs), batch):
                idx = order[a:a + batch]
                X, M = pad_sequences([xs[i] for i in idx], "mask")
                lengths = torch.from_numpy(M.sum(1).astype(np.int64))
                X, M = torch.from_numpy(X).to(ctx.device), torch.from_numpy(M).to(ctx.device)
                opt.zero_grad()
                out = self._outputs(X, lengths, M)
                if frame:
                    Y, _ = pad_sequences([t.encode(ys[i]).astype(np.float32) for i in idx], "mask")
                    Y = torch.from_numpy(Y).to(ctx.device)
                    if t.classification:
                        loss = (F.cross_entropy(out.transpose(1, 2), Y.long(), reduction="none") * M
                                ).sum() / M.sum()
                    elif loss_name == "ccc":
                        loss = ccc_loss(out[..., 0], Y, M)
                    else:
                        loss = masked_mse(out[..., 0], Y, M)
                else:
                    Y = torch.from_numpy(t.encode([ys[i] for i in idx])).to(ctx.device)
                    loss = (F.cross_entropy(out, Y) if t.classification
                            else F.mse_loss(out[:, 0], Y))
                loss.backward()
                nn.utils.clip_grad_norm_(self.net_.parameters(), 5.0)
                opt.step()

        evaluate = (lambda: float(ctx.score(valid, self.predict(valid)))) if valid else None
        self.history_ = train_epochs(self.net_, resolve_epochs(p, ctx, 3, 15, 100), step,
                                     evaluate, ctx)
        return self

    def _outputs(self, X: torch.Tensor, lengths: torch.Tensor, M: torch.Tensor) -> torch.Tensor:
        import torch
        states = self.net_.states(X, lengths)
        if self.task_.level == "frame":
            return self.net_.head(states)
        if self.params["pool"] == "last":
            pooled = states[torch.arange(len(X)), (lengths - 1).to(X.device)]
            if self.net_.rnn.bidirectional:
                # The backward direction's summary of the sequence sits at step 0.
                h = self.net_.rnn.hidden_size
                pooled = torch.cat([pooled[:, :h], states[:, 0, h:]], 1)
        else:
            pooled = (states * M[..., None]).sum(1) / M.sum(1, keepdim=True).clamp_min(1)
        return self.net_.head(pooled)

    @no_grad
    def predict(self, samples: list[Sample]) -> list:
        import torch
        self.net_.eval()
        dev = next(self.net_.parameters()).device
        out = []
        for s in samples:
            x = self.scaler_(self._series(s))
            X = torch.from_numpy(x)[None].to(dev)
            M = torch.ones(1, len(x), device=dev)
            o = self._outputs(X, torch.tensor([len(x)]), M)[0].cpu().numpy()
            pred = self.targets_.decode(o)
            out.append(np.asarray(pred) if self.task_.level == "frame" else pred.item())
        return out

    @classmethod
    def param_count(cls, modalities=None, task=None):
        return None  # depends on the input width and the tuned size


class FrameCNN(Model):
    name = "frame-cnn"
    version = "2"  # 2: channels-last layout on a CPU (float rounding)
    description = "Small 2D CNN on sampled grey face frames, embeddings averaged over frames"
    consumes = ("face_video",)
    levels = ("clip",)
    paper_params = {"size": 48, "n_frames": 8, "channels": (16, 32, 64), "dropout": 0.2,
                    "lr": 1e-3, "batch_size": 16, "weight_decay": 1e-4, "epochs": None}
    realtime = {"window": 8, "hop": 8, "rate": None}

    @classmethod
    def search_space(cls, profile: str = "default") -> dict:
        import optuna.distributions as od
        space = {"lr": od.FloatDistribution(3e-4, 1e-2, log=True)}
        if profile != "smoke":
            space.update({"dropout": od.CategoricalDistribution([0.0, 0.2, 0.5]),
                          "n_frames": od.CategoricalDistribution([4, 8, 16])})
        return space

    def frames(self, s: Sample) -> np.ndarray:
        """(n_frames, size, size) float32, evenly sampled, z-scored per frame.
        Kept per recording during a fit: the validation clips are predicted after
        every epoch and were prepared again each time."""
        memo = self.__dict__.get("_frames_memo")
        if memo is not None:
            hit = memo.get(id(s.recording))
            if hit is not None and hit[0] is s.recording:
                return hit[1]
        out = self._frames(s)
        if memo is not None:
            memo[id(s.recording)] = (s.recording, out)
        return out

    def _frames(self, s: Sample) -> np.ndarray:
        from emobench_plugins.models.emop3d import gray_frames

        size, k = int(self.params["size"]), int(self.params["n_frames"])
        v = gray_frames(s.x("face_video", size=(size, size), gray=True), size, f"sample {s.id!r}")
        v = v[np.linspace(0, len(v) - 1, k).round().astype(int)].astype(np.float32)
        mu, sd = v.mean((1, 2), keepdims=True), v.std((1, 2), keepdims=True)
        return (v - mu) / np.maximum(sd, 1e-6)

    def fit(self, train: list[Sample], valid: list[Sample], ctx: FitContext) -> "FrameCNN":
        from emobench_plugins.models.common.torch_training import seed_everything
        if not train:
            raise ValueError("frame-cnn: no training samples")
        rng = seed_everything(ctx.seed)
        p, self.task_ = self.params, ctx.task
        self._frames_memo = {}
        try:
            return self._fit(train, valid, ctx, rng)
        finally:
            self.__dict__.pop("_frames_memo", None)  # a fitted model holds no clips

    def _fit(self, train, valid, ctx, rng) -> "FrameCNN":
        from emobench_plugins.models.baselines.sequence_nets import _FrameCNNNet
        import torch
        from torch.nn import functional as F
        from emobench_plugins.models.common.torch_training import conv_layout, resolve_epochs, train_epochs
        p = self.params
        X = np.stack([self._frames(s) for s in train])  # the training clips are stacked once
        self.targets_ = _Targets(ctx.task, np.asarray([float(s.y) for s in train]))
        t = self.targets_
        Y = torch.from_numpy(t.encode([s.y for s in train]))
        self.net_ = conv_layout(_FrameCNNNet(t.n_out, tuple(p["channels"]), float(p["dropout"])).to(ctx.device),
                                ctx.device)
        opt = torch.optim.Adam(self.net_.parameters(), lr=float(p["lr"]),
                               weight_decay=float(p["weight_decay"] or 0.0))
        batch = int(p["batch_size"])

        def step(epoch: int) -> None:
            order = rng.permutation(len(X))
            for a in range(0, len(X), batch):
                idx = order[a:a + batch]
                if len(idx) < 2 and len(X) > 1:
                    continue  # BatchNorm needs more than one clip's worth of statistics
                out = self.net_(torch.from_numpy(X[idx]).to(ctx.device))
                yb = Y[idx].to(ctx.device)
                loss = F.cross_entropy(out, yb) if t.classification else F.mse_loss(out[:, 0], yb)
                opt.zero_grad()
                loss.backward()
                opt.step()

        evaluate = (lambda: float(ctx.score(valid, self.predict(valid)))) if valid else None
        self.history_ = train_epochs(self.net_, resolve_epochs(p, ctx, 2, 10, 60), step,
                                     evaluate, ctx)
        return self

    @no_grad
    def predict(self, samples: list[Sample]) -> list:
        import torch
        self.net_.eval()
        dev = next(self.net_.parameters()).device
        out = []
        for a in range(0, len(samples), 16):
            X = np.stack([self.frames(s) for s in samples[a:a + 16]])
            o = self.net_(torch.from_numpy(X).to(dev)).cpu().numpy()
            out += [v.item() for v in np.atleast_1d(self.targets_.decode(o))]
        return out

    @classmethod
    def param_count(cls, modalities=None, task=None) -> int:
        from emobench_plugins.models.baselines.sequence_nets import _FrameCNNNet
        n = len(task.classes) if task is not None and task.kind == "classification" else 1
        net = _FrameCNNNet(n, tuple(cls.paper_params["channels"]), 0.0)
        return sum(q.numel() for q in net.parameters())

    def torch_module(self, modalities=None, task=None):
        from emobench_plugins.models.baselines.sequence_nets import _FrameCNNNet
        import torch
        net = getattr(self, "net_", None)
        if net is None:
            n = len(task.classes) if task is not None and task.kind == "classification" else 1
            net = _FrameCNNNet(n, tuple(self.params["channels"]), 0.0)
        s, k = int(self.params["size"]), int(self.params["n_frames"])
        return net.eval(), torch.zeros(1, k, s, s)


@hookimpl
def emobench_register_models():
    return [SequenceRNN, FrameCNN]
