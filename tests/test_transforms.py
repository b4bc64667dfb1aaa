"""Pre-processing and enhancement (SPEC §1.3-1.4): mmff.data.transforms."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmff.config import config_from_dict
from mmff.data import transforms as T
from mmff.data.video import frame_index

BONES = [(0, 1), (1, 20), (20, 2), (2, 3), (20, 4), (4, 5), (20, 8), (8, 9), (0, 12), (0, 16)]


def rand_joints(seed=0, T_=20, M=2, absent_body=True):
    rng = np.random.default_rng(seed)
    j = rng.normal(0, 0.3, (T_, M, 25, 3)).astype(np.float32)
    j[..., 2] += 3.0
    if absent_body and M > 1:
        j[:, 1] = 0
    return j


@pytest.fixture(scope="module")
def real_skeleton(ntu_dir):
    from mmff.data.ntu import read_skeleton, select_bodies

    return select_bodies(read_skeleton(ntu_dir / "S001C001P001R001A001.skeleton"), 2)


def test_project_to_image_pinhole():
    fx, fy, cx, cy = T.KINECT_V2_COLOR_INTRINSICS
    uv = T.project_to_image(np.array([[0.5, 0.2, 2.0], [0, 0, 0]], np.float32))
    np.testing.assert_allclose(uv[0], [fx * 0.25 + cx, cy - fy * 0.1], rtol=1e-6)
    assert (uv[1] == 0).all()  # absent joint


def test_va_translate_origin_and_absent_bodies():
    j = rand_joints()
    j[:3] = 0  # no body in the first frames
    out = T.va_translate(j)
    np.testing.assert_allclose(out[3, 0, 1], 0, atol=1e-6)  # spine-middle of first present frame
    np.testing.assert_allclose(out[5, 0] - out[4, 0], j[5, 0] - j[4, 0], atol=1e-5)
    assert (out[:3] == 0).all() and (out[:, 1] == 0).all()


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000))
def test_rotation_alignment_preserves_bones_and_aligns_shoulders(seed):
    j = rand_joints(seed)
    out = T.va_translate(j, rotation=True)
    v = out[0, 0, T.SHOULDER_RIGHT] - out[0, 0, T.SHOULDER_LEFT]
    np.testing.assert_allclose(v[1:], 0, atol=1e-4)
    assert v[0] > 0
    for a, b in BONES:
        np.testing.assert_allclose(np.linalg.norm(out[:, 0, a] - out[:, 0, b], axis=-1),
                                   np.linalg.norm(j[:, 0, a] - j[:, 0, b], axis=-1), rtol=1e-4)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000))
def test_augmentation_rotation_and_scale_ranges(seed):
    rng = np.random.default_rng(seed)
    A = T.augmentation_matrix(rng, 30.0, 1.2).astype(np.float64)
    # A = diag(sx, sy, 1) R: rows of A are scaled rows of a rotation; the z row is unscaled.
    s = np.linalg.norm(A, axis=1)
    assert 1 - 1e-6 <= s[0] <= 1.2 + 1e-6 and 1 - 1e-6 <= s[1] <= 1.2 + 1e-6
    assert abs(s[2] - 1) < 1e-6
    R = A / s[:, None]
    np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-5)
    # Ry(b) Rx(a) (Rz = I): R[1,0] = 0, a = atan2(-R[1,2], R[1,1]), b = atan2(-R[2,0], R[0,0])
    assert abs(R[1, 0]) < 1e-6
    a = np.degrees(np.arctan2(-R[1, 2], R[1, 1]))
    b = np.degrees(np.arctan2(-R[2, 0], R[0, 0]))
    assert -1e-4 <= a <= 30 + 1e-4 and -1e-4 <= b <= 30 + 1e-4
    j = rand_joints(seed)
    out = T.apply_matrix(j, A)
    assert (out[:, 1] == 0).all()  # absent body stays zero


def test_uniform_sampling_and_padding():
    idx = T.uniform_sample_indices(103, 32)
    assert len(idx) == 32 and (np.diff(idx) > 0).all() and idx[0] <= 2 and idx[-1] >= 100
    r = T.uniform_sample_indices(103, 32, np.random.default_rng(0))
    seg = np.floor(np.arange(32) * 103 / 32)
    assert ((r >= seg) & (r < np.floor(np.arange(1, 33) * 103 / 32) + 1)).all()
    assert (T.uniform_sample_indices(5, 8) == [0, 0, 1, 2, 2, 3, 4, 4]).all()
    j = rand_joints(T_=10, absent_body=False)
    z = T.pad_to_length(j, 300, "zero")
    assert z.shape == (300, 2, 25, 3) and (z[10:] == 0).all() and np.array_equal(z[:10], j)
    rp = T.pad_to_length(j, 25, "repeat")
    assert np.array_equal(rp[10:20], j) and np.array_equal(rp[20:], j[:5])
    long = rand_joints(T_=400)
    assert T.pad_to_length(long, 300).shape[0] == 300
    with pytest.raises(ValueError):
        T.pad_to_length(j, 30, "edge")


def test_joint_displacement_eq13():
    j = np.zeros((6, 2, 25, 3), np.float32)
    j[1:, 0] = 1.0                     # body 0 appears at frame 1 (its "first" frame)
    j[4, 0, 7] = [1.0, 4.0, 1.0]       # joint 7 moved by 3 m at frame 4
    j[2, 1] = 2.0                      # body 1 only at frame 2
    d = T.joint_displacement(j, 4)
    assert d.shape == (2, 25) and d[0, 7] == pytest.approx(3.0) and d[0, :7].sum() == 0
    assert (d[1] == 0).all()           # absent at t_p
    assert T.joint_displacement(j, np.array([4, 5])).shape == (2, 2, 25)


def test_test_crop_is_centred_w_plus_200():
    box = T.projection_crop_box((800.0, 300.0, 1000.0, 700.0), 1920, 1080, train=False)
    assert box == (700, 200, 1100, 800)  # (w + 200) x (h + 200), centred


def test_margins_scale_with_frame_height():
    box = T.projection_crop_box((100.0, 100.0, 140.0, 180.0), 320, 240, train=False,
                                scale="frame_height")
    m = 100 * 240 / 1080
    assert box == (int(np.floor(100 - m)), int(np.floor(100 - m)), int(np.ceil(140 + m)),
                   int(np.ceil(180 + m)))


@pytest.mark.parametrize("train", [False, True])
def test_crop_margin_scale_switch_changes_only_the_margins(train):
    """data.crop_margin_scale on a 640x480 SYSU frame: "none" (default) = the paper's pixels,
    "frame_height" = the same margins x 480/1080; the corner drawn and the box are the same."""
    from mmff.config import DataConfig
    from mmff.data.pipeline import crop_window

    assert DataConfig().crop_margin_scale == "none"
    W, H, s = 640, 480, 480 / 1080
    color = np.array([[[250.0, 150.0], [330.0, 260.0]]], np.float32)   # (M=1, V=2, 2): box 80 x 110
    bx0, by0, bx1, by1 = 250.0, 150.0, 330.0, 260.0
    boxes = {}
    for mode in ("none", "frame_height"):
        d = DataConfig(crop_margin_scale=mode, crop_margin=[100, 140], test_margin=200)
        boxes[mode] = crop_window(color, W, H, d, train=train, rng=np.random.default_rng(3))
    if not train:
        assert boxes["none"] == (150, 50, 430, 360)                       # +-100 px, literally
        m = 100 * s
        assert boxes["frame_height"] == (int(np.floor(bx0 - m)), int(np.floor(by0 - m)),
                                         int(np.ceil(bx1 + m)), int(np.ceil(by1 + m)))
        return
    mw, mh = np.random.default_rng(3).uniform(100, 140, 2)               # the draws of both runs
    for mode, k in (("none", 1.0), ("frame_height", s)):
        x0, y0, x1, y1 = boxes[mode]
        assert abs((x1 - x0) - (80 + k * mw)) <= 1 and abs((y1 - y0) - (110 + k * mh)) <= 1
    # the same corner of the joints' box stays fixed under both settings
    fixed = [tuple(abs(b[i] - v) <= 1 for i, v in enumerate((bx0, by0, bx1, by1))) for b in boxes.values()]
    assert fixed[0] == fixed[1]
    # the stored region of `mmff prepare` holds the windows of either setting
    sx0, sy0, sx1, sy1 = T.stored_crop_box((bx0, by0, bx1, by1), W, H, 300)
    for x0, y0, x1, y1 in boxes.values():
        assert sx0 <= x0 and sy0 <= y0 and x1 <= sx1 and y1 <= sy1


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 10_000), st.floats(0, 1700), st.floats(0, 900), st.floats(1, 400),
       st.floats(1, 400))
def test_train_crop_contains_box_and_extends_from_a_corner(seed, x, y, w, h):
    W, H = 1920, 1080
    bbox = (x, y, min(x + w, W - 1), min(y + h, H - 1))
    rng = np.random.default_rng(seed)
    x0, y0, x1, y1 = T.projection_crop_box(bbox, W, H, True, rng, (100, 300))
    assert 0 <= x0 <= bbox[0] and 0 <= y0 <= bbox[1] and bbox[2] <= x1 <= W and bbox[3] <= y1 <= H
    # one box corner is a window corner (up to rounding) ...
    fixed_x = abs(x0 - bbox[0]) <= 1 or abs(x1 - bbox[2]) <= 1
    fixed_y = abs(y0 - bbox[1]) <= 1 or abs(y1 - bbox[3]) <= 1
    assert fixed_x and fixed_y
    # ... and the window is at most w + 300 (+ rounding) wide; at least w + 100 unless clamped
    bw, bh = bbox[2] - bbox[0], bbox[3] - bbox[1]
    assert x1 - x0 <= bw + 302 and y1 - y0 <= bh + 302
    # ... exactly (w + w') x (h + h') with the drawn margins, in both directions, unless clamped
    mw, mh = np.random.default_rng(seed).uniform(100, 300, 2)
    if x0 > 0 and x1 < W:
        assert x1 - x0 >= bw + 100 and abs((x1 - x0) - (bw + mw)) <= 2
    if y0 > 0 and y1 < H:
        assert y1 - y0 >= bh + 100 and abs((y1 - y0) - (bh + mh)) <= 2
    # the stored region of `mmff prepare` holds every window
    sx0, sy0, sx1, sy1 = T.stored_crop_box(bbox, W, H, 300)
    assert sx0 <= x0 and sy0 <= y0 and x1 <= sx1 and y1 <= sy1


def test_crop_follows_joints_hand_made_point():
    import cv2

    img = np.zeros((1080, 1920, 3), np.uint8)
    u, v = 1000.5, 600.5                        # centre of pixel (1000, 600)
    cv2.circle(img, (1000, 600), 6, (255, 255, 255), -1)
    box = (700, 200, 1300, 1000)                # 600 x 800 -> 299 x 299
    out = T.crop_and_resize(img, box, 299)
    p = T.points_to_crop(np.array([[u, v]], np.float32), box)[0]
    np.testing.assert_allclose(p, [(u - 700) / 600, (v - 200) / 800])
    ys, xs = np.nonzero(out[..., 0] > 128)
    np.testing.assert_allclose([xs.mean() + 0.5, ys.mean() + 0.5], p * 299, atol=0.6)
    # from a stored crop with an offset: the same pixels
    stored = img[100:1050, 600:1500]
    np.testing.assert_array_equal(T.crop_and_resize(stored, box, 299, offset=(600, 100)), out)
    with pytest.raises(ValueError):
        T.crop_and_resize(stored, (0, 0, 100, 100), 299, offset=(600, 100))


def test_resized_crop_box_ablation():
    assert T.resized_crop_box(1920, 1080, False, crop=224, base=256) == (120, 67, 1800, 1012)
    x0, y0, x1, y1 = T.resized_crop_box(1920, 1080, True, np.random.default_rng(1), 224, 256)
    assert x1 - x0 == 1680 and y1 - y0 == 945 and x0 >= 0 and x1 <= 1920


def test_real_sample_every_joint_inside_the_crop(real_skeleton):
    color = real_skeleton.color
    t = frame_index(0.5, color.shape[0])
    pts = color[t, 0]
    for train, seed in [(False, 0)] + [(True, s) for s in range(8)]:
        box = T.projection_crop_box(T.points_bbox(color[t]), 1920, 1080, train,
                                    np.random.default_rng(seed))
        x0, y0, x1, y1 = box
        assert ((pts[:, 0] >= x0) & (pts[:, 0] <= x1) & (pts[:, 1] >= y0) & (pts[:, 1] <= y1)).all()
        q = T.points_to_crop(pts, box)
        assert ((q > 0) & (q < 1)).all()


def test_pipeline_from_config():
    cfg = config_from_dict({"data": {"va_rotation": True}})
    j = rand_joints(T_=50)
    p = T.build_skeleton_pipeline(cfg.data, "stgcn", train=True)
    assert [type(t).__name__ for t in p.transforms] == ["VAPre", "SkeletonAugment",
                                                         "PadToLength", "ToSTGCNInput"]
    out = p({"joints": j.copy(), "rng": np.random.default_rng(0)})["skeleton"]
    assert out.shape == (3, 300, 25, 2) and out.dtype == np.float32 and (out[:, 50:] == 0).all()
    p = T.build_skeleton_pipeline(cfg.data, "bilstm", train=False)
    out = p({"joints": j.copy()})["skeleton"]
    assert out.shape == (32, 150) and (out.reshape(32, 2, 25, 3)[:, 1] == 0).all()
    assert "SkeletonAugment" not in repr(p)
