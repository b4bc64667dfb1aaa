"""Saved per-sample scores and their weighted ensemble (``mmff ensemble``).

``mmff eval`` writes ``scores.npz`` beside ``results.json``: ``names`` (N sample names, the
prepared folder's), ``labels`` (N,) int64, ``logits`` (N, C) float32 (the model's outputs;
the decision fusions' log p) and ``classes``. :func:`ensemble` fuses several such files the
way PYSKL reports its multi-stream results (``pyskl.smp.comb`` over the ``result.pkl`` of
``dist_test.sh``, whose scores are softmax probabilities, ``average_clips='prob'``):

    p = sum_s w_s * softmax(logits_s)

with PYSKL's 2:2:1:1 weights for four streams (joint, bone, joint motion, bone motion, in
that order) and equal weights otherwise. The inputs are aligned by sample name; every file
must hold the same samples with the same labels.
"""
from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from mmff.atomic import atomic_write_bytes

__all__ = ["SCORES_FILE", "save_scores", "load_scores", "softmax", "default_weights",
           "topk_accuracy", "align_scores", "ensemble"]

#: the file ``mmff eval`` writes beside results.json
SCORES_FILE = "scores.npz"
#: PYSKL's four-stream fusion (configs/stgcn/README.md): joint, bone, joint motion, bone motion
FOUR_STREAM_WEIGHTS = (2.0, 2.0, 1.0, 1.0)


def save_scores(path, names: Sequence[str], labels, logits, classes: Sequence[str] = ()) -> Path:
    """Write ``scores.npz`` (atomic: readers never see half a file)."""
    names = np.asarray([str(n) for n in names])
    labels = np.asarray(labels, np.int64).reshape(-1)
    logits = np.asarray(logits, np.float32)
    if logits.ndim != 2 or not len(names) == len(labels) == logits.shape[0]:
        raise ValueError(f"{path}: expected N names, N labels and (N, C) logits, got "
                         f"{len(names)}, {labels.shape}, {logits.shape}")
    buf = io.BytesIO()
    np.savez(buf, names=names, labels=labels, logits=logits,
             classes=np.asarray([str(c) for c in classes]))
    return atomic_write_bytes(path, buf.getvalue())


def load_scores(path) -> dict:
    """``{"path", "names", "labels", "logits", "classes"}`` from a ``scores.npz`` or an
    ``mmff eval`` output folder holding one; a one-line ``ValueError`` naming the file when
    it is not one."""
    p = Path(path)
    if p.is_dir():
        p = p / SCORES_FILE
    if not p.is_file():
        raise FileNotFoundError(f"{p}: no such scores file (expected the {SCORES_FILE} that "
                                "`mmff eval` writes, or its output folder)")
    try:
        with np.load(p, allow_pickle=False) as z:
            d = {k: z[k] for k in ("names", "labels", "logits") if k in z.files}
            classes = z["classes"].tolist() if "classes" in z.files else []
    except (OSError, ValueError, zipfile.BadZipFile) as e:
        raise ValueError(f"{p}: not a readable .npz ({e})") from None
    missing = [k for k in ("names", "labels", "logits") if k not in d]
    if missing:
        raise ValueError(f"{p}: not an mmff scores file (no {', '.join(missing)}; expected "
                         "names, labels, logits)")
    names, labels, logits = d["names"].astype(str), d["labels"], d["logits"]
    if (logits.ndim != 2 or names.ndim != 1 or labels.shape != names.shape
            or logits.shape[0] != names.shape[0] or logits.shape[1] == 0):
        raise ValueError(f"{p}: expected names (N,), labels (N,) and logits (N, C); got "
                         f"{names.shape}, {labels.shape}, {logits.shape}")
    if len(set(names.tolist())) != len(names):
        raise ValueError(f"{p}: sample names repeat (each sample once expected)")
    return {"path": str(p), "names": names, "labels": labels.astype(np.int64),
            "logits": logits.astype(np.float64), "classes": classes}


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax (float64, shifted by the row maximum)."""
    z = np.asarray(logits, np.float64)
    z = np.exp(z - z.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def default_weights(n: int) -> list:
    """PYSKL's 2:2:1:1 for four streams (j, b, jm, bm), equal weights otherwise."""
    return list(FOUR_STREAM_WEIGHTS) if n == 4 else [1.0] * n


def topk_accuracy(scores: np.ndarray, labels: np.ndarray, k: int) -> float:
    """Fraction of rows whose label is among the ``k`` highest scores (ties: lower class)."""
    k = min(int(k), scores.shape[1])
    top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return float((top == labels[:, None]).any(axis=1).mean())


def align_scores(streams: Sequence[dict]) -> list:
    """The streams reordered to the first one's sample order; ``ValueError`` naming the file
    that covers other samples, labels them differently or has another number of classes."""
    ref = streams[0]
    order = {n: i for i, n in enumerate(ref["names"].tolist())}
    out = [ref]
    for s in streams[1:]:
        names = s["names"].tolist()
        have = set(names)
        missing = [n for n in order if n not in have]
        extra = [n for n in names if n not in order]
        if missing or extra:
            what = (f"{len(missing)} of its samples missing (e.g. {missing[0]!r})" if missing
                    else f"{len(extra)} samples it lacks (e.g. {extra[0]!r})")
            raise ValueError(f"{s['path']}: not the samples of {ref['path']}: {what}")
        if s["logits"].shape[1] != ref["logits"].shape[1]:
            raise ValueError(f"{s['path']}: {s['logits'].shape[1]} classes, but {ref['path']} "
                             f"has {ref['logits'].shape[1]}")
        idx = np.argsort(np.asarray([order[n] for n in names]))
        a = {**s, "names": s["names"][idx], "labels": s["labels"][idx], "logits": s["logits"][idx]}
        bad = np.flatnonzero(a["labels"] != ref["labels"])
        if bad.size:
            i = int(bad[0])
            raise ValueError(f"{s['path']}: sample {ref['names'][i]!r} has label "
                             f"{int(a['labels'][i])}, but {int(ref['labels'][i])} in {ref['path']} "
                             f"({bad.size} labels differ)")
        out.append(a)
    return out


def ensemble(inputs: Sequence, weights: Optional[Sequence[float]] = None) -> dict:
    """Fuse saved scores (paths of ``scores.npz`` files or ``mmff eval`` folders, or dicts of
    :func:`load_scores`): top-1/top-5 of every stream and of ``sum_s w_s softmax(logits_s)``."""
    if not inputs:
        raise ValueError("ensemble: no scores given")
    streams = [s if isinstance(s, dict) else load_scores(s) for s in inputs]
    w = default_weights(len(streams)) if weights is None else [float(v) for v in weights]
    if len(w) != len(streams):
        raise ValueError(f"ensemble: {len(w)} weights for {len(streams)} score files")
    if any(not np.isfinite(v) or v < 0 for v in w) or sum(w) <= 0:
        raise ValueError(f"ensemble: weights must be >= 0 and not all 0, got {w}")
    streams = align_scores(streams)
    labels = streams[0]["labels"]
    probs = [softmax(s["logits"]) for s in streams]
    fused = sum(wi * p for wi, p in zip(w, probs))
    rows = [{"path": s["path"], "weight": wi, "top1": topk_accuracy(p, labels, 1),
             "top5": topk_accuracy(p, labels, 5)} for s, wi, p in zip(streams, w, probs)]
    return {"fusion": "weighted sum of softmax probabilities (PYSKL)", "weights": w,
            "num_samples": int(labels.size), "num_classes": int(fused.shape[1]),
            "streams": rows,
            "ensemble": {"top1": topk_accuracy(fused, labels, 1),
                         "top5": topk_accuracy(fused, labels, 5)}}
