"""Shared fixtures. Test data lives in ``tests/data`` (a clone alone runs the suite):

* ``ntu_dir``: NTU RGB+D-format stand-ins made by ``tests/data/make_ntu_standins.py`` (the
  release itself is under the ROSE Lab research-use agreement and is not copied here):
  ``S001C001P001R001A001.skeleton`` + ``_rgb.avi`` (1 body, 103 frames; 1920x1080 h264 with
  B-frames, 103 frames), ``S001C001P001R001A011.skeleton`` (1 body, 82 frames),
  ``S001C003P008R002A058.skeleton`` (2 bodies in every frame, 70 frames), ``lf/`` (the A011
  file with LF line ends), ``extra/ntu_sample_two_person_hug.avi`` (72 frames, no skeleton),
  stand-in sample-name and missing-skeleton lists in the official formats, and
  ``standins.json`` with the generator's ground truth (see :func:`ntu_truth`).
* ``sysu_meta_dir``: SYSU 3D HOI metadata (class names, subject names, label / subject id
  of the 480 sequences).
* ``reference_dir``: ``timm_legacy_xception.json`` (parameter manifest of timm's
  ``legacy_xception``, Apache-2.0).
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

DATA = Path(__file__).resolve().parent / "data"
NTU_DIR = DATA / "ntu"
SYSU_DIR = DATA / "sysu"
REFERENCE_DIR = DATA / "reference"

torch.set_num_threads(1)  # tests run 2 workers on 2 cores


@pytest.fixture(scope="session")
def ntu_dir() -> Path:
    assert (NTU_DIR / "standins.json").is_file(), \
        f"missing {NTU_DIR}: run python tests/data/make_ntu_standins.py"
    return NTU_DIR


@pytest.fixture(scope="session")
def ntu_truth(ntu_dir) -> dict:
    """What the stand-in generator wrote (frame/body counts, body ids, first lines, sizes)."""
    return json.loads((ntu_dir / "standins.json").read_text())


@pytest.fixture(scope="session")
def sysu_meta_dir() -> Path:
    return SYSU_DIR


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    return REFERENCE_DIR
