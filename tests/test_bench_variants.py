"""``mmff bench`` e2e variants: the paper's 300-frame MMFF, PYSKL's 100-frame ST-GCN and
ST-GCN++, each against the baseline with the same skeleton recipe (tiny models, synthetic pairs).

Ratios are reported, never asserted; what is checked: every variant is in the JSON with its
ratios and goals, both pipelines of a variant get the same skeleton input, the 100-frame
variants really read 100 frames of the sequence (sampled, not padded), and MACs scale with it.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from mmff.cli import main
from mmff.cli.bench import E2E_VARIANTS
from mmff.engine.benchmarks import BenchSettings, run_benchmarks
from mmff.engine.benchmarks.e2e import RECIPES, MMFFPipeline, bench_e2e, paper_config
from mmff.engine.benchmarks.report import format_table, markdown_report, summary_rows
from mmff.engine.benchmarks.timing import measure_alternating

TINY = {"model": {"skeleton": {"width": 0.125},
                  "rgb": {"width": 0.0625, "middle_blocks": 0},
                  "fusion": {"reduced_channels": 8, "conv_channels": 16, "hidden": 16}},
        "data": {"image_size": 64, "clip_len": 16}}   # clip_len: the recipes set their own


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    s = BenchSettings.preset(
        True, out=tmp_path_factory.mktemp("bench_variants"), threads=1, repeats=1, warmup=0,
        ntu_synth_size=(160, 120), ntu_synth_samples=1, synth_size=(160, 120),
        model_overrides=TINY, clip_frames=4, clip_size=32)
    res = run_benchmarks(s, ["e2e"], strict=True)
    torch.set_num_threads(1)
    return res


def test_every_variant_reports_its_ratios_against_its_own_baseline(results):
    e2e = results["e2e"]
    assert list(e2e["variants"]) == list(E2E_VARIANTS) == list(RECIPES)
    for name, v in e2e["variants"].items():
        recipe = RECIPES[name]
        assert (v["backbone"], v["sampling"], v["clip_len"]) == (
            recipe.backbone, recipe.sampling, recipe.clip_len)
        assert (v["goal_time"], v["goal_macs"]) == (recipe.goal_time, recipe.goal_macs)
        assert set(v["samples"]) == {"ntu_synthetic", "synth_160x120"}
        for sample in v["samples"].values():
            for k in ("time_ratio", "macs_ratio"):
                assert math.isfinite(sample[k]) and sample[k] > 0
        # both pipelines read the same skeleton input, and run the same skeleton network
        assert v["skeleton_shape"]["mmff"] == v["skeleton_shape"]["baseline"]
        parts = v["parts_macs"]
        assert parts["mmff"]["skeleton_stream"] == parts["baseline"]["skeleton_stream"]
    # the paper's variant is the section's top level, as before
    paper = e2e["variants"]["paper"]
    for k in ("mmff_s", "baseline_s", "time_ratio", "macs_ratio", "goal_time", "goal_macs"):
        assert e2e[k] == paper[k]
    assert (RECIPES["stgcn_100"].goal_time, RECIPES["stgcn_100"].goal_macs) == (6.0, 9.0)


def test_100_frame_variants_read_100_frames(results):
    v = results["e2e"]["variants"]
    assert v["paper"]["skeleton_shape"]["mmff"] == [1, 3, 300, 25, 2]
    for name in ("stgcn_100", "stgcnpp_100"):
        assert v[name]["skeleton_shape"]["mmff"] == [1, 3, 100, 25, 2]
    # ST-GCN's cost is linear in the frames: the 100-frame stream costs a third of the paper's,
    # and the I3D side does not change
    macs = {n: v[n]["parts_macs"]["mmff"]["skeleton_stream"]["macs"] for n in v}
    assert macs["paper"] / macs["stgcn_100"] == pytest.approx(3.0, rel=0.02)
    video = {n: v[n]["parts_macs"]["baseline"]["video_backbone"]["macs"] for n in v}
    assert len(set(video.values())) == 1
    assert v["stgcn_100"]["macs_ratio"] > v["paper"]["macs_ratio"]


def test_uniform_sampling_takes_real_frames_where_the_paper_pads(results):
    """The 100-frame input is 100 frames drawn from the sequence (PYSKL's test-time draw); the
    paper's input is the sequence followed by zero frames up to 300."""
    skel, video = results["ntu_source"]["pair"]
    inputs = {}
    for name in ("paper", "stgcn_100"):
        pipe = MMFFPipeline(paper_config((0.5,), TINY, RECIPES[name]), torch.nn.Identity())
        inputs[name] = pipe.load(skel, video)["skeleton"][0, :, :, :, 0].numpy()   # (C, T, V)
    n = int((np.abs(inputs["paper"]).sum(axis=(0, 2)) > 0).sum())     # real frames
    assert 0 < n < 300 and not inputs["paper"][:, n:].any()
    assert inputs["stgcn_100"].shape[1] == 100
    assert (np.abs(inputs["stgcn_100"]).sum(axis=(0, 2)) > 0).all()   # no padding frame
    # every sampled frame is one of the sequence's frames
    real = inputs["paper"][:, :n].transpose(1, 0, 2).reshape(n, -1)
    for t in range(100):
        frame = inputs["stgcn_100"][:, t].reshape(-1)
        assert np.isclose(real, frame, atol=1e-6).all(axis=1).any()


def test_report_lists_each_variant(results):
    names = [r["measurement"] for r in summary_rows(results)]
    for v in E2E_VARIANTS:
        assert f"e2e time {v} [ntu_synthetic]" in names and f"e2e MACs {v} [synth_160x120]" in names
    table = format_table(results)
    assert "e2e time stgcn_100 [ntu_synthetic]" in table and ">= 9x" in table
    md = markdown_report(results)
    assert "ST-GCN++ on 100 frames uniformly sampled" in md and "| stgcnpp_100 |" in md
    assert "3x100x25x2" in md and "3x300x25x2" in md


def test_cli_variants_option(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["bench", "--variants", "nope", "--out", str(tmp_path)])
    assert "--variants: invalid choice: 'nope'" in capsys.readouterr().err
    s = BenchSettings.preset(True, out=tmp_path, e2e_variants=("nope",))
    with pytest.raises(ValueError, match=r"e2e variants \['nope'\]: choose from"):
        bench_e2e({}, s)


def test_alternating_timing_interleaves_the_two_sides():
    calls = []
    t = measure_alternating({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")},
                            repeats=3, warmup=1)
    assert calls == ["a", "b"] * 4
    assert t["a"].repeats == t["b"].repeats == 3 and t["a"].warmup == 1
    assert all(x >= 0 for x in t["a"].samples + t["b"].samples)
    with pytest.raises(ValueError, match="repeats"):
        measure_alternating({"a": lambda: None}, repeats=0)
