"""``emobench list``: short tables that fit 100 columns; every detail with
``--json`` or ``emobench list KIND NAME``."""

from __future__ import annotations

import json
from enum import Enum
from typing import Optional

import typer

from emobench.cli.base import app
from emobench.cli.common import CliError, check_name, check_profile, command, registry, verbosity

WIDTH = 100


class What(str, Enum):
    all = "all"
    datasets = "datasets"
    models = "models"
    protocols = "protocols"
    cells = "cells"
    plugins = "plugins"


def model_info(reg, name, cls, sized: bool = True) -> dict:
    """Everything about a model; ``sized=False`` keeps to the class attributes: no
    parameter count (it builds the network, importing torch) and no search space
    (Optuna distributions): the plain listing does without them."""
    o = reg.origin("model", name)
    info = {"name": name, "distribution": o.distribution, "version": o.version,
            "model_version": cls.version, "consumes": list(cls.consumes),
            "consumes_any": cls.consumes_any, "task_kinds": list(cls.task_kinds),
            "levels": list(cls.levels), "paper": cls.paper, "paper_params": cls.paper_params,
            "description": cls.description}
    if not sized:
        return info
    try:
        params = cls.param_count()
    except Exception as exc:  # a model that cannot size itself without data
        params = f"unknown ({type(exc).__name__})"
    return {**info, "params_paper_config": params,
            "search_space": {k: repr(v) for k, v in cls.search_space("default").items()},
            "starting_points": cls.starting_points("default")}


def dataset_info(reg, name, ds) -> dict:
    o = reg.origin("dataset", name)
    return {"name": name, "distribution": o.distribution, "version": o.version,
            "title": ds.title, "folder": ds.folder, "protocols": list(ds.protocols),
            "modalities": {k: {"kind": m.kind, "shape": list(m.shape), "rate": m.rate,
                               "channels": len(m.channels)} for k, m in ds.modalities.items()},
            "tasks": [{"name": t.name, "kind": t.kind, "level": t.level, "classes": list(t.classes),
                       "range": t.value_range, "metric": t.primary_metric} for t in ds.tasks]}


def protocol_info(reg, name, p) -> dict:
    o = reg.origin("protocol", name)
    return {"name": name, "distribution": o.distribution, "version": o.version,
            "protocol_version": p.version, "needs": list(p.needs), "description": p.description,
            "datasets": list(p.datasets)}


def _join(items, limit: int = 4) -> str:
    items = [str(i) for i in items]
    return ", ".join(items[:limit]) + (f" +{len(items) - limit}" if len(items) > limit else "")


def _short(info: dict, section: str) -> dict:
    """The columns of the plain listing (the rest is in --json / list KIND NAME)."""
    if section == "datasets":
        return {"name": info["name"], "modalities": _join(sorted({m["kind"] for m in info["modalities"].values()})),
                "tasks": _join(t["name"] for t in info["tasks"]),
                "protocols": _join(info["protocols"], 2)}
    if section == "models":
        return {"name": info["name"], "consumes": _join(info["consumes"], 2),
                "tasks": "/".join({"classification": "class", "regression": "regr"}.get(k, k) for k in info["task_kinds"]) + " " + "/".join(info["levels"]),
                "version": info["model_version"],
                "from": info["distribution"] if info["distribution"] != "emobench" else ""}
    if section == "protocols":
        return {"name": info["name"], "needs": _join(info["needs"], 2), "description": info["description"]}
    if section == "plugins":
        return {"plugin": info["plugin"], "registers": _join(info["registers"], 6)}
    if section == "plugin_failures":
        return info
    if section == "cells":
        return {"dataset": info["dataset"], "task": info["task"], "model": info["model"],
                "protocol": info["protocol"]}
    if section == "skipped":
        return {"pair": f"{info['dataset']}/{info['task']} x {info['model']}", "protocol": info["protocol"],
                "reason": info["reason"]}
    return info


def table(rows: list[dict], width: int = WIDTH) -> str:
    """A plain table whose lines fit ``width``: the widest columns wrap first."""
    from tabulate import tabulate

    if not rows:
        return ""
    headers = list(rows[0])
    widths = {h: max(len(h), *(len(str(r.get(h, ""))) for r in rows)) for h in headers}
    budget = width - 2 * (len(headers) - 1)
    while sum(widths.values()) > budget:
        widest = max(widths, key=widths.get)
        if widths[widest] <= 12:
            break
        widths[widest] -= 1
    out = tabulate([[r.get(h, "") for h in headers] for r in rows], headers=headers, tablefmt="simple",
                   maxcolwidths=[widths[h] for h in headers], disable_numparse=True)
    return out


def _detail(reg, what: What, name: str) -> dict:
    tables = {What.datasets: (reg.datasets, dataset_info, "dataset"),
              What.models: (reg.models, model_info, "model"),
              What.protocols: (reg.protocols, protocol_info, "protocol")}
    if what not in tables:
        raise CliError(f"`emobench list {what.value} NAME` takes datasets, models or protocols")
    items, info, kind = tables[what]
    check_name(kind, name, items)
    return info(reg, name, items[name])


@app.command("list")
@command
def list_(what: What = typer.Argument(What.all, help="What to list."),
          name: Optional[str] = typer.Argument(None, help="One dataset, model or protocol: all its details."),
          as_json: bool = typer.Option(False, "--json", help="Every detail, machine-readable."),
          explain: bool = typer.Option(False, "--explain",
                                       help="With cells: also list the pairs that are not cells, and why."),
          profile: str = typer.Option("default", help="Profile whose protocol choice makes the cells.")):
    """List registered datasets, models, protocols, plugins, or compatible cells."""
    check_profile(profile)
    # the plain listing reads metadata only; details, --json and cells need the search
    # spaces (Optuna) and so the deep checks `run` applies
    reg = registry(deep=as_json or name is not None or what == What.cells)
    if name is not None:
        info = _detail(reg, what, name)
        if as_json:
            typer.echo(json.dumps(info, indent=1, default=str))
        else:
            for k, v in info.items():
                typer.echo(f"{k + ':':22s}{json.dumps(v, default=str) if isinstance(v, (dict, list)) else v}")
        return
    out: dict = {}
    if what in (What.all, What.datasets):
        out["datasets"] = [dataset_info(reg, n, d) for n, d in sorted(reg.datasets.items())]
    if what in (What.all, What.models):
        out["models"] = [model_info(reg, n, c, sized=as_json) for n, c in sorted(reg.models.items())]
    if what in (What.all, What.protocols):
        out["protocols"] = [protocol_info(reg, n, p) for n, p in sorted(reg.protocols.items())]
    if what in (What.all, What.plugins):
        origins: dict[str, list] = {}
        for (kind, pname), o in reg.origins.items():
            origins.setdefault(str(o), []).append(f"{kind}:{pname}")
        out["plugins"] = [{"plugin": k, "registers": v} for k, v in sorted(origins.items())]
        out["plugin_failures"] = [{"plugin": str(o), "reason": r} for o, r in reg.failures]
    if what == What.cells:
        from emobench.cells import plan
        from emobench.profiles import get_profile

        # one plan for both views: --explain adds the skipped pairs, never other cells
        cells, skipped = plan(reg, get_profile(profile))
        out["cells"] = [vars(c) for c in cells]
        if explain or verbosity()[0]:
            out["skipped"] = [vars(s) for s in skipped]
    if as_json:
        typer.echo(json.dumps(out, indent=1, default=str))
        return
    for section, items in out.items():
        if not items:
            continue
        typer.secho(f"\n{section} ({len(items)})", bold=True)
        typer.echo(table([_short(it, section) for it in items]))
    if what == What.cells and "skipped" not in out:
        typer.echo(f"\n{len(cells)} cells; {len(skipped)} other pairs skipped (--explain lists them)")
