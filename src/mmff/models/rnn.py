"""Stacked RNN skeleton stream (SPEC §2.1; paper §3.2, Eq. 1-3; Table 7).

Bi-LSTM (default, 3 layers), Bi-GRU or uni-directional LSTM, 1-3 layers, hidden size 300 per
direction. Input (N, T, M*V*3) (150 per step on NTU); the feature is the last layer's final
hidden state of both directions, concatenated: C_s = 600 for the Bi-RNNs (300 for LSTM).
The final hidden state h_n is used rather than the cell state the paper's text mentions so the
same definition holds for the GRU, which has no cell state.
"""
from __future__ import annotations

import torch
from torch import nn

__all__ = ["StackedRNN", "RNN_TYPES"]

#: backbone name -> (cell class, bidirectional)
RNN_TYPES = {"bilstm": (nn.LSTM, True), "bigru": (nn.GRU, True), "lstm": (nn.LSTM, False)}


class StackedRNN(nn.Module):
    """Stacked (Bi-)LSTM/GRU; ``forward(x (N,T,D)) -> (N, C_s)``."""

    kind = "vector"

    def __init__(self, backbone: str = "bilstm", input_size: int = 150, hidden: int = 300,
                 layers: int = 3, dropout: float = 0.0):
        super().__init__()
        if backbone not in RNN_TYPES:
            raise ValueError(f"unknown RNN backbone {backbone!r} (expected {sorted(RNN_TYPES)})")
        cell, bidir = RNN_TYPES[backbone]
        self.backbone = backbone
        self.input_size = input_size
        self.num_directions = 2 if bidir else 1
        self.rnn = cell(input_size, hidden, num_layers=layers, batch_first=True,
                        bidirectional=bidir, dropout=dropout if layers > 1 else 0.0)
        self.out_channels = hidden * self.num_directions

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, h_n = self.rnn(x)
        if isinstance(h_n, tuple):  # LSTM: (h_n, c_n)
            h_n = h_n[0]
        # h_n: (layers*dirs, N, H); the last layer's directions are the last entries
        last = h_n[-self.num_directions:]
        return last.permute(1, 0, 2).reshape(x.shape[0], -1)

    @staticmethod
    def pool(feat: torch.Tensor) -> torch.Tensor:
        """The RNN feature is already a vector."""
        return feat
