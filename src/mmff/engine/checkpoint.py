"""Model checkpoints: plain dicts that ``torch.load(..., weights_only=True)`` reads.

Format ``mmff/1`` (docs/design.md)::

    {"format": "mmff/1", "config": config_to_dict(cfg), "classes": [...],
     "state_dict": {name: tensor}, <extra keys: plain data>}

Nothing here ever unpickles arbitrary objects: every load goes through
``torch.load(weights_only=True)``, so a file holding e.g. a custom class instance is
refused with a one-line :class:`CheckpointError` instead of running its code.
"""
from __future__ import annotations

import pickle
import struct
from pathlib import Path
from typing import Any, Callable, Iterable, Optional

import torch
from torch import nn

from mmff.atomic import atomic_path
from mmff.config import Config, ConfigError, config_from_dict, config_to_dict

__all__ = [
    "FORMAT", "CheckpointError", "save_checkpoint", "read_checkpoint", "load_checkpoint",
    "load_stream_weights", "load_decision_heads", "atomic_torch_save", "safe_torch_load", "STREAMS",
]

FORMAT = "mmff/1"
#: the stream sub-modules whose state dicts are shared by SkeletonOnly, RGBOnly and MMFF
STREAMS = ("skeleton_stream", "rgb_stream")


class CheckpointError(ValueError):
    """A checkpoint file is missing, not an mmff checkpoint, or not safe to load."""


def atomic_torch_save(obj: Any, path: str | Path) -> Path:
    """``torch.save`` to a temp file in the same folder, then ``os.replace`` (atomic)."""
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)
    return Path(path)


def refused(path: str | Path, e: pickle.UnpicklingError) -> CheckpointError:
    """The one-line error for a file ``torch.load(weights_only=True)`` refused to unpickle."""
    # torch's message spans many lines; keep the one that names the refused global.
    first = str(e).strip().splitlines()
    why = next((ln for ln in first if "GLOBAL" in ln or "Unsupported" in ln), first[0] if first else "")
    return CheckpointError(f"{path}: refused to load (not plain tensors/containers; weights_only=True): "
                           f"{why.strip()}")


def safe_torch_load(path: str | Path, map_location: Any = "cpu") -> Any:
    """``torch.load(path, weights_only=True)`` with one-line errors naming the file."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        raise refused(path, e) from None
    except (RuntimeError, EOFError, OSError, ValueError, AttributeError, struct.error) as e:
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CheckpointError(f"{path}: not a readable torch checkpoint ({msg})") from None


def save_checkpoint(path: str | Path, model: nn.Module, cfg: Config, classes: Iterable[str],
                    **extra: Any) -> Path:
    """Write ``model`` + its config + class names atomically as a plain ``mmff/1`` dict.

    ``extra`` must be plain data (numbers, strings, lists, dicts, tensors), e.g.
    ``stage=3, metrics={...}``; it is returned by :func:`load_checkpoint`.
    """
    reserved = {"format", "config", "classes", "state_dict"} & set(extra)
    if reserved:
        raise ValueError(f"save_checkpoint: extra keys {sorted(reserved)} are reserved")
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    obj = {"format": FORMAT, "config": config_to_dict(cfg), "classes": [str(c) for c in classes],
           "state_dict": state, **extra}
    return atomic_torch_save(obj, path)


def read_checkpoint(path: str | Path, map_location: Any = "cpu") -> dict:
    """Load and validate the raw ``mmff/1`` dict (no model is built)."""
    obj = safe_torch_load(path, map_location)
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        got = obj.get("format") if isinstance(obj, dict) else type(obj).__name__
        raise CheckpointError(f"{path}: not an mmff checkpoint (expected format {FORMAT!r}, got {got!r})")
    for key, tp in (("config", dict), ("classes", list), ("state_dict", dict)):
        if not isinstance(obj.get(key), tp):
            raise CheckpointError(f"{path}: checkpoint key {key!r} missing or not a {tp.__name__}")
    return obj


def load_checkpoint(path: str | Path, map_location: Any = "cpu",
                    model_factory: Optional[Callable[[Config], nn.Module]] = None):
    """Rebuild the model saved by :func:`save_checkpoint`.

    Returns ``(model, cfg, classes, extra)``; the model is in eval mode. ``model_factory``
    defaults to :func:`mmff.models.create_model` without pretrained weights (the checkpoint
    holds every weight: nothing is read or downloaded for ``model.rgb.pretrained``).
    """
    obj = read_checkpoint(path, map_location)
    try:
        cfg = config_from_dict(obj["config"])
    except ConfigError as e:
        raise CheckpointError(f"{path}: stored config is invalid: {e}") from None
    if model_factory is None:
        from mmff.models import create_model  # lazy: heavy import

        def model_factory(c):
            return create_model(c, pretrained=False)
    model = model_factory(cfg)
    try:
        model.load_state_dict(obj["state_dict"])
    except RuntimeError as e:
        first = str(e).strip().splitlines()
        raise CheckpointError(f"{path}: weights do not fit the stored config: {' '.join(first[:2])}") from None
    model.eval()
    extra = {k: v for k, v in obj.items() if k not in ("format", "config", "classes", "state_dict")}
    return model, cfg, list(obj["classes"]), extra


def load_stream_weights(model: nn.Module, source: str | Path | dict, streams: Iterable[str] = STREAMS,
                        strict: bool = True) -> list[str]:
    """Load the ``<stream>.*`` weights of a checkpoint (path or ``mmff/1`` dict) into the streams
    of ``model`` (:meth:`mmff.models.mmff.StreamModel.load_streams`).

    Stage 2 starts an MMFF model from the stage-1 SkeletonOnly and RGBOnly checkpoints:
    the stream sub-modules have the same state-dict keys in all three models, and the
    stage-1 classifiers (``head.*``) are dropped (SPEC §3). Only streams present in both
    the source and ``model`` are copied; with ``strict`` every key of such a stream in
    ``model`` must be filled. Returns the names of the streams copied.
    """
    src = read_checkpoint(source) if not isinstance(source, dict) else source
    name = str(source) if not isinstance(source, dict) else "checkpoint"
    sd = src["state_dict"]
    own = model.streams() if hasattr(model, "streams") else {}
    parts = {}
    for stream in streams:
        prefix = stream + "."
        # the file stores the stage-1 model's flat state dict: its stream's part, keys unprefixed
        part = {k[len(prefix):]: v for k, v in sd.items() if k.startswith(prefix)}
        if not part or stream not in own:
            continue
        target = own[stream].state_dict()
        missing = sorted(set(target) - set(part))
        unexpected = sorted(set(part) - set(target))
        if strict and (missing or unexpected):
            raise CheckpointError(
                f"{name}: {stream} weights do not match the model (missing {[prefix + k for k in missing[:3]]}, "
                f"unexpected {[prefix + k for k in unexpected[:3]]}; was it trained with another stream config?)")
        for k in set(part) & set(target):
            if part[k].shape != target[k].shape:
                raise CheckpointError(f"{name}: {prefix}{k} has shape {tuple(part[k].shape)}, "
                                      f"model expects {tuple(target[k].shape)}")
        parts[stream] = {k: part[k] for k in set(part) & set(target)}
    # through the model's API (each stream module loads its own state dict; classifiers dropped)
    return model.load_streams(parts, strict=strict) if parts else []


def load_decision_heads(model: nn.Module, skeleton_source: str | Path | dict,
                        rgb_source: str | Path | dict) -> None:
    """Decision fusion (``model.fusion.type: decision``): the stage-1 classifiers are kept. Copies
    ``head.*`` of the SkeletonOnly checkpoint into ``fusion.skeleton_head.*`` and ``head.*`` of
    the RGBOnly one into ``fusion.rgb_head.*`` (shapes checked), so the fused score sums exactly
    the stage-1 networks' softmax scores."""
    target = model.state_dict()
    for source, dest, kind in ((skeleton_source, "fusion.skeleton_head.", "skeleton_only"),
                               (rgb_source, "fusion.rgb_head.", "rgb_only")):
        src = read_checkpoint(source) if not isinstance(source, dict) else source
        name = str(source) if not isinstance(source, dict) else "checkpoint"
        got = src["config"].get("model", {}).get("kind")
        if got != kind:
            raise CheckpointError(f"{name}: expected a stage-1 {kind} checkpoint, got model.kind {got!r}")
        head = {k[len("head."):]: v for k, v in src["state_dict"].items() if k.startswith("head.")}
        want = {k[len(dest):] for k in target if k.startswith(dest)}
        if not want:
            raise CheckpointError(f"model has no {dest}* weights: is model.fusion.type 'decision'?")
        if set(head) != want:
            raise CheckpointError(f"{name}: classifier keys {sorted(head)} do not match {dest}* {sorted(want)}")
        for k, v in head.items():
            if tuple(v.shape) != tuple(target[dest + k].shape):
                raise CheckpointError(f"{name}: head.{k} has shape {tuple(v.shape)}, "
                                      f"{dest}{k} expects {tuple(target[dest + k].shape)}")
        model.load_state_dict({dest + k: v for k, v in head.items()}, strict=False)
