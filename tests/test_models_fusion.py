"""Late fusion (SPEC §2.3): cross-attention (Eq. 16-17), LSTM-based, decision and sum fusion."""
import pytest
import torch

from mmff.config import ConfigError, config_from_dict
from mmff.models import (CrossAttentionFusion, DecisionFusion, LSTMLateFusion, SumFusion,
                         create_model)


def _rgb_out(n=2, k=1, c=16, h=3, w=3, branches=3):
    f = torch.randn(n, k, c, h, w, requires_grad=True)
    return {"F_in": f, "branches": [f * (i + 1) for i in range(branches)]}


def test_cross_attention_shapes_and_rows_sum_to_one():
    torch.manual_seed(0)
    fus = CrossAttentionFusion(8, 16, num_classes=5, reduced_channels=4, conv_channels=12, hidden=6)
    f_gcn = torch.randn(2, 8, 7, 25)   # (N, C_s, T, V)
    rgb = _rgb_out()
    f_rgb = torch.stack(rgb["branches"]).mean(0).flatten(3).squeeze(1)  # (N, C_r, S)
    f_com = fus.combine(f_gcn, f_rgb)
    assert f_com.shape == (2, 24, 9 + 25)  # (C_r + C_s) x (S + V)
    # RGB side: [F_rgb; f_gcn broadcast]; skeleton side: [f_rgb broadcast; max-over-time F_gcn]
    g = f_gcn.amax(2)
    torch.testing.assert_close(f_com[:, :16, :9], f_rgb)
    torch.testing.assert_close(f_com[:, 16:, 3], g.mean(-1))
    torch.testing.assert_close(f_com[:, :16, 9 + 4], f_rgb.mean(-1))
    torch.testing.assert_close(f_com[:, 16:, 9:], g)
    logits, m = fus.forward_with_relation(f_gcn, rgb)
    assert logits.shape == (2, 5)
    torch.testing.assert_close(fus(f_gcn, rgb), logits)
    assert not any(torch.is_tensor(v) for v in vars(fus).values())  # nothing of a forward kept
    assert m.shape == (2, 34, 34) and (m >= 0).all()
    torch.testing.assert_close(m.sum(-1), torch.ones(2, 34))  # Eq. 16: softmax over the last axis


def test_lstm_late_fusion_feature_sizes():
    fus = LSTMLateFusion(600, 16, num_branches=3, num_classes=5, proj_dim=256, hidden=32)
    rgb = _rgb_out()
    assert fus.rgb_feature(rgb).shape == (2, 768)  # 3 x 256 (paper §4.2)
    assert fus.fc1.in_features == 600 + 768
    out = fus(torch.randn(2, 600), rgb)
    assert out.shape == (2, 5)
    # GMP (not GAP) feeds the projection
    b = rgb["branches"][0]
    torch.testing.assert_close(fus.rgb_feature(rgb)[:, :256], fus.rgb_proj[0](b.amax(dim=(1, 3, 4))))


def test_decision_fusion_is_weighted_softmax_sum():
    torch.manual_seed(0)
    rgb = _rgb_out()
    skel = torch.randn(2, 8)
    fus = DecisionFusion(8, 16, num_classes=5, weight=0.3)
    p = fus(skel, rgb).exp()
    torch.testing.assert_close(p.sum(1), torch.ones(2))
    p_s = torch.softmax(fus.skeleton_head(skel), 1)
    p_r = torch.softmax(fus.rgb_head(torch.stack(rgb["branches"]).mean(0).mean(dim=(1, 3, 4))), 1)
    torch.testing.assert_close(p, 0.3 * p_s + 0.7 * p_r)


@pytest.mark.parametrize("make", [
    lambda: CrossAttentionFusion(8, 16, 5, 4, 12, 6),
    lambda: LSTMLateFusion(8, 16, 3, 5, 4, 6),
    lambda: DecisionFusion(8, 16, 5, 0.5),
    lambda: SumFusion(8, 16, 5, dim=6),
])
def test_forward_backward(make):
    torch.manual_seed(0)
    fus = make()
    f_gcn = torch.randn(2, 8, 4, 25, requires_grad=True)
    rgb = _rgb_out()
    loss = torch.nn.functional.cross_entropy(fus(f_gcn, rgb), torch.tensor([1, 3]))
    loss.backward()
    assert f_gcn.grad.abs().sum() > 0 and rgb["F_in"].grad.abs().sum() > 0
    assert all(p.grad is not None for p in fus.parameters())


def test_cross_attention_needs_a_graph_backbone():
    cfg = config_from_dict({"model": {"skeleton": {"backbone": "bilstm"},
                                      "fusion": {"type": "cross_attention"}}})
    with pytest.raises(ConfigError, match=r"cross_attention needs a graph backbone's feature map "
                                          r"F_gcn \(stgcn, stgcnpp, ctrgcn\)"):
        create_model(cfg)
