"""Pre-processing and data enhancement (SPEC §1.3-1.4), vectorised numpy.

Skeleton arrays are ``joints`` (T, M, V, 3) float32 in metres (camera space) and ``color``
(T, M, V, 2) float32 pixels in the RGB frame; an absent body is all zeros (every transform
keeps it zero). Transforms are small classes named after the paper, called on a PYSKL-style
``results`` dict and chained with :class:`Compose`; :func:`build_skeleton_pipeline` builds the
chain from a :class:`~mmff.config.DataConfig`. Randomness comes from ``results["rng"]`` (a
``numpy.random.Generator`` the dataset seeds per item), so workers never share a stream.
Every step class is registered by name (:data:`STEPS`, :func:`register_step`) and built from a
spec ``{"type": name, **kwargs}`` (:func:`build_step`); :mod:`mmff.data.pipeline` adds the
source and image steps and chains the whole sample -> model input pipeline.

Image boxes are ``(x0, y0, x1, y1)`` in pixels of the source frame, continuous coordinates
(pixel ``k`` covers ``[k, k + 1)``); a 2D point ``u`` maps to ``(u - x0) / (x1 - x0)`` in
``[0, 1]`` crop coordinates, exactly what ``cv2.resize`` does to pixel positions, so joints
follow the crop and resize exactly.
"""
from __future__ import annotations

import math
from typing import Callable, Optional, Sequence

import numpy as np

from mmff.config import GRAPH_BACKBONES
from mmff.layouts import LAYOUTS, get_layout, layout_for_joints

__all__ = [
    "KINECT_V2_COLOR_INTRINSICS", "NTU_REFERENCE_HEIGHT", "SHOULDER_LEFT", "SHOULDER_RIGHT",
    "body_present", "joint_valid", "project_to_image", "va_origin", "va_translate",
    "shoulder_rotation", "uniform_sample_indices", "pad_or_sample_indices", "pad_to_length",
    "augmentation_matrix", "apply_matrix", "joint_displacement", "points_bbox",
    "margin_scale", "projection_crop_box", "resized_crop_box", "stored_crop_box",
    "crop_and_resize", "points_to_crop", "pad_bodies", "Compose", "STEPS", "register_step",
    "build_step", "PadBodies", "VAPre", "UniformSample", "PadToLength", "SkeletonAugment",
    "ToSTGCNInput", "ToRNNInput", "skeleton_steps", "build_skeleton_pipeline",
    "PYSKL_TEST_SEED", "uniform_clip_indices", "UniformSampleFrames", "MODALITIES",
    "bone_parents", "skeleton_modality", "SkeletonModality", "clip_step",
]

#: Kinect v2 colour camera (1920x1080), pinhole fx, fy, cx, cy in pixels. Typical calibration
#: values of the sensor (factory intrinsics vary by a few pixels per device); cx, cy at the
#: image centre. Used only where a dataset has no 2D colour coordinates.
KINECT_V2_COLOR_INTRINSICS = (1081.37, 1081.37, 959.5, 539.5)
#: Projection-crop margins (w', h' in pixels) are the paper's pixels on any frame by default;
#: with ``data.crop_margin_scale: frame_height`` they are read as pixels of a 1080-pixel-high NTU
#: frame and scaled by ``frame height / NTU_REFERENCE_HEIGHT`` (e.g. 320x240 synth frames).
NTU_REFERENCE_HEIGHT = 1080
#: 0-based shoulder joints and spine-middle joint (NTU "SpineMid", SYSU "Spine", the VA-pre
#: origin), from :mod:`mmff.layouts`: the same indices in every layout (tests/test_layouts.py).
SHOULDER_LEFT, SHOULDER_RIGHT = LAYOUTS["ntu"].shoulders
SPINE_MIDDLE = LAYOUTS["ntu"].va_centre


# --------------------------------------------------------------------------- masks
def joint_valid(joints: np.ndarray) -> np.ndarray:
    """(..., V) bool: the joint has any non-zero coordinate (absent bodies are zeros)."""
    return np.any(joints != 0, axis=-1)


def body_present(joints: np.ndarray) -> np.ndarray:
    """(T, M) bool: the body has any non-zero joint in the frame."""
    return joint_valid(joints).any(axis=-1)


def pad_bodies(a: np.ndarray, M: int) -> np.ndarray:
    """(T, M', ...) -> (T, M, ...): keep the first ``M`` bodies (track 0 = the main actor,
    ``select_bodies`` order) and zero-fill missing ones (an absent body is all zeros). The one
    body-count rule of the package: prepare, the dataset, predict and the benchmark use it."""
    if a.shape[1] >= M:
        return a[:, :M]
    return np.concatenate([a, np.zeros((a.shape[0], M - a.shape[1]) + a.shape[2:], a.dtype)], 1)


# --------------------------------------------------------------------------- projection
def project_to_image(joints: np.ndarray, intrinsics: Sequence[float] = KINECT_V2_COLOR_INTRINSICS
                     ) -> np.ndarray:
    """Pinhole projection of 3D camera-space joints to image pixels, for datasets without 2D
    colour coordinates: ``u = fx x / z + cx``, ``v = cy - fy y / z`` (camera y points up,
    image v down). Joints with ``z <= 0`` (absent) give (0, 0)."""
    fx, fy, cx, cy = (float(v) for v in intrinsics)
    j = np.asarray(joints, dtype=np.float64)
    z = j[..., 2]
    ok = z > 0
    zs = np.where(ok, z, 1.0)
    uv = np.stack([fx * j[..., 0] / zs + cx, cy - fy * j[..., 1] / zs], axis=-1)
    return np.where(ok[..., None], uv, 0.0).astype(np.float32)


# --------------------------------------------------------------------------- VA-pre
def va_origin(joints: np.ndarray, center_joint: int = SPINE_MIDDLE) -> np.ndarray:
    """The VA-pre origin: the spine-middle joint of the first body in the first frame in which
    any body is present; zeros when no body is ever present."""
    pres = body_present(joints)
    if not pres.any():
        return np.zeros(3, np.float32)
    t = int(np.argmax(pres.any(axis=1)))
    m = int(np.argmax(pres[t]))
    return joints[t, m, center_joint].astype(np.float32)


def shoulder_rotation(joints: np.ndarray, left: int = SHOULDER_LEFT,
                      right: int = SHOULDER_RIGHT) -> np.ndarray:
    """3x3 rotation (Rodrigues, the smallest one) that makes the left->right shoulder vector of
    the first present body frame parallel to +x (PYSKL ``PreNormalize3D`` convention)."""
    pres = body_present(joints)
    if not pres.any():
        return np.eye(3, dtype=np.float32)
    t = int(np.argmax(pres.any(axis=1)))
    m = int(np.argmax(pres[t]))
    v = joints[t, m, right].astype(np.float64) - joints[t, m, left]
    nv = np.linalg.norm(v)
    if nv < 1e-8:
        return np.eye(3, dtype=np.float32)
    v /= nv
    x = np.array([1.0, 0.0, 0.0])
    axis = np.cross(v, x)
    s, c = np.linalg.norm(axis), float(np.dot(v, x))
    if s < 1e-8:  # already along +x, or exactly opposite: half turn about y
        return (np.eye(3) if c > 0 else np.diag([-1.0, 1.0, -1.0])).astype(np.float32)
    k = axis / s
    K = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return (np.eye(3) + s * K + (1 - c) * K @ K).astype(np.float32)


def apply_matrix(joints: np.ndarray, R: np.ndarray) -> np.ndarray:
    """``x' = R x`` for every joint; zeros (absent bodies) stay zero."""
    return np.einsum("ij,...j->...i", R.astype(np.float32), joints).astype(np.float32)


def va_translate(joints: np.ndarray, rotation: bool = False,
                 center_joint: int = SPINE_MIDDLE) -> np.ndarray:
    """VA-pre (SPEC §1.3): every frame relative to the body centre (spine-middle joint) of
    the first frame; with ``rotation`` also turned so the shoulders are parallel to x.
    Absent bodies/joints stay zero."""
    valid = joint_valid(joints)[..., None]
    out = np.where(valid, joints - va_origin(joints, center_joint), 0).astype(np.float32)
    if rotation:
        out = apply_matrix(out, shoulder_rotation(out))
    return out


# --------------------------------------------------------------------------- temporal
def uniform_sample_indices(n: int, T: int, rng: Optional[np.random.Generator] = None
                           ) -> np.ndarray:
    """T frame indices spread uniformly over n frames (Bi-LSTM input, T = 32 NTU / 58 SYSU):
    the sequence is cut into T equal segments; test takes each segment's centre, training
    (``rng`` given) a uniformly random frame inside it. n < T repeats frames in order."""
    if n <= 0:
        raise ValueError(f"uniform sampling: sequence has no frames (n={n})")
    edges = np.arange(T + 1, dtype=np.float64) * n / T
    if rng is None:
        pos = (edges[:-1] + edges[1:]) / 2
    else:
        pos = edges[:-1] + rng.random(T) * (edges[1:] - edges[:-1])
    return np.clip(np.floor(pos), 0, n - 1).astype(np.int64)


def pad_or_sample_indices(n: int, clip_len: int, mode: str = "zero") -> np.ndarray:
    """Frame indices of a clip of ``clip_len`` frames from ``n`` (ST-GCN input, 300): shorter
    clips are padded at the end, with -1 (zero frames, ``mode="zero"``, the paper) or by
    repeating the clip (``mode="repeat"``); longer clips are uniformly sampled down."""
    if n <= 0:
        raise ValueError(f"padding: sequence has no frames (n={n})")
    if n >= clip_len:
        return uniform_sample_indices(n, clip_len)
    idx = np.arange(clip_len)
    if mode == "zero":
        return np.where(idx < n, idx, -1)
    if mode == "repeat":
        return idx % n
    raise ValueError(f"pad_mode must be 'zero' or 'repeat', got {mode!r}")


def pad_to_length(joints: np.ndarray, clip_len: int, mode: str = "zero") -> np.ndarray:
    """(clip_len, M, V, C): see :func:`pad_or_sample_indices`."""
    idx = pad_or_sample_indices(joints.shape[0], clip_len, mode)
    out = joints[np.maximum(idx, 0)]
    out[idx < 0] = 0
    return out


#: PYSKL ``UniformSampleFrames``' fixed test-time seed (its ``seed=255``)
PYSKL_TEST_SEED = 255


def uniform_clip_indices(n: int, clip_len: int, rng: Optional[np.random.Generator] = None,
                         seed: int = PYSKL_TEST_SEED) -> np.ndarray:
    """``clip_len`` frame indices out of ``n`` real frames: PYSKL's ``UniformSampleFrames``
    (one clip, ``p_interval`` 1), the 100-frame sampling of its ST-GCN recipe.

    * ``n >= 2 * clip_len``: segment ``i`` is ``[i n // clip_len, (i + 1) n // clip_len)``;
      one frame drawn uniformly in each.
    * ``clip_len <= n < 2 * clip_len``: every frame but ``n - clip_len`` of them, dropped at
      random (PYSKL's gap draw: ``n - clip_len`` of the ``clip_len + 1`` gaps, no repeats).
    * ``n < clip_len``: the clip looped from a start frame, ``(start + i) mod n``; training
      draws the start, test starts at 0 (as PYSKL).

    Training passes ``rng`` (the item's generator); test (``rng=None``) makes the same draws
    from a fresh ``np.random.default_rng(seed)``, so a sample's test clip depends on ``n``
    only, like PYSKL's ``np.random.seed(255)`` at test (not the same numbers: PYSKL draws
    from numpy's legacy global generator)."""
    if n <= 0:
        raise ValueError(f"uniform sampling: sequence has no frames (n={n})")
    train = rng is not None
    rng = rng if train else np.random.default_rng(seed)
    if n < clip_len:
        start = int(rng.integers(n)) if train else 0
        return (start + np.arange(clip_len)) % n
    if n < 2 * clip_len:
        gaps = np.zeros(clip_len + 1, np.int64)
        gaps[rng.choice(clip_len + 1, n - clip_len, replace=False)] = 1
        return np.arange(clip_len) + np.cumsum(gaps)[:-1]
    edges = np.arange(clip_len + 1, dtype=np.int64) * n // clip_len
    return edges[:-1] + rng.integers(np.diff(edges))


# --------------------------------------------------------------------------- modalities
#: ``data.modality``: joint, bone, joint motion, bone motion (PYSKL's four streams)
MODALITIES = ("j", "b", "jm", "bm")


def bone_parents(layout: str) -> np.ndarray:
    """(V,) parent joint of every joint (the root is its own parent) for the bone modality.

    Bones belong to the skeleton's joints, not to the graph a backbone convolves over: the
    ``(child, parent)`` edges of the first layout with the same joints
    (:func:`mmff.layouts.layout_for_joints`). NTU's 25 joints (``ntu`` and ``ntu_kinect``
    graphs alike): the ``ntu`` edges, exactly PYSKL's ``JointToBone`` pairs for ``nturgb+d``
    (hands chained 21 -> 22 -> 7 and 23 -> 24 -> 11, root SpineShoulder 20); SYSU's 20: its
    Kinect v1 bones (root HipCenter)."""
    lay = layout_for_joints(get_layout(layout).num_joints)
    parents = np.arange(lay.num_joints)
    child, parent = np.asarray(lay.edges, np.int64).T
    if len(set(child.tolist())) != len(child) or len(child) != lay.num_joints - 1:
        raise ValueError(f"layout {lay.name!r}: its edges are not a (child, parent) tree over "
                         f"{lay.num_joints} joints (no bone modality)")
    parents[child] = parent
    return parents


def skeleton_modality(joints: np.ndarray, modality: str, parents: np.ndarray) -> np.ndarray:
    """(T, M, V, C) joints -> the ``modality`` input (same shape, float32), PYSKL's
    ``GenSkeFeat``: ``j`` the joints; ``b`` bones ``x_v - x_parent(v)`` (root 0); ``jm`` / ``bm``
    the motion of joints / bones ``x[t + 1] - x[t]``, last frame 0."""
    if modality not in MODALITIES:
        raise ValueError(f"skeleton modality must be one of {MODALITIES}, got {modality!r}")
    x = np.asarray(joints, np.float32)
    if modality in ("b", "bm"):
        x = x - x[:, :, parents]
    if modality in ("jm", "bm"):
        x = np.concatenate([np.diff(x, axis=0), np.zeros_like(x[:1])], axis=0)
    return x


# --------------------------------------------------------------------------- augmentation
def augmentation_matrix(rng: np.random.Generator, max_deg: float = 30.0,
                        scale_max: float = 1.2) -> np.ndarray:
    """Skeleton augmentation (SPEC §1.4): ``diag(sx, sy, 1) @ Rz(0) Ry(b) Rx(a)`` with
    a, b ~ U[0, max_deg] degrees and sx, sy ~ U[1, scale_max]."""
    a, b = np.deg2rad(rng.uniform(0.0, max_deg, 2))
    sx, sy = rng.uniform(1.0, scale_max, 2)
    ca, sa, cb, sb = math.cos(a), math.sin(a), math.cos(b), math.sin(b)
    Rx = np.array([[1, 0, 0], [0, ca, -sa], [0, sa, ca]])
    Ry = np.array([[cb, 0, sb], [0, 1, 0], [-sb, 0, cb]])
    return (np.diag([sx, sy, 1.0]) @ Ry @ Rx).astype(np.float32)  # Rz(0) = I


# --------------------------------------------------------------------------- Eq. 13
def joint_displacement(joints: np.ndarray, t_p) -> np.ndarray:
    """Eq. 13: ``d_j = ||J_first,j - J_p,j||_2`` per body and joint, in 3D. ``J_first`` is the
    body's first frame in which it is present; ``t_p`` is a frame index or a (K,) array of
    them. Returns (M, V) for a scalar ``t_p``, else (K, M, V); 0 where the body is absent
    in either frame."""
    pres = body_present(joints)                               # (T, M)
    first = np.argmax(pres, axis=0)                           # (M,) first present frame
    M = joints.shape[1]
    J_first = joints[first, np.arange(M)]                     # (M, V, 3)
    tp = np.atleast_1d(np.asarray(t_p, dtype=np.int64))
    J_p = joints[tp]                                          # (K, M, V, 3)
    ok = pres[tp] & pres[first, np.arange(M)][None]           # (K, M)
    d = np.linalg.norm(J_first[None] - J_p, axis=-1) * ok[..., None]
    d = d.astype(np.float32)
    return d[0] if np.ndim(t_p) == 0 else d


# --------------------------------------------------------------------------- boxes
def points_bbox(points: np.ndarray, valid: Optional[np.ndarray] = None):
    """Bounding box ``(x0, y0, x1, y1)`` of the valid 2D points (any leading shape), or
    ``None`` when there is none."""
    p = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    ok = joint_valid(p) if valid is None else np.asarray(valid).reshape(-1)
    ok = ok & np.all(np.isfinite(p), axis=1)
    if not ok.any():
        return None
    q = p[ok]
    return (*q.min(axis=0), *q.max(axis=0))


def margin_scale(height: int) -> float:
    """Pixel margins are given for 1080-p NTU frames; other sources scale them by height/1080."""
    return float(height) / NTU_REFERENCE_HEIGHT


def _clamp_box(x0, y0, x1, y1, width, height):
    """Integer box (floor/ceil outward) intersected with the image; never empty."""
    x0 = int(min(max(math.floor(x0), 0), width - 1))
    y0 = int(min(max(math.floor(y0), 0), height - 1))
    x1 = int(max(min(math.ceil(x1), width), x0 + 1))
    y1 = int(max(min(math.ceil(y1), height), y0 + 1))
    return x0, y0, x1, y1


def projection_crop_box(bbox, width: int, height: int, train: bool,
                        rng: Optional[np.random.Generator] = None,
                        margin: Sequence[float] = (100, 300), test_margin: float = 200,
                        scale: str = "none"):
    """Projection crop (SPEC §1.4) of a ``width x height`` frame around the joints' 2D box
    ``bbox`` (w x h). Training: one of the four box corners (uniform) stays fixed and the
    window (w + w') x (h + h') extends away from it, w', h' ~ U[margin]; test: a centred
    (w + test_margin) x (h + test_margin) window. ``scale`` (``data.crop_margin_scale``):
    ``"none"`` takes the margins as pixels of this frame (the paper's 100-300 px), and
    ``"frame_height"`` multiplies them by height/1080 (:func:`margin_scale`). The window is
    clamped to the image. No box (no joints): the whole frame."""
    if bbox is None:
        return 0, 0, width, height
    bx0, by0, bx1, by1 = bbox
    if scale not in ("none", "frame_height"):
        raise ValueError(f"crop margin scale: {scale!r} is not 'none' or 'frame_height'")
    s = margin_scale(height) if scale == "frame_height" else 1.0
    if train:
        rng = rng if rng is not None else np.random.default_rng()
        mw, mh = rng.uniform(margin[0], margin[1], 2) * s
        corner = int(rng.integers(4))          # 0 TL, 1 TR, 2 BL, 3 BR fixed
        x0, x1 = (bx0, bx1 + mw) if corner in (0, 2) else (bx0 - mw, bx1)
        y0, y1 = (by0, by1 + mh) if corner in (0, 1) else (by0 - mh, by1)
    else:
        m = test_margin * s / 2
        x0, y0, x1, y1 = bx0 - m, by0 - m, bx1 + m, by1 + m
    return _clamp_box(x0, y0, x1, y1, width, height)


def resized_crop_box(width: int, height: int, train: bool,
                     rng: Optional[np.random.Generator] = None, crop: int = 224,
                     base: int = 256):
    """The "commonly used" crop of the w/o-projection-crop ablation (Table 5): the frame
    resized to ``base x base``, a ``crop x crop`` window at a random (train) or central
    (test) offset. Returned as the equivalent window of the original frame, so one resize
    does it all."""
    if crop > base:
        raise ValueError(f"random crop {crop} is larger than the resized frame {base}")
    cw, ch = max(1, round(width * crop / base)), max(1, round(height * crop / base))
    if train:
        rng = rng if rng is not None else np.random.default_rng()
        x0, y0 = int(rng.integers(0, width - cw + 1)), int(rng.integers(0, height - ch + 1))
    else:
        x0, y0 = (width - cw) // 2, (height - ch) // 2
    return x0, y0, x0 + cw, y0 + ch


def stored_crop_box(bbox, width: int, height: int, margin_max: float = 300.0):
    """The region ``mmff prepare`` keeps of a frame: the joints' box grown by the largest
    training margin on every side, so every projection-crop window (:func:`projection_crop_box`,
    train and test, either ``data.crop_margin_scale``) lies inside it: ``margin_max`` pixels, or
    ``margin_max`` x height/1080 where that is larger (frames taller than 1080 lines)."""
    if bbox is None:
        return 0, 0, width, height
    m = margin_max * max(1.0, margin_scale(height)) + 2  # +2: the windows' outward rounding
    return _clamp_box(bbox[0] - m, bbox[1] - m, bbox[2] + m, bbox[3] + m, width, height)


def crop_and_resize(image: np.ndarray, box, size: int, offset=(0, 0)) -> np.ndarray:
    """Crop ``box`` (source-frame pixels) out of ``image``, which starts at ``offset`` (x, y)
    of the source frame (a stored crop), and resize to ``size x size`` (area filter when
    shrinking, bilinear when enlarging)."""
    import cv2

    x0, y0, x1, y1 = (int(v) for v in box)
    ox, oy = int(offset[0]), int(offset[1])
    h, w = image.shape[:2]
    if x0 < ox or y0 < oy or x1 > ox + w or y1 > oy + h:
        raise ValueError(f"crop box {tuple(box)} is outside the stored image at offset "
                         f"{(ox, oy)} of size {(w, h)}")
    sub = image[y0 - oy:y1 - oy, x0 - ox:x1 - ox]
    shrink = sub.shape[0] > size or sub.shape[1] > size
    return cv2.resize(sub, (size, size),
                      interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)


def points_to_crop(points: np.ndarray, box) -> np.ndarray:
    """2D points (..., 2) in source-frame pixels -> [0, 1] crop coordinates of ``box``
    (``x / crop width``, ``y / crop height``), clipped to [0, 1]; invalid (0, 0) points stay 0."""
    x0, y0, x1, y1 = (float(v) for v in box)
    p = np.asarray(points, dtype=np.float32)
    ok = joint_valid(p)[..., None]
    q = (p - np.array([x0, y0], np.float32)) / np.array([x1 - x0, y1 - y0], np.float32)
    return np.where(ok, np.clip(q, 0, 1), 0).astype(np.float32)


# --------------------------------------------------------------------------- pipeline
#: step name -> class; a pipeline is a list of specs ``{"type": name, **kwargs}``
STEPS: dict = {}


def register_step(cls):
    """Class decorator: make a step buildable by its class name (:func:`build_step`)."""
    have = STEPS.get(cls.__name__)
    if have is not None and have.__module__ != cls.__module__:  # a reload re-registers itself
        raise ValueError(f"pipeline step {cls.__name__!r} is already registered by "
                         f"{have.__module__}")
    STEPS[cls.__name__] = cls
    return cls


def build_step(spec: dict):
    """``{"type": "VAPre", "rotation": False}`` -> ``VAPre(rotation=False)``."""
    spec = dict(spec)
    name = spec.pop("type", None)
    if name not in STEPS:
        raise ValueError(f"pipeline step: unknown type {name!r} (known: {', '.join(sorted(STEPS))})")
    return STEPS[name](**spec)


class Compose:
    """Apply transforms in order to a ``results`` dict (PYSKL-style)."""

    def __init__(self, transforms: Sequence[Callable]):
        self.transforms = list(transforms)

    def __call__(self, results: dict) -> dict:
        for t in self.transforms:
            results = t(results)
        return results

    def __repr__(self) -> str:
        return "Compose(" + ", ".join(repr(t) for t in self.transforms) + ")"


def _rng(results: dict) -> np.random.Generator:
    rng = results.get("rng")
    return rng if rng is not None else np.random.default_rng()


@register_step
class PadBodies:
    """Exactly ``num_person`` bodies in ``joints`` (and ``color`` when present):
    :func:`pad_bodies`."""

    def __init__(self, num_person: int = 2):
        self.num_person = int(num_person)

    def __call__(self, results: dict) -> dict:
        for k in ("joints", "color"):
            if k in results:
                results[k] = pad_bodies(results[k], self.num_person)
        return results

    def __repr__(self) -> str:
        return f"PadBodies(num_person={self.num_person})"


@register_step
class VAPre:
    """VA-pre translation (+ optional shoulder rotation) of ``results["joints"]``."""

    def __init__(self, rotation: bool = False, center_joint: int = SPINE_MIDDLE):
        self.rotation, self.center_joint = rotation, center_joint

    def __call__(self, results: dict) -> dict:
        results["joints"] = va_translate(results["joints"], self.rotation, self.center_joint)
        return results

    def __repr__(self) -> str:
        return f"VAPre(rotation={self.rotation})"


@register_step
class SkeletonAugment:
    """Random rotation Ry(b) Rx(a) and scale diag(sx, sy, 1) (training only)."""

    def __init__(self, max_deg: float = 30.0, scale_max: float = 1.2):
        self.max_deg, self.scale_max = max_deg, scale_max

    def __call__(self, results: dict) -> dict:
        R = augmentation_matrix(_rng(results), self.max_deg, self.scale_max)
        results["joints"] = apply_matrix(results["joints"], R)
        return results

    def __repr__(self) -> str:
        return f"SkeletonAugment(max_deg={self.max_deg}, scale_max={self.scale_max})"


@register_step
class UniformSample:
    """T frames uniformly over the sequence (random within segments when ``train``)."""

    def __init__(self, T: int, train: bool = False):
        self.T, self.train = T, train

    def __call__(self, results: dict) -> dict:
        j = results["joints"]
        idx = uniform_sample_indices(j.shape[0], self.T, _rng(results) if self.train else None)
        results["joints"] = j[idx]
        return results

    def __repr__(self) -> str:
        return f"UniformSample(T={self.T}, train={self.train})"


@register_step
class PadToLength:
    """Pad (zero/repeat) or uniformly sample down to ``clip_len`` frames."""

    def __init__(self, clip_len: int = 300, mode: str = "zero"):
        self.clip_len, self.mode = clip_len, mode

    def __call__(self, results: dict) -> dict:
        results["joints"] = pad_to_length(results["joints"], self.clip_len, self.mode)
        return results

    def __repr__(self) -> str:
        return f"PadToLength(clip_len={self.clip_len}, mode={self.mode!r})"


@register_step
class UniformSampleFrames:
    """``clip_len`` frames of the sequence, PYSKL's sampling (:func:`uniform_clip_indices`):
    random within segments when ``train``, the fixed ``seed`` draw at test."""

    def __init__(self, clip_len: int = 100, train: bool = False, seed: int = PYSKL_TEST_SEED):
        self.clip_len, self.train, self.seed = int(clip_len), bool(train), int(seed)

    def __call__(self, results: dict) -> dict:
        j = results["joints"]
        idx = uniform_clip_indices(j.shape[0], self.clip_len,
                                   _rng(results) if self.train else None, self.seed)
        results["joints"] = j[idx]
        return results

    def __repr__(self) -> str:
        return (f"UniformSampleFrames(clip_len={self.clip_len}, train={self.train}, "
                f"seed={self.seed})")


@register_step
class SkeletonModality:
    """``joints`` -> the ``modality`` input (:func:`skeleton_modality`; the bones of the
    ``layout``'s joints, :func:`bone_parents`). Runs on the whole sequence before the temporal
    step, as PYSKL's ``GenSkeFeat`` precedes ``UniformSample``: a sampled frame's motion is
    the difference to the next real frame."""

    def __init__(self, modality: str = "j", layout: str = "ntu"):
        if modality not in MODALITIES:
            raise ValueError(f"skeleton modality must be one of {MODALITIES}, got {modality!r}")
        self.modality, self.layout = modality, layout
        self.parents = bone_parents(layout)

    def __call__(self, results: dict) -> dict:
        results["joints"] = skeleton_modality(results["joints"], self.modality, self.parents)
        return results

    def __repr__(self) -> str:
        return f"SkeletonModality(modality={self.modality!r}, layout={self.layout!r})"


@register_step
class ToSTGCNInput:
    """(T, M, V, 3) -> ``results["skeleton"]`` (3, T, V, M) float32."""

    def __call__(self, results: dict) -> dict:
        results["skeleton"] = np.ascontiguousarray(
            results["joints"].transpose(3, 0, 2, 1), dtype=np.float32)
        return results

    def __repr__(self) -> str:
        return "ToSTGCNInput()"


@register_step
class ToRNNInput:
    """(T, M, V, 3) -> ``results["skeleton"]`` (T, M*V*3) float32 (2x25x3 = 150 on NTU)."""

    def __call__(self, results: dict) -> dict:
        j = results["joints"]
        results["skeleton"] = np.ascontiguousarray(j.reshape(j.shape[0], -1), dtype=np.float32)
        return results

    def __repr__(self) -> str:
        return "ToRNNInput()"


def clip_step(data_cfg, train: bool) -> dict:
    """The temporal step of the ST-GCN input (``data.sampling``): ``pad`` = the paper's
    :class:`PadToLength` to ``clip_len`` (300), ``uniform`` = PYSKL's
    :class:`UniformSampleFrames` to ``clip_len`` (100 in its recipe)."""
    if data_cfg.sampling == "uniform":
        return {"type": "UniformSampleFrames", "clip_len": data_cfg.clip_len, "train": bool(train)}
    return {"type": "PadToLength", "clip_len": data_cfg.clip_len, "mode": data_cfg.pad_mode}


def skeleton_steps(data_cfg, backbone: str, train: bool, layout: str = "ntu") -> list:
    """The specs of the skeleton chain of SPEC §1.3-1.4 for a ``DataConfig``: VA-pre,
    augmentation (training, ``skeleton_augment``), the input modality (``data.modality`` other
    than ``j``: bones of ``layout``'s joints and/or motion, on the whole sequence), then the
    temporal step (:func:`clip_step`, ST-GCN) or uniform sampling to ``rnn_steps`` (RNN
    backbones), then the model layout."""
    t: list = [{"type": "VAPre", "rotation": bool(data_cfg.va_rotation)}]
    if train and data_cfg.skeleton_augment:
        t.append({"type": "SkeletonAugment", "max_deg": data_cfg.rotation_deg,
                  "scale_max": data_cfg.scale_max})
    if data_cfg.modality != "j":
        t.append({"type": "SkeletonModality", "modality": data_cfg.modality, "layout": layout})
    if backbone in GRAPH_BACKBONES:
        t += [clip_step(data_cfg, train), {"type": "ToSTGCNInput"}]
    else:
        t += [{"type": "UniformSample", "T": data_cfg.rnn_steps, "train": bool(train)},
              {"type": "ToRNNInput"}]
    return t


def build_skeleton_pipeline(data_cfg, backbone: str, train: bool, layout: str = "ntu") -> Compose:
    """:func:`skeleton_steps` built into a :class:`Compose`."""
    return Compose([build_step(s) for s in skeleton_steps(data_cfg, backbone, train, layout)])
