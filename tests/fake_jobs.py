"""A job as the budget planner reads it, without corpora or a store (shared by the
planner's tests)."""

import dataclasses


@dataclasses.dataclass(frozen=True)
class FakeJob:
    key: str
    cell: object
    fold_index: int
    seed: int
    trials: int
    profile: str = "default"
    size: dict = dataclasses.field(default_factory=dict, hash=False, compare=False)
    knobs: dict = dataclasses.field(default_factory=dict, hash=False, compare=False)
    identity: dict = dataclasses.field(default_factory=dict, hash=False, compare=False)
    identity_key: str = ""
    pretraining: tuple = dataclasses.field(default=(), hash=False, compare=False)
    tuned_by: str = dataclasses.field(default="", hash=False, compare=False)
    shared_work: tuple = dataclasses.field(default=(), hash=False, compare=False)
