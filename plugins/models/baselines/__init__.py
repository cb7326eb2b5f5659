"""Honest baselines: what a seed model has to beat.

* ``mean`` - predicts the training mean (regression) or majority class.
* ``linear`` - ridge regression / logistic regression on per-frame rows
  (frame-level tasks) or on pooled mean+std features (clip-level tasks).
* ``mlp`` - a small scikit-learn multi-layer perceptron on the same inputs.

All are tuned with the same Optuna budget as every other model.
"""

from __future__ import annotations

import numpy as np

from emobench import Model, hookimpl
from emobench_plugins.models.common.inputs import SERIES_KINDS, frame_matrix, pooled_matrix, split_by_lengths


class _TabularModel(Model):
    """Shared fit/predict for models that see one row per frame or per clip."""

    consumes = SERIES_KINDS
    consumes_any = True

    def _xy(self, samples, ctx_task, with_y=True):
        kind = self._kind
        if ctx_task.level == "frame":
            x, y, lengths = frame_matrix(samples, kind, with_y)
            return x, y, lengths
        x = pooled_matrix(samples, kind)
        y = np.array([s.y for s in samples]) if with_y else None
        return x, y, None

    def fit(self, train, valid, ctx):
        self._task = ctx.task
        self._kind = next(iter(train[0].inputs))
        x, y, _ = self._xy(train, ctx.task)
        self._rows = len(x)
        self._estimator = self.make_estimator(ctx)
        self._estimator.fit(x, y.astype(int) if ctx.task.kind == "classification" else y)
        return self

    def predict(self, samples):
        x, _, lengths = self._xy(samples, self._task, with_y=False)
        pred = self._estimator.predict(x)
        if self._task.level == "frame":
            return split_by_lengths(pred, lengths)
        return list(pred)

    def make_estimator(self, ctx):
        raise NotImplementedError


class MeanBaseline(Model):
    name = "mean"
    deterministic = True  # a training mean or majority class does not depend on the seed
    description = "Training mean (regression) or majority class (classification)."
    consumes = SERIES_KINDS + ("face_video", "face_image", "audio", "fixations")
    consumes_any = True

    def fit(self, train, valid, ctx):
        self._task = ctx.task
        y = np.concatenate([np.atleast_1d(np.asarray(s.y, dtype=float)) for s in train])
        if ctx.task.kind == "classification":
            self._value = int(np.bincount(y.astype(int)).argmax())
        else:
            self._value = float(y.mean())
        return self

    def predict(self, samples):
        if self._task.level == "frame":
            return [np.full(s.n_labels, self._value) for s in samples]
        return [self._value] * len(samples)

    @classmethod
    def param_count(cls, modalities=None, task=None):
        return 1


class LinearBaseline(_TabularModel):
    name = "linear"
    deterministic = True  # closed-form ridge / convex logistic fit: the seed changes nothing
    description = "Ridge / logistic regression on standardised frame rows or pooled clip features."
    paper_params = {"alpha": 1.0}

    @classmethod
    def search_space(cls, profile="default"):
        import optuna.distributions as D
        return {"alpha": D.FloatDistribution(1e-3, 1e3, log=True)}

    def make_estimator(self, ctx):
        from sklearn.linear_model import LogisticRegression, Ridge
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler
        if ctx.task.kind == "classification":
            est = LogisticRegression(C=1.0 / self.params["alpha"], max_iter=500,
                                     class_weight="balanced")
        else:
            est = Ridge(alpha=self.params["alpha"])
        return make_pipeline(StandardScaler(), est)

    @classmethod
    def param_count(cls, modalities=None, task=None):
        return None


class MLPBaseline(_TabularModel):
    name = "mlp"
    version = "2"  # 2: early stopping on held-out training subjects, not random frames
    description = "A small multi-layer perceptron (scikit-learn) on the same inputs as `linear`."
    paper_params = {"hidden": 64, "alpha": 1e-4, "lr": 1e-3}

    @classmethod
    def search_space(cls, profile="default"):
        import optuna.distributions as D
        return {"hidden": D.IntDistribution(16, 256, log=True),
                "alpha": D.FloatDistribution(1e-6, 1e-1, log=True),
                "lr": D.FloatDistribution(1e-4, 1e-2, log=True)}

    def make_estimator(self, ctx):
        from sklearn.neural_network import MLPClassifier, MLPRegressor
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler
        kw = dict(hidden_layer_sizes=(self.params["hidden"],), alpha=self.params["alpha"],
                  learning_rate_init=self.params["lr"], random_state=ctx.seed,
                  max_iter=ctx.epochs(20, 100, 300), early_stopping=False)
        est = MLPClassifier(**kw) if ctx.task.kind == "classification" else MLPRegressor(**kw)
        return make_pipeline(StandardScaler(), est)

    def fit(self, train, valid, ctx):
        """Early stopping on held-out training *subjects* (scikit-learn's own holds
        out random rows, i.e. frames of the subjects it trains on): about
        EARLY_STOP_FRACTION of the training subjects score each epoch, the best
        epoch's weights are kept. With fewer than MIN_ROWS rows or 3 subjects the
        MLP trains for the epoch budget instead."""
        self._task = ctx.task
        self._kind = next(iter(train[0].inputs))
        x, y, lengths = self._xy(train, ctx.task)
        y = y.astype(int) if ctx.task.kind == "classification" else y
        self._rows = len(x)
        self._estimator = self.make_estimator(ctx)
        groups = np.array([s.subject for s in train] if lengths is None else
                          [s.subject for s, n in zip(train, lengths) for _ in range(int(n))])
        held = self._held_out(groups, y, ctx) if len(x) >= self.MIN_ROWS else None
        if held is None:
            self._estimator.fit(x, y)
        else:
            self._fit_early_stopped(x, y, held, ctx)
        return self

    EARLY_STOP_FRACTION = 0.2
    MIN_ROWS = 200
    PATIENCE = 10

    def _held_out(self, groups, y, ctx):
        """Boolean mask of the rows of the held-out subjects, or None."""
        subjects = np.unique(groups)
        if subjects.size < 3:
            return None
        rng = np.random.default_rng(ctx.seed)
        n = max(1, int(round(self.EARLY_STOP_FRACTION * subjects.size)))
        held = np.isin(groups, rng.permutation(subjects)[:n])
        if ctx.task.kind == "classification" and np.unique(y[~held]).size < np.unique(y).size:
            return None  # a class only the held-out subjects show: train on everyone
        return held

    def _fit_early_stopped(self, x, y, held, ctx):
        import copy

        scaler, mlp = self._estimator[0], self._estimator[-1]
        xs = scaler.fit(x[~held]).transform(x)
        fit_x, fit_y, val_x, val_y = xs[~held], y[~held], xs[held], y[held]
        classes = np.unique(y) if ctx.task.kind == "classification" else None
        best, best_state, stale = -np.inf, None, 0
        for _ in range(mlp.max_iter):
            if classes is not None:
                mlp.partial_fit(fit_x, fit_y, classes=classes)
            else:
                mlp.partial_fit(fit_x, fit_y)
            score = mlp.score(val_x, val_y)  # R^2 or accuracy on unseen subjects
            if score > best + 1e-4:
                best, stale = score, 0
                best_state = copy.deepcopy((mlp.coefs_, mlp.intercepts_))
            else:
                stale += 1
                if stale >= self.PATIENCE:
                    break
        if best_state is not None:  # else no epoch gave a finite score: keep the last
            mlp.coefs_, mlp.intercepts_ = best_state
        self.early_stop = {"held_out_rows": int(held.sum()), "best_validation_score": float(best)}


@hookimpl
def emobench_register_models():
    return [MeanBaseline, LinearBaseline, MLPBaseline]
