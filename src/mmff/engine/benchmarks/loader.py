"""Benchmark 4: samples/s of the DataLoader vs samples/s of a training step.

Data: synthetic SynthHOI pairs (320x240, the demo's size) prepared with ``mmff prepare ntu``
into the benchmark folder; config: the demo config (``configs/demo*.yaml``) pointed at it, with
``data.num_workers`` = the benchmark's workers. The loader - the training loader of
:class:`mmff.engine.lightning.MMFFDataModule`, augmentation and random crops on - is timed alone (its workers own the CPUs), over ``loader_batches`` batches
after the first one (worker start-up excluded; later epochs reuse the persistent workers); the
training step (forward, cross-entropy, backward, Adam
step) alone on a batch from that loader, median of ``step_batches`` steps after a warm-up. The
loader must outpace the step, with margin, for training to be compute-bound.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

from .timing import cpu_count, measure, ratio

__all__ = ["find_demo_config", "prepared_folder", "bench_loader"]


def find_demo_config(name: str = "demo") -> Path:
    """``configs/<name>.yaml`` or the first ``configs/demo*.yaml``."""
    from mmff.config import CONFIG_DIR, ConfigError, find_config

    try:
        return find_config(name)
    except ConfigError:
        found = sorted(CONFIG_DIR.glob("demo*.yaml"))
        if not found:
            raise FileNotFoundError(f"{CONFIG_DIR}: no demo*.yaml config") from None
        return found[0]


def prepared_folder(out: Path, n: int, size=(320, 240), workers: int = 1) -> Path:
    """``n`` synthetic pairs of ``size`` prepared (p = 0.5) under ``out``; reused if present."""
    from mmff.data.prepare import prepare_ntu

    from .samples import synth_pairs

    raw = out / f"synth_{size[0]}x{size[1]}_n{n}"
    synth_pairs(raw, n, size, workers=workers)
    prepared = out / f"prepared_{size[0]}x{size[1]}_n{n}"  # resumes: ready samples are kept
    res = prepare_ntu(raw=raw, out=prepared, workers=workers, positions=[0.5], progress=False)
    if res.failed:
        raise RuntimeError(f"prepare {raw}: {res.failed[0]}")
    return prepared


def bench_loader(s, say: Callable[[str], None] = lambda m: None) -> dict:
    import torch
    import torch.nn.functional as F
    from mmff.config import load_config
    from mmff.data.datasets import build_dataset
    from mmff.engine.lightning import MMFFDataModule
    from mmff.models import create_model

    cfg_path = find_demo_config(s.loader_config)
    workers = int(s.workers or cpu_count())
    cfg = load_config(cfg_path, overrides=s.model_overrides or None)
    bs = int(cfg.data.batch_size)
    # a few batches of distinct samples; batches beyond them come from later epochs
    n = bs * (2 if s.quick else 4)
    say(f"loader: preparing {n} synthetic samples")
    cfg.data.root = str(prepared_folder(s.out, n, tuple(s.loader_size), workers=workers))
    cfg.data.num_workers = workers
    ds = build_dataset(cfg, "all", train=True)
    cfg.model.num_classes = len(ds.classes)  # the synthetic classes, whatever the config says
    cfg.data.persistent_workers = True  # later epochs reuse the workers
    dm = MMFFDataModule(cfg, lambda c, subset, train: ds, train_subset="all")
    dm.setup("fit")
    loader = dm.train_dataloader()

    say("loader: iterating")
    it = iter(loader)
    first = next(it)  # worker start-up and the first batch are not counted
    t0 = time.perf_counter()
    got = 0
    while got < bs * s.loader_batches:
        try:
            batch = next(it)
        except StopIteration:  # next epoch (persistent workers: no restart cost)
            it = iter(loader)
            continue
        got += int(batch["label"].shape[0])
    loader_t = time.perf_counter() - t0
    del it, loader
    loader_sps = got / loader_t if loader_t > 0 else float("inf")

    say("loader: training steps")
    model = create_model(cfg).train()
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=cfg.train.lr)
    batch = {k: v for k, v in first.items() if isinstance(v, torch.Tensor)}

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(batch), batch["label"])
        loss.backward()
        opt.step()

    t = measure(step, s.step_batches, max(1, s.warmup))
    step_sps = bs / t.median
    return {
        "config": cfg_path.name,
        "batch_size": bs,
        "num_workers": workers,
        "samples": len(ds),
        "loader_samples_per_s": loader_sps,
        "step_samples_per_s": step_sps,
        "ratio": ratio(loader_sps, step_sps),
        "loader_s_per_batch": bs / loader_sps if loader_sps else None,
        "step_s": t.to_dict(),
        "torch_threads": torch.get_num_threads(),
        "goal": 3.0,
    }
