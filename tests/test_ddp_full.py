"""DDP of the whole model (issue 15 item 2): MMFF with ST-GCN, Xception, both attentions and the
cross-attention fusion, stages 1-3, `mmff train --devices 2` (gloo on CPU, ``train.sync_batchnorm``)
against one process at the same global batch (2 x 4 = 8): same samples in every step, same
augmentation (drawn per (seed, epoch, index)), dropout off (its masks are drawn per rank).

Optimiser. The comparison uses SGD (momentum 0.9), not the paper's Adam: Adam divides each
gradient by its own running RMS, so a parameter whose gradient is mathematically zero (the bias
of a convolution followed by batch norm, of which ST-GCN and Xception have many) moves by +-lr per
step driven by float rounding alone, in a direction that depends on the reduction order. Measured
with Adam (lr 3e-3, 3 steps/stage): such biases differ by up to 0.014 after stage 1, and through
the eval-mode streams of stage 2 and the running statistics the whole model then differs by ~3e-4
(median) after stage 3 - the same in a correct DDP run, so Adam cannot separate a bug from noise.

Tolerance. With SGD the two runs compute the same float32 function and differ only in reduction
order: the gradient is the all-reduced mean of two 4-sample halves instead of one 8-sample sum,
and the synchronised batch-norm statistics are sums of two partial sums. Each re-association
changes a gradient by a few float32 ulps, relative ~1e-7 (eps = 1.2e-7) growing to ~1e-6
through the network's depth; an SGD step moves a weight by lr * (momentum sum of gradients), so
over the S = 9 steps of the chain (stages 1, 2, 3) a weight moves by at most
~lr * S / (1 - 0.9) * max|g| ~ 0.05 * 9 * 10 * max|g| and differs by that times ~1e-6, i.e.
<= 5e-6 for max|g| ~ 1. We allow ``TOL = 1e-4`` (20x that) on every weight and a relative 1e-4
on batch-norm running statistics (averages of batch statistics that carry the same relative
error). A real DDP bug - unsynchronised gradients, a rank training on other samples, one rank's
batch-norm statistics - changes the gradient by O(1) relative, moving weights by O(lr * |g|)
~ 1e-3..1e-2 in every step, 10-100x above ``TOL``.

Stage 3 starts from the same weights in both runs. Chained (one process's stage 3 from its own
stage 2), stage 3 differed by up to 1.2e-3 (15% of what it moved the skeleton stream) while
stages 1-2 agreed to 1.5e-6. Measured in one process, without DDP: at the stage-2 state the
stage-3 loss's gradient is ill-conditioned in the first ST-GCN blocks under train-mode batch
norm - perturbing block 0's temporal-conv weights by 1e-6 (the size of the stage-1 reduction-order
noise) changes the skeleton stream's gradient by 0.24% (1e-5: 2.4%; 1e-7: 3e-6), and with the
batch norms in eval mode the same 1e-6 changes it by 6e-7. Over three SGD steps (lr 0.05,
momentum 0.9) that turns 1.5e-6 into ~1e-3: legitimate float noise amplified, not a DDP defect.
So stage 3 of the one-process run starts from the DDP run's stage 2 (same float start), and then
the two agree to ``TOL`` like the other stages (measured: 5e-7).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess

import torch

from mmff.cli import main
from mmff.engine.checkpoint import read_checkpoint
from test_engine_cli import MMFF_BIN, prepared, tiny_yaml  # noqa: F401  (fixtures)

STEPS = 3          # 24 train samples / global batch 8, 1 epoch per stage
TOL = 1e-4         # every weight (see the module docstring)
RTOL_STATS = 1e-4  # batch-norm running mean / variance, relative (floor 1e-2 on the magnitude)


def _sd(path):
    return read_checkpoint(path)["state_dict"]


def test_two_process_ddp_of_the_full_mmff_matches_one_process(prepared, tiny_yaml, tmp_path):  # noqa: F811
    common = ["train", "--config", str(tiny_yaml), "--data", str(prepared), "--no-progress",
              "--accelerator", "cpu",
              "--set", "model.skeleton.backbone=stgcn", "--set", "model.fusion.type=cross_attention",
              "--set", "model.rgb.self_attention=true", "--set", "model.rgb.skeleton_attention=true",
              "--set", "model.skeleton.dropout=0.0", "--set", "model.fusion.dropout=0.0",
              "--set", "train.epochs={1: 1, 2: 1, 3: 1}", "--set", "train.sync_batchnorm=true",
              "--set", "data.val=none", "--set", "train.optimizer=sgd", "--set", "train.lr=0.05"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.run([str(MMFF_BIN), *common, "--out", str(tmp_path / "ddp"), "--devices", "2",
                           "--set", "data.batch_size=4"], capture_output=True, text=True, timeout=900,
                          env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ddp, one = tmp_path / "ddp", tmp_path / "one"
    single = [*common, "--out", str(one), "--devices", "1", "--set", "data.batch_size=8"]
    assert main([*single, "--stage", "1"]) == 0 and main([*single, "--stage", "2"]) == 0
    # stage 3 from the DDP run's stage 2: both stage-3 runs start from the same floats (see above)
    for rel in ("stage1", "stage2"):
        shutil.copytree(ddp / rel, one / "from_ddp" / rel)
    assert main([*common, "--out", str(one / "from_ddp"), "--devices", "1",
                 "--set", "data.batch_size=8", "--stage", "3"]) == 0
    shutil.copytree(one / "from_ddp" / "stage3", one / "stage3")
    for rel in ("stage1/skeleton", "stage1/rgb", "stage2", "stage3"):
        m_ddp = json.loads((ddp / rel / "metrics.json").read_text())
        m_one = json.loads((one / rel / "metrics.json").read_text())
        assert (m_ddp["world_size"], m_one["world_size"]) == (2, 1), rel
        assert m_ddp["global_step"] == m_one["global_step"] == STEPS, rel
        a, b = _sd(ddp / rel / "model.pt"), _sd(one / rel / "model.pt")
        assert a.keys() == b.keys(), rel
        stats = [k for k in a if k.endswith(("running_mean", "running_var"))]
        weights = [k for k in a if a[k].is_floating_point() and k not in stats]
        worst = sorted(((float((a[k].double() - b[k].double()).abs().max()), k) for k in weights),
                       reverse=True)[:3]
        assert worst[0][0] <= TOL, f"{rel}: DDP weights differ by {worst} > {TOL}"
        worst = sorted((float(((a[k] - b[k]).abs() / b[k].abs().clamp(min=1e-2)).max()), k)
                       for k in stats)[::-1][:3]
        assert not stats or worst[0][0] <= RTOL_STATS, f"{rel}: running statistics differ by {worst}"
        # integer buffers (batch-norm num_batches_tracked): the same number of steps on both
        assert all(torch.equal(a[k], b[k]) for k in a if not a[k].is_floating_point()), rel
    # the tolerance is far below what training moved: each stage changes weights by >> TOL
    for prev, rel in (("stage2", "stage3"),):
        a, b = _sd(ddp / prev / "model.pt"), _sd(ddp / rel / "model.pt")
        moved = max(float((a[k] - b[k]).abs().max()) for k in a if a[k].is_floating_point())
        assert moved > 30 * TOL, (rel, moved)
    # the model really is the full MMFF: ST-GCN, Xception with both attentions, cross-attention
    s3 = _sd(ddp / "stage3/model.pt")
    assert any(k.startswith("skeleton_stream.") and "edge_importance" in k for k in s3)
    assert any(k.startswith("fusion.") for k in s3) and any(k.startswith("rgb_stream.") for k in s3)
    assert any("attention" in k for k in s3 if k.startswith("rgb_stream."))
    # stage 2 under DDP: the frozen streams are bit for bit the stage-1 weights (BN stats included)
    s2 = _sd(ddp / "stage2/model.pt")
    for part, prefix in (("skeleton", "skeleton_stream."), ("rgb", "rgb_stream.")):
        s1 = _sd(ddp / f"stage1/{part}/model.pt")
        keys = [k for k in s2 if k.startswith(prefix)]
        assert keys and all(torch.equal(s1[k], s2[k]) for k in keys), part
    # ... and stage 3 fine-tuned the fusion further
    assert any(not torch.equal(s2[k], s3[k]) for k in s2 if k.startswith("fusion."))


# --------------------------------------------------------------------------- the CPU sync BN itself
def _syncbn_rank(rank: int, world: int, port: int, x, w0, b0, out_dir: str) -> None:
    import torch.distributed as dist
    from mmff.engine.syncbn import convert

    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    try:
        torch.set_num_threads(1)
        bn = convert(torch.nn.Sequential(torch.nn.BatchNorm2d(3))).train()
        with torch.no_grad():
            bn[0].weight.copy_(w0)
            bn[0].bias.copy_(b0)
        xs = x.chunk(world)[rank].clone().requires_grad_(True)
        y = bn(xs)
        (y * torch.arange(1.0, y.numel() + 1).view_as(y) / y.numel()).sum().backward()
        torch.save({"y": y.detach(), "gx": xs.grad, "gw": bn[0].weight.grad, "gb": bn[0].bias.grad,
                    "rm": bn[0].running_mean, "rv": bn[0].running_var},
                   os.path.join(out_dir, f"r{rank}.pt"))
    finally:
        dist.destroy_process_group()


def test_cpu_sync_batchnorm_equals_one_process_batch_norm(tmp_path):
    """2 gloo processes x 3 samples = BatchNorm2d on the 6 samples: outputs, input and affine
    gradients (the loss weights differ per sample, so the BN backward is non-trivial) and running
    statistics, to float32 rounding. A per-process BN differs at O(1) in all of them."""
    import socket

    import torch.multiprocessing as mp
    from mmff.engine.syncbn import CPUSyncBatchNorm, convert, revert

    g = torch.Generator().manual_seed(0)
    x = torch.randn(6, 3, 4, 5, generator=g) * 2 + 1
    x[3:] += 1.5  # the two halves have different statistics
    w0, b0 = torch.rand(3, generator=g) + 0.5, torch.randn(3, generator=g)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.spawn(_syncbn_rank, args=(2, port, x, w0, b0, str(tmp_path)), nprocs=2, join=True)
    r = [torch.load(tmp_path / f"r{i}.pt", weights_only=True) for i in range(2)]
    ref = torch.nn.BatchNorm2d(3).train()
    with torch.no_grad():
        ref.weight.copy_(w0)
        ref.bias.copy_(b0)
    xr = x.clone().requires_grad_(True)
    y = ref(xr)
    w = torch.cat([torch.arange(1.0, y.numel() // 2 + 1)] * 2).view_as(y) / (y.numel() // 2)
    (y * w).sum().backward()
    close = dict(atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(torch.cat([r[0]["y"], r[1]["y"]]), y.detach(), **close)
    torch.testing.assert_close(torch.cat([r[0]["gx"], r[1]["gx"]]), xr.grad, **close)
    # DDP averages parameter gradients over the ranks; the sum of the ranks' is the full one
    torch.testing.assert_close(r[0]["gw"] + r[1]["gw"], ref.weight.grad, **close)
    torch.testing.assert_close(r[0]["gb"] + r[1]["gb"], ref.bias.grad, **close)
    for k, v in (("rm", ref.running_mean), ("rv", ref.running_var)):
        torch.testing.assert_close(r[0][k], v, **close)
        torch.testing.assert_close(r[1][k], v, **close)
    # a single process: plain batch norm; convert / revert keep the tensors and the classes
    m = torch.nn.Sequential(torch.nn.BatchNorm1d(3), torch.nn.Sequential(torch.nn.BatchNorm3d(2)))
    bn_w = m[0].weight
    c = convert(m)
    assert isinstance(c[0], CPUSyncBatchNorm) and isinstance(c[1][0], CPUSyncBatchNorm)
    assert c[0].weight is bn_w
    torch.testing.assert_close(c[0](torch.ones(4, 3) * torch.arange(4.0)[:, None]),
                               torch.nn.BatchNorm1d(3)(torch.ones(4, 3) * torch.arange(4.0)[:, None]))
    back = revert(c)
    assert type(back[0]) is torch.nn.BatchNorm1d and type(back[1][0]) is torch.nn.BatchNorm3d
    assert back[0].weight is bn_w
