"""Kill and resume for real (README "resume after a kill"): `mmff train`, `mmff prepare` and
`mmff table` are SIGKILLed (with their DataLoader / pool workers) at chosen points, rerun with
``--resume`` (train; prepare and table resume by design), and must end exactly where an
uninterrupted run ends: same weights bit for bit, the same prepared samples, the same table.
The children are forked by tests/killing.py (no torch re-import per run)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml

from killing import run_child
from mmff.cli import main
from mmff.engine.checkpoint import read_checkpoint
from test_engine_support import make_prepared_synth, state_equal, tiny_cfg_dict

STAGES = ("stage1/skeleton", "stage1/rgb", "stage2", "stage3")


@pytest.fixture(scope="module")
def synth_prepared(tmp_path_factory):
    """SynthHOI, 24 classes x 3 samples at 64x48, prepared (xsub: 24 test, the rest train + val)."""
    return make_prepared_synth(tmp_path_factory.mktemp("resume_data"), 3)


@pytest.fixture(scope="module")
def train_yaml(tmp_path_factory, synth_prepared):
    """Tiny MMFF (Bi-LSTM with dropout + light Xception, LSTM late fusion), 2 loader workers,
    batch 16 (3 steps per epoch), last.ckpt every 2 steps; epochs 3 / 1 / 2. One torch thread:
    two on a busy 2-core machine make every step ~7x slower."""
    d = tiny_cfg_dict(kind="mmff", epochs=(3, 1, 2), batch_size=16)
    d["model"]["num_classes"] = 24
    d["data"].update(num_workers=2, random_crop=24, crop_margin=[10, 30], test_margin=20, val="subjects")
    d["train"].update(checkpoint_every_n_steps=2, lr_step=2, val_every_n_epochs=1, num_threads=1)
    p = tmp_path_factory.mktemp("resume_cfg") / "tiny_mmff.yaml"
    p.write_text(yaml.safe_dump(d))
    return p


def _train_argv(cfg: Path, data: Path, out: Path, resume: bool = False) -> list[str]:
    return ["train", "--config", str(cfg), "--data", str(data), "--out", str(out), "--no-progress",
            *(["--resume"] if resume else [])]


def _ckpt_step(out: Path, rel: str) -> int:
    return int(torch.load(out / rel / "last.ckpt", weights_only=True, map_location="cpu")["global_step"])


def _starts(folder: Path, name: str = "starts.jsonl") -> list[dict]:
    f = folder / name
    return [json.loads(ln) for ln in f.read_text().splitlines()] if f.exists() else []


def _validations(*folders: Path) -> list[tuple]:
    """Every validation that ran, over all tries, once: (kind, stage, epoch, global step)."""
    return sorted({tuple(v[k] for k in ("kind", "stage", "epoch", "global_step"))
                   for f in folders for v in _starts(f, "validations.jsonl")})


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, synth_prepared, train_yaml):
    _, prep = synth_prepared
    d = tmp_path_factory.mktemp("resume_ref")
    assert run_child(_train_argv(train_yaml, prep, d / "out"), d) is None
    for rel, steps in zip(STAGES, (9, 9, 3, 6)):
        m = json.loads((d / "out" / rel / "metrics.json").read_text())
        assert m["global_step"] == steps, (rel, m["global_step"], "expected 3 steps per epoch")
    return d / "out", _starts(d), _validations(d)


# Kill points, one after the other on the same run (each --resume is killed at the next one):
# (pause point, stage folder, the step its last.ckpt holds, (step, epoch) the resumed run starts at)
KILLS = [
    # at the last step of epoch 0 (steps 1-3), before its validation; last.ckpt holds step 2 (mid-epoch)
    ({"hook": "on_train_batch_end", "kind": "skeleton_only", "stage": 1, "global_step": 3},
     "stage1/skeleton", 2, (2, 0)),
    # after step 6, the last of epoch 1 and a checkpoint step, before its validation: the
    # resumed run must redo steps 5-6 *and* that validation
    ({"hook": "on_validation_start", "kind": "rgb_only", "stage": 1, "epoch": 1}, "stage1/rgb", 4, (4, 1)),
    # the case: right after the checkpoint of an epoch's last step (6) appeared
    ({"hook": "on_train_epoch_start", "kind": "rgb_only", "stage": 1, "epoch": 2}, "stage1/rgb", 6, (6, 2)),
    # between stages: stage 2 finished, stage 3 not started
    ({"hook": "on_fit_start", "kind": "mmff", "stage": 3}, "stage3", None, (0, 0)),
    # mid-epoch of stage 3 (step 5; epoch 1 has steps 4-6); last.ckpt holds step 4
    ({"hook": "on_train_batch_end", "kind": "mmff", "stage": 3, "global_step": 5}, "stage3", 4, (4, 1)),
]


def test_train_killed_at_five_points_resumes_to_the_uninterrupted_weights(
        uninterrupted, synth_prepared, train_yaml, tmp_path):
    ref_out, ref_starts, ref_vals = uninterrupted
    assert [(s["kind"], s["global_step"]) for s in ref_starts] == [
        ("skeleton_only", 0), ("rgb_only", 0), ("mmff", 0), ("mmff", 0)]
    _, prep = synth_prepared
    out = tmp_path / "out"
    expect = None  # where the next (resumed) run must start: (kind, stage, (step, epoch))
    for i, (pause, rel, held, start) in enumerate(KILLS + [(None, None, None, None)]):
        folder = tmp_path / f"try{i}"
        killed = run_child(_train_argv(train_yaml, prep, out, resume=i > 0), folder, pause=pause)
        if expect is not None:  # resumed from last.ckpt, not restarted
            starts = _starts(folder)
            first = next(s for s in starts if (s["kind"], s["stage"]) == expect[:2])
            assert (first["global_step"], first["epoch"]) == expect[2], (i, starts)
        if pause is None:
            assert killed is None
            break
        assert killed is not None and killed["hook"] == pause["hook"], (i, killed)
        assert not (out / rel / "metrics.json").exists()
        if held is None:  # between stages: 1 and 2 finished, 3 has no checkpoint yet
            assert (out / "stage2/metrics.json").is_file() and not (out / rel / "last.ckpt").exists()
        else:
            assert _ckpt_step(out, rel) == held, (i, rel)
        expect = (pause["kind"], pause["stage"], start)
    # no validation lost (early stopping would count one check fewer than without the kill)
    assert _validations(*tmp_path.glob("try*")) == ref_vals
    assert len(ref_vals) == 3 + 3 + 1 + 2
    summary = json.loads((out / "summary.json").read_text())
    assert summary["stages"]["stage3"]["resumed"] is True
    assert summary["stages"]["stage1/skeleton"].get("skipped") is True
    for rel in STAGES:
        ref = read_checkpoint(ref_out / rel / "model.pt")["state_dict"]
        got = read_checkpoint(out / rel / "model.pt")["state_dict"]
        assert state_equal(ref, got) == [], rel
        a = json.loads((ref_out / rel / "metrics.json").read_text())
        b = json.loads((out / rel / "metrics.json").read_text())
        assert (a["global_step"], a["epochs"]) == (b["global_step"], b["epochs"]), rel


@pytest.mark.filterwarnings("ignore:Be aware that when using")
def test_a_checkpoint_at_an_epochs_last_batch_resumes_at_the_next_epoch(tmp_path):
    """The issue's bug at its root, in-process: Lightning's own ModelCheckpoint(every_n_train_steps)
    writes last.ckpt at the last batch of epoch 0 (step 5 of 5); with 2 loader workers the resumed
    run drew its first iterator from the saved loader state before set_epoch, trained an empty
    epoch 1 and ended at step 10 of 15. The loader state names the next epoch now."""
    from lightning.pytorch.callbacks import ModelCheckpoint

    from mmff.engine.stages import run_stages
    from test_engine_support import tiny_cfg, toy_factory
    from test_engine_train import Crash, CrashAt

    cfg = tiny_cfg(kind="skeleton_only", epochs=(3, 1, 1))  # 18 samples / batch 4: 5 steps per epoch
    cfg.data.num_workers = 2
    cfg.train.checkpoint_every_n_steps = 1000  # only the ModelCheckpoint below writes last.ckpt
    cfg.train.num_threads = 1
    run_stages(cfg, tmp_path / "a", dataset_factory=toy_factory, progress=False)
    sdir = tmp_path / "b/stage1/skeleton"
    every5 = ModelCheckpoint(dirpath=sdir, filename="last", every_n_train_steps=5, save_top_k=-1,
                             enable_version_counter=False)
    with pytest.raises(Crash):
        run_stages(cfg, tmp_path / "b", dataset_factory=toy_factory, progress=False, callbacks=[every5, CrashAt(6)])
    ck = torch.load(sdir / "last.ckpt", weights_only=True)
    assert ck["global_step"] == 5 and ck["loops"]["fit_loop"]["epoch_loop.batch_progress"]["is_last_batch"]
    assert ck["loops"]["fit_loop"]["state_dict"]["combined_loader"] == [{"epoch": 1, "batches_done": 0}]
    s = run_stages(cfg, tmp_path / "b", resume=True, dataset_factory=toy_factory, progress=False)
    assert s["stages"]["stage1/skeleton"]["resumed"] and s["stages"]["stage1/skeleton"]["global_step"] == 15
    a = read_checkpoint(tmp_path / "a/stage1/skeleton/model.pt")["state_dict"]
    b = read_checkpoint(sdir / "model.pt")["state_dict"]
    assert state_equal(a, b) == []


# --------------------------------------------------------------------------- prepare
def test_prepare_killed_mid_run_leaves_no_half_sample_and_the_rerun_completes(synth_prepared, tmp_path):
    """`mmff prepare ntu --workers 2` SIGKILLed (with its pool) once 8 samples are done: every
    file left is whole (the same arrays / bytes as an uninterrupted run), and the re-run writes
    only the rest and ends with the same index."""
    import numpy as np

    raw, ref = synth_prepared
    out = tmp_path / "prep"
    argv = ["prepare", "ntu", "--raw", str(raw), "--out", str(out), "--workers", "2", "--no-progress"]

    def done() -> int:
        return len(list((out / "samples").glob("*.json"))) if (out / "samples").is_dir() else 0

    assert run_child(argv, tmp_path / "try0", kill_when=lambda: done() >= 8) is not None
    n_done = done()
    assert 8 <= n_done < 72 and not (out / "index.json").exists()
    left = [f for f in (out / "samples").iterdir()] + [f for f in (out / "frames").iterdir()]
    whole = [f for f in left if not f.name.startswith(".tmp-")]
    assert len({f.stem for f in whole if f.suffix == ".npz"}) >= n_done
    for f in whole:  # nothing half-written: each file equals the uninterrupted run's
        if f.suffix == ".npz":
            with np.load(f) as a, np.load(ref / "samples" / f.name) as b:
                assert a.files == b.files and all(np.array_equal(a[k], b[k]) for k in a.files), f
        else:
            assert f.read_bytes() == (ref / f.parent.name / f.name).read_bytes(), f
    assert run_child(argv, tmp_path / "try1") is None
    report = json.loads((out / "report.json").read_text())
    assert (report["ok"], report["skipped"], report["written"]) == (72, n_done, 72 - n_done)
    assert json.loads((out / "index.json").read_text()) == json.loads((ref / "index.json").read_text())
    assert not [f for f in out.rglob(".tmp-*")]
    assert sorted(f.name for f in (out / "frames").iterdir()) == sorted(f.name for f in (ref / "frames").iterdir())


# --------------------------------------------------------------------------- table
def test_table_killed_between_rows_resumes_without_redoing_a_row(synth_prepared, train_yaml, tmp_path):
    """`mmff table 7` (2 rows, 1 seed) SIGKILLed when the second row starts training: the re-run
    keeps row 1 (not retrained), trains row 2 and writes the same table as an uninterrupted run."""
    _, prep = synth_prepared

    def argv(out: Path) -> list[str]:
        return ["table", "7", "--data", str(prep), "--base", str(train_yaml), "--seeds", "1", "--out", str(out),
                "--rows", "single LSTM", "--rows", "single Bi-GRU", "--set", "train.epochs={1: 1}",
                "--set", "data.num_workers=0", "--no-progress"]

    assert run_child(argv(tmp_path / "ref"), tmp_path / "ref_log") is None
    out = tmp_path / "out"
    killed = run_child(argv(out), tmp_path / "try0", pause={"hook": "on_fit_start", "nth": 2})
    assert killed is not None
    done = sorted(out.rglob("results.json"))
    assert len(done) == 1 and not (out / "table7/table7.json").exists()
    stamp = done[0].stat().st_mtime_ns
    assert run_child(argv(out), tmp_path / "try1") is None
    assert len(_starts(tmp_path / "try1")) == 1  # only the second row trained
    assert done[0].stat().st_mtime_ns == stamp
    ref = json.loads((tmp_path / "ref/table7/table7.json").read_text())
    got = json.loads((out / "table7/table7.json").read_text())
    assert got["failed"] == [] and got["rows"] == ref["rows"]


def test_training_an_epoch_on_another_epochs_order_is_refused():
    """The guard behind the fix: the loader's iterator must have been drawn for the epoch
    Lightning trains (a stale one trains other samples silently)."""
    from types import SimpleNamespace

    from mmff.engine.lightning import MMFFModule, ResumableSampler
    from mmff.models import create_model
    from test_engine_support import tiny_cfg

    cfg = tiny_cfg(kind="skeleton_only")
    module = MMFFModule(create_model(cfg), cfg, stage=1)
    sampler = ResumableSampler(10, seed=0)
    module.trainer = SimpleNamespace(current_epoch=2, train_dataloader=SimpleNamespace(sampler=sampler))
    module.on_train_batch_start({}, 0)  # nothing drawn yet: nothing to check
    sampler.set_epoch(2)
    iter(sampler)
    module.on_train_batch_start({}, 0)
    sampler.set_epoch(1)
    iter(sampler)
    with pytest.raises(RuntimeError, match="training epoch 2 draws the sample order of epoch 1"):
        module.on_train_batch_start({}, 0)
