"""Benchmark 1: end to end, raw files -> class, batch 1, CPU: MMFF vs skeleton + RGB-video fusion.

MMFF w/ ST-GCN (paper size: ST-GCN on 300 frames x 2 bodies, Xception at 299x299, cross-attention
fusion): exactly what ``mmff predict`` runs, its :class:`~mmff.engine.predict.SampleLoader` (the
test-time sample pipeline of :mod:`mmff.data.pipeline`, source ``"video"``: read the
``.skeleton``, pick and pad to 2 bodies, decode the frame at p, Eq. 13 displacement, VA-pre + pad
to 300, projection crop (test mode) + resize, joints2d, normalise), then the forward.

Baseline (the kind of model Table 2 compares with, e.g. MMTM): the same skeleton stream and the
same skeleton steps (the pipeline without its RGB steps), plus an I3D-ResNet-50 (:mod:`.i3d`) on
32 frames sampled uniformly over the whole video, each resized to 256 and centre-cropped to 224
(the usual video test pipeline, its own clip path), fused late (concatenated features -> FC).

Skeleton recipes (:data:`RECIPES`, ``--variants``): each MMFF variant is compared with the
baseline that uses the SAME skeleton recipe (network, temporal sampling, input length), so each
ratio measures what one frame + Xception replaces (the 3D CNN on the whole video), never a
skeleton difference. ``paper``: ST-GCN on 300 zero-padded frames, the paper's MMFF;
``stgcn_100``: ST-GCN on 100 frames uniformly sampled (PYSKL's recipe, ``data.sampling:
uniform``); ``stgcnpp_100``: ST-GCN++ on the same 100 frames. The first variant's figures are
also the section's top-level keys.

Both pipelines read and decode with the same library functions (``read_skeleton``,
``decode_frames_at`` with the same decoder threads, one normalisation), so the measured
difference is what the method changes: one frame instead of 32 frames spread over the video, and
a 2D instead of a 3D image network.

Timing: ``load`` (files -> model inputs) is timed per sample; ``forward`` once per pipeline,
because its input shapes are the same for every sample (the recipe's skeleton length, one
299x299 crop / 32x224x224 clip). MMFF and its baseline are timed alternately, call after call
(:func:`~.timing.measure_alternating`), so a change of the machine's load hits both sides of
a ratio. End-to-end = median load + median forward; in full runs a
direct end-to-end call on the first sample is timed too (``direct_s``) as a cross-check.
MACs are counted with :func:`mmff.engine.profiling.profile_model` (FlopCounterMode, MACs =
FLOPs / 2) on the real inputs.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from mmff.config import Config

from .i3d import I3DResNet50, LateFusionBaseline
from .timing import measure_alternating, ratio

__all__ = ["SkeletonRecipe", "RECIPES", "PAPER_RECIPE", "paper_config", "MMFFPipeline",
           "BaselinePipeline", "build_pipelines", "bench_variant", "bench_e2e", "CLIP_FRAMES",
           "CLIP_SIZE"]

#: the video baseline's clip: 32 frames at 224x224 (MMTM / I3D test setting)
CLIP_FRAMES = 32
CLIP_SIZE = 224


@dataclass(frozen=True)
class SkeletonRecipe:
    """How the skeleton stream reads a sequence: its network, temporal sampling and input
    length (``model.skeleton.backbone``, ``data.sampling``, ``data.clip_len``). MMFF and its
    baseline share one recipe in a comparison."""

    name: str
    network: str                        # display name: "ST-GCN", "ST-GCN++"
    backbone: str
    sampling: str                       # "pad" (the paper) or "uniform" (PYSKL)
    clip_len: int
    goal_time: float                    # end-to-end time ratio the variant should reach
    goal_macs: float

    @property
    def title(self) -> str:
        how = ("zero-padded" if self.sampling == "pad" else "uniformly sampled")
        return f"{self.network} on {self.clip_len} frames {how}"

    def overrides(self) -> dict:
        return {"model": {"skeleton": {"backbone": self.backbone}},
                "data": {"sampling": self.sampling, "clip_len": self.clip_len}}


#: the skeleton recipes of ``mmff bench`` (``--variants``); goals from docs/benchmarks.md and
#: issue 16 (the paper's variant keeps its goals, reported as is)
RECIPES = {r.name: r for r in (
    SkeletonRecipe("paper", "ST-GCN", "stgcn", "pad", 300, 5.0, 6.0),
    SkeletonRecipe("stgcn_100", "ST-GCN", "stgcn", "uniform", 100, 6.0, 9.0),
    SkeletonRecipe("stgcnpp_100", "ST-GCN++", "stgcnpp", "uniform", 100, 6.0, 9.0),
)}
PAPER_RECIPE = RECIPES["paper"]


def paper_config(positions: Sequence[float] = (0.5,), overrides: dict | None = None,
                 recipe: SkeletonRecipe = PAPER_RECIPE) -> Config:
    """MMFF at the paper's sizes (NTU-60: 2 bodies, 299x299, 60 classes) with the skeleton
    ``recipe`` (default: the paper's ST-GCN on 300 frames).

    ``overrides`` (nested dict, e.g. ``{"model": {"rgb": {"width": 0.25}}}``) shrinks the
    models for tests; the recipe's backbone, sampling and length are applied after them. The
    benchmark itself runs the paper's sizes.
    """
    from mmff.config import merge_dicts, config_from_dict, config_to_dict

    data = config_to_dict(Config())
    data = merge_dicts(data, {"model": {"kind": "mmff", "skeleton": {"backbone": "stgcn"},
                                   "fusion": {"type": "cross_attention"},
                                   "rgb": {"pretrained": None}},
                         "data": {"positions": [float(p) for p in positions]}})
    data = merge_dicts(merge_dicts(data, overrides or {}), recipe.overrides())
    return config_from_dict(data)


@dataclass
class MMFFPipeline:
    """Raw ``.skeleton`` + ``_rgb.avi`` -> MMFF logits: ``mmff predict``'s
    :class:`~mmff.engine.predict.SampleLoader` (``load``), then the model (``forward``)."""

    cfg: Config
    model: torch.nn.Module
    decode_threads: int = 1
    loader: object = field(init=False, repr=False)

    @classmethod
    def build(cls, positions: Sequence[float] = (0.5,), decode_threads: int = 1,
              overrides: dict | None = None, recipe: SkeletonRecipe = PAPER_RECIPE
              ) -> "MMFFPipeline":
        from mmff.models import create_model

        cfg = paper_config(positions, overrides, recipe)
        return cls(cfg, create_model(cfg).eval(), decode_threads)

    def __post_init__(self) -> None:
        from mmff.engine.predict import SampleLoader

        self.loader = SampleLoader(self.cfg, self.decode_threads)

    def load(self, skeleton: str | Path, video: str | Path) -> dict:
        """``mmff predict``'s loader on the pair, batched (batch 1)."""
        return {k: v[None] for k, v in self.loader.load(skeleton, video).item.items()}

    def forward(self, batch: dict) -> torch.Tensor:
        with torch.inference_mode():
            return self.model(batch)

    def __call__(self, skeleton, video) -> torch.Tensor:
        return self.forward(self.load(skeleton, video))


@dataclass
class BaselinePipeline:
    """Raw files -> ST-GCN + I3D-ResNet-50 late-fusion logits (32 frames at 224x224)."""

    cfg: Config
    model: LateFusionBaseline
    decode_threads: int = 1
    clip_frames: int = CLIP_FRAMES
    clip_size: int = CLIP_SIZE
    skeleton_pipeline: object = field(init=False, repr=False)

    def __post_init__(self) -> None:
        from mmff.data.pipeline import build_pipeline

        # MMFF's skeleton steps (the same pipeline without the RGB steps)
        self.skeleton_pipeline = build_pipeline(self.cfg, "video", train=False, rgb=False)

    @classmethod
    def build(cls, variant: str = "full", decode_threads: int = 1, overrides: dict | None = None,
              clip_frames: int = CLIP_FRAMES, clip_size: int = CLIP_SIZE,
              recipe: SkeletonRecipe = PAPER_RECIPE) -> "BaselinePipeline":
        from mmff.models import build_skeleton_stream
        from mmff.models.fusion import skeleton_vector

        cfg = paper_config((0.5,), overrides, recipe)
        stream = build_skeleton_stream(cfg)  # the same skeleton network as MMFF's stream
        model = LateFusionBaseline(stream, stream.out_channels,
                                   I3DResNet50(cfg.model.num_classes, variant),
                                   cfg.model.num_classes, to_vector=skeleton_vector).eval()
        return cls(cfg, model, decode_threads, clip_frames, clip_size)

    def clip_positions(self) -> list[float]:
        """Centres of ``clip_frames`` equal segments of the video (uniform test sampling)."""
        n = self.clip_frames
        return [(i + 0.5) / n for i in range(n)]

    def load(self, skeleton: str | Path, video: str | Path) -> dict:
        from mmff.data.pipeline import normalise_images
        from mmff.data.transforms import crop_and_resize, resized_crop_box
        from mmff.data.video import decode_frames_at

        x = self.skeleton_pipeline({"skeleton_path": skeleton})["inputs"]["skeleton"]
        vf = decode_frames_at(video, self.clip_positions(), threads=self.decode_threads)
        # resize the short side to 256, centre 224 crop (8/7 ratio): one crop+resize per frame
        size = self.clip_size
        box = resized_crop_box(vf.width, vf.height, train=False, crop=size,
                               base=round(size * 256 / 224))
        frames = np.stack([crop_and_resize(f, box, size) for f in vf.frames])
        clip = torch.from_numpy(normalise_images(frames, self.cfg.data.mean,
                                                 self.cfg.data.std))          # (T, 3, S, S)
        return {"skeleton": x[None], "clip": clip.permute(1, 0, 2, 3)[None]}

    def forward(self, batch: dict) -> torch.Tensor:
        with torch.inference_mode():
            return self.model(batch)

    def __call__(self, skeleton, video) -> torch.Tensor:
        return self.forward(self.load(skeleton, video))


def _profile(model: torch.nn.Module, batch: dict) -> dict:
    """Parameters and MACs (:func:`~mmff.engine.profiling.profile_model`, under ``no_grad``: its
    module tracker cannot hook parameters passed between modules in ``inference_mode``, as
    ST-GCN++'s learned adjacency is)."""
    from mmff.engine.profiling import profile_model

    return profile_model(model, batch)


def _shapes(batch: dict) -> dict:
    return {k: tuple(v.shape) for k, v in batch.items()}


def build_pipelines(s, positions: Sequence[float] = (0.5,),
                    recipe: SkeletonRecipe = PAPER_RECIPE) -> tuple:
    """(MMFF pipeline, baseline pipeline) with the skeleton ``recipe`` for the settings ``s``
    (:class:`BenchSettings`)."""
    torch.manual_seed(0)
    mmff = MMFFPipeline.build(positions, s.decode_threads, s.model_overrides, recipe)
    base = BaselinePipeline.build(s.i3d_variant, s.decode_threads, s.model_overrides,
                                  s.clip_frames, s.clip_size, recipe)
    return mmff, base


def bench_variant(samples: dict, s, recipe: SkeletonRecipe = PAPER_RECIPE, direct: bool = False,
                  progress: Callable[[str], None] = lambda m: None) -> dict:
    """Time MMFF and its baseline, both with the skeleton ``recipe``, on ``samples`` =
    ``{key: (skeleton_path, video_path)}`` with the settings ``s``
    (:class:`~mmff.engine.benchmarks.BenchSettings`: repeats, warm-up, I3D variant, decoder
    threads).

    Returns the first sample's figures at the top level (``mmff_s``, ``baseline_s``,
    ``time_ratio``, ``macs_ratio``, ...), every sample under ``samples``, the recipe, its goals
    and the skeleton input shapes both models were given (``skeleton_shape``).
    """
    repeats, warmup, variant, decode_threads = s.repeats, s.warmup, s.i3d_variant, s.decode_threads
    mmff, base = build_pipelines(s, recipe=recipe)
    tag = f"e2e {recipe.name}"
    out: dict = {"recipe": recipe.name, "title": recipe.title, "network": recipe.network,
                 "backbone": recipe.backbone,
                 "sampling": recipe.sampling, "clip_len": recipe.clip_len, "samples": {},
                 "variant": variant, "decode_threads": decode_threads,
                 "goal_time": recipe.goal_time, "goal_macs": recipe.goal_macs}
    loads: dict = {}
    for key, (skel, video) in samples.items():
        progress(f"{tag} load {key}")
        try:
            bm, bb = mmff.load(skel, video), base.load(skel, video)
        except (ValueError, OSError) as e:
            out["samples"][key] = {"error": f"{type(e).__name__}: {e}"}
            continue
        t = measure_alternating({"mmff": lambda: mmff.load(skel, video),
                                 "baseline": lambda: base.load(skel, video)}, repeats, warmup)
        loads[key] = (bm, bb, t["mmff"], t["baseline"])
    if not loads:
        return out
    first = next(iter(loads))
    bm, bb = loads[first][0], loads[first][1]
    for key, (m_b, b_b, _, _) in loads.items():  # the shared-forward argument needs equal shapes
        if _shapes(m_b) != _shapes(bm) or _shapes(b_b) != _shapes(bb):
            raise RuntimeError(f"e2e: input shapes of {key} differ from {first}")
    out["skeleton_shape"] = {"mmff": list(bm["skeleton"].shape),
                             "baseline": list(bb["skeleton"].shape)}
    progress(f"{tag} MACs")
    pm, pb = _profile(mmff.model, bm), _profile(base.model, bb)
    progress(f"{tag} forward MMFF and baseline, alternating")
    t = measure_alternating({"mmff": lambda: mmff.forward(bm),
                             "baseline": lambda: base.forward(bb)}, repeats, warmup)
    fm, fb = t["mmff"], t["baseline"]
    out["forward_s"] = {"mmff": fm.to_dict(), "baseline": fb.to_dict()}
    for key, (_, _, lm, lb) in loads.items():
        skel, video = samples[key]
        ms, bs = lm.median + fm.median, lb.median + fb.median
        out["samples"][key] = {
            "skeleton": Path(skel).name, "video": f"{Path(video).parent.name}/{Path(video).name}",
            "mmff_s": ms, "baseline_s": bs, "time_ratio": ratio(bs, ms),
            "mmff_load_s": lm.median, "baseline_load_s": lb.median,
            "mmff_forward_s": fm.median, "baseline_forward_s": fb.median,
            "mmff_macs": pm["macs"], "baseline_macs": pb["macs"],
            "mmff_gmacs": pm["macs"] / 1e9, "baseline_gmacs": pb["macs"] / 1e9,
            "macs_ratio": ratio(pb["macs"], pm["macs"]),
            "mmff_params_m": pm["params"] / 1e6, "baseline_params_m": pb["params"] / 1e6,
        }
    if direct:
        skel, video = samples[first]
        progress(f"{tag} direct cross-check")
        t = measure_alternating({"mmff": lambda: mmff(skel, video),
                                 "baseline": lambda: base(skel, video)}, max(1, repeats // 2), 0)
        out["samples"][first].update(mmff_direct_s=t["mmff"].median,
                                     baseline_direct_s=t["baseline"].median)
    out["stage_breakdown"] = {
        "MMFF": {"load": loads[first][2].median, "forward": fm.median},
        f"{recipe.network} + I3D-R50 ({variant})": {"load": loads[first][3].median,
                                                    "forward": fb.median},
    }
    out["parts_macs"] = {"mmff": pm["parts"], "baseline": pb["parts"]}
    top = out["samples"][first]
    for k in ("mmff_s", "baseline_s", "time_ratio", "macs_ratio", "mmff_gmacs", "baseline_gmacs"):
        out[k] = top[k]
    bodies = bm["skeleton"].shape[-1]
    out["description"] = (
        f"MMFF w/ {recipe.title} x {bodies} bodies + Xception {mmff.cfg.data.image_size} on the "
        f"frame at p = 0.5 vs {recipe.network} (the same input) + I3D-ResNet-50 ('{variant}' "
        f"inflation) on {base.clip_frames} frames at {base.clip_size}x{base.clip_size}, fused "
        f"late. Time = load (read .skeleton, decode, crop) + forward, batch 1, torch threads "
        f"{torch.get_num_threads()}, decoder threads {decode_threads}.")
    return out


def bench_e2e(samples: dict, s, direct: bool = False,
              progress: Callable[[str], None] = lambda m: None) -> dict:
    """:func:`bench_variant` for every recipe of ``s.e2e_variants`` (names of :data:`RECIPES`),
    one after the other: ``{...the first variant's figures..., "variants": {name: figures}}``.
    ``direct``: the end-to-end cross-check, on the first variant only."""
    names = list(s.e2e_variants)
    unknown = [n for n in names if n not in RECIPES]
    if unknown or not names:
        raise ValueError(f"e2e variants {unknown or names}: choose from {list(RECIPES)}")
    variants = {}
    for i, name in enumerate(names):
        progress(f"e2e variant {name}: {RECIPES[name].title}")
        variants[name] = bench_variant(samples, s, RECIPES[name], direct and i == 0, progress)
    return dict(variants[names[0]], variants=variants)
