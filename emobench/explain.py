"""``emobench explain``: fit a model on one fold and ask it to explain itself."""

from __future__ import annotations

from pathlib import Path

from emobench import datasource
from emobench.data import Sample
from emobench.model import FitContext, pick_device
from emobench.plugins import registry
from emobench.profiles import get_profile
from emobench.runner import load_recordings, oriented_scorer, samples_for
from emobench.tuning import tune


def explain_model(model: str, dataset: str, task: str, out: Path, *, profile: str = "default",
                  data_root=None, recording: str | None = None, seed: int = 0) -> list[Path]:
    reg = registry()
    cls, ds = reg.model(model), reg.dataset(dataset)
    if not hasattr(cls, "explain"):
        raise SystemExit(f"model {model!r} has no explain() method")
    t = ds.task(task)
    prof = get_profile(profile)
    src = datasource.resolve(ds, datasource.data_root(data_root), prof.scale)
    recs = load_recordings(ds, src.root)
    fold = reg.protocol(ds.protocols[0]).folds(recs, seed)[0]
    inputs = cls.resolve_inputs(ds.modalities)
    if inputs is None:
        raise SystemExit(f"model {model!r} cannot consume dataset {dataset!r}")
    train, valid, test = (samples_for(recs, ids, t, inputs) for ids in (fold.train, fold.valid, fold.test))
    ctx = FitContext(task=t, modalities=ds.modalities, profile=profile, seed=seed,
                     device=pick_device(), score=oriented_scorer(t))
    fitted = tune(cls, train, valid, ctx, trials=1, seed=seed).model
    target: Sample = next((s for s in test if s.id == recording), test[0]) if recording else test[0]
    out.mkdir(parents=True, exist_ok=True)
    return list(fitted.explain(target, out))
