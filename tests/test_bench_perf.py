"""Performance changes that must not change results: normalisation bits, warm prepare workers,
JPEG of crop views (mmff.data.pipeline, mmff.data.prepare)."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from mmff.data.prepare import PRELOAD_MODULE, crop_frames, encode_jpeg
from mmff.data.pipeline import normalise_images


@pytest.mark.parametrize("mean,std", [((0.5,) * 3, (0.5,) * 3),
                                      ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))])
def test_normalise_same_bits_and_layout_as_torch(mean, std):
    img = np.random.default_rng(0).integers(0, 256, (2, 31, 29, 3), dtype=np.uint8)
    ref = torch.from_numpy(img).permute(0, 3, 1, 2).float().div_(255)
    ref = (ref - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)
    got = torch.from_numpy(normalise_images(img, mean, std))
    assert torch.equal(got, ref) and got.stride() == ref.stride() and got.dtype == torch.float32


def test_preload_module_warms_the_reader_kernel():
    """What the forkserver imports before forking prepare's workers loads the numba kernel."""
    code = (f"import {PRELOAD_MODULE}, sys, mmff.data.ntu as n; "
            "print(n._NUMBA_KERNEL is not None, 'cv2' in sys.modules, 'av' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=True).stdout.split()
    assert out == ["True", "True", "True"]


def test_jpeg_of_crop_view_equals_contiguous_copy():
    rng = np.random.default_rng(1)
    frame = rng.integers(0, 256, (90, 160, 3), dtype=np.uint8)
    color = np.zeros((3, 1, 25, 2), np.float32)
    color[..., 0] = 60 + rng.random((3, 1, 25)) * 20
    color[..., 1] = 30 + rng.random((3, 1, 25)) * 20
    crops, offsets = crop_frames([frame], color, [0.5], margin_max=10)
    view = crops[0]
    assert not view.flags.c_contiguous  # a view into the frame, not a copy
    x0, y0 = offsets[0]
    assert np.array_equal(view, frame[y0:y0 + view.shape[0], x0:x0 + view.shape[1]])
    assert encode_jpeg(view) == encode_jpeg(np.ascontiguousarray(view))
