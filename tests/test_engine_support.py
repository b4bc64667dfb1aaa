"""Shared pieces of the engine tests: tiny configs, an in-memory dataset with the batch contract
of docs/design.md (random augmentation from the global RNGs, like the real datasets), and
tests of the resumable sampler / seeded dataset."""
from __future__ import annotations


import numpy as np
import torch
from torch.utils.data import Dataset

from mmff.config import GRAPH_BACKBONES, config_from_dict
from mmff.engine.lightning import EpochSeededDataset, ResumableSampler, ShardSampler

NUM_CLASSES = 3
CLASSES = [f"action {i}" for i in range(NUM_CLASSES)]


def tiny_cfg_dict(kind="mmff", backbone="bilstm", fusion="lstm_late", epochs=(2, 1, 1), batch_size=4, **data):
    """A config small enough to train in a second or two on one CPU core."""
    d = {
        "name": "tiny",
        "model": {"kind": kind, "num_classes": NUM_CLASSES,
                  "skeleton": {"backbone": backbone, "rnn_layers": 1, "rnn_hidden": 8, "width": 0.125,
                               "dropout": 0.2},
                  "rgb": {"width": 0.05, "middle_blocks": 0},
                  "fusion": {"type": fusion, "hidden": 16, "reduced_channels": 8, "sum_dim": 16,
                             "conv_channels": 16, "dropout": 0.3}},
        "data": {"dataset": "synth", "image_size": 32, "rnn_steps": 8, "clip_len": 16, "batch_size": batch_size,
                 "num_workers": 0, **data},
        "train": {"epochs": {1: epochs[0], 2: epochs[1], 3: epochs[2]}, "lr": 3e-3, "lr_step": 1,
                  "lr_gamma": 0.5, "seed": 7, "accelerator": "cpu", "checkpoint_every_n_steps": 2,
                  "log_every_n_steps": 1},
    }
    return d


def make_prepared_synth(root, samples_per_class: int = 2, version: int = 1, prepare_args=()):
    """``mmff synth --version VERSION`` (24 classes x ``samples_per_class`` at 64x48) + ``mmff
    prepare ntu`` (plus ``prepare_args``) into ``root/raw`` and ``root/prepared``; returns both
    folders."""
    from mmff.cli import main

    raw, prep = root / "raw", root / "prepared"
    assert main(["synth", "--out", str(raw), "--samples-per-class", str(samples_per_class), "--size", "64x48",
                 "--workers", "1", "--no-progress", "--version", str(version)]) == 0
    assert main(["prepare", "ntu", "--raw", str(raw), "--out", str(prep), "--workers", "1", "--no-progress",
                 *prepare_args]) == 0
    return raw, prep


def tiny_cfg(**kw):
    return config_from_dict(tiny_cfg_dict(**kw))


class ToyDataset(Dataset):
    """Class-dependent skeleton + image signal; training items get random noise/flip drawn from
    the global torch and numpy RNGs (what an augmenting dataset does)."""

    def __init__(self, cfg, subset: str, train: bool, n_per_class: int = 6):
        self.cfg, self.train = cfg, train
        self.classes = list(CLASSES)
        g = torch.Generator().manual_seed({"train": 0, "test": 1, "val": 2}[subset])
        n = n_per_class * NUM_CLASSES
        self.labels = torch.arange(n) % NUM_CLASSES
        s = cfg.data.image_size
        graph = cfg.model.skeleton.backbone in GRAPH_BACKBONES
        shape = (3, cfg.data.clip_len, 25, 2) if graph else (cfg.data.rnn_steps, 2 * 25 * 3)
        self.skel = torch.randn((n,) + shape, generator=g) * 0.5
        self.img = torch.randn(n, 1, 3, s, s, generator=g) * 0.5
        for c in range(NUM_CLASSES):  # the signal: a per-class offset in both modalities
            self.skel[self.labels == c] += 0.7 * (c - 1)
            self.img[self.labels == c, :, c % 3] += 0.8
        self.j2d = torch.rand(n, 1, 2, 25, 2, generator=g)
        self.disp = torch.rand(n, 1, 2, 25, generator=g)

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        skel, img = self.skel[i], self.img[i]
        if self.train:
            skel = skel + 0.1 * torch.randn_like(skel)
            img = img * float(np.random.uniform(0.9, 1.1))
        return {"skeleton": skel, "image": img, "joints2d": self.j2d[i], "displacement": self.disp[i],
                "label": self.labels[i].clone(), "index": torch.tensor(i)}


def toy_factory(cfg, subset, train):
    return ToyDataset(cfg, subset, train)


def state_equal(a: dict, b: dict) -> list[str]:
    """Keys whose tensors differ."""
    assert a.keys() == b.keys()
    return [k for k in a if not torch.equal(a[k], b[k])]


# --------------------------------------------------------------------------- tests of the pieces
def test_sampler_is_a_function_of_seed_and_epoch_and_shards_cover_all():
    s = ResumableSampler(10, seed=3)
    s.set_epoch(1)
    e1 = list(s)
    s.set_epoch(2)
    assert list(s) != e1
    s.set_epoch(1)
    assert list(s) == e1 and all(k[0] == 1 for k in e1)
    shards = [list(ResumableSampler(10, seed=3, num_replicas=3, rank=r)) for r in range(3)]
    for sh in shards:
        sh_epoch0 = sh
        assert len(sh_epoch0) == 4  # padded to 12 = 3 x 4
    assert {i for sh in shards for _, i in sh} == set(range(10))


def test_sampler_skip_is_one_shot_and_dropped_on_new_epoch():
    s = ResumableSampler(8, seed=0)
    full = list(s)
    s.skip = 3
    assert list(s) == full[3:]
    assert list(s) == full  # used once
    s.skip = 3
    s.set_epoch(1)
    assert len(list(s)) == 8


def test_shard_sampler_has_no_duplicates():
    keys = [i for r in range(3) for _, i in ShardSampler(7, 3, r)]
    assert sorted(keys) == list(range(7))


def test_epoch_seeded_dataset_is_order_independent_and_keeps_global_rng():
    cfg = tiny_cfg()
    ds = EpochSeededDataset(ToyDataset(cfg, "train", True), seed=5)
    torch.manual_seed(0)
    before = torch.get_rng_state()
    a = ds[(1, 4)]["skeleton"]
    _ = ds[(1, 2)]
    assert torch.equal(torch.get_rng_state(), before)  # global RNG untouched (dropout unaffected)
    assert torch.equal(ds[(1, 4)]["skeleton"], a)  # same (epoch, index) -> same augmentation
    assert not torch.equal(ds[(2, 4)]["skeleton"], a)  # another epoch -> another augmentation
