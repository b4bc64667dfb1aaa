"""Self-attention (Eq. 11-12) and skeleton attention (Eq. 13-15)."""
import torch

from mmff.models import SelfAttention, select_attention_joint, skeleton_attention_mask


def _skeleton(n_body=1, v=5):
    joints2d = torch.full((1, 1, n_body, v, 2), 0.1)
    displacement = torch.zeros(1, 1, n_body, v)
    return joints2d, displacement


def test_mask_is_a_square_on_the_moving_joint():
    joints2d, disp = _skeleton()
    joints2d[0, 0, 0, 3] = torch.tensor([0.5, 0.5])   # joint 3 moves most (Eq. 14)
    disp[0, 0, 0] = torch.tensor([0.1, 0.2, 0.05, 0.9, 0.3])
    m = skeleton_attention_mask(joints2d, disp, (9, 9), square=1 / 3)
    assert m.shape == (1, 1, 1, 9, 9)
    expected = torch.zeros(9, 9)
    expected[3:6, 3:6] = 1
    torch.testing.assert_close(m[0, 0, 0], expected, atol=1e-5, rtol=0)


def test_mask_follows_x_and_y_and_both_bodies():
    joints2d, disp = _skeleton(n_body=2)
    joints2d[0, 0, 1, 2] = torch.tensor([0.25, 0.75])  # x = 0.25 (column), y = 0.75 (row)
    disp[0, 0, 0, 4] = 0.5
    disp[0, 0, 1, 2] = 0.8                              # second body's joint wins
    torch.testing.assert_close(select_attention_joint(joints2d, disp)[0, 0], torch.tensor([0.25, 0.75]))
    m = skeleton_attention_mask(joints2d, disp, (8, 8), square=0.25)[0, 0, 0]
    expected = torch.zeros(8, 8)
    expected[5:7, 1:3] = 1  # rows 0.625..0.875, cols 0.125..0.375
    torch.testing.assert_close(m, expected, atol=1e-5, rtol=0)


def test_mask_resize_is_area_and_clipped():
    joints2d, disp = _skeleton()
    joints2d[0, 0, 0, 0] = torch.tensor([0.0, 0.5])     # on the left border
    disp[0, 0, 0, 0] = 1.0
    hi = skeleton_attention_mask(joints2d, disp, (300, 300), square=1 / 3)[0, 0, 0]
    assert set(hi.unique().tolist()) <= {0.0, 1.0}      # image resolution: the binary square
    assert abs(hi.sum().item() - 300 * 300 / 18) < 300  # half of the square is cut off
    lo = skeleton_attention_mask(joints2d, disp, (10, 10), square=1 / 3)[0, 0, 0]
    # area resize: the low-resolution mask is the mean of the high-resolution one per cell
    pooled = torch.nn.functional.avg_pool2d(hi[None, None], 30)[0, 0]
    torch.testing.assert_close(lo, pooled, atol=2e-2, rtol=0)
    assert 0 < lo[5, 1] < 1 and lo[5, 0] == 1


def test_self_attention_two_branches():
    torch.manual_seed(0)
    sa = SelfAttention(8, 2)
    f = torch.randn(2, 8, 4, 4)
    m = sa(f)
    assert m.shape == (2, 2, 4, 4) and (m > 0).all() and (m < 1).all()
    # Eq. 11: M_b = sigmoid(Conv1x1_b(F_in)) with branch b = row b of the 1x1 conv
    w, b = sa.conv.weight[1, :, 0, 0], sa.conv.bias[1]
    torch.testing.assert_close(m[:, 1], torch.sigmoid(torch.einsum("nchw,c->nhw", f, w) + b))
