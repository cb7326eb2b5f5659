"""Subprocess half of the interrupt tests: run one fold of a model that signals
its own process from a timer thread while it trains.

    python interrupt_kit.py STORE_URL MODEL SIGNAL MARKER_DIR

MODEL is ``mlp-interrupted`` (scikit-learn's MLP, which swallows
KeyboardInterrupt) or ``torch-interrupted`` (a plain torch training loop).
SIGNAL is INT, TERM or NONE (no timer: the fold runs to its end). Each model
writes ``MARKER_DIR/<model>.returned`` when its fit returned after the signal,
so the test can tell that the library really swallowed the interrupt.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from importlib.metadata import entry_points
from pathlib import Path

import numpy as np

from emobench import Model, hookimpl

STORE, MODEL, SIGNAL, MARKERS = sys.argv[1:5] if len(sys.argv) > 4 else ("", "", "NONE", ".")


def _arm_timer() -> None:
    if SIGNAL == "NONE":
        return
    sig = getattr(signal, f"SIG{SIGNAL}")
    threading.Timer(0.5, os.kill, (os.getpid(), sig)).start()


def _baselines():
    ep = next(e for e in entry_points(group="emobench") if e.name == "baselines")
    return ep.load()


class _Plugin:
    @hookimpl
    def emobench_register_models(self):
        mlp_base = _baselines().MLPBaseline

        class InterruptedMLP(mlp_base):
            name = "mlp-interrupted"

            @classmethod
            def search_space(cls, profile="default"):
                return {}

            def make_estimator(self, ctx):
                pipe = super().make_estimator(ctx)
                # never converges on its own: only the interrupt ends it
                pipe[-1].set_params(max_iter=10 ** 7 if SIGNAL != "NONE" else 20, tol=0.0,
                                    n_iter_no_change=10 ** 7,
                                    early_stopping=False)
                return pipe

            def fit(self, train, valid, ctx):
                _arm_timer()
                super().fit(train, valid, ctx)
                Path(MARKERS, f"{self.name}.returned").write_text("fit returned")
                return self

        return [InterruptedMLP, TorchLoop]


class TorchLoop(Model):
    """A linear layer trained by a plain torch loop, for as many steps as it takes."""

    name = "torch-interrupted"
    consumes = ("features",)
    levels = ("frame",)
    task_kinds = ("regression",)

    def fit(self, train, valid, ctx):
        import torch

        _arm_timer()
        x = torch.from_numpy(np.concatenate([s.x("features") for s in train]))
        y = torch.from_numpy(np.concatenate([s.y for s in train]).astype(np.float32))
        self.net = torch.nn.Linear(x.shape[1], 1)
        opt = torch.optim.SGD(self.net.parameters(), lr=1e-3)
        steps = 10 ** 8 if SIGNAL != "NONE" else 50
        for _ in range(steps):
            opt.zero_grad()
            loss = ((self.net(x)[:, 0] - y) ** 2).mean()
            loss.backward()
            opt.step()
        Path(MARKERS, f"{self.name}.returned").write_text("fit returned")
        return self

    def predict(self, samples):
        import torch

        with torch.no_grad():
            return [self.net(torch.from_numpy(s.x("features")))[:, 0].numpy() for s in samples]


def main() -> None:
    import emobench.plugins as P
    import plugin_kit
    from emobench import runner
    from emobench.cells import plan
    from emobench.profiles import get_profile

    eps = [e for e in entry_points(group="emobench") if e.name == "protocols"]
    P.entry_points = lambda group: eps
    reg = P.load_registry([(plugin_kit, P.Origin("testkit", "emobench-testkit", "1.0")),
                           (_Plugin(), P.Origin("interrupt-kit", "emobench-interrupt-kit", "1.0"))])
    P._REGISTRY = reg
    cells, _ = plan(reg, get_profile("smoke"), dataset="toy", model=MODEL, task="level")
    summary = runner.run(cells, profile="smoke", max_folds=1, store_url=STORE, progress=False)
    print(summary.line())


if __name__ == "__main__":
    main()
