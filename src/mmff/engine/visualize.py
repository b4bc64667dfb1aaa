"""The paper's figures for a run, as PNG (``mmff visualize``, and ``mmff predict --heatmap``).

* Fig. 7: accuracy vs. frame position p, from ``mmff table fig7``'s ``tablefig7.json``.
* Fig. 8: confusion matrix, from an ``mmff eval`` ``results.json``.
* Fig. 9: per-class accuracy beside a skeleton-only run's ``results.json``.
* Fig. 10-11: attention overlays: per frame, the model's crop with the projected skeleton and
  the skeleton-attention square (Eq. 13-15), then the self-attention maps M_1, M_2 (Eq. 11)
  and M_ske over the crop.
* Attention statistics (``mmff visualize --stats``): over a whole subset, how much the
  self-attention maps prefer the skeleton-attention square, and where each branch's per-channel
  global maximum (what the LSTM fusion's max-pool keeps) lies. The numbers behind a figure of
  four samples.

Confusion/per-class/position plots are drawn by :mod:`mmff.engine.figures`; this module adds
the attention panels and the glue from the result files.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from mmff.engine.figures import plot_confusion, plot_frame_position, plot_per_class, save_figure  # noqa: E402

__all__ = ["read_json", "confusion_figure", "per_class_figure", "frame_position_series",
           "frame_position_figure", "plot_attention", "attention_panels", "attention_figure",
           "denormalise", "attention_statistics", "attention_batch_statistics", "combine_attention_statistics"]

_BODY_COLOURS = ("#00e5ff", "#ffea00")   # skeleton of body 1, body 2 (visible on photos)


def read_json(path) -> dict:
    """A JSON file, with one-line errors naming it."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}:{e.lineno}: not valid JSON ({e.msg})") from None


def _results(path) -> dict:
    res = read_json(path)
    for key in ("confusion", "per_class", "classes"):
        if key not in res:
            raise ValueError(f"{path}: not an mmff eval results.json (no {key!r}; expected the "
                             "file written by mmff eval)")
    return res


def _label(res: dict, default: str) -> str:
    return {"mmff": "MMFF", "skeleton_only": "skeleton only", "rgb_only": "RGB only"}.get(
        res.get("model_kind"), default)


def confusion_figure(results, out) -> Path:
    """Fig. 8: the row-normalised confusion matrix of an ``mmff eval`` results.json."""
    res = _results(results)
    name = _label(res, "model")
    return plot_confusion(res["confusion"], res["classes"], out,
                          title=f"Confusion matrix, {name}: top-1 {100 * res.get('top1', 0):.1f}% "
                                f"({res.get('num_samples', '?')} samples)")


def per_class_figure(results, out, baseline=None) -> Path:
    """Fig. 9: per-class accuracy, beside a baseline run (skeleton only in the paper)."""
    res = _results(results)
    acc = [0.0 if v is None else v for v in res["per_class"]]
    base, labels = None, (_label(res, "model"), "baseline")
    title = f"Per-class accuracy, {labels[0]} (top-1 {100 * res.get('top1', 0):.1f}%)"
    if baseline is not None:
        b = _results(baseline)
        if list(b["classes"]) != list(res["classes"]):
            raise ValueError(f"{baseline}: its classes differ from {results}'s "
                             f"({len(b['classes'])} vs {len(res['classes'])})")
        base = [0.0 if v is None else v for v in b["per_class"]]
        labels = (labels[0], _label(b, "baseline"))
        if labels[1] == labels[0]:
            labels = (labels[0], f"{labels[1]} (baseline)")
        title += f" vs {labels[1]} ({100 * b.get('top1', 0):.1f}%)"
    return plot_per_class(acc, res["classes"], out, baseline=base, title=title, labels=labels)


def frame_position_series(table: dict, column: Optional[str] = None) -> tuple[list, dict, str]:
    """From ``mmff table fig7``'s JSON: ``(positions, {backbone: (means, stds)}, column header)``.
    ``column``: e.g. ``xsub``/``xview`` (default: the first column)."""
    if table.get("table") != "fig7" or not table.get("rows"):
        raise ValueError("expected the JSON of `mmff table fig7` (tablefig7.json), got table "
                         f"{table.get('table')!r}")
    cols = table["columns"]
    col = column or next(iter(cols))
    if col not in cols:
        raise ValueError(f"column {col!r} not in the table (have {list(cols)})")
    series: dict = {}
    all_p: set = set()
    for group in dict.fromkeys(r["group"] for r in table["rows"]):
        pts = sorted((r["set"]["data"]["positions"][0], r["mean_std"][col])
                     for r in table["rows"] if r["group"] == group and col in r.get("mean_std", {}))
        if pts:
            series[group or "MMFF"] = pts
            all_p |= {p for p, _ in pts}
    if not series:
        raise ValueError(f"column {col!r}: no finished runs in the table")
    positions = sorted(all_p)
    out = {}
    for g, pts in series.items():   # a backbone missing some p gets NaN there (gap in the line)
        by_p = dict(pts)
        out[g] = ([by_p[p][0] if p in by_p else float("nan") for p in positions],
                  [by_p[p][1] if p in by_p else float("nan") for p in positions])
    return positions, out, cols[col]


def frame_position_figure(table_json, out, column: Optional[str] = None) -> Path:
    """Fig. 7 from ``tablefig7.json`` (mean ± std over seeds per p, one line per backbone)."""
    positions, series, header = frame_position_series(read_json(table_json), column)
    return plot_frame_position(positions, series, out,
                               title=f"Accuracy vs. RGB frame position (Fig. 7, {header})")


# ---------------------------------------------------------------------- Fig. 10-11
def denormalise(image: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> np.ndarray:
    """Model image (..., 3, S, S) normalised -> (..., S, S, 3) uint8 RGB."""
    x = image.detach().float().cpu().numpy()
    m = np.asarray(mean, np.float32).reshape(3, 1, 1)
    s = np.asarray(std, np.float32).reshape(3, 1, 1)
    x = np.clip((x * s + m) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return np.moveaxis(x, -3, -1)


def attention_panels(item: dict, attention: dict) -> list[dict]:
    """Per frame k of one sample: ``{"j2d" (M, V, 2) in [0, 1], "centre" (x, y) of j_max or
    None, "maps": {name: (H, W)}}`` from an item and the attention maps of its forward
    (``model.forward_with_maps``, already indexed to this sample: (K, 1, H, W))."""
    from mmff.models.attention import select_attention_joint

    j2d = item["joints2d"].float()                    # (K, M, V, 2)
    centres = None
    if "displacement" in item and "M_ske" in attention:
        centres = select_attention_joint(j2d[None], item["displacement"][None].float())[0]
    out = []
    for k in range(j2d.shape[0]):
        maps = {n: attention[n][k, 0].float().numpy() for n in ("M_1", "M_2", "M_ske") if n in attention}
        out.append({"j2d": j2d[k].numpy(),
                    "centre": None if centres is None else centres[k].tolist(), "maps": maps})
    return out


def _draw_skeleton(ax, j2d: np.ndarray, size: int, bones) -> None:
    for m in range(j2d.shape[0]):
        p = j2d[m] * size
        ok = np.any(j2d[m] != 0, axis=-1)
        if not ok.any():
            continue
        c = _BODY_COLOURS[m % len(_BODY_COLOURS)]
        for a, b in bones:
            if not (ok[a] and ok[b]):
                continue
            ax.plot([p[a, 0], p[b, 0]], [p[a, 1], p[b, 1]], "-", color=c, lw=1.6, alpha=0.9)
        ax.scatter(p[ok, 0], p[ok, 1], s=9, color=c, edgecolors="black", linewidths=0.3, zorder=3)


def plot_attention(rows: list[dict], out, square: float = 1 / 3, bones=None,
                   title: Optional[str] = None) -> Path:
    """Fig. 10-11 panels, one row per (sample, frame): ``rows[i] = {"image": (S, S, 3) uint8,
    "panel": attention_panels(...)[k], "title": str}``. Columns: the crop with the projected
    skeleton and the skeleton-attention square (side ``square`` x crop side, red), then each
    attention map (M_1, M_2, M_ske) upsampled over the crop (colour = attention, 0..1).
    ``bones``: 0-based (joint, parent) pairs (:mod:`mmff.layouts`); default: the bones of the
    layout with the panels' joint count (NTU 25, SYSU 20)."""
    from mmff.layouts import layout_for_joints

    if bones is None:
        bones = layout_for_joints(rows[0]["panel"]["j2d"].shape[-2]).bones
    names = [n for n in ("M_1", "M_2", "M_ske") if any(n in r["panel"]["maps"] for r in rows)]
    ncol = 1 + len(names)
    lines = max(r.get("title", "").count("\n") + 1 for r in rows)   # title lines above each row
    fig, axes = plt.subplots(len(rows), ncol, squeeze=False, layout="constrained",
                             figsize=(2.7 * ncol + 0.8, (2.6 + 0.17 * lines) * len(rows) + 0.5))
    im = None
    for i, r in enumerate(rows):
        img, pan = r["image"], r["panel"]
        S = img.shape[0]
        ax = axes[i, 0]
        ax.imshow(img, extent=(0, S, S, 0))
        _draw_skeleton(ax, pan["j2d"], S, bones)
        if pan["centre"] is not None:
            cx, cy = pan["centre"]
            h = square * S / 2
            ax.add_patch(plt.Rectangle((cx * S - h, cy * S - h), 2 * h, 2 * h, fill=False,
                                       edgecolor="red", lw=2))
            ax.plot(cx * S, cy * S, "+", color="red", ms=10, mew=2)
        ax.set_xlim(0, S)
        ax.set_ylim(S, 0)
        ax.set_title(r.get("title", ""), fontsize=8)
        for j, n in enumerate(names, 1):
            ax = axes[i, j]
            ax.imshow(img, extent=(0, S, S, 0))
            if n in pan["maps"]:
                im = ax.imshow(pan["maps"][n], extent=(0, S, S, 0), cmap="jet", vmin=0, vmax=1,
                               alpha=0.5, interpolation="bilinear" if n != "M_ske" else "nearest")
            ax.set_title(n.replace("M_", "M$_{") + "}$" if n != "M_ske" else "M$_{ske}$ (Eq. 15)",
                         fontsize=9)
        for ax in axes[i]:
            ax.set_xticks([])
            ax.set_yticks([])
    axes[0, 0].set_title("crop + skeleton + square\n" + rows[0].get("title", ""), fontsize=8)
    if im is not None:
        fig.colorbar(im, ax=axes[:, 1:].ravel().tolist(), shrink=0.6 if len(rows) == 1 else 0.5,
                     label="attention (0..1)")
    if title:
        fig.suptitle(title, fontsize=10)
    return save_figure(fig, out)


def attention_figure(checkpoint, data, out, num: int = 4, subset: str = "test",
                     indices: Optional[Sequence[int]] = None, device: str = "cpu") -> dict:
    """Fig. 10-11 for ``num`` samples of a prepared folder (test-time items): one row per
    sample and frame, titled with the true and the predicted class. Returns a summary dict."""
    from mmff.data.datasets import PreparedDataset
    from mmff.engine.checkpoint import load_checkpoint
    from mmff.layouts import get_layout

    model, cfg, classes, _ = load_checkpoint(checkpoint)
    if cfg.model.kind == "skeleton_only" or not hasattr(model, "rgb_stream"):
        raise ValueError(f"{checkpoint}: a skeleton-only model has no attention maps "
                         "(Fig. 10-11 need an MMFF or RGB-only checkpoint)")
    ds = PreparedDataset(data, cfg, subset=subset, train=False)
    if len(ds) == 0:
        raise ValueError(f"{data}: subset {subset!r} has no samples")
    if indices is None:  # spread over the subset: different classes, deterministic
        indices = np.unique(np.linspace(0, len(ds) - 1, max(1, min(num, len(ds)))).round().astype(int))
    model = model.to(device).eval()
    rows, picked = [], []
    for i in indices:
        item = ds[int(i)]
        batch = {k: v[None].to(device) for k, v in item.items() if k not in ("label", "index")}
        with torch.inference_mode():
            logits, maps = model.forward_with_maps(batch)
            prob = torch.softmax(logits.float(), 1)[0].cpu()
        att = {k: v[0].cpu() for k, v in maps.items()}
        pred = int(prob.argmax())
        true = int(item["label"])
        images = denormalise(item["image"], cfg.data.mean, cfg.data.std)
        for k, pan in enumerate(attention_panels(item, att)):
            frame = f", p={cfg.data.positions[k]:.2f}" if len(cfg.data.positions) > 1 else ""
            rows.append({"image": images[k], "panel": pan,
                         "title": f"{ds.entries[int(i) % len(ds.entries)]['name']}{frame}\n"
                                  f"true: {_cls(classes, true)}\npred: {_cls(classes, pred)} "
                                  f"({100 * float(prob[pred]):.0f}%)"})
        picked.append({"index": int(i), "label": true, "pred": pred, "prob": float(prob[pred])})
    path = plot_attention(rows, out, cfg.model.rgb.attention_square,
                          bones=get_layout(cfg.model.skeleton.layout).bones,
                          title="Attention (Fig. 10-11): skeleton attention square, self-attention M_1, M_2")
    return {"figure": str(path), "samples": picked}


def _cls(classes: Sequence[str], i: int) -> str:
    name = classes[i] if i < len(classes) else str(i)
    return name if len(name) <= 28 else name[:27] + "…"


def attention_batch_statistics(rgb_out: dict, m_ske: torch.Tensor) -> dict:
    """Per-sample attention statistics of one batch of the RGB stream's output.

    ``rgb_out``: the stream's dict (``F_in`` (N, K, C, H, W), ``M_b`` (N, K, 1, H, W)); ``m_ske``:
    the skeleton-attention square at feature resolution (N, K, 1, H, W), the coverage of each
    cell (Eq. 15), used as the "inside" weight whether or not the model applies it. Returns
    lists over the N*K frames:

    * ``maps[M_b]``: ``inside`` / ``outside`` (the map's mean weighted by the square's coverage /
      by 1 - coverage) and ``spatial_std``: a map that ignores the square has inside = outside;
    * ``channel_max[F]`` for ``F_in`` and each ``F_b = M_b * F_in`` (Eq. 12): the square's mean
      coverage at each channel's spatial argmax, i.e. the share of the max-pooled vector taken
      from the square; ``square_area`` (the mean coverage) is what a map that ignores the square
      gives.
    """
    f = rgb_out["F_in"].detach().float().flatten(0, 1)            # (N*K, C, H, W)
    w = m_ske.detach().float().flatten(0, 1).flatten(1)           # (N*K, H*W)
    area = w.mean(1)
    names = sorted(k for k in rgb_out if k.startswith("M_") and k != "M_ske")
    maps, feats = {}, {"F_in": f}
    for name in names:
        m = rgb_out[name].detach().float().flatten(0, 1)           # (N*K, 1, H, W)
        flat = m.flatten(1)
        inside = (flat * w).sum(1) / w.sum(1).clamp_min(1e-12)
        outside = (flat * (1 - w)).sum(1) / (1 - w).sum(1).clamp_min(1e-12)
        maps[name] = {"inside": inside.tolist(), "outside": outside.tolist(),
                      "spatial_std": flat.std(1).tolist()}
        feats["F_" + name[2:]] = m * f
    channel_max = {}
    for name, x in feats.items():
        idx = x.flatten(2).argmax(2)                               # (N*K, C)
        channel_max[name] = torch.gather(w, 1, idx).mean(1).tolist()
    return {"square_area": area.tolist(), "maps": maps, "channel_max": channel_max}


def attention_statistics(checkpoint, data, subset: str = "test", limit: Optional[int] = None,
                         batch_size: int = 16, device: str = "cpu") -> dict:
    """:func:`attention_batch_statistics` over ``subset`` of a prepared folder (test-time items),
    averaged: ``{"samples", "feature_size", "square_area", "maps": {M_b: {inside, outside,
    spatial_std}}, "channel_max_in_square": {F_in, F_b: share}}``."""
    from torch.utils.data import DataLoader, Subset

    from mmff.data.datasets import PreparedDataset
    from mmff.engine.checkpoint import load_checkpoint
    from mmff.models.attention import skeleton_attention_mask

    model, cfg, _, _ = load_checkpoint(checkpoint)
    if not hasattr(model, "rgb_stream"):
        raise ValueError(f"{checkpoint}: a skeleton-only model has no RGB stream "
                         "(attention statistics need an MMFF or RGB-only checkpoint)")
    ds = PreparedDataset(data, cfg, subset=subset, train=False)
    if len(ds) == 0:
        raise ValueError(f"{data}: subset {subset!r} has no samples")
    if limit is not None:
        ds = Subset(ds, range(min(limit, len(ds))))
    rgb = model.rgb_stream.to(device).eval()
    acc: dict = {}
    size = None
    for batch in DataLoader(ds, batch_size=batch_size, shuffle=False, num_workers=0):
        batch = {k: v.to(device) for k, v in batch.items() if k not in ("label", "index")}
        with torch.inference_mode():
            out = rgb(batch)
        size = tuple(out["F_in"].shape[-2:])
        m_ske = skeleton_attention_mask(batch["joints2d"], batch["displacement"], size,
                                        cfg.model.rgb.attention_square)
        _extend(acc, attention_batch_statistics(out, m_ske))
    return {"checkpoint": str(checkpoint), "subset": subset, "samples": len(ds),
            "feature_size": list(size), "square_area": float(np.mean(acc["square_area"])),
            "maps": {k: {s: float(np.mean(v)) for s, v in d.items()} for k, d in acc["maps"].items()},
            "channel_max_in_square": {k: float(np.mean(v)) for k, v in acc["channel_max"].items()}}


def combine_attention_statistics(files: Sequence) -> dict:
    """Mean ± std (over runs, e.g. seeds) of several ``attention_stats.json``:
    ``{"runs": [paths], "samples", "square_area", "maps": {M_b: {stat: [mean, std]}},
    "channel_max_in_square": {F: [mean, std]}}``."""
    from mmff.engine.evaluation import mean_std

    stats = [read_json(f) for f in files]
    if not stats:
        raise ValueError("combine_attention_statistics: no attention_stats.json given")
    maps = {m: {k: list(mean_std([s["maps"][m][k] for s in stats])) for k in v}
            for m, v in stats[0]["maps"].items()}
    share = {f: list(mean_std([s["channel_max_in_square"][f] for s in stats]))
             for f in stats[0]["channel_max_in_square"]}
    return {"runs": [str(f) for f in files], "samples": [s["samples"] for s in stats],
            "square_area": float(np.mean([s["square_area"] for s in stats])),
            "maps": maps, "channel_max_in_square": share}


def _extend(acc: dict, new: dict) -> None:
    """Append the lists of ``new`` to those of ``acc`` (same nested keys)."""
    for k, v in new.items():
        if isinstance(v, dict):
            _extend(acc.setdefault(k, {}), v)
        else:
            acc.setdefault(k, []).extend(v)
