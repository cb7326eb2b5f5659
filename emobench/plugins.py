"""The plugin manager: discovery, isolation and validation.

Plugins are found through the ``emobench`` entry-point group, built-ins
included. Each entry point is loaded and called in isolation: one that fails
to import, or whose hook raises or returns something malformed, is reported
with its distribution name, version and the reason, and the others still load.

Loading is light by default where a command only shows metadata: ``deep=False``
skips the checks that call a model's ``search_space`` / ``starting_points``
(they build Optuna distributions, and importing Optuna costs a start-up that
``emobench list`` does not need); every command that tunes or checks plugins
loads deep, and :func:`registry` reloads deep when a light registry is cached.

Environment:
    EMOBENCH_STRICT_PLUGINS=1   turn every such report into a hard error.
    EMOBENCH_BLOCK_PLUGINS=a,b  skip entry points (or distributions) by name.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from importlib.metadata import entry_points

import pluggy

from emobench import hookspecs
from emobench.data import Task
from emobench.dataset import Dataset
from emobench.model import Model
from emobench.protocols import Protocol

GROUP = "emobench"
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]*$")


class PluginError(RuntimeError):
    """A plugin could not be loaded or returned something invalid."""


@dataclass
class Origin:
    entry_point: str
    distribution: str
    version: str

    def __str__(self) -> str:
        return f"{self.entry_point} ({self.distribution} {self.version})"


@dataclass
class Registry:
    datasets: dict[str, Dataset] = field(default_factory=dict)
    models: dict[str, type[Model]] = field(default_factory=dict)
    protocols: dict[str, Protocol] = field(default_factory=dict)
    au_extractors: dict[str, object] = field(default_factory=dict)
    origins: dict[tuple[str, str], Origin] = field(default_factory=dict)
    failures: list[tuple[Origin, str]] = field(default_factory=list)
    deep: bool = True  # search spaces and starting points were checked too

    def origin(self, kind: str, name: str) -> Origin:
        return self.origins[(kind, name)]

    def dataset(self, name: str) -> Dataset:
        return _lookup(self.datasets, "dataset", name)

    def model(self, name: str) -> type[Model]:
        return _lookup(self.models, "model", name)

    def protocol(self, name: str) -> Protocol:
        return _lookup(self.protocols, "protocol", name)


def _lookup(table: dict, kind: str, name: str):
    if name in table:
        return table[name]
    import difflib

    close = difflib.get_close_matches(name, list(table), n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else f"; known: {', '.join(sorted(table))}"
    raise KeyError(f"no {kind} named {name!r}{hint}")


# -- validation -------------------------------------------------------------

def validate_dataset(ds) -> list[str]:
    out = []
    if not isinstance(ds, Dataset):
        return [f"{ds!r} is not an emobench.Dataset"]
    if not NAME_RE.match(ds.name or ""):
        out.append(f"name {ds.name!r} must be lower-case kebab-case")
    if not ds.folder:
        out.append("folder (the corpus folder name under the data root) is empty")
    if not ds.modalities:
        out.append("modalities is empty")
    for mname, mod in ds.modalities.items():
        out += [f"modalities[{mname!r}]: {p}" for p in mod.problems()]
    if not ds.tasks:
        out.append("tasks is empty")
    names = [t.name for t in ds.tasks]
    for dup in {n for n in names if names.count(n) > 1}:
        out.append(f"tasks: duplicate task name {dup!r}")
    for t in ds.tasks:
        if not isinstance(t, Task):
            out.append(f"tasks: {t!r} is not an emobench.Task")
            continue
        out += [f"tasks[{t.name!r}]: {p}" for p in t.problems()]
    if not ds.protocols:
        out.append("protocols is empty (the first entry is the primary protocol)")
    return out


def validate_model(cls, deep: bool = True) -> list[str]:
    """What is wrong with a model class; ``deep=False`` checks the class
    attributes only (no ``search_space`` call, so no Optuna import)."""
    if not (isinstance(cls, type) and issubclass(cls, Model)):
        return [f"{cls!r} is not a subclass of emobench.Model"]
    out = []
    if not NAME_RE.match(cls.name or ""):
        out.append(f"name {cls.name!r} must be lower-case kebab-case")
    if not cls.consumes:
        out.append("consumes is empty")
    bad = [k for k in cls.task_kinds if k not in ("classification", "regression")]
    if bad:
        out.append(f"task_kinds: unknown {bad}")
    bad = [lv for lv in cls.levels if lv not in ("clip", "frame")]
    if bad:
        out.append(f"levels: unknown {bad}")
    if deep:
        out += _validate_spaces(cls)
    return out


def _validate_spaces(cls) -> list[str]:
    import optuna

    out = []
    for profile in ("smoke", "default", "paper"):
        try:
            space = cls.search_space(profile)
        except Exception as exc:
            out.append(f"search_space({profile!r}) raised {type(exc).__name__}: {exc}")
            continue
        for pname, dist in space.items():
            if not isinstance(dist, optuna.distributions.BaseDistribution):
                out.append(f"search_space[{pname!r}] is not an optuna distribution")
            elif pname in cls.paper_params and not dist._contains(
                    dist.to_internal_repr(cls.paper_params[pname])):
                out.append(f"paper_params[{pname!r}]={cls.paper_params[pname]!r} lies outside "
                           f"search_space({profile!r})")
        try:
            points = cls.starting_points(profile)
        except Exception as exc:
            out.append(f"starting_points({profile!r}) raised {type(exc).__name__}: {exc}")
            continue
        for i, point in enumerate(points):
            for pname, value in point.items():
                dist = space.get(pname)
                if not isinstance(dist, optuna.distributions.BaseDistribution):
                    out.append(f"starting_points({profile!r})[{i}] sets {pname!r}, which is not "
                               f"in search_space({profile!r})")
                elif not dist._contains(dist.to_internal_repr(value)):
                    out.append(f"starting_points({profile!r})[{i}][{pname!r}]={value!r} lies "
                               f"outside search_space({profile!r})")
    return out


def validate_protocol(p) -> list[str]:
    if not isinstance(p, Protocol):
        return [f"{p!r} is not an emobench.Protocol"]
    out = []
    if not NAME_RE.match(p.name or ""):
        out.append(f"name {p.name!r} must be lower-case kebab-case")
    for need in p.needs:
        if need not in ("subjects", "partition") and not need.startswith("groups:"):
            out.append(f"needs: unknown requirement {need!r}")
    return out


# -- loading ---------------------------------------------------------------

def _blocked() -> set[str]:
    return {s.strip() for s in os.environ.get("EMOBENCH_BLOCK_PLUGINS", "").split(",") if s.strip()}


def _strict() -> bool:
    return os.environ.get("EMOBENCH_STRICT_PLUGINS", "") not in ("", "0", "false", "no")


HOOKS = [
    ("emobench_register_datasets", "datasets", "dataset", validate_dataset),
    ("emobench_register_models", "models", "model", validate_model),
    ("emobench_register_protocols", "protocols", "protocol", validate_protocol),
    ("emobench_register_au_extractors", "au_extractors", "au_extractor", None),
]


BUILTIN_DISTRIBUTION = "emobench"


def _describe(obj) -> str:
    return obj.__name__ if isinstance(obj, type) else f"{type(obj).__name__} {obj!r}"[:120]


def _contract(hook: str, kind: str, item) -> str | None:
    """Why ``item`` breaks the hook's contract in shape (before metadata checks)."""
    if kind in ("dataset", "protocol"):
        base = Dataset if kind == "dataset" else Protocol
        if isinstance(item, type) and issubclass(item, base):
            return f"{hook} returned a class, not an instance: did you mean {item.__name__}()?"
    if kind == "model" and isinstance(item, Model):
        return (f"{hook} returned an instance, not a class: did you mean "
                f"{type(item).__name__}?")
    return None


def _collect(pm, reg: Registry, deep: bool = True) -> list[tuple[str, str, object]]:
    """Every (registry attribute, name, item) one plugin registers; raises
    PluginError naming the hook and the contract at the first bad item."""
    staged: list[tuple[str, str, object]] = []
    for hook, attr, kind, validate in HOOKS:
        for result in getattr(pm.hook, hook)():
            if result is None:
                continue
            if not isinstance(result, (list, tuple)):
                raise PluginError(f"{hook} must return a list; got {_describe(result)}")
            for item in result:
                why = _contract(hook, kind, item)
                if why:
                    raise PluginError(why)
                problems = ((validate(item, deep) if kind == "model" else validate(item))
                            if validate else [])
                name = getattr(item, "name", "")
                if problems:
                    raise PluginError(f"{hook}: {kind} {name!r}: " + "; ".join(problems))
                if any(a == attr and n == name for a, n, _ in staged):
                    raise PluginError(f"{hook}: {kind} name {name!r} is returned twice")
                if name in getattr(reg, attr):
                    other = reg.origins.get((kind, name))
                    raise PluginError(f"{kind} name {name!r} is already registered"
                                      + (f" by {other}" if other else "")
                                      + "; that one is kept (built-ins and earlier plugins win)")
                staged.append((attr, name, item))
    return staged


def load_registry(extra_plugins: list[tuple[object, Origin]] = (), *,
                  strict: bool | None = None, deep: bool = True) -> Registry:
    """Discover every plugin and return what they register.

    ``extra_plugins`` are (module-or-object, origin) pairs registered in
    addition to the entry points (used by tests and by the conformance checks).
    Built-ins (distribution ``emobench``) register first, so a third-party name
    clash never replaces one: the later entry point is rejected and reported
    with both distributions. One bad item rejects its whole entry point.
    ``strict`` (default: ``EMOBENCH_STRICT_PLUGINS``) raises one PluginError
    listing every failing entry point after all were tried. ``deep=False``
    skips the model checks that need Optuna (see the module docstring).
    """
    reg = Registry(deep=deep)
    blocked = _blocked()
    candidates: list[tuple[object, Origin]] = []
    eps = sorted(entry_points(group=GROUP),
                 key=lambda e: ((e.dist.name if e.dist else "?") != BUILTIN_DISTRIBUTION, e.name))
    for ep in eps:
        dist = ep.dist.name if ep.dist else "?"
        origin = Origin(ep.name, dist, ep.dist.version if ep.dist else "?")
        if ep.name in blocked or dist in blocked:
            continue
        try:
            candidates.append((ep.load(), origin))
        except Exception as exc:
            reg.failures.append((origin, f"import failed: {type(exc).__name__}: {exc}"))
    candidates += list(extra_plugins)

    for plugin, origin in candidates:
        pm = pluggy.PluginManager(hookspecs.PROJECT)
        pm.add_hookspecs(hookspecs)
        try:
            pm.register(plugin, name=origin.entry_point)
        except Exception as exc:  # e.g. a hook with an unknown name or bad signature
            reg.failures.append((origin, f"registration failed: {exc}"))
            continue
        try:
            staged = _collect(pm, reg, deep)
        except PluginError as exc:
            reg.failures.append((origin, str(exc)))
            continue
        except Exception as exc:  # a hook that raised: name the hook's own error
            reg.failures.append((origin, f"a hook raised {type(exc).__name__}: {exc}"))
            continue
        for attr, name, item in staged:
            getattr(reg, attr)[name] = item
            reg.origins[(attr.rstrip("s"), name)] = origin
    if _strict() if strict is None else strict:
        raise_failures(reg)
    return reg


def raise_failures(reg: Registry, names: list[str] | None = None) -> None:
    """Raise one PluginError listing every failing entry point (only those matching
    ``names`` by entry point or distribution, when given); no-op when none failed."""
    failed = [(o, r) for o, r in reg.failures
              if not names or o.entry_point in names or o.distribution in names]
    if failed:
        lines = "\n".join(f"  plugin {o}: {r}" for o, r in failed)
        raise PluginError(f"{len(failed)} plugin entry point(s) failed to load "
                          f"(EMOBENCH_STRICT_PLUGINS is set):\n{lines}")


_REGISTRY: Registry | None = None


def registry(refresh: bool = False, deep: bool = True) -> Registry:
    """The process-wide registry (loaded once; reloaded deep when a light one
    is cached and a deep one is asked for)."""
    global _REGISTRY
    if _REGISTRY is None or refresh or (deep and not _REGISTRY.deep):
        _REGISTRY = load_registry(deep=deep)
    return _REGISTRY
