"""Typed, validated YAML configs (PYSKL-style: one file per experiment row).

A config has three sections, ``model``, ``data`` and ``train``. Every key is a field of
the dataclasses below; an unknown key or a value of the wrong kind raises
:class:`ConfigError` naming the dotted key (e.g. ``model.fusion.type``), so a typo never
silently falls back to a default.

A config may start with ``base: other.yaml`` (path relative to the file): the base is
loaded first and the file's keys override it, section by section.

This module is a leaf: it imports nothing else from ``mmff`` so every layer (data,
models, engine, cli) can use it.
"""
from __future__ import annotations

import copy
import importlib.resources
import re
import dataclasses
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Optional

import yaml

__all__ = [
    "ConfigError", "Config", "ModelConfig", "SkeletonStreamConfig", "RGBStreamConfig",
    "FusionConfig", "DataConfig", "TrainConfig", "load_config", "config_from_dict",
    "config_to_dict", "find_config", "CONFIG_DIR", "merge_dicts", "parse_override",
    "GRAPH_BACKBONES",
]

#: The configs shipped as package data (``mmff/configs``), found through importlib.resources so
#: a non-editable install works from any folder.
CONFIG_DIR = Path(str(importlib.resources.files("mmff") / "configs"))


class ConfigError(ValueError):
    """A config key or value is wrong; the message names the dotted key."""


# --------------------------------------------------------------------------- model
#: ``model.skeleton.backbone`` values that are graph convolution networks: they take the
#: (C, T, V, M) clip of ``data.clip_len`` frames (the others, RNNs, take ``data.rnn_steps`` steps)
GRAPH_BACKBONES = ("stgcn", "stgcnpp", "ctrgcn")


@dataclass
class SkeletonStreamConfig:
    """Skeleton stream (SPEC §2.1)."""

    # graph backbones (GRAPH_BACKBONES): input (C, T, V, M), F_gcn map out; RNNs: (T, M*V*C) in
    backbone: Literal["stgcn", "stgcnpp", "ctrgcn", "bilstm", "bigru", "lstm"] = "stgcn"
    layout: Literal["ntu", "ntu_kinect", "sysu"] = "ntu"   # graph layout (graph.py)
    in_channels: int = 3
    num_person: int = 2                 # M: bodies folded into the batch (ST-GCN)
    edge_importance: bool = True        # learnable edge-importance masks (ST-GCN only)
    data_bn: bool = True                # batch-norm on the input
    width: float = 1.0                  # channel multiplier (1.0 = the published network)
    rnn_layers: int = 3                 # Table 7: 1-3 layers
    rnn_hidden: int = 300               # per direction; C_s = 600 for Bi-RNNs
    dropout: float = 0.0


@dataclass
class RGBStreamConfig:
    """RGB stream (SPEC §2.2): backbone, self-attention, skeleton attention."""

    backbone: str = "xception"          # "xception" or "timm:<name>" (extra mmff[timm])
    width: float = 1.0                  # Xception channel multiplier (light demo variant < 1)
    middle_blocks: int = 8              # Xception middle-flow blocks (8 = ImageNet network)
    # "imagenet" (timm legacy_xception ImageNet weights through timm / the Hugging Face hub), a
    # local checkpoint file (timm legacy_xception keys), or null (from scratch)
    pretrained: Optional[str] = None
    self_attention: bool = True         # two self-attention branches (M_1, M_2)
    skeleton_attention: bool = True     # Eq. 13-15, early fusion
    attention_square: float = 1.0 / 3.0  # side of the skeleton-attention square / crop side
    lstm_feature_dim: int = 256         # per-branch projection for the LSTM fusion (3x256=768)
    share_backbone: bool = False        # K frames: False = one Xception per frame (paper Table 4)
    # F_RGB from the kept branch maps (§3.5 "the two attention features are average summed"):
    # self_then_skeleton = (mean(F_1, F_2) + F_ske) / 2; mean = (F_1 + F_2 + F_ske) / 3
    merge: Literal["self_then_skeleton", "mean"] = "self_then_skeleton"


@dataclass
class FusionConfig:
    """Late fusion (SPEC §2.3)."""

    # decision = the paper's naive weighted sum of the stage-1 classifiers' softmax scores (nothing
    # trained); decision_learned = new heads trained through the log of the same mixture
    type: Literal["cross_attention", "lstm_late", "decision", "decision_learned", "sum"] = "cross_attention"
    reduced_channels: int = 256         # theta/phi channels of the cross-attention (Eq. 17)
    hidden: int = 512                   # FC hidden size of the fusion heads
    # weight w of the skeleton scores in decision fusion: a number in [0, 1], or "val" (decision
    # only: grid search over w = i / decision_weight_steps on the validation split after stage 1)
    decision_weight: Any = 0.5
    decision_weight_steps: int = 20     # grid of the "val" search: w in {0, 1/steps, ..., 1}
    lstm_rgb_pool: Literal["max", "avg"] = "max"  # per-branch pooling of the LSTM fusion (§3.5 max)
    sum_dim: int = 512                  # common size of the sum fusion
    conv_channels: int = 1024           # 1x1 conv after Eq. 17 (cross-attention)
    dropout: float = 0.0


@dataclass
class ModelConfig:
    kind: Literal["mmff", "skeleton_only", "rgb_only"] = "mmff"
    num_classes: int = 60
    skeleton: SkeletonStreamConfig = field(default_factory=SkeletonStreamConfig)
    rgb: RGBStreamConfig = field(default_factory=RGBStreamConfig)
    fusion: FusionConfig = field(default_factory=FusionConfig)


# --------------------------------------------------------------------------- data
@dataclass
class DataConfig:
    """Data, pre-processing and enhancement (SPEC §1.3-1.4)."""

    dataset: Literal["ntu60", "ntu120", "sysu", "synth"] = "ntu60"
    root: Optional[str] = None          # prepared folder (mmff prepare ... --out)
    split: Literal["xsub", "xview", "xset", "setting1", "setting2"] = "xsub"
    fold: int = 0                       # SYSU fold index
    positions: list = field(default_factory=lambda: [0.5])  # frame fractions p (1/3/5 frames)
    clip_len: int = 300                 # ST-GCN input frames (pad to 300; PYSKL recipe: 100)
    # ST-GCN input in time: "pad" = the paper (zero-pad / uniformly shrink to clip_len), "uniform"
    # = PYSKL's UniformSampleFrames (clip_len frames, random within segments in training)
    sampling: Literal["pad", "uniform"] = "pad"
    # skeleton input: joint, bone (joint - parent), joint motion, bone motion (PYSKL's streams)
    modality: Literal["j", "b", "jm", "bm"] = "j"
    rnn_steps: int = 32                 # uniform sampling for the RNN (32 NTU, 58 SYSU)
    pad_mode: Literal["zero", "repeat"] = "zero"
    num_person: int = 2
    va_rotation: bool = False           # VA-pre rotation alignment (translation always on)
    image_size: int = 299
    skeleton_augment: bool = True       # rotation a,b in [0,30] deg, scale in [1,1.2]
    rotation_deg: float = 30.0
    scale_max: float = 1.2
    offline_expand: int = 1             # 5 = the paper's five-fold offline expansion
    projection_crop: bool = True        # False = "commonly used" random crop (Table 5 w/o)
    crop_margin: list = field(default_factory=lambda: [100, 300])  # w', h' range (train)
    test_margin: int = 200              # centred (w+200) x (h+200) at test
    # margins in source-frame pixels as written (none: the paper's 100-300 / 200 px on any frame)
    # or scaled by frame height / 1080 (frame_height: NTU-sized margins on smaller frames)
    crop_margin_scale: Literal["none", "frame_height"] = "none"
    random_crop: int = 224              # w/o projection crop: random crop size
    crop_resize: int = 256              # w/o projection crop: frame resized to this, then cropped
    mean: list = field(default_factory=lambda: [0.5, 0.5, 0.5])
    std: list = field(default_factory=lambda: [0.5, 0.5, 0.5])
    batch_size: int = 16
    num_workers: int = 2
    # pinned host memory for faster host->GPU copies: null = only when the run uses CUDA
    pin_memory: Optional[bool] = None
    persistent_workers: bool = True     # keep loader workers alive across epochs (num_workers > 0)
    # Validation split, carved from the benchmark's TRAINING samples only (never the test split;
    # docs/design.md "Validation split"). "subjects": the training samples of held-out training
    # subjects (val_subjects, or else val_fraction of the training subjects, evenly spaced in
    # sorted order); "fraction": val_fraction of each class's training samples (chosen by a hash
    # of the sample name); "none": no validation, the whole training split trains.
    val: Literal["subjects", "fraction", "none"] = "subjects"
    val_subjects: Optional[list] = None  # explicit subject ids (NTU performer / SYSU subject)
    val_fraction: float = 0.1


# --------------------------------------------------------------------------- train
@dataclass
class TrainConfig:
    """Three-stage training (SPEC §3)."""

    epochs: dict = field(default_factory=lambda: {1: 30, 2: 30, 3: 30})
    lr: float = 1e-4
    lr_step: int = 10                   # x gamma every lr_step epochs
    lr_gamma: float = 0.1
    # "step": x lr_gamma every lr_step epochs (paper); "cosine": per optimiser step from lr to 0
    # over the stage (PYSKL's CosineAnnealing, by_epoch=False, min_lr=0)
    lr_schedule: Literal["step", "cosine"] = "step"
    weight_decay: float = 0.0
    optimizer: Literal["adam", "sgd"] = "adam"  # sgd: momentum 0.9, Nesterov (PYSKL's recipe)
    stage_lr: dict = field(default_factory=dict)  # optional per-stage lr override {stage: lr}
    gradient_clip: Optional[float] = None
    precision: str = "32-true"
    accelerator: str = "auto"
    early_stop_patience: Optional[int] = None
    seed: int = 0
    deterministic: bool = True
    limit_train_batches: Optional[float] = None
    log_every_n_steps: int = 10
    checkpoint_every_n_steps: int = 50  # last.ckpt every N optimiser steps (mid-epoch resume)
    strategy: str = "auto"              # Lightning strategy; "auto" -> "ddp" when devices*nodes > 1
    num_nodes: int = 1                  # nodes for multi-node DDP (CLI --num-nodes)
    prefetch_factor: int = 2            # batches each loader worker prepares ahead
    sync_batchnorm: bool = False        # SyncBatchNorm across DDP processes (multi-GPU batch statistics)
    val_every_n_epochs: int = 1         # validation (data.val split) every N epochs (0 = never)
    num_threads: int = 2                # torch intra-op threads (fixed: results depend on it; 0 = torch's default)


@dataclass
class Config:
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    name: str = "mmff"
    description: str = ""

    @property
    def num_frames(self) -> int:
        """Number of RGB frames (1/3/5, Table 4) = number of positions p."""
        return len(self.data.positions)


# --------------------------------------------------------------------------- loading
def _check_value(tp: Any, value: Any, key: str) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is Literal:
        if value not in args:
            raise ConfigError(f"{key}: {value!r} is not one of {list(args)}")
        return value
    if origin is typing.Union:  # Optional[X]
        if value is None:
            return None
        inner = [a for a in args if a is not type(None)]
        return _check_value(inner[0], value, key)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping, got {type(value).__name__}")
        return _build(tp, value, key)
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected true/false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key}: expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{key}: expected a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key}: expected a string, got {value!r}")
        return value
    if tp is list:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key}: expected a list, got {value!r}")
        return list(value)
    if tp is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping, got {value!r}")
        return dict(value)
    return value


def _build(cls: type, data: dict, prefix: str = "") -> Any:
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    kwargs = {}
    for k, v in data.items():
        key = f"{prefix}.{k}" if prefix else str(k)
        if k not in names:
            raise ConfigError(f"{key}: unknown key (allowed: {', '.join(sorted(names))})")
        kwargs[k] = _check_value(hints[k], v, key)
    obj = cls(**kwargs)
    _validate(obj, prefix)
    return obj


def _validate(obj: Any, prefix: str) -> None:
    """Range checks that a type alone cannot express."""
    def bad(key: str, msg: str) -> None:
        raise ConfigError(f"{prefix + '.' if prefix else ''}{key}: {msg}")

    if isinstance(obj, SkeletonStreamConfig):
        if not 1 <= obj.rnn_layers <= 3:
            bad("rnn_layers", f"expected 1..3 (Table 7), got {obj.rnn_layers}")
        if obj.rnn_hidden <= 0 or obj.width <= 0:
            bad("rnn_hidden" if obj.rnn_hidden <= 0 else "width", "must be positive")
    elif isinstance(obj, RGBStreamConfig):
        if not 0 < obj.attention_square <= 1:
            bad("attention_square", f"expected a fraction in (0, 1], got {obj.attention_square}")
        if obj.middle_blocks < 0 or obj.width <= 0:
            bad("middle_blocks" if obj.middle_blocks < 0 else "width", "out of range")
    elif isinstance(obj, FusionConfig):
        w = obj.decision_weight
        if w == "val":
            if obj.type != "decision":
                bad("decision_weight", f"'val' (chosen on the validation split) is for type decision, "
                    f"not {obj.type!r}; give a number in [0, 1]")
        elif isinstance(w, bool) or not isinstance(w, (int, float)) or not 0 <= w <= 1:
            bad("decision_weight", f"expected a number in [0, 1] or 'val', got {w!r}")
        else:
            obj.decision_weight = float(w)
        if obj.decision_weight_steps < 1:
            bad("decision_weight_steps", f"expected a positive integer, got {obj.decision_weight_steps}")
    elif isinstance(obj, DataConfig):
        if not obj.positions or any(not (0 <= float(p) <= 1) for p in obj.positions):
            bad("positions", f"expected fractions in [0, 1], got {obj.positions}")
        obj.positions = [float(p) for p in obj.positions]
        if len(obj.crop_margin) != 2 or obj.crop_margin[0] > obj.crop_margin[1]:
            bad("crop_margin", f"expected [low, high], got {obj.crop_margin}")
        if obj.clip_len <= 0 or obj.rnn_steps <= 0 or obj.image_size <= 0:
            bad("clip_len", "sizes must be positive")
        if obj.num_workers < 0:
            bad("num_workers", f"expected >= 0 loader worker processes, got {obj.num_workers}")
        if not 0 < obj.val_fraction < 1:
            bad("val_fraction", f"expected a fraction in (0, 1), got {obj.val_fraction}")
        if obj.val_subjects is not None:
            if not obj.val_subjects or any(isinstance(s, bool) or not isinstance(s, int)
                                           for s in obj.val_subjects):
                bad("val_subjects", f"expected a non-empty list of subject ids (integers), "
                                    f"got {obj.val_subjects}")
    elif isinstance(obj, TrainConfig):
        try:
            obj.epochs = {int(k): int(v) for k, v in obj.epochs.items()}
            obj.stage_lr = {int(k): float(v) for k, v in obj.stage_lr.items()}
        except (TypeError, ValueError):
            bad("epochs", "expected {stage: epochs} with integer stages 1-3")
        if not set(obj.epochs) <= {1, 2, 3}:
            bad("epochs", f"stages are 1, 2, 3; got {sorted(obj.epochs)}")
        if obj.num_threads < 0:
            bad("num_threads", f"expected >= 0 (0 = torch's default), got {obj.num_threads}")
    elif isinstance(obj, Config):
        if obj.model.fusion.decision_weight == "val" and obj.data.val == "none":
            bad("model.fusion.decision_weight", "'val' chooses w on the validation split, but data.val "
                                                "is none; set data.val or give w as a number in [0, 1]")
        if obj.train.early_stop_patience and (obj.data.val == "none" or obj.train.val_every_n_epochs <= 0):
            bad("train.early_stop_patience", "needs a validation split and train.val_every_n_epochs > 0 "
                                             "(data.val is none or validation is off; early stopping "
                                             "never looks at the test split)")
        if obj.data.sampling == "uniform" and obj.model.skeleton.backbone in ("bilstm", "bigru", "lstm"):
            bad("data.sampling", f"'uniform' (PYSKL's 100-frame clips) is for the graph backbones; the "
                f"{obj.model.skeleton.backbone} stream always samples data.rnn_steps frames uniformly: "
                "leave data.sampling at 'pad'")
        if obj.data.num_person != obj.model.skeleton.num_person:
            bad("data.num_person", f"{obj.data.num_person} bodies per sample, but "
                f"model.skeleton.num_person is {obj.model.skeleton.num_person} (the model's input "
                "takes M bodies: set both to the same M)")


def config_from_dict(data: dict) -> Config:
    """Build and validate a :class:`Config` from a plain mapping."""
    if not isinstance(data, dict):
        raise ConfigError(f"config: expected a mapping at the top level, got {type(data).__name__}")
    return _build(Config, data)


def config_to_dict(cfg: Config) -> dict:
    """Plain-data form (YAML/JSON/checkpoint friendly)."""
    return dataclasses.asdict(cfg)


def merge_dicts(base: dict, over: dict) -> dict:
    """Recursive override of ``base`` by ``over`` (``train.epochs`` is replaced whole)."""
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict) and k != "epochs":
            out[k] = merge_dicts(out[k], v)
        else:
            out[k] = v
    return out


def find_config(name: str | Path) -> Path:
    """Resolve ``name`` as a path, or as a file name in ``configs/`` (``.yaml`` optional)."""
    p = Path(name)
    if p.is_file():
        return p
    for cand in (CONFIG_DIR / p, CONFIG_DIR / f"{p}.yaml", CONFIG_DIR / p.name):
        if cand.is_file():
            return cand
    raise ConfigError(f"{name}: no such config file (looked here and in {CONFIG_DIR})")


def _read_yaml(path: Path, seen: tuple = ()) -> dict:
    if path.resolve() in seen:
        raise ConfigError(f"{path}: circular 'base:'")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML ({e})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    base = data.pop("base", None)
    if base is not None:
        base_path = (path.parent / base) if not Path(base).is_absolute() else Path(base)
        data = merge_dicts(_read_yaml(base_path, seen + (path.resolve(),)), data)
    return data


def load_config(name: str | Path, overrides: Optional[dict] = None) -> Config:
    """Load a YAML config (with ``base:`` inheritance) and validate it.

    ``overrides`` is a nested mapping applied last (e.g. from the CLI).
    """
    path = find_config(name)
    data = _read_yaml(path)
    if overrides:
        data = merge_dicts(data, overrides)
    try:
        return config_from_dict(data)
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from None


def parse_override(expr: str) -> dict:
    """``"model.fusion.type=sum"`` -> ``{"model": {"fusion": {"type": "sum"}}}`` (YAML value)."""
    if "=" not in expr:
        raise ConfigError(f"{expr}: expected KEY=VALUE")
    key, val = expr.split("=", 1)
    out: dict = {}
    cur = out
    parts = key.strip().split(".")
    for p in parts[:-1]:
        cur = cur.setdefault(p, {})
    val = val.strip()
    if val.startswith("{"):
        # Shell-friendly flow mappings: "{1:2,2:1}" means {1: 2, 2: 1} (YAML needs the space).
        val = re.sub(r":(?=[^\s/])", ": ", val)
    try:
        cur[parts[-1]] = yaml.safe_load(val)
    except yaml.YAMLError as e:
        raise ConfigError(f"{key}: value {val!r} is not valid YAML ({e})") from None
    return out
