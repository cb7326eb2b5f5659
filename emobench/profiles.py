"""Run profiles: how much work one cell gets.

The profile is recorded with every result and shown on the leaderboard, so a
``smoke`` number is never mistaken for a ``paper`` number.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Profile:
    name: str
    trials: int            # Optuna trials per (cell, fold), the same for every model
    max_folds: int | None  # folds run per protocol (None: all); recorded with results
    scale: str             # stand-in scale written when no real corpus is found
    all_protocols: bool    # False: only each corpus's primary protocol
    n_boot: int            # bootstrap resamples for confidence intervals
    description: str = ""
    seeds: int = 1         # training seeds per fold for stochastic models (deterministic: one)
    # wall minutes the planner fits the run into by cutting work (epochs, clips), never
    # trials (emobench/budget.py); None: every model does its whole default work
    budget_minutes: float | None = None


PROFILES: dict[str, Profile] = {
    "smoke": Profile("smoke", trials=2, max_folds=2, scale="tiny", all_protocols=False, n_boot=200,
                     description="seconds per cell; for tests", seeds=1),
    "default": Profile("default", trials=2, max_folds=3, scale="small", all_protocols=False,
                       n_boot=1000, description="the whole matrix on small stand-ins in minutes", seeds=3,
                       budget_minutes=20.0),
    "paper": Profile("paper", trials=30, max_folds=None, scale="full", all_protocols=True,
                     n_boot=2000, description="papers' configurations and epochs; for real data", seeds=3),
}


def get_profile(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown profile {name!r} (choose from {', '.join(PROFILES)})") from None
