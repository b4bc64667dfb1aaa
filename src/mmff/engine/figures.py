"""Figures: confusion matrix (paper Fig. 8), per-class accuracy (Fig. 9), loss curves,
and the frame-position sweep (Fig. 7). PNGs are written atomically."""
from __future__ import annotations

import csv
from pathlib import Path
from typing import Mapping, Optional, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from mmff.atomic import atomic_path

__all__ = ["plot_confusion", "plot_per_class", "plot_loss_curves", "plot_frame_position", "read_csv_log",
           "save_figure"]


def save_figure(fig, path: str | Path) -> Path:
    """Write ``fig`` to ``path`` as a PNG (atomic, 120 dpi) and close it."""
    try:
        with atomic_path(path, suffix=".png") as tmp:
            fig.savefig(tmp, dpi=120, bbox_inches="tight")
    finally:
        plt.close(fig)
    return Path(path)


def _short(names: Sequence[str], n: int = 24) -> list[str]:
    return [s if len(s) <= n else s[: n - 1] + "…" for s in names]


def plot_confusion(cm, classes: Sequence[str], path: str | Path, title: str = "Confusion matrix",
                   normalize: bool = True) -> Path:
    """Row-normalised confusion matrix (true class per row, as paper Fig. 8)."""
    cm = np.asarray(cm, dtype=np.float64)
    k = cm.shape[0]
    if normalize:
        cm = cm / np.maximum(cm.sum(1, keepdims=True), 1)
    side = min(max(4.5, 0.32 * k + 2.5), 30)
    fig, ax = plt.subplots(figsize=(side + 1.2, side))
    im = ax.imshow(cm, cmap="Blues", vmin=0, vmax=1 if normalize else None)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="fraction of true class" if normalize else "count")
    labels = _short(classes) if k <= 40 else [str(i + 1) for i in range(k)]
    ax.set_xticks(range(k), labels, rotation=90, fontsize=8 if k <= 20 else 6)
    ax.set_yticks(range(k), labels, fontsize=8 if k <= 20 else 6)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(title)
    if k <= 15:  # numbers stay readable only on small matrices
        for i, j in zip(*np.nonzero(cm)):
            v = cm[i, j]
            ax.text(j, i, f"{v:.2f}" if normalize else f"{int(v)}", ha="center", va="center", fontsize=7,
                    color="white" if v > 0.5 * (cm.max() or 1) else "black")
    return save_figure(fig, path)


def plot_per_class(acc, classes: Sequence[str], path: str | Path, baseline=None,
                   title: str = "Per-class accuracy", labels: Sequence[str] = ("model", "baseline")) -> Path:
    """Bar chart of per-class accuracy, optionally beside a baseline (paper Fig. 9)."""
    acc = np.asarray(acc, dtype=np.float64)
    k = len(acc)
    x = np.arange(k)
    fig, ax = plt.subplots(figsize=(min(max(6, 0.35 * k + 2), 30), 4.5))
    w = 0.4 if baseline is not None else 0.8
    ax.bar(x - (w / 2 if baseline is not None else 0), 100 * acc, width=w, label=labels[0], color="tab:blue")
    if baseline is not None:
        ax.bar(x + w / 2, 100 * np.asarray(baseline, dtype=np.float64), width=w, label=labels[1], color="tab:orange")
        ax.legend(loc="lower right")
    ax.set_xticks(x, _short(classes) if k <= 40 else [str(i + 1) for i in range(k)], rotation=90,
                  fontsize=8 if k <= 20 else 6)
    ax.set_ylim(0, 105)
    ax.set_ylabel("accuracy (%)")
    ax.set_title(title)
    ax.grid(axis="y", alpha=0.3)
    return save_figure(fig, path)


def read_csv_log(log_dir: str | Path) -> dict[str, list[tuple[int, float]]]:
    """Lightning CSVLogger ``metrics.csv`` file(s) -> {metric: [(step, value), ...]}.

    A folder may hold several versions (one per restart of a resumed run): they are read
    oldest first and a later value for the same step replaces an earlier one."""
    log_dir = Path(log_dir)
    files = [log_dir] if log_dir.is_file() else sorted(log_dir.rglob("metrics.csv"), key=lambda f: f.stat().st_mtime)
    if not files:
        raise FileNotFoundError(f"{log_dir}: no metrics.csv")
    merged: dict[str, dict[int, float]] = {}
    for f in files:
        with open(f, newline="") as fh:
            for row in csv.DictReader(fh):
                step = int(float(row.get("step") or 0))
                for k, v in row.items():
                    if k in ("step", "epoch") or v in ("", None):
                        continue
                    merged.setdefault(k, {})[step] = float(v)
    return {k: sorted(d.items()) for k, d in merged.items()}


def plot_loss_curves(csv_dirs: Sequence[str | Path], path: str | Path, labels: Optional[Sequence[str]] = None,
                     title: str = "Loss") -> Path:
    """Training (per step and per epoch) and validation loss of one or more runs."""
    fig, ax = plt.subplots(figsize=(7, 4.2))
    drawn = 0
    for i, d in enumerate(csv_dirs):
        s = read_csv_log(d)
        name = labels[i] if labels else (Path(d).parent.name if Path(d).name == "logs" else Path(d).name)
        color = f"C{i % 10}"
        for key, style, lab in (("train/loss_step", "-", "train (step)"), ("train/loss_epoch", "o-", "train (epoch)"),
                                ("val/loss", "s--", "val (epoch)")):
            if key in s:
                xs, ys = zip(*s[key])
                ax.plot(xs, ys, style, color=color, alpha=0.35 if key.endswith("step") else 1.0,
                        label=f"{name}: {lab}" if len(csv_dirs) > 1 else lab, markersize=4)
                drawn += 1
    if not drawn:
        plt.close(fig)
        raise ValueError(f"{list(map(str, csv_dirs))}: no loss values logged")
    ax.set_xlabel("optimiser step")
    ax.set_ylabel("cross-entropy")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return save_figure(fig, path)


def plot_frame_position(positions: Sequence[float], series: Mapping[str, tuple[Sequence[float], Sequence[float]]],
                        path: str | Path, title: str = "Accuracy vs. RGB frame position (Fig. 7)") -> Path:
    """Accuracy (mean ± std over seeds) against the frame fraction p, one line per backbone."""
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for i, (name, (mean, std)) in enumerate(series.items()):
        m = 100 * np.asarray(mean, dtype=np.float64)
        s = 100 * np.asarray(std, dtype=np.float64)
        ax.errorbar(100 * np.asarray(positions), m, yerr=s, marker="o", capsize=3, label=name, color=f"C{i}")
    ax.set_xlabel("frame position p (% of the video)")
    ax.set_ylabel("accuracy (%)")
    ax.set_xticks([int(round(100 * p)) for p in positions])
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    return save_figure(fig, path)
