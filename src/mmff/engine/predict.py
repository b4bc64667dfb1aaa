"""Use a trained model on raw files: a Kinect ``.skeleton`` + its ``_rgb.avi`` -> top-k actions.

The model input is built by the test-time sample pipeline of the checkpoint's config
(:func:`mmff.data.pipeline.build_pipeline`, source ``"video"``): the steps the dataset runs on
a prepared folder, with the raw files as source: select and pad bodies, the 2D joints at p,
the frame(s) at p decoded without decoding the whole video
(:func:`mmff.data.video.decode_frames_at` stops at the last requested frame), Eq. 13
displacement, VA-pre and pad/sample, the centred projection crop (+``data.test_margin``),
resize, normalise. ``mmff bench``'s end-to-end timing runs this same loader.

:class:`Predictor` holds the model; :meth:`Predictor.load` turns one pair of files into an item
(+ what the heat-map figure needs), :meth:`Predictor.predict` runs a batch. Folder mode
(:func:`predict_folder`) streams many pairs through the ``DataLoader`` of
:class:`mmff.engine.lightning.MMFFDataModule` (worker processes read and decode while the model
runs; workers, seeding and pinning as for evaluation) and reports bad pairs without stopping
(``strict`` stops).
"""
from __future__ import annotations

import csv
import io
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from mmff.atomic import atomic_write_text
from mmff.data.ntu import NTUNameError, parse_name, sample_stem
from mmff.data.prepare import VIDEO_SUFFIXES, find_video

__all__ = ["PredictError", "Predictor", "SampleLoader", "RawSample", "sample_stem", "check_pair", "find_pairs",
           "topk_result", "predict_folder", "write_csv", "write_heatmap", "VIDEO_SUFFIXES"]



class PredictError(ValueError):
    """Bad or mismatched raw input for ``mmff predict``; the message names the file(s)."""


def check_pair(skeleton, video) -> str:
    """The sample name; :class:`PredictError` when skeleton and video are of different samples."""
    a, b = sample_stem(skeleton), sample_stem(video)
    if a != b:
        raise PredictError(f"{skeleton} and {video} are different samples ({a} vs {b}); "
                           "pass the skeleton and video of one recording")
    return a


@dataclass
class RawSample:
    """One loaded pair: the model ``item`` (unbatched, contract keys) and, for figures, the
    un-normalised model images ``crops`` (K, S, S, 3) uint8, the crop windows ``boxes`` in the
    source frame, the video frame indices and the load time."""

    name: str
    item: dict
    crops: Optional[np.ndarray] = None
    boxes: list = field(default_factory=list)
    frame_indices: list = field(default_factory=list)
    seconds: float = 0.0


class SampleLoader:
    """Raw pair -> model input for a config: the test-time sample pipeline
    (:func:`mmff.data.pipeline.build_pipeline`, source ``"video"``); no model, so DataLoader
    workers get only this small object. ``decode_threads``: FFmpeg threads per decode."""

    def __init__(self, cfg, decode_threads: int = 1):
        from mmff.data.pipeline import build_pipeline

        self.cfg = cfg
        self.needs_video = cfg.model.kind != "skeleton_only"
        self.pipeline = build_pipeline(cfg, "video", train=False, rgb=self.needs_video,
                                       decode_threads=decode_threads)

    def load(self, skeleton, video=None) -> RawSample:
        """Read one pair and build the model input (test-time pipeline of the config)."""
        t0 = time.perf_counter()
        skeleton = Path(skeleton)
        if not skeleton.is_file():
            raise PredictError(f"{skeleton}: no such skeleton file")
        if self.needs_video and video is None:
            raise PredictError(f"{skeleton}: this {self.cfg.model.kind} model needs the video "
                               "(--video); only skeleton-only checkpoints run without one")
        # a video given to a skeleton-only model is not read, but must still be the same sample
        name = check_pair(skeleton, video) if video is not None else sample_stem(skeleton)
        res = self.pipeline({"skeleton_path": skeleton, "video_path": video})
        out = RawSample(name, res["inputs"])
        if self.needs_video:
            out.crops = res["crops"]
            out.boxes = [[int(v) for v in b] for b in res["crop_boxes"]]
            out.frame_indices = res["frame_indices"]
        out.seconds = time.perf_counter() - t0
        return out


class Predictor:
    """A checkpoint ready for raw inputs.

    ``positions`` replaces ``data.positions`` (same number of frames K as the model was
    built for). ``device``: ``"cpu"``, ``"cuda"``, or ``"auto"``.
    """

    def __init__(self, checkpoint, device: str = "cpu", positions: Optional[Sequence[float]] = None):
        from mmff.engine.checkpoint import load_checkpoint

        self.checkpoint = Path(checkpoint)
        model, cfg, classes, extra = load_checkpoint(checkpoint)
        if positions is not None:
            positions = [float(p) for p in positions]
            if len(positions) != cfg.num_frames:
                raise PredictError(f"--position: the model takes {cfg.num_frames} frame(s) "
                                   f"(data.positions {cfg.data.positions}), got {len(positions)} "
                                   f"position(s)")
            if any(not 0 <= p <= 1 for p in positions):
                raise PredictError(f"--position: fractions must lie in [0, 1], got {positions}")
            cfg.data.positions = positions
        if cfg.model.skeleton.layout == "sysu":
            raise PredictError(f"{checkpoint}: a SYSU (20-joint) model; mmff predict reads NTU "
                               ".skeleton files (25 joints)")
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.cfg, self.classes, self.extra = cfg, list(classes), extra
        self.loader = SampleLoader(cfg)
        self.needs_video = self.loader.needs_video

    def load(self, skeleton, video=None) -> RawSample:
        """Read one pair and build the model input (:meth:`SampleLoader.load`)."""
        return self.loader.load(skeleton, video)

    # ------------------------------------------------------------------ model
    @torch.inference_mode()
    def predict_with_maps(self, batch: dict) -> tuple[torch.Tensor, dict]:
        """``(probs, maps)`` for a batch of items (stacked): the class probabilities
        (N, num_classes) and the attention maps of that forward (M_1, M_2, M_ske: (N, K, 1, H, W);
        empty for skeleton-only models)."""
        batch = {k: v.to(self.device) for k, v in batch.items()
                 if k in ("skeleton", "image", "joints2d", "displacement")}
        logits, maps = self.model.forward_with_maps(batch)
        return torch.softmax(logits.float(), dim=1).cpu(), {k: v.cpu() for k, v in maps.items()}

    def predict(self, batch: dict) -> torch.Tensor:
        """Class probabilities (N, num_classes) for a batch of items (stacked)."""
        return self.predict_with_maps(batch)[0]

    def attention(self, batch: dict) -> dict:
        """The RGB stream's attention maps for a batch of items (M_1, M_2, M_ske:
        (N, K, 1, H, W)), empty for skeleton-only models."""
        return self.predict_with_maps(batch)[1]

    def predict_one(self, skeleton, video=None, topk: int = 5) -> tuple:
        """``(result, sample, probs)`` for one pair: ``result = {"topk": [...], "seconds": s,
        "sample": name}`` (:func:`topk_result`; seconds from reading the files to the
        probabilities), the loaded :class:`RawSample` and the (num_classes,) probabilities."""
        t0 = time.perf_counter()
        s = self.load(skeleton, video)
        probs = self.predict({k: v[None] for k, v in s.item.items()})[0]
        res = topk_result(probs, self.classes, topk)
        res["seconds"] = time.perf_counter() - t0
        res["sample"] = s.name
        return res, s, probs

    def __call__(self, skeleton, video=None, topk: int = 5) -> dict:
        """The result dict of :meth:`predict_one`."""
        return self.predict_one(skeleton, video, topk)[0]


def write_heatmap(predictor: Predictor, sample: RawSample, probs: torch.Tensor, path) -> Path:
    """Fig. 10-11 panels for one predicted pair (``probs`` from :meth:`Predictor.predict_one`):
    crop + projected skeleton + skeleton-attention square, M_1, M_2, M_ske overlays."""
    from mmff.engine.visualize import attention_panels, plot_attention

    if sample.crops is None:
        raise PredictError("--heatmap: a skeleton-only model has no image or attention maps")
    maps = predictor.attention({key: val[None] for key, val in sample.item.items()})
    att = {k: v[0] for k, v in maps.items()}
    cfg = predictor.cfg
    top = int(probs.argmax())
    rows = []
    for k, pan in enumerate(attention_panels(sample.item, att)):
        rows.append({"image": sample.crops[k], "panel": pan,
                     "title": f"{sample.name} frame {sample.frame_indices[k]} (p={cfg.data.positions[k]:.2f})"})
    name = predictor.classes[top] if top < len(predictor.classes) else str(top)
    return plot_attention(rows, path, cfg.model.rgb.attention_square,
                          title=f"predicted: {name} ({100 * float(probs[top]):.1f}%)")


def topk_result(probs: torch.Tensor, classes: Sequence[str], k: int = 5) -> dict:
    """``{"topk": [{"label": int, "name": str, "prob": float}, ...]}``, most probable first."""
    k = max(1, min(int(k), probs.numel()))
    p, idx = torch.topk(probs, k)
    return {"topk": [{"label": int(i), "name": classes[int(i)] if int(i) < len(classes) else str(int(i)),
                      "prob": float(v)} for v, i in zip(p, idx)]}


# ---------------------------------------------------------------------- folder mode
def find_pairs(skeleton_dir, video_dir=None, need_video: bool = True) -> tuple[list, list]:
    """``([(name, skeleton, video or None)], [(file, error)])`` for every ``*.skeleton`` of
    ``skeleton_dir``; the video is ``NAME_rgb.avi`` (or ``NAME.avi``, ``.mp4``) in
    ``video_dir``. A skeleton without its video is an error entry when ``need_video``."""
    skeleton_dir = Path(skeleton_dir)
    if not skeleton_dir.is_dir():
        raise PredictError(f"{skeleton_dir}: no such folder")
    vdir = Path(video_dir) if video_dir is not None else skeleton_dir
    if need_video and not vdir.is_dir():
        raise PredictError(f"{vdir}: no such video folder")
    pairs, errors = [], []
    for f in sorted(skeleton_dir.glob("*.skeleton")):
        name = sample_stem(f)
        video = None
        if need_video:
            video = find_video(vdir, name)
            if video is None:
                errors.append((str(f), f"{f}: no video {name}_rgb.avi in {vdir}"))
                continue
        pairs.append((name, f, video))
    if not pairs and not errors:
        raise PredictError(f"{skeleton_dir}: no *.skeleton files")
    return pairs, errors


class _PairDataset(Dataset):
    """Items of raw pairs for a DataLoader; a bad pair yields its error instead of raising."""

    def __init__(self, loader: SampleLoader, pairs: list):
        self.loader, self.pairs = loader, pairs

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, i):
        name, skel, video = self.pairs[i]
        try:
            return name, self.loader.load(skel, video).item, None
        except (ValueError, OSError) as e:  # library errors name the file
            return name, None, str(e)


def _collate(samples):
    ok = [(n, it) for n, it, err in samples if err is None]
    bad = [(n, err) for n, _, err in samples if err is not None]
    batch = torch.utils.data.default_collate([it for _, it in ok]) if ok else None
    return [n for n, _ in ok], batch, bad


def _true_label(name: str, num_classes: int) -> Optional[int]:
    try:
        a = parse_name(name).label
    except NTUNameError:
        return None
    return a if 0 <= a < num_classes else None


def predict_folder(predictor: Predictor, skeleton_dir, video_dir=None, topk: int = 5,
                   batch_size: int = 8, workers: int = 0, strict: bool = False,
                   progress: bool = True, on_error: Callable[[str], None] = lambda m: None) -> dict:
    """Predict every pair of a folder. Returns ``{"rows": [...], "failed": [{"file", "error"}],
    "seconds", "accuracy" (top-1 against the NTU ``A`` number, when every name has one)}``.
    Bad pairs are reported through ``on_error`` and skipped; with ``strict`` the first one
    raises :class:`PredictError`."""
    from tqdm.auto import tqdm

    t0 = time.perf_counter()
    pairs, errors = find_pairs(skeleton_dir, video_dir, predictor.needs_video)
    failed = []

    def fail(file, msg):
        if strict:
            raise PredictError(msg)
        failed.append({"file": file, "error": msg})
        on_error(msg)

    for file, msg in errors:
        fail(file, msg)
    from mmff.engine.lightning import MMFFDataModule

    dm = MMFFDataModule.for_dataset(predictor.cfg, _PairDataset(predictor.loader, pairs), "raw pairs")
    # pinned only for a CUDA model; DataLoader workers run torch with one thread
    loader = dm.predict_dataloader(batch_size=max(1, batch_size), num_workers=workers, collate_fn=_collate,
                                   pin_memory=predictor.device.type == "cuda")
    rows = []
    by_name = {n: s for n, s, _ in pairs}
    with tqdm(total=len(pairs), desc="predict", unit="sample", disable=not progress) as bar:
        for names, batch, bad in loader:
            for n, msg in bad:
                fail(str(by_name[n]), msg)
            if batch is not None:
                probs = predictor.predict(batch)
                for n, pr in zip(names, probs):
                    rows.append({"sample": n, "true_label": _true_label(n, len(predictor.classes)),
                                 **topk_result(pr, predictor.classes, topk)})
            bar.update(len(names) + len(bad))
    out = {"rows": rows, "failed": failed, "seconds": time.perf_counter() - t0}
    labelled = [r for r in rows if r["true_label"] is not None]
    if rows and len(labelled) == len(rows):
        out["accuracy"] = float(np.mean([r["topk"][0]["label"] == r["true_label"] for r in rows]))
    return out


def write_csv(rows: list, path, topk: int) -> Path:
    """CSV (atomic): ``sample, true_label, label, name, prob``, then ``label_k, name_k, prob_k``
    for k = 2..topk."""
    buf = io.StringIO()
    w = csv.writer(buf)
    head = ["sample", "true_label", "label", "name", "prob"]
    for k in range(2, topk + 1):
        head += [f"label_{k}", f"name_{k}", f"prob_{k}"]
    w.writerow(head)
    for r in rows:
        cells = [r["sample"], "" if r["true_label"] is None else r["true_label"]]
        for t in r["topk"]:
            cells += [t["label"], t["name"], f"{t['prob']:.6f}"]
        w.writerow(cells + [""] * (len(head) - len(cells)))
    return atomic_write_text(path, buf.getvalue())
