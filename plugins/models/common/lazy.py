"""Helpers that keep a plugin's entry module importable without torch.

``emobench list`` reads every model's metadata by importing its entry module;
torch is imported only when a model trains or predicts.
"""

from __future__ import annotations

import functools


def no_grad(fn):
    """``@torch.no_grad()`` that imports torch when the method is first called."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        import torch

        with torch.no_grad():
            return fn(*args, **kwargs)
    return wrapper
