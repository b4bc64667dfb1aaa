"""Stacked RNN skeleton stream (SPEC §2.1, Table 7)."""
import pytest
import torch

from mmff.config import config_from_dict
from mmff.models import StackedRNN, create_model


@pytest.mark.parametrize("backbone,layers,cs", [("bilstm", 3, 600), ("bigru", 2, 600), ("lstm", 1, 300)])
def test_feature_size(backbone, layers, cs):
    net = StackedRNN(backbone, input_size=150, hidden=300, layers=layers)
    assert net.out_channels == cs
    assert net.rnn.num_layers == layers
    out = net(torch.randn(2, 5, 150))
    assert out.shape == (2, cs)


def test_feature_is_last_step_of_both_directions():
    torch.manual_seed(0)
    net = StackedRNN("bilstm", input_size=12, hidden=7, layers=2).eval()
    x = torch.randn(3, 6, 12)
    seq, _ = net.rnn(x)
    feat = net(x)
    torch.testing.assert_close(feat[:, :7], seq[:, -1, :7])   # forward direction, last step
    torch.testing.assert_close(feat[:, 7:], seq[:, 0, 7:])    # backward direction, its last step


def test_config_input_size_from_layout():
    cfg = config_from_dict({"model": {"kind": "skeleton_only", "skeleton": {
        "backbone": "bigru", "layout": "sysu", "num_person": 1, "rnn_layers": 1, "rnn_hidden": 16}},
        "data": {"num_person": 1}})
    model = create_model(cfg)
    assert model.skeleton_stream.input_size == 20 * 3
    assert isinstance(model.skeleton_stream.rnn, torch.nn.GRU)
    assert model({"skeleton": torch.randn(2, 9, 60)}).shape == (2, 60)
