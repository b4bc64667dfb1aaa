"""Xception RGB backbone (SPEC §2.2; Chollet 2017), written so its state-dict keys and shapes are
identical to timm's ``legacy_xception`` (276 tensors, 22,855,952 parameters with the 1000-class
head, 20,806,952 without). timm's ImageNet checkpoint (``legacy_xception.tf_in1k``) therefore
loads as it is: ``model.rgb.pretrained: imagenet`` fetches it through timm or the Hugging Face hub
(:func:`imagenet_state_dict`; both optional, imported only then), ``model.rgb.pretrained: PATH``
reads it (or any timm-layout checkpoint) from a local file.

At 299x299 the feature map F_in is 2048x10x10 (8.36 GMACs). ``width`` scales every channel count
(multiples of 8) and ``middle_blocks`` sets the number of middle-flow blocks (8 in the ImageNet
network) for light CPU variants. Middle blocks are named ``block4 .. block{3+m}``; the exit block
keeps timm's name ``block12`` (``block{m+4}`` when m > 8), so the default network matches timm.
"""
from __future__ import annotations

import importlib
from pathlib import Path
from typing import Optional

import torch
from torch import nn

__all__ = ["Xception", "SeparableConv2d", "XceptionBlock", "PretrainedLoadError",
           "load_pretrained", "read_state_dict", "imagenet_state_dict", "resolve_pretrained",
           "IMAGENET", "TIMM_IMAGENET_MODEL", "HF_IMAGENET_REPO"]

#: ``model.rgb.pretrained`` value that asks for timm's ImageNet weights
IMAGENET = "imagenet"
#: the timm model whose ImageNet weights have this network's keys and shapes
TIMM_IMAGENET_MODEL = "legacy_xception"
#: where timm keeps those weights on the Hugging Face hub
HF_IMAGENET_REPO = "timm/legacy_xception.tf_in1k"


class PretrainedLoadError(ValueError):
    """A pretrained checkpoint does not fit the network; the message names the file and key."""


class SeparableConv2d(nn.Module):
    """Depthwise 3x3 (``conv1``) followed by pointwise 1x1 (``pointwise``), no bias (timm)."""

    def __init__(self, cin: int, cout: int, kernel_size: int = 3, stride: int = 1,
                 padding: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cin, kernel_size, stride, padding, groups=cin, bias=False)
        self.pointwise = nn.Conv2d(cin, cout, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.conv1(x))


class XceptionBlock(nn.Module):
    """Residual block of separable convs (timm ``Block``; keys ``skip``, ``skipbn``, ``rep.i``)."""

    def __init__(self, cin: int, cout: int, reps: int, stride: int = 1,
                 start_with_relu: bool = True, grow_first: bool = True):
        super().__init__()
        if cout != cin or stride != 1:
            self.skip = nn.Conv2d(cin, cout, 1, stride=stride, bias=False)
            self.skipbn = nn.BatchNorm2d(cout)
        else:
            self.skip = None
        rep: list[nn.Module] = []
        for i in range(reps):
            if grow_first:
                inc, outc = (cin if i == 0 else cout), cout
            else:
                inc, outc = cin, (cin if i < reps - 1 else cout)
            rep += [nn.ReLU(inplace=True), SeparableConv2d(inc, outc), nn.BatchNorm2d(outc)]
        if not start_with_relu:
            rep = rep[1:]
        else:
            rep[0] = nn.ReLU(inplace=False)  # the block input is also the skip input
        if stride != 1:
            rep.append(nn.MaxPool2d(3, stride, 1))
        self.rep = nn.Sequential(*rep)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skip = self.skipbn(self.skip(x)) if self.skip is not None else x
        return self.rep(x) + skip


def _ch(c: int, width: float) -> int:
    return max(8, int(round(c * width / 8)) * 8)


class Xception(nn.Module):
    """Xception; ``forward_features`` -> F_in (N, 2048*width, H/32-ish, W/32-ish).

    ``num_classes`` > 0 adds timm's head (global average pool + ``fc``), used to count the
    ImageNet network as the paper does; the MMFF RGB stream uses ``num_classes=0``.
    """

    def __init__(self, num_classes: int = 0, in_chans: int = 3, width: float = 1.0,
                 middle_blocks: int = 8):
        super().__init__()
        c32, c64, c128, c256, c728, c1024, c1536, c2048 = (
            _ch(c, width) for c in (32, 64, 128, 256, 728, 1024, 1536, 2048))
        self.conv1 = nn.Conv2d(in_chans, c32, 3, 2, 0, bias=False)
        self.bn1 = nn.BatchNorm2d(c32)
        self.act1 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(c32, c64, 3, bias=False)
        self.bn2 = nn.BatchNorm2d(c64)
        self.act2 = nn.ReLU(inplace=True)
        names = ["block1", "block2", "block3"]
        self.block1 = XceptionBlock(c64, c128, 2, 2, start_with_relu=False)
        self.block2 = XceptionBlock(c128, c256, 2, 2)
        self.block3 = XceptionBlock(c256, c728, 2, 2)
        for i in range(middle_blocks):
            self.add_module(f"block{4 + i}", XceptionBlock(c728, c728, 3, 1))
            names.append(f"block{4 + i}")
        exit_name = f"block{max(12, middle_blocks + 4)}"
        self.add_module(exit_name, XceptionBlock(c728, c1024, 2, 2, grow_first=False))
        names.append(exit_name)
        self.block_names = names
        self.conv3 = SeparableConv2d(c1024, c1536)
        self.bn3 = nn.BatchNorm2d(c1536)
        self.act3 = nn.ReLU(inplace=True)
        self.conv4 = SeparableConv2d(c1536, c2048)
        self.bn4 = nn.BatchNorm2d(c2048)
        self.act4 = nn.ReLU(inplace=True)
        self.num_features = self.out_channels = c2048
        self.num_classes = num_classes
        if num_classes > 0:
            self.fc = nn.Linear(c2048, num_classes)
        for m in self.modules():  # timm's initialisation (nothing to draw on the meta device)
            if isinstance(m, nn.Conv2d) and m.weight.device.type != "meta":
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act1(self.bn1(self.conv1(x)))
        x = self.act2(self.bn2(self.conv2(x)))
        for name in self.block_names:
            x = getattr(self, name)(x)
        x = self.act3(self.bn3(self.conv3(x)))
        return self.act4(self.bn4(self.conv4(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.forward_features(x)
        if self.num_classes > 0:
            return self.fc(x.mean(dim=(2, 3)))
        return x


_PREFIXES = ("module.", "model.")


def read_state_dict(path: str | Path) -> dict:
    """Read a checkpoint with ``weights_only=True``; unwrap ``{"state_dict": ...}`` (also
    ``"model"``/``"model_state_dict"``) and strip ``module.``/``model.`` key prefixes."""
    path = Path(path)
    if not path.is_file():
        raise PretrainedLoadError(f"{path}: no such pretrained checkpoint file")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # unpickling refused or corrupt file
        raise PretrainedLoadError(f"{path}: cannot read as a weights-only torch checkpoint "
                                  f"({type(e).__name__}: {str(e).splitlines()[0][:200]})") from None
    for key in ("state_dict", "model_state_dict", "model"):
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
            break
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise PretrainedLoadError(f"{path}: expected a state dict of tensors "
                                  "(optionally wrapped as {'state_dict': ...})")
    out = {}
    for k, v in obj.items():
        while k.startswith(_PREFIXES):
            k = k.split(".", 1)[1]
        out[k] = v
    return out


def _optional_module(name: str):
    """``importlib.import_module(name)``, or None when the package is not installed."""
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def imagenet_state_dict() -> dict:
    """timm's ``legacy_xception`` ImageNet weights (``tf_in1k``) as a state dict, fetched (and
    cached) by timm when it is installed, else by ``huggingface_hub`` from
    :data:`HF_IMAGENET_REPO` (``model.safetensors`` when ``safetensors`` is installed, else
    ``pytorch_model.bin``, read with ``weights_only=True``). Neither installed, or offline:
    :class:`PretrainedLoadError` saying what to do."""
    timm = _optional_module("timm")
    hint = (f"or download {HF_IMAGENET_REPO} on a machine that is online and set "
            "model.rgb.pretrained to the local file")
    if timm is not None:
        try:
            net = timm.create_model(TIMM_IMAGENET_MODEL, pretrained=True)
        except Exception as e:  # offline, hub error
            raise PretrainedLoadError(
                f"model.rgb.pretrained: imagenet: timm could not fetch {TIMM_IMAGENET_MODEL} "
                f"({type(e).__name__}: {str(e).splitlines()[0][:160] if str(e) else ''}); {hint}") from None
        return {k: v.detach().cpu() for k, v in net.state_dict().items()}
    hub = _optional_module("huggingface_hub")
    if hub is None:
        raise PretrainedLoadError(
            "model.rgb.pretrained: imagenet needs timm or huggingface_hub (pip install "
            f"'mmff[timm]' or pip install huggingface_hub), {hint}")
    safetensors = _optional_module("safetensors.torch")
    filename = "model.safetensors" if safetensors is not None else "pytorch_model.bin"
    try:
        path = hub.hf_hub_download(repo_id=HF_IMAGENET_REPO, filename=filename)
    except Exception as e:  # offline, file not on the hub
        raise PretrainedLoadError(
            f"model.rgb.pretrained: imagenet: cannot fetch {HF_IMAGENET_REPO}/{filename} from the "
            f"Hugging Face hub ({type(e).__name__}: {str(e).splitlines()[0][:160] if str(e) else ''}); "
            f"{hint}") from None
    if safetensors is not None:
        return dict(safetensors.load_file(str(path)))
    return read_state_dict(path)


def resolve_pretrained(spec: Optional[str]) -> tuple[Optional[dict | Path], str]:
    """``model.rgb.pretrained`` -> ``(source, name)`` for :func:`load_pretrained`: ``(None, "")``
    from scratch, the ImageNet state dict for ``"imagenet"`` (:func:`imagenet_state_dict`), else
    the file path."""
    if not spec:
        return None, ""
    if str(spec).lower() == IMAGENET:
        return imagenet_state_dict(), f"imagenet ({HF_IMAGENET_REPO})"
    return Path(spec), str(spec)


def load_pretrained(model: nn.Module, path: str | Path | dict,
                    ignore_prefixes: tuple = ("fc.",), name: Optional[str] = None) -> None:
    """Load a timm-layout checkpoint (a file, or an already read state dict) into ``model``
    strictly, key by key (``name`` labels a state dict in error messages).

    Keys starting with ``ignore_prefixes`` (the ImageNet classifier) are skipped when the model
    has no such parameter. Any missing/unexpected key or shape mismatch raises
    :class:`PretrainedLoadError` naming the file and the first offending key.
    """
    if isinstance(path, dict):
        sd, path = path, name or "state dict"
    else:
        sd = read_state_dict(path)
    own = model.state_dict()
    sd = {k: v for k, v in sd.items() if k in own or not k.startswith(ignore_prefixes)}
    missing = [k for k in own if k not in sd]
    unexpected = [k for k in sd if k not in own]
    if missing:
        raise PretrainedLoadError(
            f"{path}: missing key {missing[0]!r} ({len(missing)} missing; the file must hold "
            "timm legacy_xception keys and the network must have width 1.0, 8 middle blocks)")
    if unexpected:
        raise PretrainedLoadError(
            f"{path}: unexpected key {unexpected[0]!r} ({len(unexpected)} unexpected; "
            "check model.rgb.width / model.rgb.middle_blocks)")
    for k, v in sd.items():
        if tuple(v.shape) != tuple(own[k].shape):
            raise PretrainedLoadError(f"{path}: key {k!r} has shape {tuple(v.shape)}, "
                                      f"the network expects {tuple(own[k].shape)}")
    model.load_state_dict(sd, strict=True)
