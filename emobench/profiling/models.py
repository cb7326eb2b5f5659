"""Profiles of registered models: a network when the model has one, its
``predict`` on synthetic input of the declared shape when it has none.

A profile describes one configuration: the model's version and a hash of its
hyper-parameters (the tuned ones of a leaderboard row, or the paper's) are
stored with the figures, so a row's latency and size are its own and a
model's new version is profiled again. A profile taken while the machine
was loaded (1-minute load above the core count) is repeated once and the
run with the lower load kept; both loads are recorded.
"""

from __future__ import annotations

import os
import time

import numpy as np

from emobench.profiling.latency import enough_calls, profile_module, source_fps
from emobench.profiling.roofline import load_average, machine_info


def _resolve_model(model, params: dict | None = None):
    from emobench.model import Model

    if isinstance(model, str):
        from emobench.plugins import registry

        return registry().model(model)(**(params or {}))
    if isinstance(model, type) and issubclass(model, Model):
        return model(**(params or {}))
    if isinstance(model, Model):
        return model
    raise TypeError(f"profile_model: expected a model name, Model class or instance, got {model!r}")


def config_hash(model) -> str:
    """Hash of a model's hyper-parameters (12 hex digits)."""
    from emobench.media import content_key

    return content_key(type(model).__name__, {str(k): _jsonable(v) for k, v in model.params.items()})[:12]


def _busy(load: float | None) -> bool:
    return load is not None and load > (os.cpu_count() or 1)


# -- models without a network ---------------------------------------------------

def _synthetic_samples(modalities, task, inputs: dict[str, str], n: int, seed: int = 0) -> list:
    """``n`` samples whose streams are random arrays of the declared shapes
    (variable dimensions: 50 steps) with labels valid for ``task``."""
    from emobench.data import Recording, Sample

    rng = np.random.default_rng(seed)
    steps = 50

    def shape_of(name):
        # a modality's shape is one time step's; an image, or a series kind without a
        # rate (clip-level functionals such as eGeMAPS), is the whole item
        mod = modalities[name]
        step = tuple(64 if d is None else int(d) for d in (mod.shape or ()))
        if "image" in mod.kind or (mod.rate is None and step and mod.kind not in ("face_video", "audio")):
            return step
        if mod.kind == "audio":  # two seconds of waveform
            return (int(2 * (mod.rate or 16000)), *step)
        return (steps, *step)

    out = []
    for i in range(n):
        arrays = {name: (rng.random(shape_of(name)) * (255 if "video" in modalities[name].kind
                                                       or "image" in modalities[name].kind else 1)
                         ).astype(np.float32) for name in set(inputs.values())}
        if task.kind == "classification":
            k = len(task.classes) or 2
            y = (i % k) if task.level == "clip" else rng.integers(0, k, steps)
        else:
            y = float(rng.random()) if task.level == "clip" else rng.random(steps)
        streams = {name: (lambda a=a, **spec: a) for name, a in arrays.items()}
        rec = Recording(f"synthetic-{i}", f"s{i % 4}", labels={task.name: y}, streams=streams)
        out.append(Sample(rec, task, dict(inputs)))
    return out


def fitted_size(model, modalities=None, task=None) -> int | None:
    """Learned numbers of a fitted model without a ``torch_module``: coefficients
    and intercepts of scikit-learn estimators (a pipeline's steps included), the
    parameters of the torch networks it holds, else the model's declared
    parameter count for these inputs."""
    nets = _networks(model)
    if nets:
        return sum(p.numel() for net in nets for p in net.parameters())
    est = getattr(model, "_estimator", None)
    if est is not None:
        steps = [s for _, s in getattr(est, "steps", [(None, est)])]
        total = 0
        for s in steps:
            for attr in ("coef_", "intercept_", "coefs_", "intercepts_"):
                v = getattr(s, attr, None)
                if v is None:
                    continue
                total += sum(np.size(a) for a in v) if isinstance(v, list) else int(np.size(v))
        if total:
            return total
    n = type(model).param_count(modalities, task)
    return int(n) if n is not None else None


def _networks(model) -> list:
    """The torch modules a fitted model holds as attributes (none when torch was
    never imported: such a model has no network)."""
    import sys

    torch = sys.modules.get("torch")
    if torch is None:
        return []
    out = []
    for v in vars(model).values():
        if isinstance(v, torch.nn.Module) and all(v is not o for o in out):
            out.append(v)
    return out


def profile_predict(m, modalities, task, *, iters: int = 30, min_time: float = 0.5,
                    max_time: float = 10.0) -> dict:
    """Latency of ``predict`` on one synthetic sample after fitting on a few:
    at least ``iters`` calls and ``min_time`` seconds, at most ``max_time``
    seconds (never fewer than 3 calls), the rule of :func:`time_calls`."""
    from emobench.model import FitContext

    inputs = type(m).resolve_inputs(modalities)
    if inputs is None:
        raise ValueError(f"model {m.name!r} cannot read these modalities: {', '.join(modalities)}")
    k = max(8, 2 * (len(task.classes) or 2))
    train, valid = _synthetic_samples(modalities, task, inputs, k), _synthetic_samples(modalities, task, inputs, 4, 1)
    ctx = FitContext(task=task, modalities=modalities, profile="smoke", seed=0)
    m.fit(train, valid, ctx)
    one = [s.without_labels() if hasattr(s, "without_labels") else s for s in valid[:1]]
    m.predict(one)
    times, start = [], time.perf_counter()
    while not enough_calls(len(times), time.perf_counter() - start, min_iters=iters,
                           min_time=min_time, max_time=max_time):
        t0 = time.perf_counter()
        m.predict(one)
        times.append((time.perf_counter() - t0) * 1e3)
    t = np.asarray(times)
    fps1 = 1e3 / float(np.median(t))
    shape = [list(np.shape(one[0].x(kind))) for kind in inputs]
    return {"p50_ms": float(np.median(t)), "p95_ms": float(np.percentile(t, 95)),
            "p99_ms": float(np.percentile(t, 99)), "mean_ms": float(t.mean()), "iters": len(t),
            "fps_batch1": fps1, "fps_batchN": fps1, "batch": 1, "source_fps": source_fps(fps1, m.realtime),
            "realtime": dict(m.realtime or {}), "params": fitted_size(m, modalities, task),
            "gflops_per_item": None,
            "roofline_fraction": None, "backend": "predict", "threads": None, "device": "cpu",
            "input_shape": shape, "timed": "predict on one synthetic recording (no network)"}


# -- any model ------------------------------------------------------------------

def _pipeline_note(m, modalities) -> dict:
    """What `real-time` covers: a model reading action units needs an extractor."""
    kinds = {v.kind for v in (modalities or {}).values()}
    consumes = set(type(m).consumes)
    if consumes & {"aus", "au", "facs", "action_units"} or any("au" in k for k in kinds & consumes):
        return {"realtime_scope": "model only (needs an action-unit extractor, not timed)"}
    return {"realtime_scope": "whole pipeline after face crops" if "face_video" in consumes
            else "model only"}


def profile_model(model, *, modalities=None, task=None, batch: int = 8, threads: int | None = None,
                  backend: str = "auto", iters: int | None = None, warmup: int = 5,
                  min_time: float = 1.0, rtol: float = 1e-4, store=None, input_name: str | None = None,
                  device: str = "cpu", params: dict | None = None, repeat_under_load: bool = True,
                  candidates: tuple[str, ...] | None = None, timed: dict | None = None,
                  max_time: float = 20.0) -> dict:
    """Profile a registered model (name, class or instance) at ``params`` (the
    tuned configuration; default: the paper's) through its
    ``torch_module(modalities, task)``, or through ``predict`` when it has no
    network (then ``modalities`` and ``task`` are needed); record it in
    ``store`` when given. Returns the figures plus ``model``, ``input``,
    ``model_version``, ``config_hash`` and ``machine``.

    The network is built from the configuration and timed untrained: latency
    does not depend on the weights. ``timed`` (a dict the caller keeps) maps a
    network's :func:`network_signature` to figures already measured, so two
    configurations that build the same network (they differ in the learning
    rate, say) are timed once; the copy says so in ``timed_as``.
    ``candidates``: the backends ``auto`` races (default: all of AUTO_BACKENDS)."""
    m = _resolve_model(model, params)

    def once() -> dict:
        got = m.torch_module(modalities, task)
        if got is None:
            if modalities is None or task is None:
                raise ValueError(f"model {m.name!r} has no torch network: profiling its predict needs a "
                                 f"corpus's modalities and task")
            return profile_predict(m, modalities, task, min_time=min_time, max_time=max_time)
        module, example = got
        sig = None
        if timed is not None:
            sig = network_signature(module, example, batch=batch, threads=threads, backend=backend,
                                    device=device, candidates=candidates)
            if sig in timed:
                return {**timed[sig], "timed_as": timed[sig].get("config_hash")}
        extra = {"candidates": tuple(candidates)} if candidates else {}
        figures = profile_module(module, example, batch=batch, threads=threads, backend=backend,
                                 iters=iters, warmup=warmup, min_time=min_time, rtol=rtol,
                                 realtime=m.realtime, device=device, max_time=max_time, **extra)
        figures["_signature"] = sig
        return figures

    load = load_average()
    figures = once()
    figures.setdefault("load_at_start", load)
    if repeat_under_load and _busy(load) and "timed_as" not in figures:
        again = once()
        again["load_at_start"] = load_average()
        again["repeated_under_load"] = {"first_load": load, "first_p50_ms": figures["p50_ms"]}
        if again["p50_ms"] <= figures["p50_ms"] or not _busy(again["load_at_start"]):
            figures = again
    sig = figures.pop("_signature", None)
    shape = "x".join(str(d) for d in (figures["input_shape"][0] if figures["input_shape"] else []))
    name = input_name or (",".join(f"{k}:{v.kind}" for k, v in modalities.items()) if modalities else "paper")
    figures.update(input=f"{name}[{shape}]", model=m.name, task=getattr(task, "name", None),
                   model_version=type(m).version, config_hash=config_hash(m),
                   params_config={str(k): _jsonable(v) for k, v in m.params.items()},
                   **_pipeline_note(m, modalities))
    if figures.get("params") is None:
        figures["params"] = fitted_size(m, modalities, task)
    if timed is not None and sig is not None and "timed_as" not in figures:
        timed[sig] = dict(figures)
    machine = machine_info(figures.get("threads"))
    if store is not None:
        store.add_profile(model=m.name, input=figures["input"], backend=figures["backend"],
                          threads=figures.get("threads") or 0, batch=figures["batch"],
                          figures=_jsonable(figures), machine=machine)
    figures["machine"] = machine
    return figures


def network_signature(module, example, **how) -> str:
    """What a network's timing depends on: its layers as printed (types, sizes,
    strides), every parameter's and buffer's shape and type, the input shapes,
    and how it is timed (``how``). Weights and training settings are not part."""
    from emobench.media import content_key
    from emobench.profiling.backends import _tensors

    tensors = [*module.named_parameters(), *module.named_buffers()]
    return content_key("network", type(module).__qualname__, repr(module),
                       [(n, list(t.shape), str(t.dtype)) for n, t in tensors],
                       [list(t.shape) for t in _tensors(example)],
                       {k: (list(v) if isinstance(v, tuple) else v) for k, v in how.items()})[:24]


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (np.floating, np.integer)):
        return obj.item()
    return obj


# -- after a run -------------------------------------------------------------------

# backends the after-run phase races: the cheap ones (jit and onnx need a trace or
# an export per network, seconds each; `emobench profile` races them all)
RUN_CANDIDATES = ("eager", "channels_last")


def tuned_configs(store, cells) -> list[tuple[str, str, str, dict | None]]:
    """(dataset, model, task, tuned params) for each leaderboard entry of ``cells``:
    the best params of the entry's last row (last fold, last seed), which is what
    the leaderboard looks the profile up by (leaderboard.render.profile_for); the
    paper's configuration (None) for a (corpus, model) with no row yet. Distinct
    configurations only, in a stable order."""
    wanted: dict[tuple[str, str], str] = {}
    for c in cells:
        wanted.setdefault((c.dataset, c.model), c.task)
    entries: dict = {}
    for r in store.rows():
        if (r.get("dataset"), r.get("model")) not in wanted:
            continue
        key = r.get("identity_key") or (r["dataset"], r.get("task"), r["model"], r.get("protocol"))
        entries.setdefault(key, []).append(r)
    out, seen = [], set()
    for key in sorted(entries, key=str):
        last = max(entries[key], key=lambda r: (r.get("fold_index") or 0, r.get("seed") or 0))
        params = last.get("best_params") or None
        item = (last["dataset"], last["model"], last.get("task") or wanted[(last["dataset"], last["model"])],
                params)
        ident = (item[0], item[1], _jsonable_key(params))
        if ident not in seen:
            seen.add(ident)
            out.append(item)
    profiled = {(d, m) for d, m, _, _ in out}
    out += [(d, m, t, None) for (d, m), t in sorted(wanted.items()) if (d, m) not in profiled]
    return out


def _jsonable_key(params) -> str:
    import json

    return json.dumps(_jsonable(params or {}), sort_keys=True, default=str)


def profiled(store) -> set[tuple]:
    """(model, corpus, model version, config hash) of every stored profile (not
    only the newest per model and input: the leaderboard reads them all, one per
    entry's configuration)."""
    import sqlalchemy as sa

    from emobench.store import profiles

    with store.engine.connect() as c:
        rows = c.execute(sa.select(profiles.c.model, profiles.c.input, profiles.c.figures)).all()
    return {(model, (inp or "").split("[")[0], (fig or {}).get("model_version"), (fig or {}).get("config_hash"))
            for model, inp, fig in rows}


def profile_latency(reg, cells, store_url: str | None, *, min_time: float = 0.5, max_time: float = 2.0,
                    candidates: tuple[str, ...] = RUN_CANDIDATES) -> list[str]:
    """Profile each leaderboard entry of ``cells`` at its tuned configuration (see
    :func:`tuned_configs`), once per (model, model version, corpus, configuration)
    already in the store or not; returns a message per profile that could not be
    made. Latency is a leaderboard column, never a reason to fail a run.

    Cheap by construction: the tuned network is built from the configuration and
    timed untrained (latency does not depend on the weights; nothing is refit),
    configurations that build the same network are timed once (``timed_as``),
    ``auto`` races the backends in ``candidates`` only, each timing loop stops
    after ``max_time`` seconds (at least 3 calls), and a loaded machine is
    recorded (``load_at_start``, ``load``) rather than waited out."""
    from emobench.store import Store, default_url

    store = Store(store_url or default_url())
    have = profiled(store)
    problems, timed = [], {}
    for ds_name, model_name, task_name, params in tuned_configs(store, cells):
        ds, cls = reg.dataset(ds_name), reg.model(model_name)
        try:
            task = ds.task(task_name)
            m = cls(**(params or {}))
            if (model_name, ds_name, cls.version, config_hash(m)) in have:
                continue
            profile_model(m, modalities=ds.modalities, task=task, store=store, input_name=ds_name,
                          params=params, min_time=min_time, max_time=max_time, candidates=candidates,
                          timed=timed, repeat_under_load=False)
            have.add((model_name, ds_name, cls.version, config_hash(m)))
        except Exception as exc:
            problems.append(f"profiling {model_name} on {ds_name} failed: {type(exc).__name__}: {exc}")
    return problems
