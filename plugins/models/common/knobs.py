"""Profile knobs of the built-in models: a parameter left at "auto" takes its profile's value,
and which validation items a budgeted fit watches to pick its best epoch."""

from __future__ import annotations

import numpy as np


def knob(params: dict, name: str, table: dict, profile: str):
    """``params[name]``, or ``table[profile]`` (``table["default"]`` for an unknown
    profile) when the parameter is missing or "auto"."""
    value = params.get(name, "auto")
    return table.get(profile, table["default"]) if value == "auto" else value


def watched(valid: list, ctx, table: dict) -> list:
    """A fixed random subset of ``valid`` (seeded by the fit's seed) of at most
    ``table[profile]`` items; every item when the profile has no entry or None."""
    n = table.get(ctx.profile)
    if not n or len(valid) <= n:
        return list(valid)
    keep = np.random.default_rng(ctx.seed).choice(len(valid), int(n), replace=False)
    return [valid[i] for i in sorted(keep)]
