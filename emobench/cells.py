"""Which (dataset, task, model, protocol) cells are compatible, and why not.

A model pairs with a task when the dataset provides what the model consumes and
the model supports the task's kind and level. A protocol applies to a dataset
that lists it in ``Dataset.protocols`` (or that the protocol names in its
``datasets``). The default profile runs only each corpus's primary protocol.
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatch

from emobench.plugins import Registry
from emobench.profiles import Profile


@dataclass(frozen=True)
class Cell:
    dataset: str
    task: str
    model: str
    protocol: str

    def __str__(self) -> str:
        return f"{self.dataset}/{self.task} x {self.model} x {self.protocol}"


@dataclass(frozen=True)
class Skip:
    dataset: str
    task: str
    model: str
    protocol: str
    reason: str


def model_task_mismatch(model_cls, ds, task) -> str | None:
    if model_cls.resolve_inputs(ds.modalities) is None:
        need = (" or " if model_cls.consumes_any else " and ").join(model_cls.consumes)
        have = ", ".join(f"{n} ({m.kind})" for n, m in ds.modalities.items())
        return f"model consumes {need}; dataset provides {have}"
    if task.kind not in model_cls.task_kinds:
        return f"model supports {'/'.join(model_cls.task_kinds)}; task is {task.kind}"
    if task.level not in model_cls.levels:
        return f"model supports {'/'.join(model_cls.levels)}-level tasks; task is {task.level}-level"
    return model_cls.incompatibility(task, ds.modalities)


def applicable_protocols(reg: Registry, ds) -> list[str]:
    names = [p for p in ds.protocols if p in reg.protocols]
    names += [n for n, p in reg.protocols.items() if ds.name in p.datasets and n not in names]
    return names


def plan(reg: Registry, profile: Profile, dataset: str = "*", model: str = "*",
         protocol: str | None = None, task: str = "*") -> tuple[list[Cell], list[Skip]]:
    cells, skipped = [], []
    for dname in sorted(reg.datasets):
        if not fnmatch(dname, dataset):
            continue
        ds = reg.datasets[dname]
        protos = applicable_protocols(reg, ds)
        missing = [p for p in ds.protocols if p not in reg.protocols]
        for p in missing:
            skipped.append(Skip(dname, "*", "*", p, "protocol is not registered"))
        if protocol is None:
            chosen = protos if profile.all_protocols else protos[:1]
        else:
            chosen = [p for p in protos if fnmatch(p, protocol)]
        primary = tuple(getattr(ds, "primary_tasks", ()) or ())
        for t in ds.tasks:
            if not fnmatch(t.name, task):
                continue
            if task == "*" and primary and not profile.all_protocols and t.name not in primary:
                # like the primary protocol: a corpus with many tasks names the ones the
                # budgeted profiles run; --task or --profile paper selects the others
                skipped.append(Skip(dname, t.name, "*", "*",
                                    f"task not among the corpus's primary tasks ({', '.join(primary)}) "
                                    f"that profile {profile.name} runs; select it with --task"))
                continue
            for mname in sorted(reg.models):
                if not fnmatch(mname, model):
                    continue
                why = model_task_mismatch(reg.models[mname], ds, t)
                for p in chosen:
                    if why:
                        skipped.append(Skip(dname, t.name, mname, p, why))
                    else:
                        cells.append(Cell(dname, t.name, mname, p))
                if not why:
                    for p in protos:
                        if p not in chosen:
                            skipped.append(Skip(dname, t.name, mname, p,
                                                f"protocol not selected (profile {profile.name} runs "
                                                f"{'all protocols' if profile.all_protocols else 'the primary protocol'}"
                                                f"{'' if protocol is None else f'; --protocol {protocol}'})"))
    return cells, skipped
