"""The frame-level convolutional models' shared fit / predict (the paper's Keras set-up)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from emobench.data import Modality, Sample, Task
from emobench.model import FitContext, Model


from .streaming import ConvStreamer
from emobench_plugins.models.common.lazy import no_grad


PAPER = ("Pandit, Schmitt, Cummins, Schuller: I see it in your eyes: Training the "
         "shallowest-possible CNN to recognise emotions and pain from muted web-assisted "
         "in-the-wild video-chats in real-time. Information Processing & Management 57(6) "
         "102347, 2020. doi:10.1016/j.ipm.2020.102347")

# Annotation delay of the SEWA gold standard (seconds) that the paper found optimal:
# ``label_delay="paper"``, and the fallback of the validation estimate.
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
        from emobench_plugins.models.tiny_emotionet.nets import count_parameters
        return count_parameters(cls()._build(cls._features_of(modalities)))

    def torch_module(self, modalities=None, task=None):
        import torch
        n = self._features_of(modalities)
        net = self.net_ if getattr(self, "net_", None) is not None else self._build(n)
        n = net.conv.in_channels
        # one streaming inference: the receptive field that yields the newest output step
        return net.eval(), torch.zeros(1, int(type(self).realtime["window"]), n)

    # -- resolved hyper-parameters -----------------------------------------
    def _setting(self, key: str, n_features: int):
        return self.params[key]

    def _epochs(self, ctx: FitContext, n_features: int) -> int:
        from emobench_plugins.models.common.torch_training import resolve_epochs
        return resolve_epochs(self.params, ctx, 3, 100, 1000)

    def _delay_steps(self, sample: Sample | None, task: Task, rate: float | None = None) -> int:
        """Label delay in steps: ``label_delay`` seconds when a number; ``"paper"``:
        the paper's SEWA value for the task (else 0); ``"auto"``: the delay
        estimated on the validation split at fit time (:meth:`_estimate_delay`),
        the paper's value before fit or without validation labels. A recording's
        meta is never read: on a stand-in it would be the generator's own delay."""
        delay = self.params.get("label_delay", "auto")
        if delay == "auto" and getattr(self, "delay_s_", None) is not None:
            delay = self.delay_s_
        elif delay in ("auto", "paper"):
            delay = PAPER_LABEL_DELAY_S.get(task.name, 0.0)
        rate = rate or task.rate or 10.0
        return int(round(float(delay) * float(rate)))

    #: Candidate delays of the estimate: 0 to MAX_DELAY_S in DELAY_STEP_S steps.
    MAX_DELAY_S = 6.0
    DELAY_STEP_S = 0.1

    def _estimate_delay(self, xs: list[np.ndarray], train: list[Sample], valid: list[Sample],
                        task: Task) -> float | None:
        """The label delay (s) that maximises the validation CCC of a ridge read-out
        of the (standardised) inputs fitted on the training split with labels
        shifted by that delay: fitted on train, selected on valid, so no test or
        generator information enters. None when valid has no frame labels."""
        rate = float(task.rate or 10.0)
        if not valid or task.level != "frame":
            return None
        from emobench.metrics import ccc as _ccc

        ys = [np.nan_to_num(np.asarray(s.y, float).reshape(-1)) for s in train]
        vx = [self._x(s) for s in valid]
        vy = [np.nan_to_num(np.asarray(s.y, float).reshape(-1)) for s in valid]
        bias = lambda x: np.hstack([x, np.ones((len(x), 1))])  # noqa: E731
        X = [bias(np.asarray(x, float)) for x in xs]
        xtx = sum(x.T @ x for x in X)
        xtx += 1e-3 * np.trace(xtx) / len(xtx) * np.eye(len(xtx))
        vxb = [bias(np.asarray(x, float)) for x in vx]
        gold = np.concatenate(vy)
        if gold.size < 2 or np.std(gold) == 0:
            return None
        step = max(1, int(round(self.DELAY_STEP_S * rate)))
        best = (-np.inf, None)
        for d in range(0, int(round(self.MAX_DELAY_S * rate)) + 1, step):
            xty = np.zeros(xtx.shape[0])
            for x, y in zip(X, ys):  # input step t against the label at t + d
                m = min(len(x), len(y)) - d
                if m > 0:
                    xty += x[:m].T @ y[d:d + m]
            w = np.linalg.solve(xtx, xty)
            preds = []
            for x, y in zip(vxb, vy):
                raw = x @ w
                preds.append(raw[np.clip(np.arange(len(y)) - d, 0, len(raw) - 1)])
            try:
                s = _ccc(gold, np.concatenate(preds))
            except ValueError:
                continue
            if np.isfinite(s) and s > best[0]:
                best = (s, d / rate)
        return best[1]

    # -- data -------------------------------------------------------------
    def _label_len(self, sample: Sample, n: int) -> int:
        try:
            return sample.n_labels
        except KeyError:
            return n

    def _x(self, sample: Sample) -> np.ndarray:
        from emobench_plugins.models.common.torch_training import input_kind, series
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
        import torch
        from emobench_plugins.models.common.torch_training import Standardizer, ccc_loss, channel_names, input_kind, masked_mse, pad_sequences, seed_everything, series, train_epochs
        from emobench_plugins.models.tiny_emotionet.postprocess import PostProcess, cross_fitted, learn_postprocess
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
        self.delay_s_ = self.tuning_score_ = None
        if self.params.get("label_delay", "auto") == "auto":
            self.delay_s_ = self._estimate_delay(xs, train, valid, ctx.task)
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

            def score_part(idx: list[int], preds: list[np.ndarray]) -> float:
                if self.params.get("selection", "task") == "ccc_avec":
                    return _ccc_avec_concat([golds[i] for i in idx], preds)
                return float(ctx.score([valid[i] for i in idx], preds))

            # fitted on half of the validation subjects, selected on the other half
            groups = [s.subject for s in valid]
            self.postprocess_ = learn_postprocess(raws, golds, score_part, groups=groups,
                                                  seed=ctx.seed)
            # the chain has seen all of validation: the tuner ranks this trial by
            # the cross-fitted predictions (each half post-processed by a chain
            # learnt on the other half alone) instead of predict(valid)
            honest = cross_fitted(raws, golds, score_part, groups=groups, seed=ctx.seed)
            self.tuning_score_ = float(ctx.score(valid, honest))
            self.history_["postprocess_cross_fitted_score"] = self.tuning_score_
        self.history_["postprocess"] = self.postprocess_.to_dict()
        self.history_["label_delay_s"] = self._delay_steps(None, ctx.task) / float(ctx.task.rate or 10.0)
        return self

    # -- inference ----------------------------------------------------------
    @no_grad
    def _raw(self, x: np.ndarray) -> np.ndarray:
        """Network output in the input's time frame (before the delay shift-back)."""
        import torch
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


