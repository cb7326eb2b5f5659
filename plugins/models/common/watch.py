"""Which validation items a budgeted fit watches to pick its best epoch."""

from __future__ import annotations

import numpy as np


def watched(valid: list, ctx, table: dict) -> list:
    """A fixed random subset of ``valid`` (seeded by the fit's seed) of at most
    ``table[profile]`` items; every item when the profile has no entry or None."""
    n = table.get(ctx.profile)
    if not n or len(valid) <= n:
        return list(valid)
    keep = np.random.default_rng(ctx.seed).choice(len(valid), int(n), replace=False)
    return [valid[i] for i in sorted(keep)]
