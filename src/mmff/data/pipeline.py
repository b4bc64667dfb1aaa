"""One pipeline from a sample to the model's input (docs/design.md "Dataset item").

PYSKL/MMAction2-style: small named steps, each ``__call__(results: dict) -> dict``, registered
by name (:data:`mmff.data.transforms.STEPS`) and chained by a
:class:`~mmff.data.transforms.Compose`. :func:`pipeline_spec` declares the steps from the config
(``cfg.data`` / ``cfg.model``) as ``{"type": name, **kwargs}`` specs; :func:`build_pipeline`
builds them. The training/test dataset (:class:`mmff.data.datasets.PreparedDataset`, source
``"stored"``), ``mmff predict`` (:class:`mmff.engine.predict.SampleLoader`, source ``"video"``)
and the end-to-end benchmark (which calls predict's loader) run these steps unchanged; only
the source steps differ.

Flow of one sample (K = len(data.positions), M = data.num_person, S = data.image_size)::

    load       LoadNTUSkeleton (.skeleton: select_bodies)  | LoadPreparedSample (npz + stored crops)
               PadBodies(M)            joints (T, M, V, 3) m, color (T, M, V, 2) px
               Joints2DAtP             color_p (K, M, V, 2): the 2D joints at each p
    transform  DecodeFramesAt (video: decodes only up to the frame at the last p)
               JointDisplacement       displacement (K, M, V), Eq. 13, from the raw joints
               VAPre [SkeletonAugment] [SkeletonModality: b | jm | bm, whole sequence]
               PadToLength | UniformSampleFrames (ST-GCN, data.sampling) | UniformSample (RNN)
               ToSTGCNInput | ToRNNInput                     skeleton (3, T, V, M) | (T, M*V*3)
               ProjectionCrop | ResizedCrop                  crop_boxes (source-frame pixels)
               CropResize (video frames) | LoadStoredCrop (the stored JPEG crop, decoded at
                                            1/2, 1/4 or 1/8 in the DCT domain when still >= S px)
                                                             crops (K, S, S, 3) uint8 RGB
               Joints2DToCrop          joints2d (K, M, V, 2) in [0, 1] of each crop
               Normalise               image (K, 3, S, S) float32, (x / 255 - mean) / std
               Collect                 inputs: the contract keys as tensors

The ``load`` part depends only on the sample (no randomness): the dataset runs it once per
sample when it is built (all skeletons in one buffer) and ``transform`` per item; predict and
the benchmark run both per call. Randomness (training) comes from ``results["rng"]``, drawn in
the same order as ever: skeleton augmentation and sampling, then one crop per position.
Skeleton-only models (``cfg.model.kind == "skeleton_only"``) stop after the skeleton steps.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from mmff.data.transforms import (Compose, build_step, crop_and_resize, joint_displacement,
                                  points_bbox, points_to_crop, projection_crop_box,
                                  register_step, resized_crop_box, skeleton_steps)
from mmff.data.video import frame_index

__all__ = ["SOURCES", "SamplePipeline", "pipeline_spec", "build_pipeline", "normalise_images",
           "crop_spec", "crop_window",
           "LoadNTUSkeleton", "LoadPreparedSample", "Joints2DAtP", "DecodeFramesAt",
           "JointDisplacement", "ProjectionCrop", "ResizedCrop", "CropResize", "LoadStoredCrop",
           "Joints2DToCrop", "Normalise", "Collect", "RGB_KEYS", "RGB_DATA_KEYS"]

#: where a sample comes from: a prepared folder (``mmff prepare``) or a raw .skeleton + video
SOURCES = ("stored", "video")
#: the RGB keys of the batch contract, produced unless the model is skeleton-only
RGB_KEYS = ("displacement", "image", "joints2d")
#: ``data`` keys that only the RGB steps read (frame positions, crop window, image size and
#: normalisation): a skeleton-only pipeline is the same whatever their values, so table rows
#: that differ only there share their stage-1 skeleton stream (:func:`mmff.engine.stages.stage1_key`)
RGB_DATA_KEYS = ("positions", "image_size", "projection_crop", "crop_margin", "test_margin",
                 "crop_margin_scale", "random_crop", "crop_resize", "mean", "std")


def normalise_images(images: np.ndarray, mean, std) -> np.ndarray:
    """(..., S, S, 3) uint8 RGB -> (..., 3, S, S) float32, ``(x / 255 - mean) / std`` (the one
    normalisation of the package, ``data.mean`` / ``data.std``).

    In numpy, in place, on the (..., S, S, 3) layout: the same float32 operations, so the same
    bits, as the torch expression; small element-wise torch ops pay the intra-op thread pool's
    start-up (measured 32 ms vs 2 ms for one 299x299 crop on a busy 2-core machine). The result
    is a channels-last-strided view: Xception's first convolution runs faster on it than on a
    contiguous copy (measured 0.72 vs 0.84 s per paper-size forward, one thread)."""
    x = np.asarray(images).astype(np.float32)
    x /= np.float32(255)
    x -= np.asarray(mean, np.float32)
    x /= np.asarray(std, np.float32)
    return np.moveaxis(x, -1, -3)


# --------------------------------------------------------------------------- source: load
@register_step
class LoadNTUSkeleton:
    """``results["skeleton_path"]`` (an NTU ``.skeleton``) -> ``joints``, ``color`` with at
    most ``num_person`` bodies (``select_bodies``: track 0 = the main actor); a file without
    any body raises ``ValueError`` naming it."""

    def __init__(self, num_person: int = 2):
        self.num_person = int(num_person)

    def __call__(self, results: dict) -> dict:
        from mmff.data.prepare import read_ntu_arrays

        results["joints"], results["color"] = read_ntu_arrays(results["skeleton_path"],
                                                              self.num_person)
        return results

    def __repr__(self) -> str:
        return f"LoadNTUSkeleton(num_person={self.num_person})"


@register_step
class LoadPreparedSample:
    """``results["entry"]`` (an ``index.json`` entry of the prepared folder ``root``) ->
    ``joints`` (and, with ``frames``, ``color``, the ``stored_frames`` at ``positions``:
    ``{"path", "offset", "size"}`` of each stored JPEG crop, and the source ``frame_size``)."""

    def __init__(self, root, positions: Sequence[float] = (0.5,), frames: bool = True):
        self.root = Path(root)
        self.positions = [float(p) for p in positions]
        self.frames = bool(frames)

    def __call__(self, results: dict) -> dict:
        from mmff.data.prepare import PreparedError, load_sample_arrays

        e = results["entry"]
        joints, color = load_sample_arrays(self.root, e)
        if joints.shape[0] == 0:
            raise PreparedError(f"{self.root / e['skeleton']}: no frames")
        results["joints"] = joints
        if not self.frames:
            return results
        results["color"] = color
        by_p = {round(float(f["p"]), 4): f for f in e.get("frames", [])}
        stored = []
        for p in self.positions:
            fr = by_p.get(round(p, 4))
            if fr is None:
                raise PreparedError(f"{self.root / 'samples' / (e['name'] + '.json')}: no "
                                    f"stored frame at p={p} (have {sorted(by_p)}); re-run "
                                    "mmff prepare with --positions")
            stored.append({"path": str(self.root / fr["file"]),
                           "offset": (int(fr["offset"][0]), int(fr["offset"][1])),
                           "size": (int(fr["size"][0]), int(fr["size"][1]))})
        results["stored_frames"] = stored
        # source frame size; an entry without it stored whole frames
        f0 = stored[0]
        results["frame_size"] = tuple(int(v) for v in (e.get("frame_size") or (
            f0["offset"][0] + f0["size"][0], f0["offset"][1] + f0["size"][1])))
        return results

    def __repr__(self) -> str:
        return (f"LoadPreparedSample(root={str(self.root)!r}, positions={self.positions}, "
                f"frames={self.frames})")


@register_step
class Joints2DAtP:
    """``color`` (T, M, V, 2) -> ``color_p`` (K, M, V, 2) float32: the 2D joints of the
    skeleton frame at each position p (``frame_index(p, T)``, the rule the video frame at p
    uses with its own frame count); ``color`` itself is dropped."""

    def __init__(self, positions: Sequence[float] = (0.5,)):
        self.positions = [float(p) for p in positions]

    def __call__(self, results: dict) -> dict:
        color = results.pop("color")
        t_p = frame_index(self.positions, results["joints"].shape[0])
        results["color_p"] = np.ascontiguousarray(color[t_p], dtype=np.float32)
        return results

    def __repr__(self) -> str:
        return f"Joints2DAtP(positions={self.positions})"


# --------------------------------------------------------------------------- transform
@register_step
class DecodeFramesAt:
    """``results["video_path"]`` -> ``frames`` (K RGB (H, W, 3) uint8), ``frame_size``
    (W, H), ``frame_indices``: :func:`mmff.data.video.decode_frames_at`, one pass that stops
    at the frame of the last requested position."""

    def __init__(self, positions: Sequence[float] = (0.5,), threads: int = 1):
        self.positions = [float(p) for p in positions]
        self.threads = int(threads)

    def __call__(self, results: dict) -> dict:
        from mmff.data.video import decode_frames_at

        vf = decode_frames_at(results["video_path"], self.positions, threads=self.threads)
        results["frames"] = vf.frames
        results["frame_size"] = (vf.width, vf.height)
        results["frame_indices"] = list(vf.indices)
        return results

    def __repr__(self) -> str:
        return f"DecodeFramesAt(positions={self.positions}, threads={self.threads})"


@register_step
class JointDisplacement:
    """Eq. 13: ``displacement`` (K, M, V) = ||J_first,j - J_p,j||_2 from the raw 3D ``joints``
    (before VA-pre and augmentation), J_p at the skeleton frame of each position p."""

    def __init__(self, positions: Sequence[float] = (0.5,)):
        self.positions = [float(p) for p in positions]

    def __call__(self, results: dict) -> dict:
        j = results["joints"]
        results["displacement"] = joint_displacement(j, frame_index(self.positions, j.shape[0]))
        return results

    def __repr__(self) -> str:
        return f"JointDisplacement(positions={self.positions})"


def _rng(results: dict, train: bool):
    if not train:
        return None
    rng = results.get("rng")
    return rng if rng is not None else np.random.default_rng()


@register_step
class ProjectionCrop:
    """Projection crop (SPEC §1.4): per position, the window around the 2D joints ``color_p``
    (training: a random corner fixed, margins w', h' ~ U[margin]; test: centred, +
    ``test_margin``; ``scale`` = ``data.crop_margin_scale``) -> ``crop_boxes``
    (:func:`~mmff.data.transforms.projection_crop_box`)."""

    def __init__(self, train: bool = False, margin: Sequence[float] = (100, 300),
                 test_margin: float = 200, scale: str = "none"):
        self.train, self.margin = bool(train), [float(m) for m in margin]
        self.test_margin, self.scale = float(test_margin), scale

    def __call__(self, results: dict) -> dict:
        W, H = results["frame_size"]
        rng = _rng(results, self.train)
        results["crop_boxes"] = [
            projection_crop_box(points_bbox(c), W, H, self.train, rng, self.margin,
                                self.test_margin, self.scale) for c in results["color_p"]]
        return results

    def __repr__(self) -> str:
        return (f"ProjectionCrop(train={self.train}, margin={self.margin}, "
                f"test_margin={self.test_margin}, scale={self.scale!r})")


@register_step
class ResizedCrop:
    """The w/o-projection-crop ablation (Table 5): the frame resized to ``base``, a ``crop``
    window at a random (train) or central (test) offset -> ``crop_boxes``
    (:func:`~mmff.data.transforms.resized_crop_box`)."""

    def __init__(self, train: bool = False, crop: int = 224, base: int = 256):
        self.train, self.crop, self.base = bool(train), int(crop), int(base)

    def __call__(self, results: dict) -> dict:
        W, H = results["frame_size"]
        rng = _rng(results, self.train)
        results["crop_boxes"] = [resized_crop_box(W, H, self.train, rng, self.crop, self.base)
                                 for _ in results["color_p"]]
        return results

    def __repr__(self) -> str:
        return f"ResizedCrop(train={self.train}, crop={self.crop}, base={self.base})"


@register_step
class CropResize:
    """Decoded ``frames`` + ``crop_boxes`` -> ``crops`` (K, S, S, 3) uint8 RGB (area filter
    when shrinking, bilinear when enlarging); the whole frames are dropped."""

    def __init__(self, size: int = 299):
        self.size = int(size)

    def __call__(self, results: dict) -> dict:
        frames = results.pop("frames")
        results["crops"] = np.stack([crop_and_resize(f, b, self.size)
                                     for f, b in zip(frames, results["crop_boxes"])])
        return results

    def __repr__(self) -> str:
        return f"CropResize(size={self.size})"


@register_step
class LoadStoredCrop:
    """The stored JPEG crop of each position (written by ``mmff prepare``: a region of the
    source frame at ``offset``) -> ``crops`` (K, S, S, 3) uint8 RGB. The window is clamped to
    the stored region (the stored crop holds every window of the prepared margins; a config
    asking for more gets the stored region) and ``crop_boxes`` updated, so ``joints2d``
    follows. Decoded at 1/2, 1/4 or 1/8 in the JPEG DCT domain (OpenCV's reduced modes)
    whenever the window still has at least ``size`` pixels there."""

    _FLAGS = None

    def __init__(self, size: int = 299):
        self.size = int(size)

    @classmethod
    def _flags(cls) -> dict:
        if cls._FLAGS is None:
            import cv2

            cls._FLAGS = {1: cv2.IMREAD_COLOR, 2: cv2.IMREAD_REDUCED_COLOR_2,
                          4: cv2.IMREAD_REDUCED_COLOR_4, 8: cv2.IMREAD_REDUCED_COLOR_8}
        return cls._FLAGS

    def _one(self, fr: dict, box) -> tuple:
        import cv2

        from mmff.data.prepare import PreparedError

        ox, oy = fr["offset"]
        sw, sh = fr["size"]
        box = (max(box[0], ox), max(box[1], oy), min(box[2], ox + sw), min(box[3], oy + sh))
        if box[2] <= box[0] or box[3] <= box[1]:
            box = (ox, oy, ox + sw, oy + sh)
        S = self.size
        side = min(box[2] - box[0], box[3] - box[1])
        r = next((r for r in (8, 4, 2) if side >= r * S), 1)  # decode at 1/r: still >= S px
        img = cv2.imread(fr["path"], self._flags()[r])
        if img is None:
            raise PreparedError(f"{fr['path']}: cannot read the stored frame")
        if r == 1:
            out = crop_and_resize(img, box, S, (ox, oy))
        else:
            rb = [int(round((v - o) / r)) for v, o in zip(box, (ox, oy, ox, oy))]
            rb[2], rb[3] = max(rb[2], rb[0] + 1), max(rb[3], rb[1] + 1)
            out = crop_and_resize(img, rb, S)
        return cv2.cvtColor(out, cv2.COLOR_BGR2RGB), box

    def __call__(self, results: dict) -> dict:
        done = [self._one(fr, b) for fr, b in zip(results["stored_frames"], results["crop_boxes"])]
        results["crops"] = np.stack([c for c, _ in done])
        results["crop_boxes"] = [b for _, b in done]
        return results

    def __repr__(self) -> str:
        return f"LoadStoredCrop(size={self.size})"


@register_step
class Joints2DToCrop:
    """``color_p`` -> ``joints2d`` (K, M, V, 2) in [0, 1] crop coordinates of each crop box
    (``x / crop width``, ``y / crop height``: the crop + resize the image went through)."""

    def __call__(self, results: dict) -> dict:
        results["joints2d"] = np.stack([points_to_crop(c, b) for c, b in
                                        zip(results["color_p"], results["crop_boxes"])])
        return results

    def __repr__(self) -> str:
        return "Joints2DToCrop()"


@register_step
class Normalise:
    """``crops`` -> ``image`` (K, 3, S, S) float32: :func:`normalise_images`."""

    def __init__(self, mean: Sequence[float] = (0.5, 0.5, 0.5),
                 std: Sequence[float] = (0.5, 0.5, 0.5)):
        self.mean, self.std = [float(v) for v in mean], [float(v) for v in std]
        self._mean, self._std = np.asarray(self.mean, np.float32), np.asarray(self.std, np.float32)

    def __call__(self, results: dict) -> dict:
        results["image"] = normalise_images(results["crops"], self._mean, self._std)
        return results

    def __repr__(self) -> str:
        return f"Normalise(mean={self.mean}, std={self.std})"


@register_step
class Collect:
    """``results["inputs"]``: the model-input ``keys`` as torch tensors (sharing memory with
    the arrays), in the order of the batch contract; every other key stays in ``results``
    for callers that need it (crops and boxes for the figures)."""

    def __init__(self, keys: Sequence[str] = ("skeleton",)):
        self.keys = list(keys)

    def __call__(self, results: dict) -> dict:
        import torch

        results["inputs"] = {k: torch.from_numpy(results[k]) for k in self.keys}
        return results

    def __repr__(self) -> str:
        return f"Collect(keys={self.keys})"


# --------------------------------------------------------------------------- building
def crop_spec(data_cfg, train: bool = False) -> dict:
    """The crop-window step of a ``DataConfig``: the projection crop (SPEC §1.4; train: random
    corner + ``crop_margin``, test: centred + ``test_margin``; ``crop_margin_scale``) or, with
    ``data.projection_crop: false``, the resized random/centre crop of the Table 5 ablation."""
    d = data_cfg
    if d.projection_crop:
        return {"type": "ProjectionCrop", "train": bool(train), "margin": list(d.crop_margin),
                "test_margin": d.test_margin, "scale": d.crop_margin_scale}
    return {"type": "ResizedCrop", "train": bool(train), "crop": d.random_crop,
            "base": d.crop_resize}


def crop_window(color_p: np.ndarray, width: int, height: int, data_cfg, train: bool = False,
                rng=None) -> tuple:
    """The window ``(x0, y0, x1, y1)`` (source-frame pixels) that :func:`crop_spec`'s step
    picks for the 2D joints ``color_p`` (M, V, 2) of one frame at p."""
    step = build_step(crop_spec(data_cfg, train))
    res = step({"color_p": np.asarray(color_p)[None], "frame_size": (width, height), "rng": rng})
    return res["crop_boxes"][0]


class SamplePipeline:
    """The two parts of the pipeline: ``load`` (per sample, deterministic: the dataset runs
    it once when built) and ``transform`` (per item); calling it runs both."""

    def __init__(self, load: Compose, transform: Compose, spec: Optional[dict] = None):
        self.load, self.transform, self.spec = load, transform, spec

    def __call__(self, results: dict) -> dict:
        return self.transform(self.load(results))

    def __repr__(self) -> str:
        return f"SamplePipeline(load={self.load!r}, transform={self.transform!r})"


def pipeline_spec(cfg, source: str = "stored", train: bool = False, *,
                  rgb: Optional[bool] = None, root=None, decode_threads: int = 1) -> dict:
    """The steps of one sample -> model input, declared from ``cfg.data`` / ``cfg.model``:
    ``{"load": [spec, ...], "transform": [spec, ...]}``, each spec ``{"type": name, **kwargs}``.

    ``source``: ``"stored"`` (a prepared folder ``root``, default ``cfg.data.root``; items get
    ``results["entry"]``) or ``"video"`` (``results["skeleton_path"]``, ``["video_path"]``).
    ``rgb`` (default: ``cfg.model.kind != "skeleton_only"``) adds the image, 2D joints and
    Eq. 13 displacement; ``train`` switches augmentation and random crops on."""
    if source not in SOURCES:
        raise ValueError(f"pipeline source must be one of {SOURCES}, got {source!r}")
    d = cfg.data
    rgb = (cfg.model.kind != "skeleton_only") if rgb is None else bool(rgb)
    positions = [float(p) for p in d.positions]
    M = int(d.num_person)
    if source == "stored":
        root = root if root is not None else d.root
        if not root:
            raise ValueError("data.root: not set (the folder written by `mmff prepare`)")
        # (a skeleton-only pipeline reads no frame: no positions, see RGB_DATA_KEYS)
        load = [{"type": "LoadPreparedSample", "root": str(root), "frames": rgb,
                 **({"positions": positions} if rgb else {})}]
    else:
        load = [{"type": "LoadNTUSkeleton", "num_person": M}]
    load.append({"type": "PadBodies", "num_person": M})
    transform: list = []
    if rgb:
        load.append({"type": "Joints2DAtP", "positions": positions})
        if source == "video":
            transform.append({"type": "DecodeFramesAt", "positions": positions,
                              "threads": int(decode_threads)})
        transform.append({"type": "JointDisplacement", "positions": positions})
    transform += skeleton_steps(d, cfg.model.skeleton.backbone, train, cfg.model.skeleton.layout)
    if rgb:
        transform += [crop_spec(d, train),
                      {"type": "LoadStoredCrop" if source == "stored" else "CropResize",
                       "size": d.image_size},
                      {"type": "Joints2DToCrop"},
                      {"type": "Normalise", "mean": list(d.mean), "std": list(d.std)}]
    transform.append({"type": "Collect", "keys": ["skeleton", *(RGB_KEYS if rgb else ())]})
    return {"load": load, "transform": transform}


def build_pipeline(cfg, source: str = "stored", train: bool = False, *,
                   rgb: Optional[bool] = None, root=None, decode_threads: int = 1
                   ) -> SamplePipeline:
    """:func:`pipeline_spec` built into a :class:`SamplePipeline` (steps from the registry)."""
    spec = pipeline_spec(cfg, source, train, rgb=rgb, root=root, decode_threads=decode_threads)
    return SamplePipeline(Compose([build_step(s) for s in spec["load"]]),
                          Compose([build_step(s) for s in spec["transform"]]), spec)
