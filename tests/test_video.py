"""Frame at p: exactness against a full sequential decode, frame count, errors (mmff.data.video)."""
from __future__ import annotations

import hashlib

import av
import numpy as np
import pytest

from mmff.data import video as V
from mmff.data.video import (VideoError, decode_frames_at, frame_index, read_frame_at,
                             read_frames_at, video_frame_count)


def _md5(a: np.ndarray) -> str:
    return hashlib.md5(np.ascontiguousarray(a).tobytes()).hexdigest()


#: frame indices the tests compare (the colour conversion of every 1080p frame is slow)
_CHECKED = {0, 11, 21, 28, 33, 36, 43, 50, 51, 102}


def _full_hashes(path) -> list:
    """Per frame of a full sequential decode: the RGB hash for the checked indices, else None."""
    c = av.open(str(path))
    s = c.streams.video[0]
    s.codec_context.thread_count = 1
    out = [_md5(f.to_ndarray(format="rgb24")) if i in _CHECKED else None
           for i, f in enumerate(c.decode(s))]
    c.close()
    return out


@pytest.fixture(scope="module")
def ntu_video(ntu_dir):
    p = ntu_dir / "S001C001P001R001A001_rgb.avi"
    return p, _full_hashes(p)


@pytest.fixture(scope="module")
def hug_video(ntu_dir):
    p = ntu_dir / "extra" / "ntu_sample_two_person_hug.avi"
    return p, _full_hashes(p)


def make_video(path, n=20, w=64, h=48, codec="libx264", bframes=True):
    """Frame i is a flat grey of level 10*i (+ a bright square at x=i), so indices are visible."""
    c = av.open(str(path), "w")
    s = c.add_stream(codec, rate=30)
    s.width, s.height, s.pix_fmt = w, h, "yuv420p"
    if codec == "libx264":
        s.options = {"bf": "2" if bframes else "0", "g": "1000", "crf": "10", "threads": "1"}
    for i in range(n):
        img = np.full((h, w, 3), 10 * i % 250, np.uint8)
        img[4:12, i % (w - 8):i % (w - 8) + 8] = 255
        for pkt in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
            c.mux(pkt)
    for pkt in s.encode(None):
        c.mux(pkt)
    c.close()
    return path


def test_frame_index_rounding():
    assert frame_index(0.5, 103) == 51 and frame_index(0.5, 72) == 36  # 35.5 rounds up
    assert frame_index(0.0, 10) == 0 and frame_index(1.0, 10) == 9 and frame_index(0.5, 1) == 0
    assert list(frame_index([0.3, 0.5, 0.7], 103)) == [31, 51, 71]
    with pytest.raises(ValueError):
        frame_index(1.5, 10)
    with pytest.raises(ValueError):
        frame_index(0.5, 0)


def test_frame_count_equals_decoded(ntu_video, hug_video):
    for path, hashes in (ntu_video, hug_video):
        assert video_frame_count(path) == len(hashes)
    assert len(ntu_video[1]) == 103 and len(hug_video[1]) == 72


@pytest.mark.parametrize("idx", [0, 33, 51, 102])
def test_single_frame_exact_ntu(ntu_video, idx):
    path, hashes = ntu_video
    vf = decode_frames_at(path, [idx / 102])
    assert vf.indices == [idx] and vf.num_frames == 103 and (vf.width, vf.height) == (1920, 1080)
    assert _md5(vf.frames[0]) == hashes[idx]


def test_middle_and_multi_exact_hug(hug_video):
    path, hashes = hug_video
    assert _md5(read_frame_at(path)) == hashes[36]
    ps = [0.7, 0.3, 0.4, 0.5, 0.6]  # any order; one decode up to the last
    for f, p in zip(read_frames_at(path, ps), ps):
        assert _md5(f) == hashes[frame_index(p, 72)]


def test_skipping_is_active_and_the_margin_matters(ntu_video, monkeypatch):
    """With a too-small reorder margin the non-reference skipping miscounts frame 11, which
    shows the exactness tests above would catch a wrong count and that skipping is on."""
    path, hashes = ntu_video
    monkeypatch.setattr(V, "REORDER_MARGIN", 2)
    assert _md5(read_frame_at(path, 11 / 102)) != hashes[11]
    assert _md5(read_frame_at(path, 11 / 102, skip_nonref=False)) == hashes[11]


def test_opencv_backend_exact(hug_video):
    path, hashes = hug_video
    for f, p in zip(read_frames_at(path, [0.3, 0.5], backend="opencv"), [0.3, 0.5]):
        assert _md5(f) == hashes[frame_index(p, 72)]


@pytest.mark.parametrize("container,bframes", [("avi", True), ("mp4", True), ("mkv", False)])
def test_small_made_videos_every_index(tmp_path, container, bframes):
    path = make_video(tmp_path / f"v.{container}", n=40, bframes=bframes)
    c = av.open(str(path))
    ref = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    c.close()
    assert video_frame_count(path) == len(ref) == 40
    for i in range(40):  # tiny frames: every index, through the skipping path (i > 20)
        assert np.array_equal(read_frame_at(path, i / 39), ref[i]), i


def test_bad_videos_raise_one_line_error_naming_file(tmp_path, ntu_dir):
    garbage = tmp_path / "garbage_rgb.avi"
    garbage.write_bytes(b"RIFF" + bytes(range(256)) * 40)
    empty = tmp_path / "empty_rgb.avi"
    empty.write_bytes(b"")
    for p in (garbage, empty, tmp_path / "absent_rgb.avi"):
        with pytest.raises(VideoError) as e:
            read_frame_at(p)
        assert str(p) in str(e.value) and "\n" not in str(e.value)
    # A truncated file: what is left decodes or fails with a VideoError, never anything else.
    data = (ntu_dir / "S001C001P001R001A001_rgb.avi").read_bytes()
    cut = tmp_path / "cut_rgb.avi"
    cut.write_bytes(data[:60_000])
    try:
        vf = decode_frames_at(cut, [0.5])
        assert vf.frames[0].shape == (1080, 1920, 3)
    except VideoError as e:
        assert str(cut) in str(e)
