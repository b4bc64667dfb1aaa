"""Xception RGB backbone: timm ``legacy_xception`` compatibility (SPEC §2.2)."""
import json

import pytest
import torch

from mmff.config import config_from_dict
from mmff.models import PretrainedLoadError, Xception, create_model, load_pretrained


@pytest.fixture(scope="module")
def checkpoint(manifest):
    return _random_checkpoint(manifest)


@pytest.fixture(scope="module")
def manifest(reference_dir):
    return json.loads((reference_dir / "timm_legacy_xception.json").read_text())


def test_state_dict_matches_timm_manifest(manifest):
    with torch.device("meta"):
        net = Xception(num_classes=1000)
    sd = net.state_dict()
    ref = manifest["state_dict"]
    assert len(ref) == 276
    assert list(sd) == list(ref)  # same keys, same order
    assert {k: list(v.shape) for k, v in sd.items()} == ref
    assert sum(p.numel() for p in net.parameters()) == manifest["params_total"] == 22_855_952
    with torch.device("meta"):
        headless = Xception(num_classes=0)
    assert sum(p.numel() for p in headless.parameters()) == manifest["params_without_fc"]
    with torch.device("meta"):
        f = headless.forward_features(torch.zeros(1, 3, 299, 299))
    assert list(f.shape) == manifest["forward_features_shape_299"]


class NotWeights:
    """An arbitrary pickled object: weights_only loading must refuse it."""


def _random_checkpoint(manifest):
    g = torch.Generator().manual_seed(0)
    sd = {}
    for k, shape in manifest["state_dict"].items():
        sd[k] = (torch.randint(0, 10, shape, generator=g) if k.endswith("num_batches_tracked")
                 else torch.randn(shape, generator=g))
    return sd


@pytest.mark.parametrize("wrap", ["plain", "state_dict_module"])
def test_load_timm_checkpoint(checkpoint, tmp_path, wrap):
    sd = checkpoint
    obj = {"plain": sd,
           "state_dict_module": {"state_dict": {f"module.{k}": v for k, v in sd.items()}, "epoch": 3}}[wrap]
    path = tmp_path / f"xc_{wrap}.pth"
    torch.save(obj, path)
    net = Xception(num_classes=0)  # the classifier in the file is skipped
    load_pretrained(net, path)
    own = net.state_dict()
    for k in ("conv1.weight", "block12.rep.4.pointwise.weight", "bn4.running_var"):
        torch.testing.assert_close(own[k], sd[k])


def test_pretrained_from_config(checkpoint, tmp_path):
    sd = {k: v for k, v in checkpoint.items() if not k.startswith("fc.")}
    good = tmp_path / "good.pth"
    torch.save({"state_dict": sd}, good)
    cfg = config_from_dict({"model": {"kind": "rgb_only", "rgb": {"pretrained": str(good)}}})
    model = create_model(cfg)
    torch.testing.assert_close(model.rgb_stream.backbones[0].state_dict()["conv2.weight"],
                               sd["conv2.weight"])



def test_load_errors_name_file_and_key(tmp_path):
    # a light network keeps these files small; the checks are the same for the full one
    net = Xception(width=0.125, middle_blocks=2)
    sd = {k: torch.randn(v.shape) if v.is_floating_point() else v for k, v in net.state_dict().items()}
    good = tmp_path / "good.pth"
    torch.save(sd, good)
    load_pretrained(Xception(width=0.125, middle_blocks=2), good)
    torch.save({"model": {f"model.{k}": v for k, v in sd.items()}}, tmp_path / "prefixed.pth")
    other = Xception(width=0.125, middle_blocks=2)
    load_pretrained(other, tmp_path / "prefixed.pth")
    torch.testing.assert_close(other.state_dict()["block4.rep.1.pointwise.weight"],
                               sd["block4.rep.1.pointwise.weight"])

    # K frames with separate backbones: each starts from the file's weights
    cfg = config_from_dict({"model": {"kind": "rgb_only", "rgb": {
        "width": 0.125, "middle_blocks": 2, "pretrained": str(good)}},
        "data": {"positions": [0.3, 0.5, 0.7]}})
    backbones = create_model(cfg).rgb_stream.backbones
    assert len(backbones) == 3
    for bb in backbones:
        torch.testing.assert_close(bb.state_dict()["conv3.pointwise.weight"], sd["conv3.pointwise.weight"])

    torch.save(dict(sd, **{"bn3.weight": torch.zeros(7)}), tmp_path / "shape.pth")
    with pytest.raises(PretrainedLoadError, match=r"shape\.pth: key 'bn3\.weight' has shape \(7,\)"):
        load_pretrained(Xception(width=0.125, middle_blocks=2), tmp_path / "shape.pth")

    torch.save({k: v for k, v in sd.items() if k != "block5.rep.4.conv1.weight"}, tmp_path / "missing.pth")
    with pytest.raises(PretrainedLoadError, match=r"missing key 'block5\.rep\.4\.conv1\.weight'"):
        load_pretrained(Xception(width=0.125, middle_blocks=2), tmp_path / "missing.pth")

    with pytest.raises(PretrainedLoadError, match="unexpected key 'block5"):
        load_pretrained(Xception(width=0.125, middle_blocks=1), good)

    torch.save({"state_dict": sd, "obj": NotWeights()}, tmp_path / "pickled.pth")
    with pytest.raises(PretrainedLoadError, match="weights-only"):
        load_pretrained(Xception(width=0.125, middle_blocks=2), tmp_path / "pickled.pth")
    with pytest.raises(PretrainedLoadError, match="no such pretrained checkpoint"):
        load_pretrained(net, tmp_path / "absent.pth")


def test_light_variant_and_block_names():
    net = Xception(width=0.25, middle_blocks=1).eval()
    assert net.out_channels == 512
    assert net.block_names == ["block1", "block2", "block3", "block4", "block12"]
    assert net(torch.randn(1, 3, 96, 96)).shape == (1, 512, 3, 3)
    assert Xception(width=0.125, middle_blocks=9).block_names[-2:] == ["block12", "block13"]


def test_other_backbones_fail_clearly():
    import importlib.util

    from mmff.config import ConfigError
    from mmff.models import build_image_backbone

    with pytest.raises(ConfigError, match="model.rgb.backbone: 'resnet50' is not"):
        build_image_backbone("resnet50")
    if importlib.util.find_spec("timm") is None:
        with pytest.raises(ConfigError, match="needs the timm package"):
            build_image_backbone("timm:resnet18")
    else:  # pragma: no cover - only where timm + torchvision are installed
        net = build_image_backbone("timm:resnet18")
        assert net(torch.zeros(1, 3, 64, 64)).shape[1] == net.out_channels
