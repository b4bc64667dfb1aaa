"""`mmff demo` smoke test: the whole pipeline at a tiny size (1 epoch per stage)."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from mmff.cli import main
from mmff.engine.demo import DEMO_MODELS, format_table

TINY = ["--samples-per-class", "2", "--size", "64x48", "--workers", "1", "--no-progress",
        "--set", "train.epochs={1: 1, 2: 1, 3: 1}", "--set", "data.image_size=32",
        "--set", "data.clip_len=16", "--set", "data.batch_size=24"]


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "run"
    rc = main(["demo", "--out", str(out), "--seed", "1"] + TINY)
    assert rc == 0
    return out


def test_demo_writes_results_checkpoint_and_figures(demo_run, capsys):
    res = json.loads((demo_run / "results.json").read_text())
    for key in ("skeleton_only", "rgb_only", "mmff"):  # the test-split evaluation's top-1, as counted
        ev = json.loads((demo_run / "eval" / key / "results.json").read_text())
        conf = np.asarray(ev["confusion"])
        assert conf.sum() == 24 and res[key] == ev["top1"] == pytest.approx(np.trace(conf) / 24)
    assert res["seconds"] > 0 and res["seed"] == 1 and res["num_test_samples"] == 24
    ck = torch.load(demo_run / "model.pt", map_location="cpu", weights_only=True)
    assert ck["format"] == "mmff/1" and ck["config"]["model"]["kind"] == "mmff"
    assert len(ck["classes"]) == 24
    for png in ("confusion.png", "per_class.png"):
        assert (demo_run / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for key in DEMO_MODELS:
        assert (demo_run / "eval" / key / "results.json").is_file()
        # validation split (held-out training subjects) and test, both recorded per model
        val = json.loads((demo_run / "eval_val" / key / "results.json").read_text())
        assert res["val"][key] == val["top1"] and res["test"][key] == res[key]
        assert val["num_samples"] == res["num_val_samples"] > 0
    assert res["val_split"].startswith("ntu60_xsub/val (subjects ")
    # training monitored that split only, not the test split
    m = json.loads((demo_run / "train" / "stage3" / "metrics.json").read_text())
    assert m["val_split"] == res["val_split"] and len(m["val_samples"]) == res["num_val_samples"]
    index = json.loads((demo_run / "prepared" / "index.json").read_text())
    subsets = {e["name"]: e["subsets"]["ntu60_xsub"] for e in index["samples"]}
    assert {subsets[n] for n in m["val_samples"]} == {"train"}


def test_demo_rerun_resumes_and_refuses_another_seed(demo_run, capsys):
    before = (demo_run / "train" / "stage3" / "model.pt").stat().st_mtime_ns
    assert main(["demo", "--out", str(demo_run), "--seed", "1"] + TINY) == 0
    assert (demo_run / "train" / "stage3" / "model.pt").stat().st_mtime_ns == before
    assert "MMFF (stage 3)" in capsys.readouterr().out
    # the folder holds the seed-1 dataset: another seed is refused in one line
    assert main(["demo", "--out", str(demo_run), "--seed", "2"] + TINY) == 2
    assert "seed" in capsys.readouterr().err


def test_format_table():
    text = format_table({"skeleton_only": 0.25, "rgb_only": 0.5, "mmff": 0.975,
                         "num_classes": 24, "num_test_samples": 288, "seed": 0, "seconds": 300})
    assert "97.5%" in text and "25.0%" in text and "seed 0" in text


def test_several_seeds_write_a_summary(tmp_path, monkeypatch, capsys):
    import mmff.engine.demo as demo

    fake = {0: (0.2, 0.3, 0.95, 0.9), 1: (0.25, 0.2, 0.91, 1.0), 2: (0.3, 0.25, 0.93, 0.8)}

    def run_demo(out, seed, log=print, **kw):
        sk, rgb, mm, v = fake[seed]
        return {"val": {"skeleton_only": 0.1, "rgb_only": 0.2, "mmff": v},
                "test": {"skeleton_only": sk, "rgb_only": rgb, "mmff": mm}, "seconds": 1.0,
                "val_split": "ntu60_xsub/val (subjects 9, 28)"}

    monkeypatch.setattr(demo, "run_demo", run_demo)
    assert main(["demo", "--out", str(tmp_path), "--seeds", "0", "1", "2", "--no-progress"]) == 0
    res = json.loads((tmp_path / "demo.json").read_text())
    assert res["seeds"] == [0, 1, 2] and [r["seed"] for r in res["rows"]] == [0, 1, 2]
    m = res["test"]["mmff"]
    assert m["min"] == 0.91 and m["max"] == 0.95 and abs(m["mean"] - 0.93) < 1e-12
    assert abs(m["std"] - 0.02) < 1e-12                     # sample std (ddof 1)
    assert abs(res["val"]["mmff"]["mean"] - 0.9) < 1e-12
    out = capsys.readouterr().out
    assert "91.0%" in out and "mean" in out and "min" in out


class _Generated(Exception):
    """Raised by the stand-in generator: the demo got as far as generating."""


def stop_at_generate(monkeypatch) -> list:
    """``mmff.data.synth.generate`` replaced by a recorder that stops the demo there; returns
    the list its keyword arguments are appended to."""
    import mmff.data.synth as synth
    calls: list = []

    def generate(out, samples_per_class, **kw):
        calls.append(kw)
        raise _Generated()

    monkeypatch.setattr(synth, "generate", generate)
    return calls


@pytest.mark.parametrize("version,size", [(1, (320, 240)), (2, "lite")])
def test_demo_synth_version_picks_the_generator_and_its_size(version, size, monkeypatch, tmp_path):
    """``mmff demo`` generates SynthHOI v1 at 320x240 by default; ``--synth-version 2`` SynthHOI
    v2 at its lite size."""
    from mmff.data.synth import V2_LITE_SIZE
    generate_calls = stop_at_generate(monkeypatch)
    args = ["demo", "--out", str(tmp_path), "--samples-per-class", "2", "--workers", "1", "--no-progress"]
    with pytest.raises(_Generated):
        main(args + (["--synth-version", str(version)] if version != 1 else []))
    (kw,) = generate_calls
    assert kw["version"] == version
    assert tuple(kw["size"]) == (V2_LITE_SIZE if size == "lite" else size)


def test_demo_refuses_a_raw_folder_of_the_other_generator_version(tmp_path, monkeypatch, capsys):
    """OUT/raw made by one generator version is never reused by a demo of the other version (a
    one-line error naming synth.json); a demo of the same version goes on to (resume) generating."""
    from mmff.data import synth
    for made, other in ((1, 2), (2, 1)):
        out = tmp_path / f"v{made}"
        synth.generate(out / "raw", 2, size=(64, 48), version=made, classes=[0], progress=False)
        args = ["demo", "--out", str(out), "--samples-per-class", "2", "--size", "64x48", "--workers", "1",
                "--no-progress"]
        assert main(args + ["--synth-version", str(other)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "synth.json" in err[0] and "version" in err[0], err
        calls = stop_at_generate(monkeypatch)
        with pytest.raises(_Generated):
            main(args + ["--synth-version", str(made)])
        assert calls[0]["version"] == made
        monkeypatch.undo()
