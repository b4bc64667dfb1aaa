"""Datasets over a prepared folder (``mmff prepare``), items per the batch contract of
docs/design.md ("Dataset item").

Items come from the one sample pipeline of :mod:`mmff.data.pipeline` (source ``"stored"``),
the steps ``mmff predict`` runs on raw files too. Its ``load`` part runs once per sample at
construction: all skeleton arrays go into one contiguous (read-only) buffer, no per-epoch
parsing. Per item its ``transform`` part runs: Eq. 13, the skeleton steps, the crop window,
and only the stored JPEG crop(s) are decoded (cv2, with JPEG DCT-domain down-scaling when the
crop window stays at least ``image_size`` pixels), cropped, resized and normalised.
Skeleton-only models skip the images entirely.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import numpy as np
import torch
from torch.utils.data import Dataset

from mmff.data.pipeline import build_pipeline
from mmff.data.prepare import PreparedError, load_index

__all__ = ["benchmark_key", "PreparedDataset", "build_dataset", "subset_names", "validation_split",
           "SUBSETS"]


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


SUBSETS = ("train", "val", "test", "all")


def _even_pick(items: list, k: int) -> list:
    """``k`` of the sorted ``items``, evenly spaced: positions ``floor((i + 1/2) n / k)``."""
    n = len(items)
    return [items[int((i + 0.5) * n / k)] for i in range(k)]


def _name_rank(name: str) -> str:
    import hashlib
    return hashlib.sha1(name.encode()).hexdigest()


def validation_split(index: dict, key: str, data_cfg) -> tuple:
    """``(names, description)`` of the validation split of benchmark ``key``: a part of its
    TRAINING samples, never of its test samples (the test split is read once, at the end).

    ``data.val``: ``"subjects"`` holds out every training sample of some training subjects
    (NTU performer ``P``, SYSU subject): ``data.val_subjects`` if given (each must have training
    samples), else ``max(1, round(val_fraction x n))`` of the ``n`` training subjects, evenly
    spaced in sorted order (NTU-60 cross-subject, 10%: subjects 9 and 28). Cross-view and SYSU
    Setting-1, whose subjects are in both halves, hold out the training-half samples of those
    subjects; SYSU Setting-2 picks from the fold's own training subjects. ``"fraction"``: in
    every class, ``round(val_fraction x n_c)`` of its training samples, the first by SHA-1 of
    the sample name (independent of the index order). ``"none"``: empty."""
    mode = getattr(data_cfg, "val", "none")
    train = [e for e in index["samples"] if e.get("subsets", {}).get(key) == "train"]
    if mode == "none":
        return [], f"{key}/val (none: data.val is none)"
    frac = float(data_cfg.val_fraction)
    if mode == "fraction":
        by_class: dict = {}
        for e in train:
            by_class.setdefault(int(e["label"]), []).append(e["name"])
        names = set()
        for lab in sorted(by_class):
            ranked = sorted(by_class[lab], key=_name_rank)
            names.update(ranked[:int(round(frac * len(ranked)))])
        out = [e["name"] for e in train if e["name"] in names]
        return _checked(out, train, key, f"{key}/val ({frac:g} of each class's training "
                                         "samples, by name hash)")
    missing = [e["name"] for e in train if "subject" not in e]
    if missing:
        raise ValueError(f"{key}: data.val=subjects needs the sample's subject, but entry "
                         f"{missing[0]} has none (use data.val=fraction)")
    subjects = sorted({int(e["subject"]) for e in train})
    if len(subjects) < 2:
        raise ValueError(f"{key}: data.val=subjects needs at least 2 training subjects, found "
                         f"{subjects}; use data.val=fraction or data.val=none")
    if data_cfg.val_subjects is not None:
        chosen = sorted({int(s) for s in data_cfg.val_subjects})
        bad = [s for s in chosen if s not in subjects]
        if bad:
            raise ValueError(f"data.val_subjects: {bad} are not training subjects of {key} "
                             f"(training subjects: {subjects})")
        rule = "data.val_subjects"
    else:
        k = max(1, int(round(frac * len(subjects))))
        chosen = _even_pick(subjects, min(k, len(subjects) - 1))
        rule = f"{frac:g} of the {len(subjects)} training subjects, evenly spaced"
    out = [e["name"] for e in train if int(e["subject"]) in set(chosen)]
    return _checked(out, train, key, f"{key}/val (subjects {', '.join(map(str, chosen))}; {rule})")


def _checked(val: list, train: list, key: str, description: str) -> tuple:
    if not val or len(val) == len(train):
        raise ValueError(f"{key}: the validation split {description} holds {len(val)} of the "
                         f"{len(train)} training samples; change data.val_fraction / "
                         "data.val_subjects, or set data.val=none")
    return val, description


def subset_names(index: dict, key: str, subset: str, data_cfg=None) -> list:
    """Names of the index's samples in ``subset`` of benchmark ``key``: "test", "val" (held out
    of the training samples by :func:`validation_split`, per ``data_cfg.val``), "train" (the
    training samples minus "val") or "all"."""
    if subset == "all":
        return [e["name"] for e in index["samples"]]
    if subset not in SUBSETS:
        raise ValueError(f"subset must be one of {', '.join(SUBSETS)}; got {subset!r}")
    if subset == "test":
        return [e["name"] for e in index["samples"] if e.get("subsets", {}).get(key) == "test"]
    val = validation_split(index, key, data_cfg)[0] if data_cfg is not None else []
    if subset == "val":
        return val
    held = set(val)
    return [e["name"] for e in index["samples"]
            if e.get("subsets", {}).get(key) == "train" and e["name"] not in held]


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
        names = set(subset_names(index, self.benchmark, subset, d))
        self.split_description = (validation_split(index, self.benchmark, d)[1] if subset == "val"
                                  else f"{self.benchmark}/{subset}")
        self.entries = [e for e in index["samples"] if e["name"] in names]
        n_cls = int(cfg.model.num_classes)
        over = next((e for e in self.entries if int(e["label"]) >= n_cls), None)
        if over is not None:  # e.g. an NTU-120 folder read with data.dataset ntu120, 60 classes
            raise PreparedError(f"{self.root / 'index.json'}: sample {over['name']} has label "
                                f"{int(over['label'])}, but model.num_classes is {n_cls} "
                                f"(the folder has {len(self.classes)} classes; use a config "
                                f"with that many, e.g. configs/ntu120_*/ for NTU-120)")
        self.subset = subset
        self.backbone = cfg.model.skeleton.backbone
        self.with_rgb = cfg.model.kind != "skeleton_only"
        self.positions = [float(p) for p in d.positions]
        self.pipeline = build_pipeline(cfg, "stored", self.train, rgb=self.with_rgb,
                                       root=self.root)
        self.expand = max(1, int(d.offline_expand)) if self.train else 1
        if self.with_rgb:
            self._check_frames()
        self._load_arrays()
        self._rng_pid = None
        self._gen = None

    # ------------------------------------------------------------------ construction
    def _check_frames(self) -> None:
        """Every entry has stored frames, at every configured p, of the needed kind."""
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
        if not self.cfg.data.projection_crop and self.index.get("stored") != "full":
            raise PreparedError(f"{self.root}: data.projection_crop=false needs whole frames; "
                                "re-run mmff prepare with --store full")

    def _load_arrays(self) -> None:
        """The pipeline's ``load`` part per sample (npz, ``num_person`` bodies, 2D joints at
        the positions): all joints in one read-only buffer + per-sample offsets; 2D colour
        only at the positions; the stored crops' files, offsets and the frame sizes."""
        joints, color_p, lengths, self._stored, self._frame_size = [], [], [], [], []
        for e in self.entries:
            res = self.pipeline.load({"entry": e})
            joints.append(res["joints"])
            lengths.append(res["joints"].shape[0])
            if self.with_rgb:
                color_p.append(res["color_p"])
                self._stored.append(res["stored_frames"])
                self._frame_size.append(res["frame_size"])
        M = int(self.cfg.data.num_person)
        self._lengths = np.asarray(lengths, np.int64)
        self._starts = np.concatenate([[0], np.cumsum(self._lengths)[:-1]]).astype(np.int64)
        if joints:
            self._joints = np.ascontiguousarray(np.concatenate(joints), dtype=np.float32)
        else:
            V = int(self.index.get("num_joints", 25))
            self._joints = np.zeros((0, M, V, 3), np.float32)
        self._joints.setflags(write=False)  # items are views: no step may change them in place
        self._color_p = (np.stack(color_p) if color_p else None)   # (N, K, M, V, 2)
        if self._color_p is not None:
            self._color_p.setflags(write=False)
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

    def __getitem__(self, idx: int) -> dict:
        if not 0 <= idx < len(self):
            raise IndexError(f"index {idx} out of range for {len(self)} items")
        i = idx % len(self.entries)
        self._per_process_setup()
        results = {"joints": self.joints(i), "rng": self._gen if self.train else None}
        if self.with_rgb:
            results.update(color_p=self._color_p[i], stored_frames=self._stored[i],
                           frame_size=self._frame_size[i])
        item = self.pipeline.transform(results)["inputs"]
        item["label"] = torch.from_numpy(self.labels[i:i + 1]).reshape(())
        item["index"] = torch.from_numpy(np.array(idx, np.int64))
        return item

    def __repr__(self) -> str:
        return (f"PreparedDataset({self.root}, {self.benchmark}/{self.subset}, n={len(self)}, "
                f"train={self.train}, backbone={self.backbone}, rgb={self.with_rgb})")


def build_dataset(cfg, subset: str, train: Optional[bool] = None) -> PreparedDataset:
    """The dataset of ``subset`` ("train"/"val"/"test"/"all", :func:`subset_names`) of the
    prepared folder ``cfg.data.root``, for the benchmark of ``cfg.data`` (:func:`benchmark_key`);
    ``train`` (default: ``subset == "train"``) switches augmentation and random crops on."""
    if not cfg.data.root:
        raise ValueError("data.root: not set (the folder written by `mmff prepare`)")
    return PreparedDataset(cfg.data.root, cfg, subset, train)
