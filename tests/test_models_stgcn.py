"""ST-GCN skeleton stream (SPEC §2.1)."""
import torch

from mmff.config import config_from_dict
from mmff.models import STGCN, create_model, count_parameters


def test_released_parameter_count():
    cfg = config_from_dict({"model": {"kind": "skeleton_only", "num_classes": 60}})
    model = create_model(cfg)
    assert count_parameters(model) == 3_098_832
    edge = sum(p.numel() for p in model.skeleton_stream.edge_importance)
    assert edge == 18_750
    assert count_parameters(model.head) == 15_420


def test_paper_output_shape_on_meta():
    with torch.device("meta"):
        net = STGCN("ntu").eval()
        out = net(torch.zeros(1, 3, 300, 25, 2))
    assert tuple(out.shape) == (1, 256, 75, 25)


def test_small_forward_and_body_averaging():
    torch.manual_seed(0)
    net = STGCN("sysu", width=0.25, num_person=2).eval()
    assert net.out_channels == 64
    x1 = torch.randn(2, 3, 16, 20, 1)
    out1 = net(x1)
    assert out1.shape == (2, 64, 4, 20)
    # bodies are folded into the batch and averaged: two copies of one body = that body
    out2 = net(torch.cat([x1, x1], dim=-1))
    torch.testing.assert_close(out1, out2, rtol=1e-5, atol=1e-5)
    # and a different second body changes the average
    out3 = net(torch.cat([x1, torch.randn_like(x1)], dim=-1))
    assert not torch.allclose(out1, out3)


def test_switches_change_the_network():
    full = STGCN("ntu", width=0.25)
    no_edge = STGCN("ntu", width=0.25, edge_importance=False)
    no_bn = STGCN("ntu", width=0.25, data_bn=False)
    assert count_parameters(full) - count_parameters(no_edge) == 10 * 3 * 25 * 25
    assert count_parameters(full) - count_parameters(no_bn) == 2 * 75
    assert not hasattr(no_edge, "edge_importance")
    # first block has no residual, the stride-2 blocks have a conv residual
    modes = [b.residual_mode for b in full.st_gcn_networks]
    assert modes[0] == "none" and modes[4] == "conv" and modes[7] == "conv" and modes[1] == "identity"
    strides = [b.tcn[2].stride[0] for b in full.st_gcn_networks]
    assert strides == [1, 1, 1, 1, 2, 1, 1, 2, 1, 1]
    assert all(b.tcn[2].kernel_size == (9, 1) for b in full.st_gcn_networks)
