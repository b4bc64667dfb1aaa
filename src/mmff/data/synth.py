"""SynthHOI: a small synthetic human-object-interaction dataset in the NTU RGB+D file formats.

No NTU or SYSU data can be downloaded here, so this module renders a dataset on which the
paper's claim can be checked end to end: the skeleton sequence carries the *motion*, one RGB
frame carries the *object*, and only their fusion recognises the action.

Design (what makes single modalities fail and fusion win):

* classes = motions x objects (A001 first, motion-major). Motions come in **time-reversed
  pairs** (raise to the head / lower from the head, push forward / pull back, lift overhead /
  lower from overhead). A reversed sample is its forward counterpart played backwards, and every
  random timing parameter has a time-symmetric distribution, so the frame at p = 0.5 has the same
  distribution for both directions: one RGB frame cannot tell the direction (RGB-only <= ~50 %).
* the object (cup, phone, ball, book: distinct shape and colour) is held in the acting (right)
  hand and is invisible to the skeleton: the body motion does not depend on it (skeleton-only
  <= 1 / number of objects = 25 %). 1-2 distractor objects of *other* kinds stand away from the
  acting hand on a varied background, so attending to the moving hand matters.
* a 25-joint Kinect-v2-like body (NTU joint order), per-subject size and clothes, per-sample
  size jitter, speed, phase (hold durations), sway and joint noise; cameras C001-C003 look at
  the body from about -45, 0 and +45 degrees; subjects P001-P040 alternate between the NTU-60
  cross-subject train and test subjects, so the NTU cross-subject and cross-view splits apply.
* ``colorX colorY`` are the exact pinhole projection of ``x y z`` into the written video frame
  (``u = fx x / z + cx``, ``v = cy - fy y / z``, :func:`camera_intrinsics`); ``depthX depthY``
  the same for a 512 x 424 Kinect-v2 depth camera. Like the NTU files, a person facing the camera
  has their right side at larger x (the Kinect view is mirrored).
* video: ``SsssCcccPpppRrrrAaaa_rgb.avi``, H.264 (libx264, no B-frames, one thread, fixed
  options) in AVI, 30 fps, frame count = skeleton frame count + 0..2 (as in the real data).
  Output is byte-identical for a given seed (and library versions).

Everything a sample needs is drawn from a random generator seeded by ``(seed, sample name)``,
so samples are independent of the order, the number of workers and of resumed runs.

SynthHOI v2 (``mmff synth --version 2``; version 1, above, stays the default and byte for byte
what it was): the same classes, names, splits and file formats, and the same two caps (the
object never enters the skeleton simulation; a reversed class is its forward performance played
backwards), but every premise of the paper's modules holds by construction
(:func:`simulate_scene`, :func:`render_scene`):

* **projection crop** (too much background): a wide 16:9 frame (480 x 270 by default) in which
  the person is small (their box over the whole action 0.26-0.58 of the frame height, ~4 % of
  its area) and anywhere across the width and partly up and down, on a cluttered background
  (muted boxes, discs and bars, and 2-5 look-alike objects on shelves away from the person).
  Objects are drawn at 0.75 of v1's size. A plain crop of the frame is mostly background and
  its look-alikes; the crop around the projected joints is not.
* **skeleton attention** (the acting hand's region tells the object): the acted-upon object is
  one of the four kinds among look-alikes of the same catalogue (same shape, size and colour
  rule, kinds drawn independently of the class): one held in the other hand, which hardly
  moves, and 1-3 lying on the table. The acting hand is the right or the left one (per
  sample), so no fixed image region holds the object. Between p = 0.3 and 0.7 the joint with
  the largest displacement from the first frame (Eq. 13-14) is a joint of the acting hand and
  the object lies in its attention square (a third of the projection crop's side; measured on
  144 samples x 5 positions: 99.6 % and 100 %; a table look-alike falls in the square too 45 %
  of the time, the other hand's 10 %); nothing outside the hand's neighbourhood depends on the
  class (the items left on the table were drawn before the class object took a free place).
* **frame position** (the middle of the action shows the object): the acting hand rests over
  the table, takes the object from it at p = 0.145-0.165, performs the motion with it and puts
  it back at p = 0.835-0.855: in the hand at every p in [0.3, 0.7], on the table, among others,
  at p = 0.1 and 0.9.
* **view and body size** (skeleton augmentation): each (setup, camera) has its own azimuth
  (NTU's -45/0/+45 degrees, moved up to 10) and downward tilt (0-22 degrees,
  :func:`camera_view`), and subjects are 1.45-2.00 m tall with widths x0.82-1.18, so the
  cross-view test camera shows a view and the test subjects sizes that training did not.
* the 2D joints in the file (colorX, colorY) are the exact projection of the 3D joints the video
  was drawn from, as in version 1, so the projection crop and skeleton attention find the person
  and the hand. :data:`V2_LITE_SIZE` (384 x 216) is the lighter setting for the demo's budget
  (half the rendering time).
"""
from __future__ import annotations

import json
import multiprocessing as mp
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterable, Optional, Sequence

import numpy as np
from mmff.atomic import atomic_path, atomic_write_text

__all__ = [
    "MOTIONS", "OBJECTS", "SYNTH_CLASSES", "XSUB_TRAIN_SUBJECTS", "SynthSample",
    "class_factors", "check_settings", "scene_of", "attention_premise",
    "camera_intrinsics", "project", "depth_projection", "sample_plan", "simulate_skeleton",
    "render_video", "encode_video", "generate_sample", "generate", "parse_size",
    "DEPTH_INTRINSICS", "FPS", "VERSIONS", "DEFAULT_SIZE", "V2_LITE_SIZE", "V2_OBJECT_SCALE",
    "Scene", "HeldItem",
    "BuiltSample", "camera_view", "simulate_scene", "render_scene", "build_sample", "class_parts",
]

FPS = 30
#: Kinect v2 depth camera (512 x 424): fx, fy, cx, cy (for the depthX/depthY columns).
DEPTH_INTRINSICS = (365.5, 365.5, 255.5, 211.5)
#: NTU-60 cross-subject training subjects (SPEC §1.1); P001-P040 alternate train/test.
XSUB_TRAIN_SUBJECTS = (1, 2, 4, 5, 8, 9, 13, 14, 15, 16, 17, 18, 19, 25, 27, 28, 31, 34, 35, 38)
_XSUB_TEST_SUBJECTS = tuple(s for s in range(1, 41) if s not in XSUB_TRAIN_SUBJECTS)
#: generator versions (``mmff synth --version``): 1 the original SynthHOI (the demo's
#: published numbers), 2 SynthHOI v2 (each module's premise holds by construction).
VERSIONS = (1, 2)
#: default frame size per version; v2's is a wide 16:9 frame (NTU's aspect) with a small person.
DEFAULT_SIZE = {1: (320, 240), 2: (480, 270)}
#: the lighter v2 setting for the demo's budget (same generator, fewer pixels to render).
V2_LITE_SIZE = (384, 216)
#: v2 draws every object (held, look-alike) at this fraction of its catalogue size: small.
V2_OBJECT_SCALE = 0.75
#: camera -> azimuth of the body relative to the camera (degrees), as NTU's three cameras.
CAMERA_AZIMUTH = {1: -45.0, 2: 0.0, 3: 45.0}

# 0-based NTU joint indices used below (NTU order, SPEC §1.1).
(SPINE_BASE, SPINE_MID, NECK, HEAD, L_SHOULDER, L_ELBOW, L_WRIST, L_HAND, R_SHOULDER, R_ELBOW,
 R_WRIST, R_HAND, L_HIP, L_KNEE, L_ANKLE, L_FOOT, R_HIP, R_KNEE, R_ANKLE, R_FOOT, SPINE_SHOULDER,
 L_TIP, L_THUMB, R_TIP, R_THUMB) = range(25)


# --------------------------------------------------------------------------- classes
@dataclass(frozen=True)
class Motion:
    """A right-arm movement between two poses; angles (flexion, abduction, elbow) in degrees.

    Flexion raises the upper arm forward, abduction sideways, the elbow bends the forearm
    towards the direction of flexion. ``reverse`` = the same movement played backwards."""

    name: str
    start: tuple
    end: tuple
    reverse: bool = False


_REST = (8.0, 12.0, 15.0)
_MOTION_PAIRS = [
    ("raise {} to the head", "lower {} from the head", _REST, (35.0, 18.0, 145.0)),
    ("push {} forward", "pull {} back", (12.0, 8.0, 95.0), (86.0, 6.0, 6.0)),
    ("lift {} overhead", "bring {} down from overhead", (0.0, 12.0, 15.0), (0.0, 160.0, 10.0)),
]
#: the motions, each time-reversed pair adjacent (forward, backward).
MOTIONS: tuple[Motion, ...] = tuple(
    m for fwd, bwd, a, b in _MOTION_PAIRS for m in (Motion(fwd, a, b), Motion(bwd, a, b, True)))


@dataclass(frozen=True)
class HOIObject:
    """A hand-held object: distinct shape and colour (RGB); ``size`` (w, h) in metres."""

    name: str
    shape: str
    color: tuple
    size: tuple


# Toy-sized (about 1.5x real objects) so that they stay a few pixels wide in a small crop.
OBJECTS: tuple[HOIObject, ...] = (
    HOIObject("cup", "cup", (215, 35, 35), (0.16, 0.21)),
    HOIObject("phone", "phone", (35, 65, 190), (0.13, 0.25)),
    HOIObject("ball", "ball", (40, 185, 60), (0.25, 0.25)),
    HOIObject("book", "book", (235, 190, 25), (0.30, 0.22)),
)

#: class names, A001 first: motion-major (A001-A004 = first motion with each object).
SYNTH_CLASSES: tuple[str, ...] = tuple(
    m.name.format(f"the {o.name}") for m in MOTIONS for o in OBJECTS)


def class_parts(label: int) -> tuple[Motion, HOIObject]:
    """0-based class label -> (motion, object)."""
    return MOTIONS[label // len(OBJECTS)], OBJECTS[label % len(OBJECTS)]


def class_factors(classes: Sequence[str]) -> Optional[dict[str, np.ndarray]]:
    """``{factor: (num_classes,) factor index of each class}`` for SynthHOI's classes, else None.

    The factors are what each modality can name by construction: the skeleton the ``motion``
    (6), one frame the ``object`` (4) and the ``motion_pair`` (3: a pair differs only in the
    direction of time). Accuracy per factor (``engine.evaluation.factor_accuracy``) tells which
    of them a model got wrong."""
    if tuple(classes) != SYNTH_CLASSES:
        return None
    c = np.arange(len(SYNTH_CLASSES))
    return {"object": c % len(OBJECTS), "motion": c // len(OBJECTS),
            "motion_pair": c // (2 * len(OBJECTS))}


# --------------------------------------------------------------------------- plan
@dataclass(frozen=True)
class SynthSample:
    """One sample of the plan: NTU name fields (1-based) and the 0-based label."""

    setup: int
    camera: int
    subject: int
    replication: int
    label: int

    @property
    def name(self) -> str:
        return (f"S{self.setup:03d}C{self.camera:03d}P{self.subject:03d}"
                f"R{self.replication:03d}A{self.label + 1:03d}")


def sample_plan(samples_per_class: int, num_classes: int = len(SYNTH_CLASSES)) -> list[SynthSample]:
    """Deterministic list of sample names covering the NTU splits evenly.

    Sample i of class a: even i -> a cross-subject *train* subject, odd i -> a *test* subject
    (so xsub is a 50/50 split per class), camera ``i % 3 + 1`` (all three views, both parities),
    replication and setup advance every 40 / 120 samples so that names never collide."""
    if samples_per_class < 1:
        raise ValueError(f"samples_per_class must be >= 1, got {samples_per_class}")
    plan = []
    for a in range(num_classes):
        for i in range(samples_per_class):
            pool = XSUB_TRAIN_SUBJECTS if i % 2 == 0 else _XSUB_TEST_SUBJECTS
            subject = pool[(i // 2 + 3 * a) % len(pool)]
            plan.append(SynthSample(setup=i // 120 + 1, camera=i % 3 + 1, subject=subject,
                                    replication=(i // 40) % 2 + 1, label=a))
    return plan


# --------------------------------------------------------------------------- camera
def camera_intrinsics(width: int, height: int) -> tuple[float, float, float, float]:
    """Pinhole intrinsics (fx, fy, cx, cy) of the synthetic colour camera for a frame size.

    The focal length scales with the frame height (a fixed ~49 deg vertical field of view),
    so the body covers the same fraction of the frame at every size."""
    f = 1.1 * height
    return f, f, (width - 1) / 2.0, (height - 1) / 2.0


def project(points: np.ndarray, intrinsics: Sequence[float]) -> np.ndarray:
    """Pinhole projection of camera-space points (..., 3) to pixels (..., 2):
    ``u = fx x / z + cx``, ``v = cy - fy y / z`` (SPEC §1.1)."""
    fx, fy, cx, cy = intrinsics
    p = np.asarray(points, dtype=np.float64)
    z = p[..., 2]
    return np.stack([fx * p[..., 0] / z + cx, cy - fy * p[..., 1] / z], axis=-1)


def depth_projection(points: np.ndarray) -> np.ndarray:
    """Projection into the 512 x 424 depth frame (the ``depthX depthY`` columns)."""
    return project(points, DEPTH_INTRINSICS)


def parse_size(text: str | Sequence[int]) -> tuple[int, int]:
    """``"320x240"`` -> (320, 240); even sizes from 32x24 up to 1920x1080 (yuv420p needs even)."""
    if isinstance(text, str):
        try:
            w, h = (int(v) for v in text.lower().split("x"))
        except ValueError:
            raise ValueError(f"--size: expected WxH (e.g. 320x240), got {text!r}") from None
    else:
        w, h = (int(v) for v in text)
    if not (32 <= w <= 1920 and 24 <= h <= 1080) or w % 2 or h % 2:
        raise ValueError(f"size {w}x{h}: expected even W in 32..1920 and even H in 24..1080")
    return w, h


# --------------------------------------------------------------------------- body
# Bone lengths (metres) of a 1.75 m subject; scaled by height / 1.75.
_BONES = dict(spine_low=0.26, spine_high=0.21, neck=0.06, head=0.13, shoulder=0.18,
              upper_arm=0.28, forearm=0.25, hand=0.08, tip=0.07, thumb=0.05, hip=0.09,
              thigh=0.42, shin=0.41, foot=0.12)


def _subject_traits(seed: int, subject: int, version: int = 1) -> dict:
    """Per-subject body size and clothes (same subject -> same look in every sample).

    Version 2 draws the body size again, after the first generator's draws (so version 1 is
    unchanged), from a wider range: heights 1.45-2.00 m and shoulder/hip widths x0.82-1.18,
    the spread that the skeleton augmentation's scaling (SPEC §1.4) is there to cover."""
    rng = np.random.default_rng([seed, 0x5B1EC7, subject])
    skin = np.array([(230, 190, 160), (200, 150, 115), (150, 105, 75), (100, 70, 50)])
    traits = dict(
        height=float(rng.uniform(1.55, 1.90)),
        build=float(rng.uniform(0.9, 1.1)),       # shoulder/hip width factor
        skin=tuple(int(c) for c in skin[rng.integers(len(skin))] + rng.integers(-10, 11, 3)),
        shirt=tuple(int(c) for c in _muted(rng, 60, 200, 60)),
        trousers=tuple(int(c) for c in _muted(rng, 30, 120, 30)),
    )
    if version >= 2:
        traits.update(height=float(rng.uniform(1.45, 2.00)), build=float(rng.uniform(0.82, 1.18)))
    return traits


def _muted(rng: np.random.Generator, lo: int, hi: int, tint: int) -> np.ndarray:
    """A low-saturation colour (grey level in [lo, hi] +- tint per channel): backgrounds and
    clothes never look like the saturated object colours."""
    return np.clip(rng.integers(lo, hi) + rng.integers(-tint // 2, tint // 2 + 1, 3), 0, 255)


def _rot_y(a: np.ndarray) -> np.ndarray:
    """Rotations about the vertical axis, angles (...) rad -> (..., 3, 3)."""
    c, s = np.cos(a), np.sin(a)
    z, o = np.zeros_like(a), np.ones_like(a)
    return np.stack([np.stack([c, z, s], -1), np.stack([z, o, z], -1),
                     np.stack([-s, z, c], -1)], -2)


def _rot_x(a: np.ndarray) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    z, o = np.zeros_like(a), np.ones_like(a)
    return np.stack([np.stack([o, z, z], -1), np.stack([z, c, -s], -1),
                     np.stack([z, s, c], -1)], -2)


def _rot_z(a: np.ndarray) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    z, o = np.zeros_like(a), np.ones_like(a)
    return np.stack([np.stack([c, -s, z], -1), np.stack([s, c, z], -1),
                     np.stack([z, z, o], -1)], -2)


def _arm(shoulder: np.ndarray, side: float, angles: np.ndarray, b: dict) -> list[np.ndarray]:
    """Forward kinematics of one arm for all frames at once.

    ``angles`` (T, 3) degrees (flexion phi, abduction alpha, elbow eps); body frame x = the
    person's right, y = up, z = backward; ``side`` +1 right arm, -1 left arm.
    Returns [elbow, wrist, hand, tip, thumb], each (T, 3)."""
    phi, alpha, eps = np.deg2rad(angles).T
    ca = np.cos(alpha)
    # upper arm: down (0,-1,0) rotated forward by phi and outwards by alpha
    v = np.stack([side * np.sin(alpha), -ca * np.cos(phi), -ca * np.sin(phi)], -1)
    # w: unit vector orthogonal to v in the direction of flexion (elbow bends that way)
    w = np.stack([np.zeros_like(phi), np.sin(phi), -np.cos(phi)], -1)
    fore = np.cos(eps)[:, None] * v + np.sin(eps)[:, None] * w
    elbow = shoulder + b["upper_arm"] * v
    wrist = elbow + b["forearm"] * fore
    hand = wrist + b["hand"] * fore
    tip = hand + b["tip"] * fore
    t_dir = 0.5 * fore + 0.85 * w - 0.3 * side * np.array([1.0, 0.0, 0.0])
    thumb = hand + b["thumb"] * t_dir / np.linalg.norm(t_dir, axis=-1, keepdims=True)
    return [elbow, wrist, hand, tip, thumb]


def _profile(num_frames: int, hold_start: int, hold_end: int) -> np.ndarray:
    """Movement progress s(t) in [0, 1]: hold, cosine ease, hold."""
    t = np.arange(num_frames, dtype=np.float64)
    move = max(num_frames - hold_start - hold_end - 1, 1)
    u = np.clip((t - hold_start) / move, 0.0, 1.0)
    return 0.5 - 0.5 * np.cos(np.pi * u)


def _shoulder(b: dict, build: float, side: float) -> np.ndarray:
    """Body-frame position of the right (``side`` +1) or left (-1) shoulder before the lean."""
    return np.array([side * b["shoulder"] * build, b["spine_low"] + b["spine_high"] - 0.03, 0.0])


def _held(hand: np.ndarray, tip: np.ndarray) -> np.ndarray:
    """Where a hand holds an object: just beyond the hand, between hand and hand tip."""
    return hand + 0.6 * (tip - hand)


def _body_joints(rng: np.random.Generator, b: dict, build: float, size: float,
                 right: np.ndarray, left: np.ndarray, t: np.ndarray,
                 lean_deg: tuple = (2.5, 1.5)) -> np.ndarray:
    """Body-frame joints (T, 25, 3) (spine base at the origin, x = the person's right, y = up,
    z = backward) for the arm angle tracks ``right`` / ``left`` (T, 3) at times ``t`` (s).

    Adds a small forward/side torso lean (``lean_deg`` amplitudes, random frequency and phase)
    and a random stance; the draws are those of the first SynthHOI, in its order."""
    T = len(t)
    # torso sway: small forward/side lean of the upper body around the spine base
    lean_f = np.deg2rad(lean_deg[0] * np.sin(2 * np.pi * rng.uniform(0.2, 0.5) * t
                                             + rng.uniform(0, 6.3)))
    lean_s = np.deg2rad(lean_deg[1] * np.sin(2 * np.pi * rng.uniform(0.2, 0.5) * t
                                             + rng.uniform(0, 6.3)))
    R_lean = _rot_x(lean_f) @ _rot_z(lean_s)                        # (T, 3, 3)

    J = np.zeros((T, 25, 3))
    hw = b["hip"] * build
    up = np.array([0.0, 1.0, 0.0])
    upper = {  # upper-body joints in the torso frame (before lean)
        SPINE_MID: up * b["spine_low"],
        SPINE_SHOULDER: up * (b["spine_low"] + b["spine_high"]),
        NECK: up * (b["spine_low"] + b["spine_high"] + b["neck"]),
        HEAD: up * (b["spine_low"] + b["spine_high"] + b["neck"] + b["head"]) + [0, 0, -0.02],
        L_SHOULDER: _shoulder(b, build, -1.0),
        R_SHOULDER: _shoulder(b, build, 1.0),
    }
    for j, p in upper.items():
        J[:, j] = p
    for side, sh, angles, idx in ((1.0, R_SHOULDER, right, (R_ELBOW, R_WRIST, R_HAND, R_TIP,
                                                             R_THUMB)),
                                  (-1.0, L_SHOULDER, left, (L_ELBOW, L_WRIST, L_HAND, L_TIP,
                                                            L_THUMB))):
        J[:, list(idx)] = np.stack(_arm(J[:, sh], side, angles, b), 1)
    moving = [j for j in range(25) if j not in (SPINE_BASE, L_HIP, L_KNEE, L_ANKLE, L_FOOT,
                                                  R_HIP, R_KNEE, R_ANKLE, R_FOOT)]
    J[:, moving] = np.einsum("tij,tvj->tvi", R_lean, J[:, moving])
    knee_bend = rng.uniform(0.0, 0.04)
    for side, (hip, knee, ankle, foot) in ((-1.0, (L_HIP, L_KNEE, L_ANKLE, L_FOOT)),
                                           (1.0, (R_HIP, R_KNEE, R_ANKLE, R_FOOT))):
        stance = side * rng.uniform(0.0, 0.05)
        J[:, hip] = [side * hw, -0.01 * size, 0.0]
        J[:, knee] = J[:, hip] + [stance, -b["thigh"], -knee_bend]
        J[:, ankle] = J[:, knee] + [stance * 0.5, -b["shin"], knee_bend]
        J[:, foot] = J[:, ankle] + [side * 0.02, -0.04 * size, -b["foot"]]
    return J


def simulate_skeleton(rng: np.random.Generator, motion: Motion, traits: dict,
                      camera: int, intrinsics: Sequence[float], frame_size: tuple[int, int],
                      base_frames: int = 60) -> tuple[np.ndarray, dict]:
    """Camera-space joints (T, 25, 3) in metres for one performance of ``motion``.

    Every random quantity is drawn with a time-symmetric distribution (the two holds are
    i.i.d., sway is a sinusoid of random phase, noise i.i.d. per frame), then a reversed motion
    is the forward one played backwards: the frames at p = 0.5 of the two directions share one
    distribution (SynthHOI's ``RGB-only cannot tell the direction`` property).
    Returns (joints, info) with info holding the pose parameters (for rendering)."""
    size = traits["height"] / 1.75 * rng.uniform(0.98, 1.02)  # per-sample size jitter
    b = {k: v * size for k, v in _BONES.items()}
    speed = rng.uniform(0.8, 1.25)
    T = int(round(base_frames / speed))
    holds = np.round(rng.uniform(0.1, 0.3, 2) * T).astype(int)
    s = _profile(T, int(holds[0]), int(holds[1]))[:, None]
    start = np.asarray(motion.start) + rng.normal(0, 5.0, 3)
    end = np.asarray(motion.end) + rng.normal(0, 5.0, 3)
    t = np.arange(T) / FPS
    right = start + s * (end - start) + 1.5 * np.sin(2 * np.pi * 0.7 * t[:, None]
                                                     + rng.uniform(0, 2 * np.pi, 3))
    left = np.stack([8 + 5 * np.sin(2 * np.pi * 0.4 * t + rng.uniform(0, 2 * np.pi)),
                     np.full(T, 12.0), 15 + 5 * np.sin(2 * np.pi * 0.4 * t + rng.uniform(0, 6.3))],
                    -1)

    J = _body_joints(rng, b, traits["build"], size, right, left, t)

    # place the body in front of the camera: yaw = camera azimuth, then translate
    yaw = np.deg2rad(CAMERA_AZIMUTH[camera] + rng.normal(0, 5.0))
    J = J @ _rot_y(np.asarray(yaw)).T
    J += rng.normal(0, 0.004, J.shape)                               # Kinect-like joint jitter
    J[..., 0] += 0.01 * np.sin(2 * np.pi * 0.3 * t + rng.uniform(0, 6.3))[:, None]
    if motion.reverse:
        J = J[::-1].copy()
    dist = rng.uniform(2.6, 3.3)
    offset = np.array([rng.uniform(-0.3, 0.3), rng.uniform(0.0, 0.25), dist])
    J = _fit_in_frame(J + offset, intrinsics, frame_size)
    return J.astype(np.float64), dict(size=size, bones=b)


def _fit_in_frame(J: np.ndarray, intr: Sequence[float], frame_size: tuple[int, int],
                  margin: float = 0.04) -> np.ndarray:
    """Push the body back (larger z, same direction) until every joint projects inside the
    frame with a small margin, so crops never need to clamp (a few iterations per sample)."""
    W, H = frame_size
    for _ in range(20):
        uv = project(J, intr)
        lo, hi = uv.min((0, 1)), uv.max((0, 1))
        if lo[0] >= margin * W and lo[1] >= margin * H and hi[0] <= (1 - margin) * W \
                and hi[1] <= (1 - margin) * H:
            break
        centre = J[:, SPINE_BASE].mean(0)
        J = J + centre * 0.08   # scale the distance by 1.08 along the line of sight
    return J


# --------------------------------------------------------------------------- rendering
def _draw_object(img: np.ndarray, obj: HOIObject, u: float, v: float, ppm: float,
                 color: np.ndarray) -> None:
    """Draw ``obj`` centred at pixel (u, v) with ``ppm`` pixels per metre (cv2 primitives)."""
    import cv2

    w, h = obj.size[0] * ppm, obj.size[1] * ppm
    c = tuple(int(x) for x in color)
    dark = tuple(int(x * 0.55) for x in color)
    light = tuple(int(min(255, x * 0.5 + 128)) for x in color)
    x0, y0, x1, y1 = (int(round(u - w / 2)), int(round(v - h / 2)), int(round(u + w / 2)),
                      int(round(v + h / 2)))
    lw = max(1, int(round(0.012 * ppm)))
    if obj.shape == "ball":
        r = max(1, int(round(w / 2)))
        cv2.circle(img, (int(round(u)), int(round(v))), r, c, -1, cv2.LINE_AA)
        cv2.circle(img, (int(round(u - r / 3)), int(round(v - r / 3))), max(1, r // 3), light, -1,
                   cv2.LINE_AA)
    elif obj.shape == "cup":
        cv2.rectangle(img, (x0, y0), (x1, y1), c, -1)
        cv2.ellipse(img, (x1, int(round(v))), (max(1, int(w / 3)), max(1, int(h / 4))), 0, -90, 90,
                    c, max(1, int(round(0.025 * ppm))), cv2.LINE_AA)
        cv2.line(img, (x0, y0), (x1, y0), light, lw)
    elif obj.shape == "phone":
        cv2.rectangle(img, (x0, y0), (x1, y1), dark, -1)
        m = max(1, int(round(0.012 * ppm)))
        cv2.rectangle(img, (x0 + m, y0 + 2 * m), (x1 - m, y1 - 2 * m), c, -1)
    elif obj.shape == "book":
        cv2.rectangle(img, (x0, y0), (x1, y1), c, -1)
        cv2.rectangle(img, (x0, y0), (x0 + max(1, int(w / 8)), y1), dark, -1)
        cv2.line(img, (x0, y1), (x1, y1), (245, 245, 235), lw)
    else:  # pragma: no cover - OBJECTS lists every shape
        raise ValueError(f"unknown object shape {obj.shape!r}")


def _background(rng: np.random.Generator, W: int, H: int) -> np.ndarray:
    """A varied, muted room: wall and floor colours, a horizon, a few panels, smooth texture."""
    import cv2

    img = np.empty((H, W, 3), np.float32)
    horizon = int(H * rng.uniform(0.6, 0.85))
    wall, floor = _muted(rng, 90, 210, 50), _muted(rng, 50, 150, 40)
    grad = np.linspace(-12, 12, H, dtype=np.float32)[:, None, None]
    img[:horizon] = wall + grad[:horizon]
    img[horizon:] = floor + grad[horizon:]
    for _ in range(rng.integers(2, 5)):  # furniture / posters
        x0, y0 = rng.integers(0, W), rng.integers(0, horizon)
        pw, ph = rng.integers(W // 12, W // 4 + 1), rng.integers(H // 10, H // 3 + 1)
        img[y0:y0 + ph, x0:x0 + pw] = _muted(rng, 40, 230, 60)
    noise = rng.normal(0, 5, (H // 8 + 2, W // 8 + 2, 3)).astype(np.float32)
    img += cv2.resize(noise, (W, H), interpolation=cv2.INTER_LINEAR)
    return np.clip(img, 0, 255).astype(np.uint8)


# body parts drawn as thick segments: (joint a, joint b, width m, colour key, shade)
_LIMBS = [
    (SPINE_SHOULDER, NECK, 0.09, "skin", 1.0),
    (L_SHOULDER, L_ELBOW, 0.09, "shirt", 0.85), (L_ELBOW, L_WRIST, 0.07, "skin", 0.85),
    (L_WRIST, L_TIP, 0.06, "skin", 0.8),
    (R_SHOULDER, R_ELBOW, 0.09, "shirt", 1.0), (R_ELBOW, R_WRIST, 0.07, "skin", 1.0),
    (R_WRIST, R_TIP, 0.06, "skin", 0.95),
    (L_HIP, L_KNEE, 0.15, "trousers", 0.85), (L_KNEE, L_ANKLE, 0.11, "trousers", 0.85),
    (L_ANKLE, L_FOOT, 0.08, "shoe", 0.8),
    (R_HIP, R_KNEE, 0.15, "trousers", 1.0), (R_KNEE, R_ANKLE, 0.11, "trousers", 1.0),
    (R_ANKLE, R_FOOT, 0.08, "shoe", 1.0),
]
_TORSO = [L_SHOULDER, R_SHOULDER, R_HIP, L_HIP]


def render_video(rng: np.random.Generator, joints: np.ndarray, obj: HOIObject,
                 traits: dict, intrinsics: Sequence[float], frame_size: tuple[int, int],
                 extra_frames: int = 0) -> np.ndarray:
    """Render the RGB video (N, H, W, 3) uint8 of a body (joints (T, 25, 3), camera space).

    The person is drawn with cv2 primitives in depth order (painter's algorithm, far first),
    the held object at the right hand; 1-2 distractors of other kinds are part of the static
    background, placed away from every position the acting hand takes. ``extra_frames`` (0-2)
    frames repeat the first/last pose so video and skeleton counts differ as in NTU."""
    W, H = frame_size
    uv = project(joints, intrinsics)                             # (T, 25, 2)
    ppm = intrinsics[0] / joints[..., 2]                         # pixels per metre (T, 25)
    obj_color = np.clip(np.asarray(obj.color) + rng.integers(-15, 16, 3), 0, 255)
    held3d = _held(joints[:, R_HAND], joints[:, R_TIP])
    held_uv = project(held3d, intrinsics)
    held_ppm = intrinsics[0] / held3d[:, 2]

    bg = _background(rng, W, H)
    _place_distractors(rng, bg, obj, uv, held_uv, held_ppm, intrinsics, joints)

    k0 = int(rng.integers(0, extra_frames + 1))                  # extra frames at the start
    held = HeldItem(obj, held_uv, held_ppm, joints[:, R_HAND, 2] - 0.05, obj_color)
    return _draw_frames(bg, joints, intrinsics, traits, [held], extra_frames, k0)


@dataclass(frozen=True)
class HeldItem:
    """An object drawn in every frame of a video: ``uv`` (T, 2) centre pixels, ``ppm`` (T,)
    pixels per metre, ``depth`` (T,) its place in the painter's order (camera z, metres)."""

    obj: HOIObject
    uv: np.ndarray
    ppm: np.ndarray
    depth: np.ndarray
    color: np.ndarray


def _draw_frames(bg: np.ndarray, joints: np.ndarray, intrinsics: Sequence[float], traits: dict,
                 items: Sequence[HeldItem], extra_frames: int, k0: int) -> np.ndarray:
    """Frames (T + extra_frames, H, W, 3): the body (joints (T, 25, 3)) and ``items`` drawn over
    ``bg`` with cv2 primitives in depth order (painter's algorithm, far first); video frame i
    shows skeleton frame clip(i - k0, 0, T - 1)."""
    import cv2

    H, W = bg.shape[:2]
    T = len(joints)
    uv = project(joints, intrinsics)                             # (T, 25, 2)
    ppm = intrinsics[0] / joints[..., 2]                         # pixels per metre (T, 25)
    colors = dict(skin=traits["skin"], shirt=traits["shirt"], trousers=traits["trousers"],
                  shoe=(35, 30, 30))
    n = T + extra_frames
    src = np.clip(np.arange(n) - k0, 0, T - 1)
    frames = np.empty((n, H, W, 3), np.uint8)

    # Everything per frame is precomputed as arrays; the loop only issues cv2 calls.
    shift = 4                                                    # cv2 sub-pixel precision bits
    pts = np.round(uv * (1 << shift)).astype(np.int64).tolist()  # (T, 25, 2) fixed point
    a_idx = np.array([lb[0] for lb in _LIMBS])
    b_idx = np.array([lb[1] for lb in _LIMBS])
    widths = np.array([lb[2] for lb in _LIMBS])
    limb_thick = np.maximum(1, np.round(widths * (ppm[:, a_idx] + ppm[:, b_idx]) / 2)).astype(int)
    limb_col = [tuple(int(c * lb[4]) for c in colors[lb[3]]) for lb in _LIMBS]
    spine_thick = np.maximum(1, np.round(0.1 * ppm[:, SPINE_MID])).astype(int).tolist()
    head_r = np.maximum(1, np.round(0.11 * ppm[:, HEAD] * (1 << shift))).astype(int).tolist()
    shirt, skin = tuple(int(c) for c in colors["shirt"]), tuple(int(c) for c in colors["skin"])
    z = joints[..., 2]
    # painter's algorithm: draw items far -> near; items 0 torso, 1 head, 2 .. 2 + len(items) - 1
    # the objects, then the limbs
    first_limb = 2 + len(items)
    depth = np.concatenate([z[:, _TORSO].mean(1, keepdims=True), z[:, HEAD:HEAD + 1],
                            *(np.broadcast_to(it.depth, (T,))[:, None] for it in items),
                            (z[:, a_idx] + z[:, b_idx]) / 2], 1)
    order = np.argsort(-depth, axis=1, kind="stable").tolist()
    limb_thick = limb_thick.tolist()
    for i, t in enumerate(src.tolist()):
        img = frames[i]
        img[:] = bg
        p = pts[t]
        for item in order[t]:
            if item >= first_limb:
                k = item - first_limb
                cv2.line(img, p[_LIMBS[k][0]], p[_LIMBS[k][1]], limb_col[k], limb_thick[t][k],
                         cv2.LINE_AA, shift)
            elif item == 0:
                quad = np.array([p[j] for j in _TORSO]).reshape(-1, 1, 2)
                cv2.fillConvexPoly(img, quad, shirt, cv2.LINE_AA, shift)
                cv2.line(img, p[SPINE_SHOULDER], p[SPINE_BASE], shirt, spine_thick[t],
                         cv2.LINE_AA, shift)
            elif item == 1:
                cv2.circle(img, p[HEAD], head_r[t], skin, -1, cv2.LINE_AA, shift)
            else:
                it = items[item - 2]
                _draw_object(img, it.obj, it.uv[t, 0], it.uv[t, 1], it.ppm[t], it.color)
    return frames


def _place_distractors(rng: np.random.Generator, bg: np.ndarray, held: HOIObject,
                       uv: np.ndarray, held_uv: np.ndarray, held_ppm: np.ndarray,
                       intrinsics: Sequence[float], joints: np.ndarray) -> None:
    """Draw 1-2 objects of other kinds into the background near the person (often inside the
    projection crop) but away from the whole track of the acting hand."""
    H, W = bg.shape[:2]
    others = [o for o in OBJECTS if o is not held]
    kinds = rng.choice(len(others), size=int(rng.integers(1, 3)), replace=False)
    lo, hi = uv.reshape(-1, 2).min(0), uv.reshape(-1, 2).max(0)
    bw, bh = hi - lo
    z_body = float(joints[:, SPINE_BASE, 2].mean())
    cand = np.stack([rng.uniform(lo[0] - 0.9 * bw, hi[0] + 0.9 * bw, 64),
                     rng.uniform(lo[1] + 0.25 * bh, hi[1], 64)], -1)
    cand = np.clip(cand, [0.05 * W, 0.05 * H], [0.95 * W, 0.95 * H])
    ppm = intrinsics[0] / (z_body + rng.uniform(-0.2, 0.5, 64))
    reach = 0.3 * ppm + 0.15 * held_ppm.max()                    # object radii + a gap
    dist = np.linalg.norm(cand[:, None] - held_uv[None], axis=-1).min(1)   # (64,)
    # ... and not hidden behind the body (any joint of any frame, every 4th frame suffices)
    body = np.linalg.norm(cand[:, None] - uv[::4].reshape(-1, 2)[None], axis=-1).min(1)
    ok = (dist > reach) & (body > 0.15 * ppm)
    placed: list[np.ndarray] = []
    order = np.argsort(~ok, kind="stable")                       # valid candidates first
    for k in kinds:
        for c in order:
            if all(np.linalg.norm(cand[c] - q) > 0.3 * ppm[c] for q in placed):
                break
        placed.append(cand[c])
        o = others[k]
        col = np.clip(np.asarray(o.color) + rng.integers(-15, 16, 3), 0, 255)
        _draw_object(bg, o, cand[c, 0], cand[c, 1], ppm[c], col)
        order = order[order != c]


# --------------------------------------------------------------------------- SynthHOI v2
#: v2 table per motion pair, out of the motion's way and within reach (uniform ranges, metres
#: for a 1.75 m body): outwards from the acting shoulder, height of the top above the spine
#: base, distance in front of the body. Raise-to-head and push sweep the front of the body:
#: the table stands front-side; lift-overhead sweeps the side: the table stands in front.
_TABLE = (((0.22, 0.30), (-0.13, -0.07), (0.19, 0.25)),
          ((0.22, 0.30), (-0.13, -0.07), (0.19, 0.25)),
          ((0.02, 0.10), (-0.07, -0.01), (0.33, 0.39)))


@dataclass(frozen=True)
class Scene:
    """One SynthHOI v2 performance in camera space (metres): what the skeleton file and the video
    show, and the per-frame ground truth behind them.

    Object kinds are indices into :data:`OBJECTS`. The acted-upon object's kind is the class's
    and is not part of the scene (the skeleton never depends on it); every other kind here is
    drawn independently of the class."""

    joints: np.ndarray        # (T, 25, 3)
    acting: int               # the acting hand joint (R_HAND or L_HAND)
    object_xyz: np.ndarray    # (T, 3) centre of the acted-upon object
    in_hand: np.ndarray       # (T,) bool: the object is in the acting hand (else on the table)
    other_kind: int           # the look-alike held in the other, non-moving hand ...
    other_xyz: np.ndarray     # (T, 3) ... and its centre
    table_kinds: tuple        # the look-alikes lying on the table (the object's neighbours) ...
    table_xyz: np.ndarray     # (K, 3) ... and their centres
    table_top: np.ndarray     # (4, 3) corners of the table top, in drawing order
    table_legs: np.ndarray    # (4, 2, 3) top and floor end of each leg
    view: tuple               # (azimuth, elevation) of the camera for this sample, degrees


def camera_view(seed: int, setup: int, camera: int) -> tuple[float, float]:
    """v2: (azimuth, elevation) in degrees of camera ``camera`` of setup ``setup``.

    NTU's three azimuths (-45, 0, +45) each moved by up to 10 degrees, and a downward tilt of
    0-22 degrees, fixed per (seed, setup, camera): the cameras differ in height as well as in
    direction, so the cross-view split tests on a view that training never saw, which the
    skeleton augmentation's rotations (SPEC §1.4) exist to cover."""
    rng = np.random.default_rng([seed, 0xCA3E7A, setup, camera])
    return float(CAMERA_AZIMUTH[camera] + rng.uniform(-10.0, 10.0)), float(rng.uniform(0.0, 22.0))


def _keyframes(knots: np.ndarray, poses: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Pose tracks (T, D) at times ``u`` (T,): cosine ease from ``poses[k]`` to ``poses[k + 1]``
    between ``knots[k]`` and ``knots[k + 1]`` (increasing, covering ``u``)."""
    k = np.clip(np.searchsorted(knots, u, side="right") - 1, 0, len(knots) - 2)
    w = np.clip((u - knots[k]) / (knots[k + 1] - knots[k]), 0.0, 1.0)
    w = 0.5 - 0.5 * np.cos(np.pi * w)
    return poses[k] + w[:, None] * (poses[k + 1] - poses[k])


def _reach(shoulder: np.ndarray, side: float, targets: np.ndarray, b: dict,
           iters: int = 40) -> tuple[np.ndarray, np.ndarray]:
    """Arm angles (K, 3) (degrees, :func:`_arm`) that put the held point (:func:`_held`) at
    each of ``targets`` (K, 3), and the distance (K,) left to each target.

    Damped Gauss-Newton with a finite-difference Jacobian from three starting poses (forward,
    sideways, back), the best one kept; every start, target and Jacobian column goes through
    one forward-kinematics call per step."""
    starts = np.array([[30.0, 30.0, 30.0], [0.0, 60.0, 20.0], [-30.0, 30.0, 80.0]])
    K, n = len(targets), len(starts)
    goal = np.tile(targets, (n, 1))                                # (nK, 3)
    q = np.repeat(starts, K, axis=0)                               # (nK, 3)
    step = np.eye(3) * 0.5                                         # degrees
    for _ in range(iters):
        Q = np.concatenate([q[None], q[None] + step[:, None]], 0).reshape(-1, 3)
        arm = _arm(shoulder, side, Q, b)
        p = _held(arm[2], arm[3]).reshape(4, n * K, 3)
        r = p[0] - goal
        Jac = np.moveaxis((p[1:] - p[:1]) / 0.5, 0, -1)            # (nK, 3 xyz, 3 angles)
        A = np.swapaxes(Jac, 1, 2) @ Jac + 1e-6 * np.eye(3)
        q = q - np.linalg.solve(A, np.swapaxes(Jac, 1, 2) @ r[..., None])[..., 0]
        q = np.clip(q, [-45.0, -10.0, 0.0], [170.0, 170.0, 150.0])
    arm = _arm(shoulder, side, q, b)
    err = np.linalg.norm(_held(arm[2], arm[3]) - goal, axis=-1).reshape(n, K)
    best = err.argmin(0)
    return q.reshape(n, K, 3)[best, np.arange(K)], err[best, np.arange(K)]


def _scene_bounds(points: np.ndarray, intrinsics: Sequence[float], frame_size: tuple[int, int],
                  depth: float, margin: float) -> tuple:
    """Ranges of the translation (tx, ty) that keep every camera-space point of ``points``
    (rotated, origin at the body, at distance ``depth``) inside the frame with a ``margin``
    fraction on each side: linear bounds per point, since tx, ty leave each point's depth
    alone. Returns (lo_x, hi_x, lo_y, hi_y)."""
    W, H = frame_size
    fx, fy, cx, cy = intrinsics
    x, y, z = points[:, 0], points[:, 1], points[:, 2] + depth
    mw, mh = margin * W, margin * H
    return (((mw - cx) * z / fx - x).max(), ((W - 1 - mw - cx) * z / fx - x).min(),
            ((cy - (H - 1 - mh)) * z / fy - y).max(), ((cy - mh) * z / fy - y).min())


def simulate_scene(rng: np.random.Generator, motion: Motion, traits: dict, view: tuple,
                   intrinsics: Sequence[float], frame_size: tuple[int, int],
                   base_frames: int = 72) -> Scene:
    """One v2 performance of ``motion``: the person picks the object up from a table, performs
    the motion with it, puts it back (camera space, see :class:`Scene`).

    Timeline, as fractions of the sequence (forward direction)::

        0 .. 0.10-0.11      acting hand resting over the middle of the table
        .. 0.145-0.165      reach to the object's place; grasp
        .. 0.835-0.855      table -> motion start (hold) -> end (hold) -> table; release
        .. 0.89-0.90        back over the middle of the table; rest to the end

    so the object is in the acting hand at every p in [0.165, 0.835] and on the table at
    p <= 0.145 and p >= 0.855; from p = 0.3 to 0.7 the hand is at the motion's start, end or
    between them, away from the table (see ``_TABLE``). The resting hand is far from every
    motion pose, so from p = 0.3 on the acting hand has moved most (Eq. 13). The table has four
    places around the resting hand; the items lying there in the middle of the action are drawn
    before, and independently of, the class object, which takes a random free place: what
    remains on the table says nothing about what was taken. The hand grips every object at the
    same height, so the skeleton never depends on the object. Like v1, every random quantity of
    the start has the distribution of the end, and a reversed motion is the forward performance
    played backwards."""
    size = traits["height"] / 1.75 * rng.uniform(0.98, 1.02)   # per-sample size jitter
    b = {k: v * size for k, v in _BONES.items()}
    side = 1.0 if rng.random() < 0.5 else -1.0                  # acting hand: right or left
    speed = rng.uniform(0.85, 1.2)
    T = int(round(base_frames / speed))
    t, u = np.arange(T) / FPS, np.arange(T) / (T - 1)

    # the table (body frame, see _TABLE) with four places around the resting hand
    shoulder = _shoulder(b, traits["build"], side)
    out, up, fwd = (rng.uniform(*r) for r in _TABLE[MOTIONS.index(motion) // 2])
    top = np.array([shoulder[0] + side * out * size, up * size, -fwd * size])
    grid = np.array([[sx, 0.0, sz] for sx in (-1.0, 1.0) for sz in (-1.0, 1.0)])
    places = top + grid * 0.08 * size
    n_items = int(rng.integers(1, 4))
    order = rng.permutation(4)
    item_places, obj_place = order[:n_items], int(order[n_items])
    table_kinds = tuple(int(k) for k in rng.integers(0, len(OBJECTS), n_items))
    other_kind = int(rng.integers(len(OBJECTS)))
    grip = np.array([0.0, 0.09 * size, 0.0])                  # hand height above the table top
    (rest_q, grasp_q), _ = _reach(shoulder, side, np.stack([top + grip * 0.6,
                                                            places[obj_place] + grip]), b)
    # where the arm falls short of the object's place (about 1 in 100), the table moves so
    # the object lies where the hand takes it
    arm = _arm(shoulder, side, grasp_q[None], b)
    gap = _held(arm[2], arm[3])[0] - (places[obj_place] + grip)
    top, places = top + gap, places + gap

    # the acting arm's keyframes: rest -> grasp -> motion start -> end -> grasp -> rest, as
    # fractions of the sequence (the motion takes what the rest leaves, about 0.37)
    h0, h1 = rng.uniform(0.10, 0.11, 2)                          # resting
    fg, fr = rng.uniform(0.145, 0.165, 2)                         # grasp, 1 - release
    b1, b2 = rng.uniform(0.08, 0.11, 2)                           # table <-> motion
    hs, he = rng.uniform(0.03, 0.06, 2)                           # holds at start / end
    dw = 0.015                                                    # dwell at grasp / release
    move = 1.0 - fg - fr - 2 * dw - b1 - b2 - hs - he
    knots = np.concatenate([[0.0, h0, fg - dw, fg + dw],
                            fg + dw + np.cumsum([b1, hs, move, he, b2]),
                            [1.0 - fr + dw, 1.0 - h1, 1.0]])
    start = np.asarray(motion.start) + rng.normal(0, 4.0, 3)
    end = np.asarray(motion.end) + rng.normal(0, 4.0, 3)
    poses = np.stack([rest_q, rest_q, grasp_q, grasp_q, start, start, end, end, grasp_q,
                      grasp_q, rest_q, rest_q])
    acting = _keyframes(knots, poses, u) + 1.5 * np.sin(2 * np.pi * 0.7 * t[:, None]
                                                        + rng.uniform(0, 2 * np.pi, 3))
    # the other arm holds its look-alike in front of the hip and hardly moves
    other = (np.array([10.0, 10.0, 65.0]) + rng.normal(0, 4.0, 3)
             + 3.0 * np.sin(2 * np.pi * 0.4 * t[:, None] + rng.uniform(0, 2 * np.pi, 3)))
    right, left = (acting, other) if side > 0 else (other, acting)
    J = _body_joints(rng, b, traits["build"], size, right, left, t, lean_deg=(1.0, 0.8))
    in_hand = (u >= fg) & (u <= 1.0 - fr)

    # table geometry and the items on it (body frame)
    floor = J[..., 1].min()
    half = np.array([0.17, 0.0, 0.15]) * size
    corners = top + half * np.array([[-1, 0, -1], [1, 0, -1], [1, 0, 1], [-1, 0, 1]])
    feet = corners * 0.85 + top * 0.15                           # legs slightly inset
    legs = np.stack([feet, feet * [1, 0, 1] + [0, floor, 0]], 1)  # (4, 2, 3)
    items = places[item_places] + np.array([[0.0, V2_OBJECT_SCALE * OBJECTS[k].size[1] / 2, 0.0]
                                            for k in table_kinds])

    # camera: view of this camera and setup, then a place in the frame
    az, el = view
    yaw = np.deg2rad(az + rng.normal(0, 4.0))
    pitch = np.deg2rad(el + rng.normal(0, 1.5))
    R = _rot_x(np.asarray(-pitch)) @ _rot_y(np.asarray(yaw))  # looking down by ``pitch``
    J, corners, legs, items = (a @ R.T for a in (J, corners, legs, items))
    pts = np.concatenate([J.reshape(-1, 3), corners, legs.reshape(-1, 3), items])
    depth = rng.uniform(4.3, 5.6)
    for _ in range(12):                                          # too big for the frame: step back
        lo_x, hi_x, lo_y, hi_y = _scene_bounds(pts, intrinsics, frame_size, depth, 0.07)
        if lo_x < hi_x and lo_y < hi_y:
            break
        depth *= 1.1
    shift = np.array([rng.uniform(lo_x, hi_x), lo_y + (hi_y - lo_y) * rng.uniform(0.2, 0.8),
                      depth])
    J, corners, legs, items = (a + shift for a in (J, corners, legs, items))
    J = J + rng.normal(0, 0.004, J.shape)                          # Kinect-like joint jitter
    if motion.reverse:
        J, in_hand = J[::-1].copy(), in_hand[::-1].copy()

    hand, tip, o_hand, o_tip = ((R_HAND, R_TIP, L_HAND, L_TIP) if side > 0
                                else (L_HAND, L_TIP, R_HAND, R_TIP))
    held = _held(J[:, hand], J[:, tip])
    g = np.flatnonzero(in_hand)
    # before the grasp and after the release the object lies where the hand took / left it
    object_xyz = held[np.clip(np.arange(T), g[0], g[-1])]
    return Scene(joints=J, acting=hand, object_xyz=object_xyz, in_hand=in_hand,
                 other_kind=other_kind, other_xyz=_held(J[:, o_hand], J[:, o_tip]),
                 table_kinds=table_kinds, table_xyz=items, table_top=corners, table_legs=legs,
                 view=(float(np.rad2deg(yaw)), float(np.rad2deg(pitch))))


def _instance_color(rng: np.random.Generator, obj: HOIObject) -> np.ndarray:
    """The colour of one instance of ``obj``: the kind's colour +-15 per channel (every
    instance, held or distractor, follows this one rule, so look-alikes are look-alikes)."""
    return np.clip(np.asarray(obj.color) + rng.integers(-15, 16, 3), 0, 255)


def _clutter(rng: np.random.Generator, img: np.ndarray, keep_out: np.ndarray,
             ppm_range: tuple) -> list:
    """Background clutter drawn into ``img``: 8-14 muted shapes anywhere (boxes, discs, bars),
    and 2-5 look-alike objects (kinds independent of the class), each on a small shelf,
    outside the person's box ``keep_out`` (x0, y0, x1, y1). Returns the look-alikes as
    ``[(kind, u, v, ppm)]``."""
    import cv2

    H, W = img.shape[:2]
    n = int(rng.integers(8, 15))
    shape = rng.integers(0, 3, n)
    xy = rng.uniform(0, 1, (n, 2)) * [W, H]
    wh = rng.uniform(0.02, 0.09, (n, 2)) * W
    for s, (x, y), (w, h) in zip(shape.tolist(), xy.tolist(), wh.tolist()):
        c = tuple(int(v) for v in _muted(rng, 30, 230, 50))
        if s == 0:
            cv2.rectangle(img, (int(x), int(y)), (int(x + w), int(y + h)), c, -1)
        elif s == 1:
            cv2.circle(img, (int(x), int(y)), max(1, int(w / 2)), c, -1, cv2.LINE_AA)
        else:
            cv2.line(img, (int(x), int(y)), (int(x + w), int(y + h / 3)), c,
                     max(1, int(h / 12)), cv2.LINE_AA)

    m = int(rng.integers(2, 6))
    kinds = rng.integers(0, len(OBJECTS), m)
    cand = rng.uniform([0.05, 0.08], [0.95, 0.92], (64, 2)) * [W, H]
    ppm = rng.uniform(*ppm_range, 64)
    r = 0.2 * ppm                                                 # object radius + a gap
    out = ((cand[:, 0] + r < keep_out[0]) | (cand[:, 0] - r > keep_out[2])
           | (cand[:, 1] + r < keep_out[1]) | (cand[:, 1] - r > keep_out[3]))
    placed: list = []
    for c in np.flatnonzero(out).tolist():
        if len(placed) == m:
            break
        if all(np.hypot(*(cand[c] - q[1:3])) > r[c] + 0.2 * q[3] for q in placed):
            placed.append((int(kinds[len(placed)]), *cand[c].tolist(), float(ppm[c])))
    for k, x, y, p in placed:
        o = OBJECTS[k]
        shelf = tuple(int(v) for v in _muted(rng, 60, 160, 30))
        y0 = int(round(y + o.size[1] * p / 2))
        cv2.rectangle(img, (int(x - 0.25 * p), y0), (int(x + 0.25 * p), y0 + max(1, int(0.04 * p))),
                      shelf, -1)
        _draw_object(img, o, x, y, p, _instance_color(rng, o))
    return placed


def _draw_table(rng: np.random.Generator, img: np.ndarray, scene: Scene,
                intrinsics: Sequence[float]) -> None:
    """The table as part of the static background: four legs, then the top (so it stays
    behind the person even where it stands nearer the camera, a simplification; the items on
    it are drawn per frame, in depth order with the body)."""
    import cv2

    wood = np.clip(_muted(rng, 80, 170, 30) * np.array([1.1, 0.95, 0.8]), 0, 255)
    top_c, leg_c = tuple(int(v) for v in wood), tuple(int(v * 0.7) for v in wood)
    legs = project(scene.table_legs, intrinsics)                  # (4, 2, 2)
    leg_w = max(1, int(round(0.035 * intrinsics[0] / scene.table_legs[..., 2].mean())))
    for a, b in np.round(legs).astype(int).tolist():
        cv2.line(img, tuple(a), tuple(b), leg_c, leg_w, cv2.LINE_AA)
    quad = np.round(project(scene.table_top, intrinsics)).astype(np.int32)
    cv2.fillConvexPoly(img, cv2.convexHull(quad), top_c, cv2.LINE_AA)
    cv2.polylines(img, [cv2.convexHull(quad)], True, leg_c, 1, cv2.LINE_AA)


def render_scene(rng: np.random.Generator, scene: Scene, obj: HOIObject, traits: dict,
                 intrinsics: Sequence[float], frame_size: tuple[int, int],
                 extra_frames: int = 0) -> tuple[np.ndarray, dict]:
    """Render a v2 video (N, H, W, 3) uint8 of ``scene`` with ``obj`` the acted-upon object.

    Background: v1's room, clutter (:func:`_clutter`: muted shapes and look-alike objects on
    shelves away from the person), the table. Per frame, in depth order: the body, the object
    (on the table or in the acting hand), the look-alike in the other hand and those on the
    table. Returns (frames, info) with ``info["k0"]`` (video frame i shows skeleton frame
    clip(i - k0, 0, T - 1)) and ``info["shelf"]`` (the clutter's look-alikes, ``[(kind, u, v,
    ppm)]``)."""
    W, H = frame_size
    f = intrinsics[0]
    T = len(scene.joints)
    bg = _background(rng, W, H)
    # the person's box (every frame, the table and what lies on it) keeps the shelves away
    pts = np.concatenate([scene.joints.reshape(-1, 3), scene.table_top,
                          scene.table_legs.reshape(-1, 3), scene.table_xyz, scene.other_xyz,
                          scene.object_xyz])
    uv = project(pts, intrinsics)
    keep_out = np.concatenate([uv.min(0), uv.max(0)]) + np.array([-1, -1, 1, 1]) * 0.04 * H
    z = scene.joints[:, SPINE_BASE, 2].mean()
    ppm = f * V2_OBJECT_SCALE                                     # objects at v2's scale
    shelf = _clutter(rng, bg, keep_out, (ppm / (z + 1.5), ppm / max(z - 0.5, 1.0)))
    _draw_table(rng, bg, scene, intrinsics)

    def item(o: HOIObject, xyz: np.ndarray) -> HeldItem:
        xyz = np.broadcast_to(xyz, (T, 3))
        return HeldItem(o, project(xyz, intrinsics), ppm / xyz[:, 2], xyz[:, 2] - 0.05,
                        _instance_color(rng, o))

    items = [item(obj, scene.object_xyz), item(OBJECTS[scene.other_kind], scene.other_xyz),
             *(item(OBJECTS[k], xyz) for k, xyz in zip(scene.table_kinds, scene.table_xyz))]
    k0 = int(rng.integers(0, extra_frames + 1))                   # extra frames at the start
    frames = _draw_frames(bg, scene.joints, intrinsics, traits, items, extra_frames, k0)
    return frames, dict(k0=k0, shelf=shelf)


# --------------------------------------------------------------------------- files
def encode_video(path: str | Path, frames: np.ndarray, fps: int = FPS) -> None:
    """Write frames (N, H, W, 3) RGB uint8 as H.264-in-AVI, atomically and byte-deterministic.

    libx264 (the NTU codec) when the PyAV build has it, else MPEG-4 part 2; no B-frames (AVI
    has no reordering timestamps, so frame order = decode order), one encoder thread and fixed
    options so the bytes depend only on the frames."""
    import av

    path = Path(path)
    codec = "libx264" if _has_codec("libx264") else "mpeg4"
    with atomic_path(path) as tmp:
        with av.open(str(tmp), mode="w", format="avi") as container:
            stream = container.add_stream(codec, rate=fps)
            stream.width, stream.height = frames.shape[2], frames.shape[1]
            stream.pix_fmt = "yuv420p"
            stream.codec_context.thread_count = 1
            if codec == "libx264":
                stream.options = {"preset": "ultrafast", "crf": "20",
                                  "x264-params": "bframes=0:threads=1:keyint=60"}
            else:
                stream.codec_context.max_b_frames = 0
                stream.options = {"qscale": "3", "g": "60"}
            container.metadata.clear()
            for img in frames:
                for pkt in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                    container.mux(pkt)
            for pkt in stream.encode():
                container.mux(pkt)


_CODECS: dict[str, bool] = {}


def _has_codec(name: str) -> bool:
    if name not in _CODECS:
        import av
        try:
            av.codec.Codec(name, "w")
            _CODECS[name] = True
        except Exception:  # noqa: BLE001 - any failure means "not available"
            _CODECS[name] = False
    return _CODECS[name]


def _orientations(J: np.ndarray) -> np.ndarray:
    """Kinect-like joint orientations (T, 25, 4) wxyz: the rotation taking +y to the bone from
    each joint's parent; zeros for the end joints (as in the NTU files)."""
    parent = np.array([0, 0, 20, 2, 20, 4, 5, 6, 20, 8, 9, 10, 0, 12, 13, 14, 0, 16, 17, 18, 1,
                       7, 7, 11, 11])
    d = J - J[:, parent]
    d[:, 0] = J[:, SPINE_MID] - J[:, SPINE_BASE]
    d /= np.maximum(np.linalg.norm(d, axis=-1, keepdims=True), 1e-9)
    y = np.array([0.0, 1.0, 0.0])
    # shortest-arc quaternion from +y to d: (1 + y.d, y x d), normalised
    q = np.concatenate([1.0 + d[..., 1:2], np.cross(np.broadcast_to(y, d.shape), d)], -1)
    q /= np.maximum(np.linalg.norm(q, axis=-1, keepdims=True), 1e-9)
    q[:, [HEAD, L_FOOT, R_FOOT, L_TIP, L_THUMB, R_TIP, R_THUMB]] = 0.0
    return q


@dataclass(frozen=True)
class BuiltSample:
    """One sample before it is written: what its two files hold, and (v2) its ground truth.

    ``joints`` (T, 25, 3) float64 holding the float32 values the skeleton file round-trips,
    ``color`` / ``depth`` their projections, ``frames`` (N, H, W, 3) the video; v2 adds the
    :class:`Scene` and ``info`` from :func:`render_scene` (``k0``, ``shelf``)."""

    joints: np.ndarray
    color: np.ndarray
    depth: np.ndarray
    body_id: int
    frames: np.ndarray
    scene: Optional[Scene] = None
    info: Optional[dict] = None


def _sample_rng(sample: SynthSample, seed: int) -> np.random.Generator:
    """The generator every draw of one sample comes from (a function of seed and name only)."""
    return np.random.default_rng([seed, *(ord(c) for c in sample.name)])


def _simulate_v2(rng: np.random.Generator, sample: SynthSample, seed: int,
                 size: tuple[int, int]) -> Scene:
    return simulate_scene(rng, class_parts(sample.label)[0], _subject_traits(seed, sample.subject, 2),
                          camera_view(seed, sample.setup, sample.camera), camera_intrinsics(*size), size)


def scene_of(sample: SynthSample, seed: int = 0, size: Optional[tuple[int, int]] = None) -> Scene:
    """The v2 scene of ``sample`` as :func:`build_sample` simulates it (the same draws),
    unrendered: the per-frame ground truth (acting hand, object, look-alikes)."""
    size = DEFAULT_SIZE[2] if size is None else size
    return _simulate_v2(_sample_rng(sample, seed), sample, seed, size)


def attention_premise(samples: Sequence[SynthSample], positions: Sequence[float], seed: int = 0,
                      size: Optional[tuple[int, int]] = None, square: float = 1.0 / 3.0) -> dict:
    """Skeleton attention (Eq. 13-15) against v2's ground truth, per frame position p: the share
    of ``samples`` in which the object is in the acting hand (``in_hand``), the joint that moved
    most since the first frame is one of the acting hand's (``j_max_on_hand``: hand, tip, thumb,
    wrist) and the object lies inside the attention square (side ``square`` of the test-time
    projection crop) centred on that joint (``object_in_square``), and the share in which a
    look-alike (on the table, or in the other hand) lies in that square too
    (``lookalike_in_square``). What a frame at p can give skeleton attention, before any
    training: the premise behind Fig. 7."""
    from mmff.data.transforms import joint_displacement, points_bbox, projection_crop_box
    from mmff.data.video import frame_index

    size = tuple(DEFAULT_SIZE[2] if size is None else size)
    intr = camera_intrinsics(*size)
    hands = {R_HAND: {R_HAND, R_TIP, R_THUMB, R_WRIST}, L_HAND: {L_HAND, L_TIP, L_THUMB, L_WRIST}}
    hits = {float(p): np.zeros(4) for p in positions}
    for sample in samples:
        sc = scene_of(sample, seed, size)
        uv = project(sc.joints, intr)
        for p in hits:
            t = frame_index(p, len(uv))
            j = int(joint_displacement(sc.joints[:, None], t)[0].argmax())
            x0, y0, x1, y1 = projection_crop_box(points_bbox(uv[t]), *size, train=False, scale="frame_height")
            half = np.array([square * (x1 - x0) / 2, square * (y1 - y0) / 2])

            def inside(xyz):  # (K, 3) -> (K,) bool: centre inside the square
                return (np.abs(project(np.atleast_2d(xyz), intr) - uv[t, j]) <= half).all(-1)

            others = np.concatenate([np.reshape(sc.table_xyz, (-1, 3)), sc.other_xyz[t][None]])
            hits[p] += (bool(sc.in_hand[t]), j in hands[sc.acting], bool(inside(sc.object_xyz[t])[0]),
                        bool(inside(others).any()))
    n = max(1, len(samples))
    keys = ("in_hand", "j_max_on_hand", "object_in_square", "lookalike_in_square")
    return {"samples": len(samples),
            "positions": {p: dict(zip(keys, (h / n).tolist())) for p, h in hits.items()}}


def build_sample(sample: SynthSample, seed: int = 0, size: Optional[tuple[int, int]] = None,
                 version: int = 1) -> BuiltSample:
    """Simulate and render one sample of SynthHOI ``version`` (1 or 2) without writing it."""
    import cv2

    if version not in VERSIONS:
        raise ValueError(f"SynthHOI version {version!r}: expected one of {VERSIONS}")
    size = DEFAULT_SIZE[version] if size is None else size
    cv2.setNumThreads(1)
    rng = _sample_rng(sample, seed)
    motion, obj = class_parts(sample.label)
    traits = _subject_traits(seed, sample.subject, version)
    intr = camera_intrinsics(*size)
    scene = None
    if version == 1:
        joints, _ = simulate_skeleton(rng, motion, traits, sample.camera, intr, size)
    else:
        scene = _simulate_v2(rng, sample, seed, size)
        joints = scene.joints
    # the reader returns float32: project exactly the numbers the file holds
    joints = joints.astype(np.float32).astype(np.float64)
    color, depth = project(joints, intr), depth_projection(joints)
    body_id = int(rng.integers(72057594037927936, 72057594037937936))   # Kinect-style IDs
    extra = int(rng.integers(0, 3))
    info = None
    if scene is None:
        frames = render_video(rng, joints, obj, traits, intr, size, extra_frames=extra)
    else:
        scene = replace(scene, joints=joints)
        frames, info = render_scene(rng, scene, obj, traits, intr, size, extra_frames=extra)
    return BuiltSample(joints, color, depth, body_id, frames, scene, info)


def generate_sample(out: str | Path, sample: SynthSample, seed: int = 0,
                    size: Optional[tuple[int, int]] = None, overwrite: bool = False,
                    version: int = 1) -> bool:
    """Write ``NAME.skeleton`` and ``NAME_rgb.avi`` for one sample into ``out``.

    Returns False when both files already exist (resume) and ``overwrite`` is off."""
    out = Path(out)
    skel_path, video_path = out / f"{sample.name}.skeleton", out / f"{sample.name}_rgb.avi"
    if not overwrite and skel_path.exists() and video_path.exists():
        return False
    from mmff.data.ntu import write_skeleton

    s = build_sample(sample, seed, size, version)
    # write_skeleton is atomic (temp file + os.replace); 9 digits round-trip float32 exactly
    write_skeleton(skel_path, s.joints[:, None], s.color[:, None], [s.body_id],
                   depth=s.depth[:, None], orientation=_orientations(s.joints)[:, None])
    encode_video(video_path, s.frames)
    return True


def _worker(args: tuple) -> tuple[str, Optional[str], bool]:
    out, sample, seed, size, overwrite, version = args
    try:
        return sample.name, None, generate_sample(out, sample, seed, size, overwrite, version)
    except Exception as e:  # noqa: BLE001 - reported per sample, the batch keeps going
        return sample.name, f"{type(e).__name__}: {e}", False


def check_settings(out: str | Path, version: int, seed: int, size: Sequence[int],
                   samples_per_class: int, hint: str = "") -> bool:
    """True if ``out`` holds a SynthHOI (its synth.json) made with these settings, False if it
    holds none; another version, seed, size or samples-per-class is a one-line ValueError
    naming synth.json (a folder holds one dataset)."""
    meta_path = Path(out) / "synth.json"
    if not meta_path.is_file():
        return False
    try:
        meta = json.loads(meta_path.read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"{meta_path}:{e.lineno}: not valid JSON ({e.msg})") from None
    have = (meta.get("version", 1),  # version 1's synth.json has no "version" key
            meta.get("seed"), list(meta.get("size", [])), meta.get("samples_per_class"))
    want = (version, seed, list(size), samples_per_class)
    if have != want:
        raise ValueError(f"{meta_path}: made with synth version/seed/size/samples-per-class {have}, "
                         f"asked for {want}" + (f"; {hint}" if hint else ""))
    return True


def generate(out: str | Path, samples_per_class: int = 24, seed: int = 0,
             size: Optional[str | tuple[int, int]] = None, workers: int = 1,
             overwrite: bool = False, progress: bool = True,
             classes: Optional[Iterable[int]] = None, version: int = 1) -> dict:
    """Generate SynthHOI ``version`` (1: the original; 2: every module's premise by
    construction, see the module docstring) into ``out`` (NTU layout: skeleton + video per
    sample, classes.txt, synth.json). ``size`` defaults to :data:`DEFAULT_SIZE` of the
    version. Parallel over ``workers`` processes, resumable (existing samples are skipped).

    Returns a summary ``{"written", "skipped", "failed": [{"name", "error"}], "samples"}``."""
    if version not in VERSIONS:
        raise ValueError(f"SynthHOI version {version!r}: expected one of {VERSIONS}")
    size = parse_size(DEFAULT_SIZE[version] if size is None else size)
    out = Path(out)
    if not overwrite:  # resuming into a dataset made with other settings would mix the two
        check_settings(out, version, seed, size, samples_per_class,
                       hint="use another --out, --overwrite, or remove the folder")
    out.mkdir(parents=True, exist_ok=True)
    plan = sample_plan(samples_per_class)
    if classes is not None:
        keep = set(classes)
        plan = [s for s in plan if s.label in keep]
    atomic_write_text(out / "classes.txt", "".join(c + "\n" for c in SYNTH_CLASSES))
    meta = dict(generator=f"mmff.data.synth/{version}", seed=seed, size=list(size), fps=FPS,
                samples_per_class=samples_per_class, intrinsics=list(camera_intrinsics(*size)),
                depth_intrinsics=list(DEPTH_INTRINSICS),
                classes=[dict(label=i, name=n, motion=class_parts(i)[0].name.format("").strip(),
                              object=class_parts(i)[1].name,
                              pair=i // (2 * len(OBJECTS)), reverse=class_parts(i)[0].reverse)
                         for i, n in enumerate(SYNTH_CLASSES)])
    if version > 1:  # (version 1's synth.json stays as it always was)
        meta.update(version=version, camera_views=[
            dict(setup=st, camera=c, azimuth=round(v[0], 3), elevation=round(v[1], 3))
            for st, c in sorted({(x.setup, x.camera) for x in plan})
            for v in [camera_view(seed, st, c)]])
    atomic_write_text(out / "synth.json", json.dumps(meta, indent=1) + "\n")

    tasks = [(str(out), s, seed, size, overwrite, version) for s in plan]
    written, skipped, failed = 0, 0, []
    bar = _progress(len(tasks), "synth", progress)
    if workers > 1 and len(tasks) > 1:
        ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
        with ctx.Pool(workers) as pool:
            results = pool.imap_unordered(_worker, tasks, chunksize=4)
            for r in results:
                written, skipped = _count(r, written, skipped, failed)
                bar.update(1)
    else:
        for t in tasks:
            written, skipped = _count(_worker(t), written, skipped, failed)
            bar.update(1)
    bar.close()
    failed.sort(key=lambda f: f["name"])
    return dict(written=written, skipped=skipped, failed=failed, samples=len(tasks),
                out=str(out))


def _count(r: tuple, written: int, skipped: int, failed: list) -> tuple[int, int]:
    name, err, wrote = r
    if err is not None:
        failed.append(dict(name=name, error=err))
    elif wrote:
        written += 1
    else:
        skipped += 1
    return written, skipped


def _progress(total: int, desc: str, enabled: bool):
    from tqdm.auto import tqdm
    return tqdm(total=total, desc=desc, unit="sample", disable=not enabled, dynamic_ncols=True)
