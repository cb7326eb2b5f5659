"""The torch networks of ``sequence-rnn`` and ``frame-cnn`` (emobench_plugins.models.baselines.sequence).

Kept apart from the entry module so that reading the models' metadata
(``emobench list``) does not import torch.
"""

from __future__ import annotations

import torch
from torch import nn


class _RNNNet(nn.Module):
    def __init__(self, n_in: int, n_out: int, cell: str, hidden: int, layers: int,
                 bidirectional: bool, dropout: float):
        super().__init__()
        rnn = {"gru": nn.GRU, "lstm": nn.LSTM}.get(cell)
        if rnn is None:
            raise ValueError(f"sequence-rnn: cell must be 'gru' or 'lstm', got {cell!r}")
        self.rnn = rnn(n_in, hidden, layers, batch_first=True, bidirectional=bidirectional,
                       dropout=dropout if layers > 1 else 0.0)
        self.head = nn.Linear(hidden * (2 if bidirectional else 1), n_out)

    def states(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        packed = nn.utils.rnn.pack_padded_sequence(x, lengths.cpu(), batch_first=True,
                                                   enforce_sorted=False)
        out, _ = self.rnn(packed)
        out, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
        return out


class _FrameCNNNet(nn.Module):
    def __init__(self, n_out: int, channels: tuple[int, ...], dropout: float):
        super().__init__()
        layers, width = [], 1
        for c in channels:
            layers += [nn.Conv2d(width, c, 3, padding=1), nn.BatchNorm2d(c), nn.ReLU(),
                       nn.MaxPool2d(2)]
            width = c
        self.body = nn.Sequential(*layers)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(width, n_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (N, frames, H, W) -> (N, n_out): frame embeddings averaged, then the head."""
        n, f = x.shape[:2]
        emb = self.body(x.reshape(n * f, 1, *x.shape[2:])).mean((-2, -1))
        return self.head(self.drop(emb.reshape(n, f, -1).mean(1)))
