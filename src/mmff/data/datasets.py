"""Datasets over a prepared folder (``mmff prepare``), items per the batch contract of
docs/design.md ("Dataset item").

All skeleton arrays are read once at construction into one contiguous buffer (no per-epoch
parsing); per item only the stored JPEG crop(s) are decoded (cv2, with JPEG DCT-domain
down-scaling when the crop window stays at least ``image_size`` pixels), cropped, resized and
normalised. Skeleton-only models skip the images entirely.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import numpy as np
import torch
from torch.utils.data import Dataset

from mmff.data.prepare import PreparedError, load_index, load_sample_arrays
from mmff.data.transforms import (build_skeleton_pipeline, crop_and_resize, joint_displacement,
                                  points_bbox, points_to_crop, projection_crop_box,
                                  resized_crop_box)
from mmff.data.video import frame_index

__all__ = ["benchmark_key", "PreparedDataset", "build_dataset", "subset_names", "build_item",
           "crop_window", "image_to_chw", "normalisation"]

_RNN_BACKBONES = ("bilstm", "bigru", "lstm")


def benchmark_key(data_cfg) -> str:
    """The index's subset key for ``data.dataset`` + ``data.split`` (+ ``data.fold``):
    ``ntu60``/``synth`` -> ``ntu60_xsub``/``ntu60_xview``; ``ntu120`` -> ``ntu120_xsub``/
    ``ntu120_xset``; ``sysu`` -> ``sysu_setting1_fold03`` (fold 0-based, 2 digits)."""
    ds, split = data_cfg.dataset, data_cfg.split
    allowed = {"ntu60": ("xsub", "xview"), "synth": ("xsub", "xview"),
               "ntu120": ("xsub", "xset"), "sysu": ("setting1", "setting2")}[ds]
    if split not in allowed:
        raise ValueError(f"data.split: {split!r} does not apply to data.dataset {ds!r} "
                         f"(use one of {list(allowed)})")
    if ds == "sysu":
        return f"sysu_{split}_fold{int(data_cfg.fold):02d}"
    return f"{'ntu120' if ds == 'ntu120' else 'ntu60'}_{split}"


def subset_names(index: dict, key: str, subset: str) -> list:
    """Names of the index's samples in ``subset`` ("train"/"test"/"all") of benchmark ``key``."""
    if subset == "all":
        return [e["name"] for e in index["samples"]]
    if subset not in ("train", "test"):
        raise ValueError(f"subset must be 'train', 'test' or 'all', got {subset!r}")
    return [e["name"] for e in index["samples"] if e.get("subsets", {}).get(key) == subset]


def _bodies(a: np.ndarray, M: int) -> np.ndarray:
    """(T, M', ...) -> (T, M, ...): keep the first M bodies (track 0 = main actor), zero-pad."""
    if a.shape[1] >= M:
        return a[:, :M]
    return np.concatenate([a, np.zeros((a.shape[0], M - a.shape[1]) + a.shape[2:], a.dtype)], 1)


# ---------------------------------------------------------------- per-sample item (shared)
# Used by PreparedDataset and by `mmff predict` on raw files (mmff.engine.predict), so a
# prepared sample and the same raw pair give the same model input.
def crop_window(color_p: np.ndarray, width: int, height: int, data_cfg, train: bool = False,
                rng=None) -> tuple:
    """The image window ``(x0, y0, x1, y1)`` (source-frame pixels) for the 2D joints ``color_p``
    (M, V, 2) of the frame at p: the projection crop (SPEC §1.4; train: random corner +
    ``crop_margin``, test: centred + ``test_margin``) or, with ``data.projection_crop: false``,
    the resized random/centre crop of the Table 5 ablation."""
    d = data_cfg
    if d.projection_crop:
        return projection_crop_box(points_bbox(color_p), width, height, train, rng,
                                   d.crop_margin, d.test_margin)
    return resized_crop_box(width, height, train, rng, d.random_crop, d.crop_resize)


def normalisation(data_cfg) -> tuple:
    """``(scale, bias)`` (3, 1, 1) float32 with ``x * scale + bias = (x / 255 - mean) / std``."""
    mean = np.asarray(data_cfg.mean, np.float32).reshape(3, 1, 1)
    std = np.asarray(data_cfg.std, np.float32).reshape(3, 1, 1)
    return (1.0 / (255.0 * std)).astype(np.float32), (-mean / std).astype(np.float32)


def image_to_chw(img: np.ndarray, scale: np.ndarray, bias: np.ndarray,
                 bgr: bool = False) -> np.ndarray:
    """(S, S, 3) uint8 -> (3, S, S) float32 normalised (:func:`normalisation`) in one pass over
    the pixels; ``bgr`` flips OpenCV's channel order to RGB."""
    chw = img.transpose(2, 0, 1)
    chw = (chw[::-1] if bgr else chw).astype(np.float32)
    chw *= scale
    chw += bias
    return chw


def build_item(joints: np.ndarray, positions, pipeline, rng=None, image_fn=None) -> dict:
    """The model inputs of one sample (docs/design.md "Dataset item", without label/index).

    ``joints`` (T, M, V, 3) raw metres; ``pipeline`` from ``build_skeleton_pipeline``. With
    ``image_fn`` (RGB models) also ``displacement`` (Eq. 13, first frame vs the frame at each p)
    and ``image`` / ``joints2d`` from ``image_fn(k) -> ((3, S, S) float32, (M, V, 2) in [0, 1])``
    for the k-th position."""
    res = pipeline({"joints": joints.copy(), "rng": rng})
    item = {"skeleton": torch.from_numpy(res["skeleton"])}
    if image_fn is not None:
        t_p = frame_index(positions, joints.shape[0])
        item["displacement"] = torch.from_numpy(joint_displacement(joints, t_p))
        imgs, j2d = zip(*(image_fn(k) for k in range(len(positions))))
        item["image"] = torch.from_numpy(np.stack(imgs))
        item["joints2d"] = torch.from_numpy(np.stack(j2d))
    return item


class PreparedDataset(Dataset):
    """Items of one subset of a prepared folder; see docs/design.md "Dataset item"."""

    def __init__(self, root, cfg, subset: str = "train", train: Optional[bool] = None,
                 benchmark: Optional[str] = None):
        self.root = Path(root)
        self.cfg = cfg
        d = cfg.data
        self.train = (subset == "train") if train is None else bool(train)
        index = load_index(self.root)
        self.index = index
        self.classes = list(index["classes"])
        self.benchmark = benchmark or benchmark_key(d)
        if subset != "all" and not any(self.benchmark in e.get("subsets", {})
                                       for e in index["samples"]):
            have = sorted({k for e in index["samples"] for k in e.get("subsets", {})})
            raise PreparedError(f"{self.root / 'index.json'}: no sample carries benchmark "
                                f"{self.benchmark!r} (available: {have})")
        names = set(subset_names(index, self.benchmark, subset))
        self.entries = [e for e in index["samples"] if e["name"] in names]
        self.subset = subset
        self.backbone = cfg.model.skeleton.backbone
        self.with_rgb = cfg.model.kind != "skeleton_only"
        self.positions = [float(p) for p in d.positions]
        self.pipeline = build_skeleton_pipeline(d, self.backbone, self.train)
        self.expand = max(1, int(d.offline_expand)) if self.train else 1
        self.mean = np.asarray(d.mean, np.float32).reshape(3, 1, 1)
        self.std = np.asarray(d.std, np.float32).reshape(3, 1, 1)
        self._scale, self._bias = normalisation(d)
        self._frame_slots = self._match_positions() if self.with_rgb else []
        self._load_arrays()
        self._rng_pid = None
        self._gen = None

    # ------------------------------------------------------------------ construction
    def _match_positions(self) -> list:
        """Per configured p, the slot of the stored frame with that p (in every entry)."""
        slots = []
        for e in self.entries:
            if not e.get("frames"):
                raise PreparedError(f"{self.root}: sample {e['name']} has no stored frames "
                                    "(prepared with --skeleton-only?) but the model needs RGB")
        for p in self.positions:
            stored = [round(float(x), 4) for x in self.index.get("positions", [])]
            if round(p, 4) not in stored:
                raise PreparedError(f"{self.root / 'index.json'}: frame position {p} was not "
                                    f"prepared (have {stored}); re-run mmff prepare with "
                                    f"--positions")
            slots.append(stored.index(round(p, 4)))
        if not self.cfg.data.projection_crop and self.index.get("stored") != "full":
            raise PreparedError(f"{self.root}: data.projection_crop=false needs whole frames; "
                                "re-run mmff prepare with --store full")
        return slots

    def _load_arrays(self) -> None:
        """All joints in one buffer + per-sample offsets; 2D colour only at the positions."""
        joints, color_p, lengths = [], [], []
        M = int(self.cfg.data.num_person)   # bodies the model takes (slice or zero-pad)
        for e in self.entries:
            j, c = load_sample_arrays(self.root, e)
            j, c = _bodies(j, M), _bodies(c, M)
            T = j.shape[0]
            if T == 0:
                raise PreparedError(f"{self.root / e['skeleton']}: no frames")
            joints.append(j)
            color_p.append(c[frame_index(self.positions, T)])
            lengths.append(T)
        self._lengths = np.asarray(lengths, np.int64)
        self._starts = np.concatenate([[0], np.cumsum(self._lengths)[:-1]]).astype(np.int64)
        if joints:
            self._joints = np.ascontiguousarray(np.concatenate(joints), dtype=np.float32)
            self._color_p = np.stack(color_p).astype(np.float32)       # (N, K, M, V, 2)
        else:
            V = int(self.index.get("num_joints", 25))
            self._joints = np.zeros((0, M, V, 3), np.float32)
            self._color_p = np.zeros((0, len(self.positions), M, V, 2), np.float32)
        self.labels = np.asarray([e["label"] for e in self.entries], np.int64)

    # ------------------------------------------------------------------ access
    def __len__(self) -> int:
        return len(self.entries) * self.expand

    def set_item_seed(self, seed: int) -> None:
        """Reseed this process's augmentation generator (the engine seeds each item from
        (seed, epoch, index) so an interrupted run resumes with the same augmentations)."""
        self._per_process_setup()
        self._gen = np.random.default_rng(seed)

    def _per_process_setup(self) -> None:
        """One random generator per process, seeded from torch's (per worker, per run) seed,
        so workers differ, epochs differ, and a seeded run is reproducible."""
        pid = os.getpid()
        if self._gen is None or self._rng_pid != pid:
            import cv2

            cv2.setNumThreads(1)  # DataLoader workers already run in parallel
            self._gen = np.random.default_rng(torch.initial_seed())
            self._rng_pid = pid

    def joints(self, i: int) -> np.ndarray:
        s, n = self._starts[i], self._lengths[i]
        return self._joints[s:s + n]

    def _image(self, e: dict, slot: int, color_p: np.ndarray, rng) -> tuple:
        import cv2

        d = self.cfg.data
        fr = e["frames"][slot]
        # source frame size; a dataset whose entries lack it stored whole frames
        W, H = e.get("frame_size") or (fr["offset"][0] + fr["size"][0],
                                       fr["offset"][1] + fr["size"][1])
        box = crop_window(color_p, W, H, d, self.train, rng)
        ox, oy = fr["offset"]
        sw, sh = fr["size"]
        # The stored crop holds every window for the prepared margins; clamp in case the
        # config asks for more than was prepared.
        box = (max(box[0], ox), max(box[1], oy), min(box[2], ox + sw), min(box[3], oy + sh))
        if box[2] <= box[0] or box[3] <= box[1]:
            box = (ox, oy, ox + sw, oy + sh)
        S = d.image_size
        side = min(box[2] - box[0], box[3] - box[1])
        r = next((r for r in (8, 4, 2) if side >= r * S), 1)  # decode at 1/r: still >= S px
        flag = {1: cv2.IMREAD_COLOR, 2: cv2.IMREAD_REDUCED_COLOR_2,
                4: cv2.IMREAD_REDUCED_COLOR_4, 8: cv2.IMREAD_REDUCED_COLOR_8}[r]
        path = self.root / fr["file"]
        img = cv2.imread(str(path), flag)
        if img is None:
            raise PreparedError(f"{path}: cannot read the stored frame")
        if r == 1:
            out = crop_and_resize(img, box, S, (ox, oy))
        else:
            rb = [int(round((v - o) / r)) for v, o in zip(box, (ox, oy, ox, oy))]
            rb[2], rb[3] = max(rb[2], rb[0] + 1), max(rb[3], rb[1] + 1)
            out = crop_and_resize(img, rb, S)
        return image_to_chw(out, self._scale, self._bias, bgr=True), points_to_crop(color_p, box)

    def __getitem__(self, idx: int) -> dict:
        if not 0 <= idx < len(self):
            raise IndexError(f"index {idx} out of range for {len(self)} items")
        i = idx % len(self.entries)
        e = self.entries[i]
        self._per_process_setup()
        rng = self._gen if self.train else None
        image_fn = None
        if self.with_rgb:
            def image_fn(k):
                return self._image(e, self._frame_slots[k], self._color_p[i, k], rng)
        item = build_item(self.joints(i), self.positions, self.pipeline, rng, image_fn)
        item["label"] = torch.from_numpy(self.labels[i:i + 1]).reshape(())
        item["index"] = torch.from_numpy(np.array(idx, np.int64))
        return item

    def __repr__(self) -> str:
        return (f"PreparedDataset({self.root}, {self.benchmark}/{self.subset}, n={len(self)}, "
                f"train={self.train}, backbone={self.backbone}, rgb={self.with_rgb})")


def build_dataset(cfg, subset: str, train: Optional[bool] = None) -> PreparedDataset:
    """The dataset of ``subset`` ("train"/"test"/"all") of the prepared folder
    ``cfg.data.root``, for the benchmark of ``cfg.data`` (:func:`benchmark_key`); ``train``
    (default: ``subset == "train"``) switches augmentation and random crops on."""
    if not cfg.data.root:
        raise ValueError("data.root: not set (the folder written by `mmff prepare`)")
    return PreparedDataset(cfg.data.root, cfg, subset, train)
