"""`mmff demo` smoke test: the whole pipeline at a tiny size (1 epoch per stage)."""
from __future__ import annotations

import json

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
    for key in ("skeleton_only", "rgb_only", "mmff"):
        assert 0.0 <= res[key] <= 1.0
    assert res["seconds"] > 0 and res["seed"] == 1 and res["num_test_samples"] == 24
    ck = torch.load(demo_run / "model.pt", map_location="cpu", weights_only=True)
    assert ck["format"] == "mmff/1" and ck["config"]["model"]["kind"] == "mmff"
    assert len(ck["classes"]) == 24
    for png in ("confusion.png", "per_class.png"):
        assert (demo_run / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for key in DEMO_MODELS:
        assert (demo_run / "eval" / key / "results.json").is_file()


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
