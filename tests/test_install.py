"""A non-editable install works from any folder: the wheel carries the configs and the paper's
table numbers (package data, found with importlib.resources), so `mmff profile/train/eval/table
--config ntu60_xsub/mmff_stgcn` run from a folder that is not the repository."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The wheel built from this checkout, installed (without dependencies) into a bare folder."""
    root = tmp_path_factory.mktemp("install")
    wheels, target = root / "wheels", root / "site"
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(REPO), "--no-deps", "--no-build-isolation",
                    "-q", "--disable-pip-version-check", "-w", str(wheels)], check=True, cwd=root,
                   capture_output=True)
    (wheel,) = wheels.glob("mmff-*.whl")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--disable-pip-version-check",
                    "--target", str(target), str(wheel)], check=True, cwd=root, capture_output=True)
    return target


def _mmff(target: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(target), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "mmff.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def test_the_installed_package_is_the_one_imported(installed, tmp_path):
    r = subprocess.run([sys.executable, "-c", "import mmff.config as c; print(c.__file__); print(c.CONFIG_DIR)"],
                       cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(installed)},
                       capture_output=True, text=True, check=True)
    module, config_dir = r.stdout.split()
    assert Path(module).is_relative_to(installed) and Path(config_dir).is_relative_to(installed)
    shipped = {p.relative_to(config_dir) for p in Path(config_dir).rglob("*.yaml")}
    in_repo = {p.relative_to(REPO / "src/mmff/configs") for p in (REPO / "src/mmff/configs").rglob("*.yaml")}
    assert shipped == in_repo and len(shipped) > 50
    assert (installed / "mmff" / "paper" / "tables.yaml").is_file()


def test_profile_train_eval_table_from_another_folder(installed, tmp_path):
    work = tmp_path / "elsewhere"
    work.mkdir()
    r = _mmff(installed, work, "profile", "--config", "ntu60_xsub/mmff_stgcn")
    assert r.returncode == 0, r.stderr
    assert "ntu60_xsub_mmff_stgcn" in r.stdout and "rgb_stream" in r.stdout
    # a tiny SynthHOI set, then the paper config (shrunk by --set) trains and evaluates
    assert _mmff(installed, work, "synth", "--out", "raw", "--samples-per-class", "2", "--size", "64x48",
                 "--workers", "1", "--no-progress").returncode == 0
    assert _mmff(installed, work, "prepare", "ntu", "--raw", "raw", "--out", "prep", "--workers", "1",
                 "--no-progress").returncode == 0
    num_classes = len(json.loads((work / "prep" / "index.json").read_text())["classes"])
    tiny = ["--set", f"model.num_classes={num_classes}", "--set", "model.skeleton.width=0.125",
            "--set", "model.rgb.width=0.05", "--set", "model.rgb.middle_blocks=0",
            "--set", "model.rgb.pretrained=null", "--set", "model.fusion.hidden=16",
            "--set", "model.fusion.reduced_channels=8", "--set", "data.image_size=32",
            "--set", "data.clip_len=16", "--set", "data.batch_size=8", "--set", "data.num_workers=0",
            "--set", "data.dataset=synth", "--set", "train.epochs={1:1,2:1,3:1}"]
    r = _mmff(installed, work, "train", "--config", "ntu60_xsub/mmff_stgcn", "--data", "prep", "--out", "run",
              "--no-progress", *tiny)
    assert r.returncode == 0, r.stderr[-2000:]
    assert (work / "run" / "stage3" / "model.pt").is_file()
    r = _mmff(installed, work, "eval", "--checkpoint", "run/stage3/model.pt", "--data", "prep", "--out", "ev",
              "--no-progress")
    assert r.returncode == 0, r.stderr[-2000:]
    assert json.loads((work / "ev" / "results.json").read_text())["num_samples"] > 0
    r = _mmff(installed, work, "table", "6", "--data", "prep", "--dry-run")
    assert r.returncode == 0, r.stderr[-2000:]
    assert "MMFF w/o Skeleton-Attention" in r.stdout
