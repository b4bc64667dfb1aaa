"""Shared fixtures. Real data lives in ../shared/data (beside the repository, also in CI)."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
NTU_DIR = SHARED / "data" / "ntu"
SYSU_DIR = SHARED / "data" / "sysu"

torch.set_num_threads(1)  # tests run 2 workers on 2 cores


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    assert SHARED.is_dir(), f"missing {SHARED}: the shared/ folder must sit beside the repository"
    return SHARED


@pytest.fixture(scope="session")
def ntu_dir(shared_dir) -> Path:
    return shared_dir / "data" / "ntu"


@pytest.fixture(scope="session")
def sysu_meta_dir(shared_dir) -> Path:
    return shared_dir / "data" / "sysu"
