"""Renders the results store into a Markdown leaderboard (tabulate).

It reads the store only: it never runs a model. One table per (dataset, task,
protocol, test set, profile), one entry per identity (see :mod:`.collect`).
Everything is written into the folder atomically (temporary file, then rename),
and PNGs of an earlier rendering that this one did not write are removed.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import tempfile
from pathlib import Path

from tabulate import tabulate

from emobench import stats as S
from emobench.leaderboard import plots
from emobench.leaderboard.collect import ALPHA, MIN_K, Entry, Table, collect
from emobench.store import Store, profiles


class StoreNotFound(FileNotFoundError):
    """The leaderboard or export was pointed at a results store that does not exist."""


def require_store(url: str) -> Store:
    """Open an existing store; a SQLite file that is not there is :class:`StoreNotFound`
    (opening would silently create an empty one)."""
    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///"):].split("?", 1)[0]
        if path not in ("", ":memory:") and not Path(path).is_file():
            raise StoreNotFound(f"no results store at {path}: run `emobench run` first or "
                                f"point --store at one")
    return Store(url)


def _fmt(x, nd=3):
    return "n/a" if x is None or (isinstance(x, float) and not math.isfinite(x)) else f"{x:.{nd}f}"


def all_profiles(store: Store) -> list[dict]:
    import sqlalchemy as sa

    with store.engine.connect() as c:
        return [dict(r._mapping) for r in c.execute(sa.select(profiles).order_by(profiles.c.created))]


def profile_for(e: Entry, t: Table, profs: list[dict]) -> tuple[dict | None, str]:
    """The newest profile of this entry's tuned configuration: same model, same
    model version, the row's tuned hyper-parameters among the profiled ones, on
    this corpus. Otherwise (None, why not)."""
    mine = [p for p in profs if p["model"] == e.model and (p["input"] or "").split("[")[0] == t.dataset]
    if not mine:
        return None, "not profiled"
    version = e.identity.get("model_version")
    same_v = [p for p in mine if str((p["figures"] or {}).get("model_version")) == str(version)]
    if not same_v:
        return None, "not profiled (this version)"
    tuned = (e.rows[-1].get("best_params") or {}) if e.rows else {}
    same_c = [p for p in same_v if all(((p["figures"] or {}).get("params_config") or {}).get(k) == v
                                        for k, v in tuned.items())]
    if not same_c:
        return None, "not profiled (tuned config)"
    return same_c[-1], ""


def _seeds(e: Entry) -> str:
    if len(e.seeds) == 1:
        return "1 seed (deterministic)" if e.deterministic else "1 seed"
    sp = S.seed_spread(e.seed_scores)
    return f"± {sp.std:.3f} sd over {sp.n} seeds"


def _inputs(e: Entry) -> str:
    return ", ".join(sorted(set((e.inputs or {}).values()))) or "n/a"


def _model_cls(name: str):
    """The registered model class, or None when it is not installed here."""
    try:
        from emobench.plugins import registry

        return registry().model(name)
    except Exception:
        return None


def _model_label(name: str) -> str:
    """The model's name; a pretrained model that is not trained here (``pretrained``,
    no search space) says so, so a zero-shot row is never read as a trained one."""
    cls = _model_cls(name)
    if cls is not None and getattr(cls, "pretrained", False) and not cls.search_space():
        return f"{name} (pretrained, not tuned)"
    return name


def _work(e: Entry) -> str:
    """The share of the default work the time budget left the row (1 = whole);
    under the model's declared floor (``min_work``) it says the model learns little."""
    share = float(((e.identity or {}).get("knobs") or {}).get("work", 1.0))
    if share >= 1.0:
        return "1"
    floor = float(getattr(_model_cls(e.model), "min_work", 0.0) or 0.0)
    return f"{share:g} (below floor {floor:g})" if share < floor else f"{share:g}"


def render_table(t: Table, profs: list[dict] | dict | None = None) -> str:
    profs = profs if isinstance(profs, list) else []
    per_seq = any(math.isfinite(e.per_sequence_ccc) for e in t.entries)
    head = ["rank", "model", "input", f"{t.metric} (95% CI)", "seeds"]
    head += ["per-seq CCC"] if per_seq else []
    head += ["Δ vs best (p)", "Holm p", "folds", "trials", "work", "params", "p50 ms", "FPS", "real-time"]
    body, rank = [], 0
    for e in t.entries:
        rank += 1
        mark = " ≈" if e.near_best else ""
        r = f"{rank}{mark}"
        ci = e.ci
        ci_txt = (f"{_fmt(e.score)} [{_fmt(ci.low)}, {_fmt(ci.high)}]" if ci.has_interval
                  else f"{_fmt(e.score)} ({ci.reason})")
        if e.is_best:
            diff, holm = "best", ""
        elif e.compared:
            diff = f"{e.diff_vs_best:+.3f} (p {S.format_p(e.p_vs_best, e.p_floor)})"
            holm = S.format_p(e.p_holm)
        else:
            diff, holm = e.note or "not compared", ""
        folds = f"{e.folds_run}/{e.folds_total}" + ("" if e.complete else f" partial ({e.partial_reason})")
        if "+capped" in str(e.identity.get("protocol_version") or ""):
            folds += " regrouped"  # a fold cap regrouped the protocol's test sets (docs/protocols.md)
        prof, why = profile_for(e, t, profs)
        fig = (prof or {}).get("figures") or {}
        fps = fig.get("source_fps") or fig.get("fps_batch1")
        # the tuned configuration's size comes from its profile only: a row's own
        # param_count is the class default (the paper configuration), not the tuned one
        params = fig.get("params") if prof else None
        rt = why or ("yes" if fps and fps >= fig.get("source_rate", 25.0) else "no")
        row = [r, _model_label(e.model), _inputs(e), ci_txt, _seeds(e)]
        row += [_fmt(e.per_sequence_ccc)] if per_seq else []
        size = (why if not prof else "not reported") if params is None else f"{int(params):,}"
        row += [diff, holm, folds, e.trials, _work(e), size,
                _fmt(fig.get("p50_ms"), 2) if prof else why, _fmt(fps, 1) if prof else why, rt]
        body.append(row)
    out = tabulate(body, head, tablefmt="github", disable_numparse=True)
    out += reference_note(t)
    return out


def reference_note(t) -> str:
    """The table's reference line: the stand-in's oracle on exactly this test set, or
    why there is none (a real copy has no generator, so nothing is printed)."""
    if not t.synthetic or not t.reference:
        return ""
    ref = t.reference.get("value")
    if ref is None:
        return f"\n\nReference ({t.metric}): none, {t.reference.get('none', 'not given')}."
    bound = "an upper" if t.greater_is_better else "a lower"
    if t.reference.get("scope") == "every test set":
        return (f"\n\nReference ({t.metric}): **{_fmt(ref)}** on every test set, "
                f"{t.reference.get('reference')}: an oracle that sees the generator's state "
                f"scores perfectly; {bound} bound no model row can pass.")
    return (f"\n\nReference ({t.metric}): **{_fmt(ref)}** on this test set (k = {t.k}), "
            f"reference: {t.reference.get('reference')}: what a model that saw the noise-free "
            f"state could reach; {bound} bound no model row should pass.")


LEGEND = f"""One entry = the rows of one identity (dataset and version, data fingerprint, task,
protocol with version and fold checksum, model with version and providing distribution, profile,
trial budget, seed set); rows of different identities are never pooled, and the newest identity
per model is shown (`emobench leaderboard --all-versions` shows the older ones too).
The primary metric is computed on the pooled predictions of all test folds, averaged over the
training seeds; its 95% interval is a leave-one-subject-out jackknife t-interval over the k test
subjects (Fisher z for CCC/Pearson; seed variance added), and below k = {MIN_K} no interval is
printed, the row says why. `seeds` is the spread (sample sd) of the score across training seeds.
`Δ vs best (p)` is the difference to the best complete entry on the same test items with the
two-sided p-value of an exact subject-level permutation test (all 2^k within-subject swaps for
k ≤ 16, else 10,000 random swaps, printed `< x` when none was as extreme; seed variance enters
through the per-seed scores). `Holm p` adjusts those p-values for the comparisons of that table
(Holm's step-down); `≈` marks an entry whose Holm-adjusted p exceeds {ALPHA}, i.e. not shown to
differ from the best. `folds` is folds run / folds of the protocol; a partial entry is marked and
ranked after the complete ones; `work` is the share of the profile's default training work
(epochs or clips) the time budget left the entry (1 = all of it; `below floor` = under the
least share the model declares it learns with, so it learns little); `regrouped`: the profile's fold cap regrouped a
cross-validation's test sets into that many folds, every subject still tested
(protocol version `+capped<n>`); entries on other test items are not compared. `params`, `p50 ms`, `FPS` are those of the row's
tuned configuration and model version (`emobench profile`, batch 1); `not profiled` says no
such profile exists. `real-time`: the source frames per second reach the corpus's frame rate.
Tables marked *white-box check* have a label that is a deterministic formula of the input used:
they check the pipeline, they are not recognition results."""


def _atomic_write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _class_names(t: Table) -> tuple[str, ...]:
    try:
        from emobench.plugins import registry

        return tuple(registry().dataset(t.dataset).task(t.task).classes)
    except Exception:
        return ()


def _machines(profs: list[dict]) -> str:
    seen = []
    for p in profs:
        m = p.get("machine") or {}
        name = f"{m.get('cpu', '?')} ({m.get('cores', '?')} cores)"
        if name not in seen:
            seen.append(name)
    return "; ".join(seen) or "no profiles"


def write(store: Store, out: Path, n_boot: int = 1000, seed: int = 0, *,
          all_versions: bool = False) -> Path:
    from emobench import provenance

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tables = collect(store, n_boot=n_boot, seed=seed, all_versions=all_versions)
    profs = all_profiles(store)
    written: set[str] = set()
    lines = ["# emobench leaderboard", "", LEGEND, ""]
    for synthetic, title in ((False, "Real data"),
                             (True, "Synthetic stand-ins (not comparable to published results)")):
        section = [t for t in tables if t.synthetic == synthetic]
        lines += [f"## {title}", ""]
        if synthetic:
            lines += ["These rows come from synthetic stand-ins written by each dataset plugin's "
                      "stand-in generator in the corpus's real layout (the generator is named per "
                      "table by its data fingerprint). They test the harness on known generative "
                      "structure; they say nothing about real-data accuracy.", ""]
        if not section:
            lines += ["No results yet.", ""]
        for t in section:
            lines += _table_block(t, profs, out, written)
    from emobench.leaderboard import sections

    lines += sections.render_all(store, tables, out, written)
    failed = store.rows("failed")
    if failed:
        lines += ["## Failed folds (retried by the next run)", ""]
        lines += [f"- `{r['dataset']}/{r['task']} x {r['model']} x {r['protocol']}` fold "
                  f"`{r['fold']}`: {((r['error'] or '').splitlines() or [''])[0]}" for r in failed]
        lines.append("")
    v = provenance.versions()
    here = provenance.machine()
    lines += ["---", "",
              f"Profiles: {', '.join(sorted({t.profile for t in tables})) or 'none'}. "
              f"Latency profiled on: {_machines(profs)}. Rendered on: {here['cpu']} "
              f"({here['cores']} cores). emobench {v.get('emobench')}, torch {v.get('torch')}, "
              f"commit {provenance.git_commit()}. Generated {dt.date.today().isoformat()} by "
              f"`emobench leaderboard`."]
    plots.remove_stale(out, written)
    index = out / "README.md"
    _atomic_write(index, "\n".join(lines) + "\n")
    return index


def _table_block(t: Table, profs: list[dict], out: Path, written: set[str]) -> list[str]:
    kind = " — white-box check" if t.white_box else ""
    src = f", stand-in `{t.data}` scale `{t.scale}`" if t.synthetic and t.data else ""
    lines = [f"### {t.title}{kind}", "",
             f"Primary metric: `{t.metric}`{src}. Test subjects: k = {t.k}.", ""]
    if t.white_box:
        lines += ["The label of this task is a deterministic formula of the input these rows "
                  "used: a white-box check of the pipeline, not a recognition result.", ""]
    lines += [render_table(t, profs), ""]
    pts = []
    for e in t.entries:
        prof, _ = profile_for(e, t, profs)
        fig = (prof or {}).get("figures") or {}
        fps = fig.get("source_fps") or fig.get("fps_batch1")
        if fps and math.isfinite(e.score):
            pts.append({"model": e.model, "score": e.score, "fps": float(fps)})
    links = []
    if pts:
        p = plots.pareto(t, pts, out / f"pareto-{t.slug}.png")
        written.add(p.name)
        links.append(f"[accuracy vs speed]({p.name})")
    if t.kind == "classification":
        p = plots.confusion(t, out / f"confusion-{t.slug}.png", _class_names(t))
        if p is not None:
            written.add(p.name)
            links.append(f"[confusion matrices]({p.name})")
    if links:
        lines += ["Pictures: " + ", ".join(links) + ".", ""]
    return lines
