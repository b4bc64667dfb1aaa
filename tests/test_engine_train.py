"""Engine: three stages end to end, exact kill-and-resume, checkpoints (weights_only), eval outputs."""
from __future__ import annotations

import json

import lightning as L
import pytest
import torch

from mmff.engine.checkpoint import (CheckpointError, load_checkpoint, load_stream_weights, read_checkpoint,
                                    save_checkpoint)
from mmff.engine.evaluation import compute_metrics, evaluate
from mmff.engine.stages import StageError, final_model_path, run_stages
from test_engine_support import CLASSES, state_equal, tiny_cfg, toy_factory


def _sub(sd: dict, prefix: str) -> dict:
    return {k: v for k, v in sd.items() if k.startswith(prefix)}


@pytest.fixture(scope="module")
def three_stage_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("engine") / "run"
    cfg = tiny_cfg(epochs=(2, 1, 1))
    summary = run_stages(cfg, out, dataset_factory=toy_factory, progress=False)
    return cfg, out, summary


def test_three_stages_write_their_outputs_and_chain_weights(three_stage_run):
    cfg, out, summary = three_stage_run
    for rel in ("stage1/skeleton", "stage1/rgb", "stage2", "stage3"):
        d = out / rel
        for name in ("last.ckpt", "model.pt", "metrics.json", "loss.png"):
            assert (d / name).is_file(), d / name
        assert list((d / "logs").rglob("metrics.csv")), rel
        assert json.loads((d / "metrics.json").read_text())["finished"] is True
    assert summary["final_model"] == "stage3/model.pt"
    assert final_model_path(out) == out / "stage3" / "model.pt"
    assert summary["stages"]["stage1/skeleton"]["epochs"] == 2 and summary["stages"]["stage3"]["epochs"] == 1
    sk1 = read_checkpoint(out / "stage1/skeleton/model.pt")["state_dict"]
    rgb1 = read_checkpoint(out / "stage1/rgb/model.pt")["state_dict"]
    s2 = read_checkpoint(out / "stage2/model.pt")["state_dict"]
    s3 = read_checkpoint(out / "stage3/model.pt")["state_dict"]
    assert any(k.startswith("head.") for k in sk1)  # stage 1 has its own classifier ...
    assert not any(k.startswith("head.") for k in s2)  # ... which stage 2 drops
    # stage 2: streams frozen = exactly the stage-1 weights (batch-norm statistics included)
    assert state_equal(_sub(sk1, "skeleton_stream."), _sub(s2, "skeleton_stream.")) == []
    assert state_equal(_sub(rgb1, "rgb_stream."), _sub(s2, "rgb_stream.")) == []
    # stage 3 starts from stage 2 and fine-tunes everything
    assert state_equal(_sub(s2, "skeleton_stream."), _sub(s3, "skeleton_stream."))
    assert state_equal(_sub(s2, "fusion."), _sub(s3, "fusion."))


def test_resume_skips_finished_stages(three_stage_run):
    cfg, out, _ = three_stage_run
    before = (out / "stage3/model.pt").stat().st_mtime_ns
    s = run_stages(cfg, out, resume=True, dataset_factory=toy_factory, progress=False)
    assert all(v.get("skipped") for v in s["stages"].values())
    assert (out / "stage3/model.pt").stat().st_mtime_ns == before


def test_stage2_without_stage1_is_a_clear_error(tmp_path):
    with pytest.raises(StageError, match="stage1/skeleton/model.pt: missing; run stage 1"):
        run_stages(tiny_cfg(), tmp_path, stages=(2,), dataset_factory=toy_factory, progress=False)


class Crash(RuntimeError):
    pass


class CrashAt(L.Callback):
    """Simulates a kill: raises once ``global_step`` reaches ``n`` (before that step's checkpoint)."""

    def __init__(self, n: int):
        self.n = n

    def on_train_batch_end(self, trainer, *args):
        if trainer.global_step >= self.n:
            raise Crash(f"killed at step {trainer.global_step}")


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    # 2 RNN layers with dropout: the resumed run must also redraw the same dropout masks
    cfg = tiny_cfg(kind="skeleton_only", epochs=(3, 1, 1))
    cfg.model.skeleton.rnn_layers = 2
    out = tmp_path_factory.mktemp("uninterrupted")
    run_stages(cfg, out, dataset_factory=toy_factory, progress=False)
    return cfg, read_checkpoint(out / "stage1/skeleton/model.pt")["state_dict"]


# 18 samples / batch 4 = 5 steps per epoch, last.ckpt every 2 steps:
# step 7 -> resumes mid-epoch 2 from step 6; step 11 -> resumes from step 10, the end of epoch 2
@pytest.mark.parametrize("kill_at", [7, 11])
def test_kill_and_resume_gives_the_same_weights(uninterrupted, tmp_path, kill_at):
    cfg, ref = uninterrupted
    with pytest.raises(Crash):
        run_stages(cfg, tmp_path, dataset_factory=toy_factory, progress=False, callbacks=[CrashAt(kill_at)])
    assert not (tmp_path / "stage1/skeleton/metrics.json").exists()
    step = torch.load(tmp_path / "stage1/skeleton/last.ckpt", weights_only=True)["global_step"]
    assert step == kill_at - 1
    s = run_stages(cfg, tmp_path, resume=True, dataset_factory=toy_factory, progress=False)
    st = s["stages"]["stage1/skeleton"]
    assert st["resumed"] and st["global_step"] == 15
    got = read_checkpoint(tmp_path / "stage1/skeleton/model.pt")["state_dict"]
    assert state_equal(ref, got) == []


def test_checkpoint_roundtrip_and_stream_transfer(tmp_path):
    from mmff.models import create_model
    cfg = tiny_cfg(kind="skeleton_only")
    model = create_model(cfg)
    p = save_checkpoint(tmp_path / "m.pt", model, cfg, CLASSES, stage=1, metrics={"top1": 0.5})
    raw = torch.load(p, weights_only=True)
    assert raw["format"] == "mmff/1" and raw["classes"] == CLASSES and raw["config"]["model"]["kind"] == "skeleton_only"
    m2, cfg2, classes, extra = load_checkpoint(p)
    assert cfg2 == cfg and classes == CLASSES and extra == {"stage": 1, "metrics": {"top1": 0.5}}
    assert state_equal(model.state_dict(), m2.state_dict()) == []
    mm = create_model(tiny_cfg(kind="mmff"))
    assert load_stream_weights(mm, p) == ["skeleton_stream"]
    assert state_equal(_sub(model.state_dict(), "skeleton_stream."), _sub(mm.state_dict(), "skeleton_stream.")) == []
    other = create_model(tiny_cfg(kind="mmff", backbone="bigru"))
    with pytest.raises(CheckpointError, match="skeleton_stream"):
        load_stream_weights(other, p)


class Payload:
    """Any custom class: unpickling it could run arbitrary code."""

    def __reduce__(self):
        return (print, ("this must never run",))


def test_arbitrary_pickles_are_refused_with_one_line(tmp_path, capsys):
    bad = tmp_path / "evil.pt"
    torch.save({"format": "mmff/1", "payload": Payload()}, bad)
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(bad)
    msg = str(e.value)
    assert str(bad) in msg and "weights_only" in msg and "\n" not in msg
    assert "this must never run" not in capsys.readouterr().out
    plain = tmp_path / "plain.pt"
    torch.save({"state_dict": {}}, plain)
    with pytest.raises(CheckpointError, match="not an mmff checkpoint"):
        load_checkpoint(plain)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="junk.pt"):
        load_checkpoint(junk)


def test_compute_metrics_by_hand():
    logits = torch.tensor([[3.0, 1, 0], [0, 2, 1], [0, 2, 1], [1, 0, 2]])
    labels = torch.tensor([0, 1, 2, 2])
    m = compute_metrics(logits, labels, CLASSES)
    assert m["top1"] == 0.75 and m["num_samples"] == 4
    assert m["confusion"] == [[1, 0, 0], [0, 1, 0], [0, 1, 1]]
    assert m["per_class"] == [1.0, 1.0, 0.5]
    assert compute_metrics(logits, torch.tensor([1, 0, 0, 1]), CLASSES)["top1"] == 0.0


def test_eval_writes_results_and_figures(three_stage_run, tmp_path):
    cfg, out, _ = three_stage_run
    res = evaluate(out, None, split="test", out=tmp_path, dataset_factory=toy_factory, progress=False)
    data = json.loads((tmp_path / "results.json").read_text())
    for key in ("top1", "top5", "per_class", "confusion", "num_samples", "classes"):
        assert key in data
    assert data["num_samples"] == 18 and data["classes"] == CLASSES
    assert sum(map(sum, data["confusion"])) == 18
    assert data["top5"] == 1.0  # 3 classes
    assert abs(res["top1"] - sum(data["confusion"][i][i] for i in range(3)) / 18) < 1e-6
    for png in ("confusion.png", "per_class.png"):
        assert (tmp_path / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # the Lightning checkpoint evaluates the same when given the config
    res2 = evaluate(out / "stage3" / "last.ckpt", cfg, dataset_factory=toy_factory, progress=False)
    assert res2["confusion"] == data["confusion"]
    with pytest.raises(CheckpointError, match="pass --config"):
        evaluate(out / "stage3" / "last.ckpt", None, dataset_factory=toy_factory, progress=False)


@pytest.mark.parametrize("payload", [b"", b"junk", b"PK\x03\x04" + b"\x00" * 8])
def test_short_junk_files_are_one_line_errors(tmp_path, payload):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(payload)
    with pytest.raises(CheckpointError, match="bad.pt"):
        load_checkpoint(bad)
