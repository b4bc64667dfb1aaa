"""One sample pipeline (mmff.data.pipeline) behind the dataset, `mmff predict` and the benchmark.

"Identical" for one NTU pair (the ``ntu_dir`` fixture's .skeleton + _rgb.avi), prepared with
`mmff prepare` and read in test mode:

* ``skeleton``, ``displacement``, ``joints2d`` and the crop windows: bit-identical in all three;
* ``image``: bit-identical between predict and the benchmark (the same raw frame); the dataset
  reads the crop that prepare stored as JPEG (q95), so its image equals, bit for bit, the raw
  path run on that stored JPEG instead of the decoded frame, and differs from the raw frame's
  image only by the JPEG loss (checked with a tolerance).
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from mmff.config import config_from_dict
from mmff.data.datasets import PreparedDataset
from mmff.data.pipeline import build_pipeline, normalise_images, pipeline_spec
from mmff.data.transforms import STEPS, build_step, register_step
from mmff.engine.benchmarks.e2e import MMFFPipeline
from mmff.engine.predict import SampleLoader
from test_predict_support import NAME, prepare_real_pair

SIZE = 299  # the paper's size: the test window stays < 2 x 299 px, so no reduced JPEG decode


def _cfg(**data):
    return config_from_dict({"model": {"kind": "mmff", "num_classes": 60},
                             "data": {"dataset": "ntu60", "image_size": SIZE, "val": "none",
                                      **data}})


@pytest.fixture(scope="module")
def three(ntu_dir, tmp_path_factory):
    """(dataset item, dataset results, predict RawSample, benchmark batch, prepared folder)."""
    cfg = _cfg()
    root = prepare_real_pair(ntu_dir, tmp_path_factory.mktemp("pipe"))
    ds = PreparedDataset(root, cfg, "all", train=False)
    item = ds[0]
    pair = ntu_dir / f"{NAME}.skeleton", ntu_dir / f"{NAME}_rgb.avi"
    raw = SampleLoader(cfg).load(*pair)
    bench = MMFFPipeline(cfg, torch.nn.Identity()).load(*pair)
    return cfg, ds, item, raw, bench, pair


def test_dataset_predict_and_benchmark_give_identical_inputs(three):
    cfg, ds, item, raw, bench, _ = three
    keys = ["skeleton", "displacement", "image", "joints2d"]
    assert list(raw.item) == keys and list(bench) == keys
    assert [k for k in item if k not in ("label", "index")] == keys
    for k in keys:  # predict vs the benchmark: the same bits, shapes, dtypes and strides
        assert torch.equal(raw.item[k], bench[k][0]), k
        assert raw.item[k].dtype == item[k].dtype == torch.float32
        assert raw.item[k].shape == item[k].shape and raw.item[k].stride() == item[k].stride()
    for k in ("skeleton", "displacement", "joints2d"):  # the dataset: the same bits
        assert torch.equal(item[k], raw.item[k]), k
    assert item["image"].shape == (1, 3, SIZE, SIZE)
    # the image: only the stored JPEG's loss (normalised units, std 0.5)
    diff = (item["image"] - raw.item["image"]).abs()
    assert 0 < diff.mean() < 0.03 and diff.max() < 0.6


def test_dataset_image_is_the_raw_path_on_the_stored_jpeg(three):
    """Run predict's steps after the decode on the stored JPEG pasted into a frame-sized
    canvas: the dataset's image (and window, 2D joints) come out bit for bit."""
    import cv2

    cfg, ds, item, raw, _, pair = three
    fr = ds.entries[0]["frames"][0]
    W, H = ds.entries[0]["frame_size"]
    jpeg = cv2.cvtColor(cv2.imread(str(ds.root / fr["file"])), cv2.COLOR_BGR2RGB)
    (ox, oy), (sw, sh) = fr["offset"], fr["size"]
    canvas = np.zeros((H, W, 3), np.uint8)
    canvas[oy:oy + sh, ox:ox + sw] = jpeg
    pipe = SampleLoader(cfg).pipeline
    res = pipe.load({"skeleton_path": pair[0]})
    res.update(frames=[canvas], frame_size=(W, H), frame_indices=raw.frame_indices)
    steps = pipe.transform.transforms
    assert type(steps[0]).__name__ == "DecodeFramesAt"
    for step in steps[1:]:
        res = step(res)
    box = res["crop_boxes"][0]
    assert [int(v) for v in box] == raw.boxes[0]
    assert min(box[2] - box[0], box[3] - box[1]) < 2 * SIZE  # full-size decode in the dataset
    assert ox <= box[0] and oy <= box[1] and box[2] <= ox + sw and box[3] <= oy + sh
    assert torch.equal(res["inputs"]["image"], item["image"])
    assert torch.equal(res["inputs"]["joints2d"], item["joints2d"])


def test_the_consumers_declare_the_same_steps(three):
    cfg, ds, _, _, _, _ = three
    stored, video = pipeline_spec(cfg, "stored", root="x"), pipeline_spec(cfg, "video")
    names = {k: [s["type"] for s in v] for k, v in video.items()}
    assert names["load"] == ["LoadNTUSkeleton", "PadBodies", "Joints2DAtP"]
    assert names["transform"] == ["DecodeFramesAt", "JointDisplacement", "VAPre", "PadToLength",
                                  "ToSTGCNInput", "ProjectionCrop", "CropResize",
                                  "Joints2DToCrop", "Normalise", "Collect"]
    assert stored["load"][1:] == video["load"][1:]
    # the same transform, the source step aside (stored crop instead of decode + crop)
    swap = {"LoadStoredCrop": "CropResize"}
    assert [dict(s, type=swap.get(s["type"], s["type"])) for s in stored["transform"]] == \
        video["transform"][1:]
    assert ds.pipeline.spec == pipeline_spec(cfg, "stored", root=ds.root)
    bench = MMFFPipeline(cfg, torch.nn.Identity())
    assert bench.loader.pipeline.spec == SampleLoader(cfg).pipeline.spec == video
    # training adds the augmentation and random crops, nothing else
    train = [s["type"] for s in pipeline_spec(cfg, "stored", True, root="x")["transform"]]
    assert train == ["JointDisplacement", "VAPre", "SkeletonAugment", "PadToLength",
                     "ToSTGCNInput", "ProjectionCrop", "LoadStoredCrop", "Joints2DToCrop",
                     "Normalise", "Collect"]


def test_skeleton_only_rnn_and_ablation_specs():
    cfg = config_from_dict({"model": {"kind": "skeleton_only", "skeleton": {"backbone": "bilstm"}},
                            "data": {"projection_crop": False}})
    spec = pipeline_spec(cfg, "video")
    assert [s["type"] for s in spec["load"]] == ["LoadNTUSkeleton", "PadBodies"]
    assert [s["type"] for s in spec["transform"]] == ["VAPre", "UniformSample", "ToRNNInput",
                                                      "Collect"]
    assert spec["transform"][-1]["keys"] == ["skeleton"]
    rgb = [s["type"] for s in pipeline_spec(cfg, "video", rgb=True)["transform"]]
    assert "ResizedCrop" in rgb and "ProjectionCrop" not in rgb
    with pytest.raises(ValueError, match="source"):
        pipeline_spec(cfg, "frames")
    with pytest.raises(ValueError, match="data.root"):
        pipeline_spec(cfg, "stored")


def test_registry_builds_named_steps_and_rejects_unknown_ones():
    assert {"PadBodies", "VAPre", "DecodeFramesAt", "LoadStoredCrop", "Collect"} <= set(STEPS)
    step = build_step({"type": "PadBodies", "num_person": 3})
    res = step({"joints": np.ones((4, 1, 25, 3), np.float32),
                "color": np.ones((4, 5, 25, 2), np.float32)})
    assert res["joints"].shape == (4, 3, 25, 3) and not res["joints"][:, 1:].any()
    assert res["color"].shape == (4, 3, 25, 2)
    assert repr(step) == "PadBodies(num_person=3)"
    with pytest.raises(ValueError, match="unknown type 'Nope'"):
        build_step({"type": "Nope"})

    class VAPre:  # another module's step under a taken name
        pass

    with pytest.raises(ValueError, match="'VAPre' is already registered by mmff.data.transforms"):
        register_step(VAPre)


def test_stored_pipeline_names_a_missing_position(three):
    _, ds, _, _, _, _ = three
    pipe = build_pipeline(_cfg(positions=[0.3]), "stored", root=ds.root)
    with pytest.raises(ValueError, match=r"samples/S001C001P001R001A001\.json: no stored frame "
                                         r"at p=0\.3"):
        pipe.load({"entry": ds.entries[0]})


def test_normalise_images_is_the_one_formula():
    img = np.arange(2 * 4 * 4 * 3, dtype=np.uint8).reshape(2, 4, 4, 3)
    out = normalise_images(img, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
    assert out.shape == (2, 3, 4, 4) and out.dtype == np.float32
    want = ((img.astype(np.float64) / 255 - [0.485, 0.456, 0.406]) / [0.229, 0.224, 0.225])
    np.testing.assert_allclose(out, want.transpose(0, 3, 1, 2), rtol=0, atol=1e-6)
