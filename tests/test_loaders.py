"""The DataModule owns every loader (training, validation, evaluation, decision-weight search,
``mmff predict`` folder mode), and no module imports another module's private name."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest
import torch

import mmff.engine.lightning as lightning
from mmff.engine.evaluation import predict
from mmff.engine.lightning import EpochSeededDataset, MMFFDataModule, ShardSampler
from mmff.engine.predict import Predictor, predict_folder
from mmff.models import create_model
from test_engine_support import ToyDataset, tiny_cfg, toy_factory
from test_predict_support import make_checkpoint

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def made(monkeypatch):
    """Every loader :func:`build_loader` makes, with its keywords."""
    calls = []
    real = lightning.build_loader

    def recording(dataset, cfg, sampler, *args, **kwargs):
        loader = real(dataset, cfg, sampler, *args, **kwargs)
        calls.append((loader, kwargs))
        return loader

    monkeypatch.setattr(lightning, "build_loader", recording)
    return calls


def test_predict_loader_is_the_config_s_and_in_index_order():
    cfg = tiny_cfg(num_workers=2, pin_memory=False, persistent_workers=False)
    cfg.train.prefetch_factor = 3
    dm = MMFFDataModule(cfg, toy_factory, predict_subset="val")
    loader = dm.predict_dataloader()
    assert (loader.num_workers, loader.pin_memory, loader.persistent_workers, loader.prefetch_factor,
            loader.batch_size) == (2, False, False, 3, cfg.data.batch_size)
    assert isinstance(loader.dataset, EpochSeededDataset) and isinstance(loader.sampler, ShardSampler)
    assert loader.dataset.inner is dm.eval_dataset and dm.train_set is None  # predict builds no train set
    assert [i for _, i in loader.sampler] == list(range(len(dm.eval_dataset)))
    # overrides (mmff predict's --batch-size/--workers) replace the config's values only
    o = dm.predict_dataloader(batch_size=5, num_workers=0, collate_fn=list)
    assert (o.batch_size, o.num_workers, o.pin_memory, o.collate_fn) == (5, 0, False, list)
    # the validation loader is the same ordered loader over the validation split
    cfg.data.num_workers = 0
    dm = MMFFDataModule(cfg, toy_factory)
    dm.setup("fit")
    assert [int(b["index"][0]) for b in dm.val_dataloader()] == \
        [int(b["index"][0]) for b in dm.ordered_loader(dm.val_set)]


def test_evaluation_reads_through_the_datamodule(made):
    cfg = tiny_cfg(kind="skeleton_only")
    torch.manual_seed(0)
    model = create_model(cfg, pretrained=False).eval()
    ds = ToyDataset(cfg, "test", False)
    logits, labels = predict(model, cfg, ds, progress=False)
    assert len(made) == 1 and made[0][0].dataset.inner is ds
    with torch.no_grad():  # the same numbers as the model on the items, one by one
        ref = torch.cat([model({k: v[None] for k, v in ds[i].items()}) for i in range(len(ds))])
    assert torch.allclose(logits, ref, atol=1e-5) and torch.equal(labels, ds.labels)


def test_predict_folder_reads_through_the_datamodule(made, tmp_path, ntu_dir):
    skel = tmp_path / "s"
    skel.mkdir()
    names = ("S001C001P001R001A001", "S001C001P001R001A011", "S001C003P008R002A058")
    for n in names:
        (skel / f"{n}.skeleton").symlink_to(ntu_dir / f"{n}.skeleton")
    pred = Predictor(make_checkpoint(tmp_path / "k.pt", kind="skeleton_only"))
    res = predict_folder(pred, skel, batch_size=2, workers=0, progress=False)
    assert [r["sample"] for r in res["rows"]] == list(names) and not res["failed"]
    (loader, kwargs), = made
    assert (loader.batch_size, loader.num_workers, loader.pin_memory) == (2, 0, False)
    assert callable(kwargs["collate_fn"]) and isinstance(loader.dataset, EpochSeededDataset)


def _private_imports(path: Path, root: Path = ROOT) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module:
            for a in node.names:
                if a.name.startswith("_") and not a.name.startswith("__"):
                    found.append(f"{path.relative_to(root)}:{node.lineno}: from {node.module} import {a.name}")
    return found


def test_no_private_name_is_imported_across_modules(tmp_path):
    files = sorted((ROOT / "src" / "mmff").rglob("*.py")) + sorted((ROOT / "tests").rglob("*.py"))
    assert len(files) > 50
    found = [f for p in files for f in _private_imports(p)]
    assert not found, "\n".join(found)
    probe = tmp_path / "probe.py"  # the check finds one
    probe.write_text("import os\nfrom mmff.engine.stages import __doc__, _x, write_json\n")
    assert _private_imports(probe, tmp_path) == ["probe.py:2: from mmff.engine.stages import _x"]
