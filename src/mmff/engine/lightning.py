"""Lightning glue: the training module, the data module and an exactly resumable loader.

The model stays a plain ``nn.Module`` (``forward(batch) -> logits``); :class:`MMFFModule`
only adds the loss (cross-entropy), the metrics, the optimiser (Adam, lr x0.1 every 10
epochs, SPEC §3) and the stage-2 freezing. Lightning does the rest: checkpointing,
logging, DDP, precision, gradient clipping, early stopping.

Exact mid-epoch resume (same weights as an uninterrupted run, on CPU):

* :class:`ResumableSampler` draws the epoch's permutation from ``(seed, epoch)`` only and,
  after a restart, skips the batches the checkpoint had already trained on; it yields
  ``(epoch, index)`` keys and shards them over DDP ranks itself.
* :class:`EpochSeededDataset` seeds the global torch / numpy / python RNGs from
  ``(seed, epoch, index)`` around each ``__getitem__`` and restores them afterwards, so a
  sample's augmentation depends on nothing else: not on the order of fetching, the
  loader's prefetching, the number of workers or a restart. This holds for
  ``num_workers > 0`` too (the key travels to the worker).
* :class:`ResumableDataLoader` implements ``state_dict``/``load_state_dict`` so Lightning
  stores ``(epoch, batches done)`` in its checkpoint and hands it back on resume.
* :class:`MMFFModule` stores the global RNG states (dropout etc.) in every checkpoint and
  restores them on resume, and refuses to train an epoch on another epoch's sample order.
* :class:`StepCheckpoint` writes ``last.ckpt`` every N steps; a step that ends an epoch is
  written after that epoch's validation, so a resume never skips a validation.
"""
from __future__ import annotations

import os
import random
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import lightning as L
import numpy as np
import torch
import torch.nn.functional as F
from lightning.pytorch.callbacks import BaseFinetuning, Checkpoint
from torch import nn
from torch.utils.data import DataLoader, Dataset, Sampler
from torchmetrics.classification import MulticlassAccuracy

from mmff.config import Config

__all__ = [
    "MMFFModule", "MMFFDataModule", "ResumableSampler", "ShardSampler", "EpochSeededDataset",
    "ResumableDataLoader", "sample_seed", "FreezeStreams", "collect_rng_states", "set_rng_states",
    "build_loader", "StepCheckpoint", "has_validation", "split_info", "configure_threads",
    "default_dataset_factory",
]

DatasetFactory = Callable[[Config, str, bool], Dataset]


# --------------------------------------------------------------------------- RNG
def sample_seed(seed: int, epoch: int, index: int) -> int:
    """A 32-bit seed that depends only on (run seed, epoch, sample index)."""
    return int(np.random.SeedSequence([seed & 0xFFFFFFFF, epoch, index]).generate_state(1)[0])


def collect_rng_states() -> dict:
    """Global torch / numpy / python RNG states as plain data (``weights_only`` loadable)."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    version, pystate, pygauss = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "gauss": float(gauss)},
        "python": {"version": version, "state": list(pystate), "gauss": pygauss},
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def set_rng_states(states: dict) -> None:
    """Inverse of :func:`collect_rng_states`."""
    torch.set_rng_state(states["torch"])
    n = states["numpy"]
    np.random.set_state((n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["gauss"]))
    p = states["python"]
    random.setstate((p["version"], tuple(p["state"]), p["gauss"]))
    if states.get("cuda") and torch.cuda.is_available() and len(states["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(states["cuda"])


@contextmanager
def _seeded(seed: int):
    """Run a block with seeded global RNGs, then put the previous states back."""
    t, n, p = torch.get_rng_state(), np.random.get_state(), random.getstate()
    torch.default_generator.manual_seed(seed)  # CPU only: the CUDA generator (dropout on GPU) is left alone
    np.random.seed(seed)
    random.seed(seed)
    try:
        yield
    finally:
        torch.set_rng_state(t)
        np.random.set_state(n)
        random.setstate(p)


# --------------------------------------------------------------------------- data
class EpochSeededDataset(Dataset):
    """Wraps a dataset; ``ds[(epoch, index)]`` is ``inner[index]`` drawn with RNGs seeded by
    :func:`sample_seed`, so augmentation is a pure function of (seed, epoch, index)."""

    def __init__(self, inner: Dataset, seed: int) -> None:
        self.inner = inner
        self.seed = int(seed)
        self.classes = getattr(inner, "classes", None)

    def __len__(self) -> int:
        return len(self.inner)  # type: ignore[arg-type]

    def __getitem__(self, key):
        epoch, index = key if isinstance(key, tuple) else (0, key)
        seed = sample_seed(self.seed, int(epoch), int(index))
        with _seeded(seed):
            _seed_dataset_rng(self.inner, seed)
            return self.inner[int(index)]


def _seed_dataset_rng(ds: Dataset, seed: int) -> None:
    """Datasets that draw from their own generator instead of the global RNGs get it reseeded.

    Protocol: ``ds.set_item_seed(seed)`` (``PreparedDataset`` keeps a per-process
    ``numpy.random.Generator`` for its augmentations).
    """
    if hasattr(ds, "set_item_seed"):
        ds.set_item_seed(seed)


class ShardSampler(Sampler):
    """Deterministic evaluation order, sharded over ranks without padding (no duplicates)."""

    def __init__(self, n: int, num_replicas: int = 1, rank: int = 0) -> None:
        self.n, self.num_replicas, self.rank = n, num_replicas, rank
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[tuple[int, int]]:
        return ((self.epoch, i) for i in range(self.rank, self.n, self.num_replicas))

    def __len__(self) -> int:
        return len(range(self.rank, self.n, self.num_replicas))


class ResumableSampler(Sampler):
    """Shuffled training order from ``(seed, epoch)``, sharded over DDP ranks, resumable.

    Like ``DistributedSampler`` (pads to a multiple of the number of ranks so every rank
    runs the same number of steps), but yields ``(epoch, index)`` keys and can skip the
    first ``skip`` samples of the current epoch once (after a mid-epoch restart).
    """

    def __init__(self, n: int, seed: int, shuffle: bool = True, num_replicas: int = 1, rank: int = 0) -> None:
        if n <= 0:
            raise ValueError("ResumableSampler: the training set is empty")
        self.n, self.seed, self.shuffle = n, int(seed), shuffle
        self.num_replicas, self.rank = num_replicas, rank
        self.epoch = 0
        self.skip = 0
        self.per_rank = -(-n // num_replicas)
        self.iter_epoch: Optional[int] = None  # the epoch of the order handed out last

    def set_epoch(self, epoch: int) -> None:
        if epoch != self.epoch:
            self.skip = 0  # a pending skip belongs to the epoch it was loaded for
        self.epoch = epoch

    def order(self) -> list[int]:
        if self.shuffle:
            g = torch.Generator().manual_seed(self.seed + 1_000_003 * self.epoch)
            idx = torch.randperm(self.n, generator=g).tolist()
        else:
            idx = list(range(self.n))
        total = self.per_rank * self.num_replicas
        idx += idx[: total - len(idx)] if total > len(idx) else []
        while len(idx) < total:  # tiny sets on many ranks
            idx += idx[: total - len(idx)]
        return idx[self.rank:total:self.num_replicas]

    def __iter__(self) -> Iterator[tuple[int, int]]:
        skip, self.skip = self.skip, 0  # one-shot
        epoch = self.iter_epoch = self.epoch
        return ((epoch, i) for i in self.order()[skip:])

    def __len__(self) -> int:
        return self.per_rank


class ResumableDataLoader(DataLoader):
    """A DataLoader Lightning treats as stateful: it saves the position training resumes at.

    ``progress`` returns ``(batches done, epoch finished)``: how many batches of the current
    epoch have been trained on (the trainer's progress counter, not the loader's fetch count,
    which runs ahead because Lightning prefetches) and whether that was the epoch's last one.

    A checkpoint written after the last batch of an epoch (``every_n_train_steps`` landing
    on an epoch's end) resumes at the *next* epoch: Lightning moves its epoch counter on
    (``FitLoop.reset``) but builds the first iterator of the resumed run in ``setup_data``,
    before it calls ``set_epoch`` - and with ``num_workers > 0`` that iterator draws its
    indices at once. So the saved state must already name that next epoch with nothing
    to skip; ``(epoch, all batches done)`` would hand the workers an empty rest of the old
    epoch as the whole next epoch.
    """

    def __init__(self, *args, progress: Callable[[], tuple[int, bool]], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._progress = progress

    def state_dict(self) -> dict:
        done, epoch_finished = self._progress()
        if epoch_finished:
            return {"epoch": int(self.sampler.epoch) + 1, "batches_done": 0}
        return {"epoch": int(self.sampler.epoch), "batches_done": int(done)}

    def load_state_dict(self, state: dict) -> None:
        self.sampler.set_epoch(int(state["epoch"]))
        self.sampler.skip = int(state["batches_done"]) * int(self.batch_size)


def build_loader(dataset: Dataset, cfg: Config, sampler: Sampler, loader_cls=DataLoader,
                 batch_size: Optional[int] = None, num_workers: Optional[int] = None,
                 pin_memory: Optional[bool] = None, **kwargs) -> DataLoader:
    """DataLoader with the config's workers (``data.num_workers``, ``data.persistent_workers``,
    ``train.prefetch_factor``) and ``data.pin_memory`` (null: pinned only when CUDA is used).

    The one place every mmff loader is made (through :class:`MMFFDataModule`): ``batch_size``,
    ``num_workers`` and ``pin_memory`` replace the config's values when given (``mmff predict``'s
    ``--batch-size``/``--workers``); other keywords (``collate_fn``) go to ``loader_cls``.
    Workers run torch with one thread (PyTorch's worker loop sets it)."""
    workers = int(cfg.data.num_workers if num_workers is None else num_workers)
    pin = cfg.data.pin_memory if pin_memory is None else pin_memory
    if pin is None:
        pin = torch.cuda.is_available() and cfg.train.accelerator in ("auto", "gpu", "cuda")
    extra: dict[str, Any] = {}
    if workers > 0:
        extra.update(persistent_workers=bool(cfg.data.persistent_workers),
                     prefetch_factor=int(cfg.train.prefetch_factor))
    return loader_cls(dataset, batch_size=batch_size or cfg.data.batch_size, sampler=sampler,
                      num_workers=workers, pin_memory=bool(pin),
                      # a private generator: the loader's base-seed draw must not consume the
                      # global RNG (it would shift dropout after a resume)
                      generator=torch.Generator().manual_seed(int(cfg.train.seed)), **extra, **kwargs)


def default_dataset_factory(cfg: Config, subset: str, train: bool) -> Dataset:
    """``build_dataset(cfg, subset, train)``: the prepared dataset of ``data.root``."""
    from mmff.data.datasets import build_dataset  # lazy: data layer is heavy to import
    return build_dataset(cfg, subset, train)


def has_validation(cfg: Config) -> bool:
    """True when training evaluates a validation split (``data.val`` not ``none`` and
    ``train.val_every_n_epochs`` > 0). The test split is never evaluated during training."""
    return cfg.data.val != "none" and int(cfg.train.val_every_n_epochs) > 0


def split_info(dataset: Optional[Dataset], subset: str) -> tuple[Optional[str], list]:
    """``(description, sample names)`` of a dataset split, for ``metrics.json``: the dataset's
    ``split_description`` (e.g. ``"ntu60_xsub/val (subjects 9, 28; ...)"``) and its entries'
    names (item indices for datasets without entries)."""
    if dataset is None:
        return None, []
    entries = getattr(dataset, "entries", None)
    names = ([e["name"] for e in entries] if entries is not None
             else [str(i) for i in range(len(dataset))])  # type: ignore[arg-type]
    return getattr(dataset, "split_description", subset), names


def configure_threads(cfg: Config) -> None:
    """Fix torch's intra-op thread count (``train.num_threads``; 0 keeps torch's default).

    CPU kernels split their reductions by thread, so the last float digits, and after many
    steps the trained weights, depend on it: a fixed count makes a run repeat bit for bit on
    any machine of the same kind, whatever its core count."""
    n = int(cfg.train.num_threads)
    if n > 0 and torch.get_num_threads() != n:
        torch.set_num_threads(n)


class MMFFDataModule(L.LightningDataModule):
    """Every mmff loader: train / validation loaders over ``build_dataset(cfg, subset, train)``
    for training, the predict loader over ``predict_subset`` for evaluation (``mmff eval``, the
    demo, ``mmff table``, the decision-fusion weight search, and ``mmff predict``'s folder mode
    over raw pairs via :meth:`for_dataset`) - workers, pinning, seeding and collation all
    through :func:`build_loader`.

    The validation loader reads ``val_subset`` ("val": held out of the training samples by
    ``data.val``, never the test split), and only when :func:`has_validation`. The predict
    loader reads ``predict_subset`` ("test", "val", "train" or "all") with the test-time
    transforms, in index order."""

    def __init__(self, cfg: Config, dataset_factory: Optional[DatasetFactory] = None,
                 train_subset: str = "train", val_subset: str = "val", predict_subset: str = "test") -> None:
        super().__init__()
        if val_subset == "test":
            raise ValueError("MMFFDataModule: training never validates on the test split")
        self.cfg = cfg
        self.dataset_factory = dataset_factory or default_dataset_factory
        self.train_subset, self.val_subset, self.predict_subset = train_subset, val_subset, predict_subset
        self.train_set: Optional[Dataset] = None
        self.val_set: Optional[Dataset] = None
        self.eval_set: Optional[Dataset] = None

    @classmethod
    def for_dataset(cls, cfg: Config, dataset: Dataset, subset: str = "test") -> "MMFFDataModule":
        """A DataModule whose predict loader reads ``dataset`` (already built)."""
        return cls(cfg, lambda c, s, t: dataset, predict_subset=subset)

    @property
    def classes(self) -> list[str]:
        self.setup("fit")
        return list(getattr(self.train_set, "classes", None) or [])

    @property
    def val_info(self) -> tuple[Optional[str], list]:
        """``(description, names)`` of the validation split (``(None, [])`` without one)."""
        self.setup("fit")
        return split_info(self.val_set, self.val_subset)

    @property
    def eval_dataset(self) -> Dataset:
        """The ``predict_subset`` split with the test-time transforms (built once)."""
        self.setup("predict")
        return self.eval_set  # type: ignore[return-value]

    def setup(self, stage: str = "fit") -> None:
        if stage in ("predict", "test"):
            if self.eval_set is None:
                self.eval_set = self.dataset_factory(self.cfg, self.predict_subset, False)
            return
        if self.train_set is None:
            self.train_set = self.dataset_factory(self.cfg, self.train_subset, True)
            if has_validation(self.cfg):
                self.val_set = self.dataset_factory(self.cfg, self.val_subset, False)

    def _world(self) -> tuple[int, int]:
        t = self.trainer
        return (t.world_size, t.global_rank) if t is not None else (1, 0)

    def train_dataloader(self) -> DataLoader:
        world, rank = self._world()
        seed = int(self.cfg.train.seed)
        ds = EpochSeededDataset(self.train_set, seed)
        sampler = ResumableSampler(len(ds), seed, shuffle=True, num_replicas=world, rank=rank)
        if self.trainer is not None:
            # the epoch Lightning trains next (what it passes to ``set_epoch``), already now:
            # after a restore the first iterator is built before ``set_epoch`` is called
            sampler.set_epoch(int(self.trainer.fit_loop.epoch_progress.current.processed))

        def progress() -> tuple[int, bool]:
            bp = self.trainer.fit_loop.epoch_loop.batch_progress
            return int(bp.current.processed), bool(bp.is_last_batch)

        return build_loader(ds, self.cfg, sampler, ResumableDataLoader, progress=progress)

    def ordered_loader(self, dataset: Dataset, **overrides: Any) -> DataLoader:
        """``dataset`` in index order, sharded over the trainer's ranks, each item drawn with
        RNGs seeded by ``(train.seed, 0, index)`` (:class:`EpochSeededDataset`); ``overrides``
        go to :func:`build_loader` (``batch_size``, ``num_workers``, ``collate_fn``, ...)."""
        world, rank = self._world()
        ds = EpochSeededDataset(dataset, int(self.cfg.train.seed))
        return build_loader(ds, self.cfg, ShardSampler(len(ds), world, rank), **overrides)

    def val_dataloader(self):
        if self.val_set is None:
            return []
        return self.ordered_loader(self.val_set)

    def predict_dataloader(self, **overrides: Any) -> DataLoader:
        """The ``predict_subset`` loader (:meth:`ordered_loader`); ``mmff predict``'s folder mode
        passes its ``--batch-size``/``--workers`` and a ``collate_fn`` that sets bad pairs aside."""
        return self.ordered_loader(self.eval_dataset, **overrides)


# --------------------------------------------------------------------------- checkpoint
class StepCheckpoint(Checkpoint):
    """Lightning's ``last.ckpt`` every ``every_n_steps`` optimiser steps (mid-epoch resume).

    A step that ends an epoch is written once the epoch is over - after its validation,
    the early-stopping check and the epoch's learning-rate step (``on_train_epoch_end``,
    run after those as a :class:`~lightning.pytorch.callbacks.Checkpoint`) - not at
    ``on_train_batch_end``: Lightning resumes a checkpoint of an epoch's last batch at the
    next epoch and never runs the validation still due, so the resumed run would log one
    validation fewer and stop early at another epoch than an uninterrupted one.
    """

    def __init__(self, path: str | Path, every_n_steps: int) -> None:
        self.path = Path(path)
        self.every = max(1, int(every_n_steps))
        self._saved_step = -1

    def _due(self, trainer: L.Trainer) -> bool:
        step = trainer.global_step
        return step > 0 and step % self.every == 0 and step != self._saved_step

    def _save(self, trainer: L.Trainer) -> None:
        trainer.save_checkpoint(self.path, weights_only=False)  # every rank calls it; rank 0 writes
        self._saved_step = trainer.global_step

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, *args: Any) -> None:
        if self._due(trainer) and not trainer.fit_loop.epoch_loop.batch_progress.is_last_batch:
            self._save(trainer)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self._due(trainer):
            self._save(trainer)


# --------------------------------------------------------------------------- module
class FreezeStreams(BaseFinetuning):
    """Stage 2 (SPEC §3): "the two streams are frozen" while the fusion is trained.

    ``freeze_before_training`` (Lightning's ``setup``, before the optimizer is built) turns the
    gradients of ``model.stream_modules()`` off and puts them in eval mode, so their batch-norm
    statistics and dropout stay those of stage 1. Nothing is unfrozen later: ``finetune_function``
    (every epoch start) and every training batch put the streams back in eval mode, whatever
    switched modes in between (``module.train()``, a validation loop). BatchNorm layers are not
    touched otherwise (``BaseFinetuning.freeze`` would turn ``track_running_stats`` off, which
    makes eval-mode batch norm use batch statistics), and no optimizer param-group state is
    kept in checkpoints (there is none to restore)."""

    @staticmethod
    def streams(pl_module: L.LightningModule) -> list[nn.Module]:
        model = getattr(pl_module, "model", pl_module)
        return list(model.stream_modules()) if hasattr(model, "stream_modules") else []

    def freeze_before_training(self, pl_module: L.LightningModule) -> None:
        for m in self.streams(pl_module):
            m.requires_grad_(False)
            m.eval()

    def keep_eval(self, pl_module: L.LightningModule) -> None:
        for m in self.streams(pl_module):
            m.eval()

    def finetune_function(self, pl_module: L.LightningModule, epoch: int, optimizer) -> None:
        self.keep_eval(pl_module)  # the streams stay frozen for the whole stage

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        for optimizer in trainer.optimizers:  # no param groups added: nothing stored (see class doc)
            self.finetune_function(pl_module, trainer.current_epoch, optimizer)

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, *args: Any) -> None:
        self.keep_eval(pl_module)


class MMFFModule(L.LightningModule):
    """Cross-entropy training of any mmff model for one stage.

    ``stage`` 2 freezes ``model.stream_modules()`` (the :class:`FreezeStreams` callback it
    configures); the learning rate is
    ``cfg.train.stage_lr.get(stage, cfg.train.lr)``, decayed by ``lr_gamma`` every
    ``lr_step`` epochs (StepLR; SPEC §3: Adam, 1e-4, x0.1 every 10 epochs) or, with
    ``train.lr_schedule: cosine``, cosine-annealed to 0 over the stage's optimiser steps
    (PYSKL's recipe: SGD, Nesterov momentum 0.9).
    """

    def __init__(self, model: nn.Module, cfg: Config, stage: int = 1, num_classes: Optional[int] = None) -> None:
        super().__init__()
        self.model = model
        self.cfg = cfg
        self.stage = int(stage)
        c = int(num_classes or cfg.model.num_classes)
        self.val_top1 = MulticlassAccuracy(num_classes=c, top_k=1, average="micro")
        self.val_top5 = MulticlassAccuracy(num_classes=c, top_k=min(5, c), average="micro")

    def configure_callbacks(self) -> list[L.Callback]:
        return [FreezeStreams()] if self.stage == 2 else []

    def forward(self, batch: dict) -> torch.Tensor:
        return self.model(batch)

    def on_train_batch_start(self, batch: Any, batch_idx: int) -> None:
        # the order being trained must be the one of the epoch Lightning counts (a resumed run
        # that reused an iterator drawn for another epoch would train other samples, silently)
        sampler = getattr(self.trainer.train_dataloader, "sampler", None)
        it = getattr(sampler, "iter_epoch", None)
        if it is not None and it != self.current_epoch:
            raise RuntimeError(f"training epoch {self.current_epoch} draws the sample order of epoch {it} "
                               "(the loader's iterator was built before its epoch was set)")

    def _batch_size(self, batch: dict) -> int:
        return int(batch["label"].shape[0])

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        logits = self.model(batch)
        loss = F.cross_entropy(logits, batch["label"])
        acc = (logits.argmax(1) == batch["label"]).float().mean()
        bs = self._batch_size(batch)
        self.log("train/loss", loss, on_step=True, on_epoch=True, prog_bar=True, batch_size=bs, sync_dist=True)
        self.log("train/acc", acc, on_step=False, on_epoch=True, batch_size=bs, sync_dist=True)
        return loss

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        logits = self.model(batch)
        loss = F.cross_entropy(logits, batch["label"])
        bs = self._batch_size(batch)
        self.val_top1.update(logits, batch["label"])
        self.val_top5.update(logits, batch["label"])
        self.log("val/loss", loss, on_epoch=True, batch_size=bs, sync_dist=True)
        self.log("val/top1", self.val_top1, on_epoch=True, prog_bar=True)
        self.log("val/top5", self.val_top5, on_epoch=True)

    def predict_step(self, batch: dict, batch_idx: int, dataloader_idx: int = 0) -> dict:
        return {"logits": self.model(batch).float().cpu(), "label": batch["label"].cpu(),
                "index": batch["index"].cpu() if "index" in batch else None}

    def configure_optimizers(self):
        t = self.cfg.train
        lr = float(t.stage_lr.get(self.stage, t.lr))
        params = [p for p in self.model.parameters() if p.requires_grad]
        if not params:
            raise ValueError(f"stage {self.stage}: the model has no trainable parameters")
        if t.optimizer == "adam":
            opt = torch.optim.Adam(params, lr=lr, weight_decay=t.weight_decay)
        else:
            opt = torch.optim.SGD(params, lr=lr, momentum=0.9, nesterov=True, weight_decay=t.weight_decay)
        if t.lr_schedule == "cosine":  # PYSKL: CosineAnnealing by iteration down to 0
            steps = max(1, int(self.trainer.estimated_stepping_batches))
            sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps, eta_min=0.0)
            return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}
        sched = torch.optim.lr_scheduler.StepLR(opt, step_size=t.lr_step, gamma=t.lr_gamma)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "epoch"}}

    # RNG states travel with every checkpoint so a resumed run draws the same dropout masks
    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["mmff_rng"] = collect_rng_states()
        checkpoint["mmff_stage"] = self.stage

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        if "mmff_rng" in checkpoint:
            set_rng_states(checkpoint["mmff_rng"])


def strip_module_prefix(state_dict: dict, prefix: str = "model.") -> dict:
    """Lightning checkpoint ``state_dict`` -> the plain model's (drops metric states)."""
    return {k[len(prefix):]: v for k, v in state_dict.items() if k.startswith(prefix)}
