"""Tiny EmotioNet (Pandit, Schmitt, Cummins, Schuller, IPM 57(6) 102347, 2020).

Three registered models share one training procedure (1 - CCC loss, RMSprop
lr 1e-3 / rho 0.9 / eps 1e-7, full batch, best validation epoch, label-delay
compensation, optional AVEC post-processing learnt on validation):

* ``tiny-emotionet``: one Conv1d filter over the feature channels (K = 80) and
  a per-step Linear; 2,963 parameters for SEWA's 37 features.
* ``tiny-emotionet-model-a``: the 4-layer CNN it started from (406,001
  parameters for 37 features).
* ``tiny-emotionet-pain``: the UNBC / BioVid pain variants (K = 24, L1 0.01,
  training noise, zero padding, mini-batches). Where the two pain scripts
  differ the value is ``"auto"`` in the params and chosen from the input
  width when fitting: 14 channels (UNBC's FACS columns) get lr 8e-4, batch 128,
  L1 on kernel and bias and 8000 paper epochs; any other width gets BioVid's
  lr 1e-3, batch 1024, L1 on the kernel only and 200 paper epochs.

See docs/models.md for what was reconstructed.
"""

from __future__ import annotations

import math
from collections import deque
from pathlib import Path
from typing import ClassVar

import numpy as np
import optuna.distributions as od
import torch

from emobench import hookimpl
from emobench.data import Modality, Sample, Task
from emobench.model import FitContext, Model, Streamer

from emobench_plugins.models.tiny_emotionet.postprocess import PostProcess, learn_postprocess
from emobench_plugins.models.tiny_emotionet.nets import ModelANet, TinyEmotioNetNet, count_parameters
from emobench_plugins.models.common.torch_training import (
    Standardizer, ccc_loss, channel_names, input_kind, masked_mse, pad_sequences,
    resolve_epochs, seed_everything, series, train_epochs)

PAPER = ("Pandit, Schmitt, Cummins, Schuller: I see it in your eyes: Training the "
         "shallowest-possible CNN to recognise emotions and pain from muted web-assisted "
         "in-the-wild video-chats in real-time. Information Processing & Management 57(6) "
         "102347, 2020. doi:10.1016/j.ipm.2020.102347")

# Annotation delay of the SEWA gold standard (seconds), used when a recording's
# meta has no ``label_delay_s`` entry for the task.
PAPER_LABEL_DELAY_S = {"arousal": 4.0, "valence": 2.8}
SEWA_FEATURES = 37
UNBC_FEATURES = 14


def _ccc_avec_concat(golds: list[np.ndarray], preds: list[np.ndarray]) -> float:
    from emobench.metrics import ccc_avec

    return float(ccc_avec(np.concatenate(golds), np.concatenate(preds)))


# Training settings shared by both architectures (the paper's Keras set-up).
_TRAINING_PARAMS = {
    "l1_kernel": 0.0, "l1_bias": 0.0, "loss": "ccc", "lr": 1e-3, "batch_size": None,
    "pad_mode": "tile", "seq_len": None, "label_delay": "auto", "postprocess": False,
    "standardize": False, "train_noise": 0.0, "selection": "task", "epochs": None,
    "eval_every": 1,
}


class _FrameConvModel(Model):
    """Shared fit / predict / streaming of the frame-level convolutional models."""

    consumes: ClassVar[tuple[str, ...]] = ("features", "au_series")
    consumes_any = True
    task_kinds = ("regression",)
    levels = ("frame",)
    paper = PAPER
    default_features: ClassVar[int] = SEWA_FEATURES

    # -- architecture -------------------------------------------------------
    def _build(self, n_features: int) -> torch.nn.Module:
        raise NotImplementedError

    @classmethod
    def _features_of(cls, modalities: dict[str, Modality] | None) -> int:
        if not modalities:
            return cls.default_features
        found = cls.resolve_inputs(modalities)
        if not found:
            raise ValueError(f"model {cls.name!r}: the dataset has none of "
                             f"{', '.join(cls.consumes)}")
        mod = modalities[next(iter(found.values()))]
        width = mod.shape[-1] if mod.shape else None
        if width is None and mod.channels:
            width = len(mod.channels)
        if width is None:
            raise ValueError(f"model {cls.name!r}: modality {next(iter(found.values()))!r} "
                             "does not declare its number of columns")
        return int(width)

    @classmethod
    def param_count(cls, modalities=None, task=None) -> int:
        return count_parameters(cls()._build(cls._features_of(modalities)))

    def torch_module(self, modalities=None, task=None):
        n = self._features_of(modalities)
        net = self.net_ if getattr(self, "net_", None) is not None else self._build(n)
        n = net.conv.in_channels
        # one streaming inference: the receptive field that yields the newest output step
        return net.eval(), torch.zeros(1, int(type(self).realtime["window"]), n)

    # -- resolved hyper-parameters -----------------------------------------
    def _setting(self, key: str, n_features: int):
        return self.params[key]

    def _epochs(self, ctx: FitContext, n_features: int) -> int:
        return resolve_epochs(self.params, ctx, 3, 100, 1000)

    def _delay_steps(self, sample: Sample | None, task: Task, rate: float | None = None) -> int:
        delay = self.params.get("label_delay", "auto")
        if delay == "auto":
            meta = sample.recording.meta if sample is not None else {}
            table = meta.get("label_delay_s", {}) or {}
            delay = table.get(task.name, PAPER_LABEL_DELAY_S.get(task.name, 0.0))
        rate = rate or task.rate or 10.0
        return int(round(float(delay) * float(rate)))

    # -- data -------------------------------------------------------------
    def _label_len(self, sample: Sample, n: int) -> int:
        try:
            return len(np.atleast_1d(sample.y))
        except KeyError:
            return n

    def _x(self, sample: Sample) -> np.ndarray:
        kind = input_kind(self.name, self.consumes, sample)
        x = series(sample, kind, self.name)
        if x.shape[1] != self.n_features_:
            raise ValueError(f"model {self.name!r}: sample {sample.id!r} has {x.shape[1]} "
                             f"columns in {kind!r}, the model was fitted on {self.n_features_}")
        return self.scaler_(x)

    def _target(self, sample: Sample, n: int) -> np.ndarray:
        y = np.asarray(sample.y, dtype=np.float32).reshape(-1)
        y = np.nan_to_num(y[:n]) if len(y) >= n else np.concatenate(
            [np.nan_to_num(y), np.full(n - len(y), y[-1] if len(y) else 0.0, np.float32)])
        d = self._delay_steps(sample, sample.task)
        if d <= 0:
            return y
        # Labels lag the face: the target at step t is the label at t + d; the
        # freed tail is zero-filled as in the original.
        out = np.zeros_like(y)
        out[:max(0, n - d)] = y[d:]
        return out

    # -- training -----------------------------------------------------------
    def fit(self, train: list[Sample], valid: list[Sample], ctx: FitContext) -> "Model":
        if not train:
            raise ValueError(f"model {self.name!r}: no training samples")
        rng = seed_everything(ctx.seed)
        self.task_ = ctx.task
        kind = input_kind(self.name, self.consumes, train[0])
        raw_x = [series(s, kind, self.name) for s in train]
        n_features = raw_x[0].shape[1]
        self.n_features_ = n_features
        self.channels_ = channel_names(ctx, train[0], kind, n_features)
        self.scaler_ = Standardizer(np.concatenate(raw_x), enabled=bool(self.params["standardize"]))
        xs = [self.scaler_(x) for x in raw_x]
        ys = [self._target(s, len(x)) for s, x in zip(train, xs)]
        self.net_ = self._build(n_features).to(ctx.device)
        self.postprocess_ = PostProcess()

        mode = self.params["pad_mode"]
        seq_len = self.params.get("seq_len") or None
        X, mask = pad_sequences(xs, mode, seq_len)
        Y, _ = pad_sequences(ys, mode, seq_len)
        noise_sd = float(self.params.get("train_noise") or 0.0)
        if noise_sd > 0:
            # One fixed noise pattern added to every training sequence, as the
            # pain scripts did (drawn once, not per epoch).
            X = X + rng.normal(0.0, noise_sd, size=X.shape[1:]).astype(np.float32)
        device = ctx.device
        X_t, Y_t, M_t = (torch.from_numpy(a).to(device) for a in (X, Y, mask))

        lr = float(self._setting("lr", n_features))
        opt = torch.optim.RMSprop(self.net_.parameters(), lr=lr, alpha=0.9, eps=1e-7)
        loss_fn = ccc_loss if self.params["loss"] == "ccc" else masked_mse
        if self.params["loss"] not in ("ccc", "mse"):
            raise ValueError(f"model {self.name!r}: loss must be 'ccc' or 'mse', got "
                             f"{self.params['loss']!r}")
        l1_k = float(self._setting("l1_kernel", n_features))
        l1_b = float(self._setting("l1_bias", n_features))
        batch = self._setting("batch_size", n_features)
        n = len(X_t)

        def step(epoch: int) -> None:
            order = rng.permutation(n) if batch else np.arange(n)
            size = int(batch) if batch else n
            for start in range(0, n, size):
                idx = torch.from_numpy(order[start:start + size]).to(device)
                opt.zero_grad()
                loss = loss_fn(self.net_(X_t[idx]), Y_t[idx], M_t[idx])
                if l1_k:
                    loss = loss + l1_k * self.net_.conv.weight.abs().sum()
                if l1_b:
                    loss = loss + l1_b * self.net_.conv.bias.abs().sum()
                loss.backward()
                opt.step()

        evaluate = None
        if valid:
            vx = [self._x(s) for s in valid]
            golds = [np.asarray(s.y, dtype=np.float64).reshape(-1) for s in valid]

            def score_preds(preds: list[np.ndarray]) -> float:
                if self.params.get("selection", "task") == "ccc_avec":
                    return _ccc_avec_concat(golds, preds)
                return float(ctx.score(valid, preds))

            def evaluate() -> float:
                return score_preds([self._finish(self._raw(x), s) for x, s in zip(vx, valid)])

        self.history_ = train_epochs(self.net_, self._epochs(ctx, n_features), step, evaluate,
                                     ctx, eval_every=int(self.params.get("eval_every") or 1))
        if valid and self.params.get("postprocess"):
            raws = [self._finish(self._raw(x), s) for x, s in zip(vx, valid)]
            self.postprocess_ = learn_postprocess(raws, golds, score_preds)
        self.history_["postprocess"] = self.postprocess_.to_dict()
        return self

    # -- inference ----------------------------------------------------------
    @torch.no_grad()
    def _raw(self, x: np.ndarray) -> np.ndarray:
        """Network output in the input's time frame (before the delay shift-back)."""
        dev = next(self.net_.parameters()).device
        return self.net_(torch.from_numpy(x)[None].to(dev))[0].double().cpu().numpy()

    def _finish(self, raw: np.ndarray, sample: Sample) -> np.ndarray:
        """Shift back by the label delay (edge-filled head), fit to the label length."""
        n = self._label_len(sample, len(raw))
        d = self._delay_steps(sample, sample.task)
        idx = np.clip(np.arange(n) - d, 0, len(raw) - 1)
        return raw[idx]

    def predict(self, samples: list[Sample]) -> list:
        if getattr(self, "net_", None) is None:
            raise RuntimeError(f"model {self.name!r}: predict() before fit()")
        self.net_.eval()
        return [self.postprocess_.apply(self._finish(self._raw(self._x(s)), s))
                for s in samples]

    # -- streaming ------------------------------------------------------------
    def streamer(self, kind: str, task: Task, **spec) -> "ConvStreamer":
        if getattr(self, "net_", None) is None:
            raise RuntimeError(f"model {self.name!r}: streamer() before fit()")
        return ConvStreamer(self, kind, task, **spec)


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
    Label delay: ``spec['label_delay_s']`` or the model's rule by task name.
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


# ---------------------------------------------------------------------------
class TinyEmotioNet(_FrameConvModel):
    """The shallowest CNN: one Conv1d filter over FAU functionals + per-step Linear."""

    name = "tiny-emotionet"
    version = "1"
    description = ("One Conv1d filter (K=80, 'same') over the feature channels and a "
                   "per-step Linear; 1-CCC, RMSprop, full batch, label-delay shift")
    paper_params = {
        **_TRAINING_PARAMS,
        "kernel": 80, "activation": "linear", "td_dense": True, "batchnorm": False,
    }
    realtime = {"window": 80, "hop": 1, "rate": 10}

    @classmethod
    def search_space(cls, profile: str = "default") -> dict:
        space = {
            "lr": od.FloatDistribution(1e-4, 3e-2, log=True),
            "activation": od.CategoricalDistribution(["linear", "relu"]),
            "standardize": od.CategoricalDistribution([False, True]),
        }
        if profile != "smoke":
            space.update({
                "kernel": od.CategoricalDistribution([24, 50, 60, 80]),
                "loss": od.CategoricalDistribution(["ccc", "mse"]),
                "l1_kernel": od.CategoricalDistribution([0.0, 0.01]),
                "postprocess": od.CategoricalDistribution([False, True]),
            })
        return space

    def _build(self, n_features: int) -> TinyEmotioNetNet:
        p = self.params
        return TinyEmotioNetNet(n_features, kernel=int(p["kernel"]), activation=p["activation"],
                                td_dense=bool(p["td_dense"]), batchnorm=bool(p["batchnorm"]))

    # -- interpretability -------------------------------------------------------
    def effective_filter(self) -> tuple[np.ndarray, float]:
        """The conv + (BatchNorm) + dense folded into one FIR filter: weights
        (F, K) and offset, such that the (pre-activation) output is
        sum_f sum_k w[f, k] x[t + k - L, f] + offset."""
        net = self.net_
        w = net.conv.weight.detach().double().cpu().numpy()[0]
        b = float(net.conv.bias.detach().double().cpu().numpy()[0])
        scale, shift = 1.0, 0.0
        if net.bn is not None:
            bn = net.bn
            s = float(bn.weight[0].detach()) / math.sqrt(float(bn.running_var[0]) + bn.eps)
            scale, shift = s, float(bn.bias[0].detach()) - s * float(bn.running_mean[0])
        a, c = 1.0, 0.0
        if net.dense is not None:
            a = float(net.dense.weight[0, 0].detach())
            c = float(net.dense.bias[0].detach())
        if net.activation == "relu":
            # ReLU sits between the conv and the dense: attribute the pre-activation.
            return w * scale, b * scale + shift
        return w * scale * a, (b * scale + shift) * a + c

    def attributions(self, sample: Sample) -> dict[str, np.ndarray]:
        """Time-resolved attribution in the network's time frame.

        ``contributions[t, f] = sum_k w[f, k] * x[t + k - L, f]`` (zero padding
        as in the conv) and ``bias[t]`` is the folded offset; for the linear
        model their sum equals ``output`` (the raw network output) exactly;
        with ReLU it equals the pre-activation value.
        """
        x = self._x(sample).astype(np.float64)
        w, offset = self.effective_filter()
        left, right = self.net_.context
        xp = np.pad(x, ((left, right), (0, 0)))
        # windows[t, k, f] = x[t + k - L, f]
        windows = np.lib.stride_tricks.sliding_window_view(xp, w.shape[1], axis=0)
        contrib = np.einsum("tfk,fk->tf", windows, w)
        return {"contributions": contrib, "bias": np.full(len(x), offset),
                "output": self._raw(x.astype(np.float32)), "filter": w}

    def explain(self, sample: Sample, out_dir: str | Path) -> list[Path]:
        """Write the filter heat-map and the attribution plot of ``sample`` (PNG)."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.colors import TwoSlopeNorm

        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        att = self.attributions(sample)
        w, names = att["filter"], self.channels_
        left, right = self.net_.context
        rate = (self.task_.rate or 10.0)
        vmax = float(np.abs(w).max()) or 1.0
        paths = []

        fig, ax = plt.subplots(figsize=(10, max(3.0, 0.22 * len(names) + 1.5)))
        im = ax.imshow(w, aspect="auto", cmap="PiYG", norm=TwoSlopeNorm(0.0, -vmax, vmax),
                       extent=(-left / rate - 0.5 / rate, right / rate + 0.5 / rate,
                               len(names) - 0.5, -0.5))
        ax.set_yticks(range(len(names)), names, fontsize=7)
        ax.set_xlabel("tap offset from the output step (s)")
        ax.set_title(f"{self.name}: learnt filter (folded with the dense layer), "
                     f"{len(names)} features x {w.shape[1]} taps")
        fig.colorbar(im, ax=ax, label="weight")
        fig.tight_layout()
        paths.append(out_dir / f"{self.name}_filter.png")
        fig.savefig(paths[-1], dpi=110)
        plt.close(fig)

        contrib, out = att["contributions"], att["output"]
        t = np.arange(len(out)) / rate
        d = self._delay_steps(sample, sample.task)
        try:
            y = np.asarray(sample.y, dtype=float).reshape(-1)
            target = np.concatenate([y[d:], np.full(min(d, len(y)), np.nan)])[:len(out)]
        except KeyError:
            target = None
        fig, axes = plt.subplots(3, 1, figsize=(11, 9), sharex=True,
                                 gridspec_kw={"height_ratios": [1.2, 2.0, 1.4]})
        axes[0].plot(t, out, label="prediction (network output)", color="C1")
        if target is not None:
            axes[0].plot(t[:len(target)], target, label=f"label shifted by the delay ({d / rate:.1f} s)",
                         color="k", alpha=0.7)
        axes[0].legend(fontsize=8, loc="upper right")
        axes[0].set_title(f"{self.name} on {sample.id}: prediction = sum of feature "
                          "contributions + bias")
        cmax = float(np.abs(contrib).max()) or 1.0
        axes[1].imshow(contrib.T, aspect="auto", cmap="PiYG", norm=TwoSlopeNorm(0.0, -cmax, cmax),
                       extent=(t[0], t[-1] + 1 / rate, len(names) - 0.5, -0.5),
                       interpolation="nearest")
        axes[1].set_yticks(range(len(names)), names, fontsize=6)
        axes[1].set_ylabel("feature contribution")
        top = np.argsort(-np.abs(contrib).mean(0))[:6]
        for f in top:
            axes[2].plot(t, contrib[:, f], label=names[f], lw=1)
        axes[2].plot(t, att["bias"], label="bias", color="grey", ls="--")
        axes[2].legend(fontsize=7, ncol=4, loc="upper right")
        axes[2].set_xlabel("time (s)")
        axes[2].set_ylabel("top contributions")
        fig.tight_layout()
        paths.append(out_dir / f"{self.name}_attribution_{_safe(sample.id)}.png")
        fig.savefig(paths[-1], dpi=110)
        plt.close(fig)
        return paths


def _safe(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in str(text))[:80]


class TinyEmotioNetModelA(_FrameConvModel):
    """Model A: the 4-layer CNN (200x5, 64x20, 32x30, 32x50, ReLU) + per-step Linear."""

    name = "tiny-emotionet-model-a"
    version = "1"
    description = "4-layer Conv1d (200x5, 64x20, 32x30, 32x50) baseline of Tiny EmotioNet"
    paper_params = {
        **_TRAINING_PARAMS,
        "filters": (200, 64, 32, 32), "kernels": (5, 20, 30, 50), "dropout": 0.0,
    }
    realtime = {"window": 102, "hop": 1, "rate": 10}

    @classmethod
    def search_space(cls, profile: str = "default") -> dict:
        space = {"lr": od.FloatDistribution(1e-4, 1e-2, log=True),
                 "standardize": od.CategoricalDistribution([False, True])}
        if profile != "smoke":
            space.update({"loss": od.CategoricalDistribution(["ccc", "mse"]),
                          "dropout": od.CategoricalDistribution([0.0, 0.2]),
                          "postprocess": od.CategoricalDistribution([False, True])})
        return space

    def _build(self, n_features: int) -> ModelANet:
        p = self.params
        return ModelANet(n_features, tuple(p["filters"]), tuple(p["kernels"]), float(p["dropout"]))

    def _epochs(self, ctx: FitContext, n_features: int) -> int:
        return resolve_epochs(self.params, ctx, 2, 20, 1000)


class TinyEmotioNetPain(TinyEmotioNet):
    """The UNBC / BioVid PSPI regressors: K = 24, L1 0.01, fixed training noise."""

    name = "tiny-emotionet-pain"
    version = "1"
    description = ("Tiny EmotioNet pain variant (K=24, L1 0.01, N(0, 0.01) training noise, "
                   "zero padding); UNBC or BioVid settings chosen by the input width")
    default_features = UNBC_FEATURES
    paper_params = {
        **TinyEmotioNet.paper_params,
        "kernel": 24, "l1_kernel": 0.01, "l1_bias": "auto", "lr": "auto",
        "batch_size": "auto", "pad_mode": "zero", "label_delay": 0.0, "train_noise": 0.01,
        "lr_scale": 1.0,
    }
    realtime = {"window": 24, "hop": 1, "rate": None}

    # UNBC (14 FACS columns) vs BioVid (anything else, 41 OpenFace columns).
    PRESETS = {"unbc": {"lr": 8e-4, "batch_size": 128, "l1_bias": 0.01, "paper_epochs": 8000},
               "biovid": {"lr": 1e-3, "batch_size": 1024, "l1_bias": 0.0, "paper_epochs": 200}}

    @classmethod
    def preset(cls, n_features: int) -> str:
        return "unbc" if n_features == UNBC_FEATURES else "biovid"

    def _setting(self, key: str, n_features: int):
        value = self.params[key]
        if value == "auto":
            value = self.PRESETS[self.preset(n_features)][key]
        if key == "lr":
            # The tuner scales the preset's rate (paper value: x1).
            value = float(value) * float(self.params.get("lr_scale", 1.0))
        return value

    def _epochs(self, ctx: FitContext, n_features: int) -> int:
        paper = self.PRESETS[self.preset(n_features)]["paper_epochs"]
        return resolve_epochs(self.params, ctx, 3, 60, paper)

    @classmethod
    def search_space(cls, profile: str = "default") -> dict:
        space = {"lr_scale": od.FloatDistribution(0.1, 30.0, log=True),
                 "standardize": od.CategoricalDistribution([False, True])}
        if profile != "smoke":
            space.update({"kernel": od.CategoricalDistribution([12, 24, 60]),
                          "activation": od.CategoricalDistribution(["linear", "relu"]),
                          "loss": od.CategoricalDistribution(["ccc", "mse"])})
        return space


@hookimpl
def emobench_register_models():
    return [TinyEmotioNet, TinyEmotioNetModelA, TinyEmotioNetPain]
