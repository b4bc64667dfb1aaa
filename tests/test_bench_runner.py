"""``mmff bench``: every section runs end to end at test size; keys, finiteness, correctness.

Timing ratios are reported, never asserted (CI machines are noisy); correctness is: the fast
skeleton reader returns the yardstick's numbers, the frame at p is the decode-all frame.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from mmff.cli import main
from mmff.engine.benchmarks import SECTIONS, BenchSettings, finite_ratios, run_benchmarks
from mmff.engine.benchmarks.report import format_table, markdown_report, plot_scaling

# Small models and inputs: the benchmark code paths at a fraction of the paper's cost.
TINY = {"model": {"skeleton": {"width": 0.125},
                  "rgb": {"width": 0.0625, "middle_blocks": 1},
                  "fusion": {"reduced_channels": 16, "conv_channels": 32, "hidden": 32}},
        "data": {"clip_len": 32, "image_size": 64, "batch_size": 4}}


@pytest.fixture(scope="module")
def results(tmp_path_factory, ntu_dir):
    s = BenchSettings.preset(
        True, out=tmp_path_factory.mktemp("bench"), ntu_dir=ntu_dir, threads=1, workers=1,
        repeats=1, io_repeats=1, warmup=0, prepare_samples=2, loader_batches=2, step_batches=1,
        scaling_lengths=(20, 40), scaling_frames=(1, 3), scaling_size=(160, 120),
        synth_size=(320, 240), loader_size=(160, 120), model_overrides=TINY, clip_frames=8,
        clip_size=32, e2e_variants=("paper",))   # the other variants: test_bench_variants.py
    res = run_benchmarks(s, SECTIONS, strict=True)
    torch.set_num_threads(1)
    return res


def test_all_sections_and_keys_present(results):
    for key in SECTIONS:
        assert key in results and "error" not in results[key], results.get(key)
    e2e = results["e2e"]
    for k in ("mmff_s", "baseline_s", "time_ratio", "macs_ratio", "mmff_gmacs", "baseline_gmacs"):
        assert k in e2e
    assert set(e2e["samples"]) == {"ntu_given", "synth_320x240"}
    assert results["ntu_source"]["kind"] == "given" and "--ntu" in results["ntu_source"]["note"]
    for key in ("reader", "seek", "loader", "prepare"):
        assert "ratio" in results[key] and "goal" in results[key]
    sc = results["scaling"]
    assert [r["T"] for r in sc["rows"]] == [20, 40]
    assert sc["pipelines"] == ["mmff_1", "mmff_3", "baseline"]
    assert results["machine"]["torch"] == torch.__version__


def test_ratios_finite_and_positive(results):
    ratios = finite_ratios(results)
    assert set(ratios) == {"e2e", "e2e_macs", "reader", "seek", "loader", "prepare"}
    for v in ratios.values():
        assert math.isfinite(v) and v > 0
    for row in results["scaling"]["rows"]:
        assert all(math.isfinite(row[p]) and row[p] > 0 for p in results["scaling"]["pipelines"])


def test_correctness_checks(results):
    assert results["reader"]["same_numbers"] is True
    assert len(results["reader"]["checks"]) == 3  # every .skeleton file in --ntu, one two-person
    assert results["seek"]["same_pixels"] is True
    assert results["seek"]["frame_index"] == 51 and results["seek"]["frames"] == 103
    assert results["prepare"]["prepared_ok"] == 2 and not results["prepare"]["failed"]


def test_macs_are_counted_on_the_real_inputs(results):
    s = results["e2e"]["samples"]["ntu_given"]
    # the baseline carries the same skeleton stream plus a 3D CNN: strictly more MACs
    assert s["baseline_macs"] > s["mmff_macs"] > 0
    parts = results["e2e"]["parts_macs"]
    assert parts["mmff"]["skeleton_stream"]["macs"] == parts["baseline"]["skeleton_stream"]["macs"]
    assert parts["baseline"]["video_backbone"]["macs"] > 0


def test_report_writers(results, tmp_path):
    table = format_table(results)
    for name in ("e2e time paper [ntu_given]", "reader files/s", "frame at p=0.5", "prepare samples/s",
                 "loader vs step", "T (frames)"):
        assert name in table
    assert f"NTU data: NTU-format files from --ntu {results['ntu_source']['dir']}" in table
    md = markdown_report(results, "scaling.png")
    assert "## Summary" in md and "![scaling](scaling.png)" in md
    assert "NTU data: NTU-format files from --ntu" in md
    assert results["machine"]["cpu"] in md
    png = plot_scaling(results["scaling"], tmp_path / "s.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_json_only_reader(tmp_path, ntu_dir, capsys):
    rc = main(["bench", "--json", "--only", "reader", "--repeats", "1", "--threads", "1",
               "--out", str(tmp_path), "--ntu-dir", str(ntu_dir), "--no-progress", "--quick"])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    assert out["reader"]["same_numbers"] is True and out["reader"]["ratio"] > 0
    assert "e2e" not in out and out["command"].startswith("mmff bench --quick --json")
    assert f"--ntu {ntu_dir}" in out["command"] and out["ntu_source"]["kind"] == "given"
    assert (tmp_path / "results.json").is_file() and (tmp_path / "benchmarks.md").is_file()


def test_cli_without_ntu_uses_synthetic_pairs_and_writes_only_to_out(tmp_path, monkeypatch,
                                                                     capsys):
    """No --ntu: synthetic NTU-format pairs are made in --out and the output says so; the
    report goes to --out (and to --doc only when asked), nothing is read from or written to
    the working folder or a repository checkout."""
    import mmff.engine.benchmarks as B

    real = B.BenchSettings.preset
    monkeypatch.setattr(B.BenchSettings, "preset", classmethod(
        lambda cls, quick, **over: _small_synth(real(quick, **over))))
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    out = tmp_path / "out"
    rc = main(["bench", "--only", "reader", "seek", "--repeats", "1", "--threads", "1",
               "--out", str(out), "--quick", "--doc", str(tmp_path / "doc" / "bench.md")])
    assert rc == 0
    captured = capsys.readouterr()
    assert "NTU data: synthetic NTU-format pairs (160x120, mmff.data.synth)" in captured.out
    res = json.loads((out / "results.json").read_text())
    src = res["ntu_source"]
    assert src["kind"] == "synthetic" and Path(src["dir"]) == out / "synth_ntu_160x120"
    assert len(src["skeletons"]) == 2 and res["reader"]["same_numbers"] is True
    assert res["seek"]["same_pixels"] is True
    assert Path(src["pair"][1]).name == "S001C001P001R001A001_rgb.avi"
    assert "NTU data: synthetic" in (tmp_path / "doc" / "bench.md").read_text()
    assert list(cwd.iterdir()) == []                    # nothing written beside the caller


def _small_synth(s):
    s.ntu_synth_size, s.ntu_synth_samples, s.warmup = (160, 120), 2, 0
    return s


def test_given_folder_without_the_pair_is_one_clear_error(tmp_path):
    s = BenchSettings.preset(True, out=tmp_path, ntu_dir=tmp_path / "empty")
    with pytest.raises(FileNotFoundError, match=r"empty/S001C001P001R001A001\.skeleton: --ntu DIR"):
        run_benchmarks(s, ["seek"], strict=True)
    assert BenchSettings.preset(True).ntu_dir is None and BenchSettings().out == Path("runs/bench")


def test_cli_rejects_bad_values(tmp_path, capsys):
    assert main(["bench", "--repeats", "0", "--out", str(tmp_path)]) == 2
    assert "--repeats" in capsys.readouterr().err
    with pytest.raises(ValueError, match="unknown benchmark section"):
        run_benchmarks(BenchSettings.preset(True, out=tmp_path), ["nope"])
