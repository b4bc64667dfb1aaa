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
    """Counting path (no parsed display order): with a too-small reorder margin the
    non-reference skipping miscounts frame 11, which shows the exactness tests above would
    catch a wrong count and that skipping is on. (In the stand-in's x264 B-pyramid every
    4th frame is a P-frame shown after the 3 B-frames decoded behind it, e.g. frame 28.)"""
    path, hashes = ntu_video
    monkeypatch.setattr(V, "h264_display_order", lambda packets, extra=b"": None)
    monkeypatch.setattr(V, "REORDER_MARGIN", 2)
    assert _md5(read_frame_at(path, 28 / 102)) != hashes[28]
    assert _md5(read_frame_at(path, 28 / 102, skip_nonref=False)) == hashes[28]


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
    cut.write_bytes(data[:len(data) // 2])
    try:
        vf = decode_frames_at(cut, [0.5])
        assert vf.frames[0].shape == (1080, 1920, 3)
    except VideoError as e:
        assert str(cut) in str(e)


def make_gop_video(path, n=50, gop=12, bframes=True, open_gop=False):
    """Like :func:`make_video` with a keyframe every ``gop`` frames (closed GOPs: IDRs)."""
    c = av.open(str(path), "w")
    s = c.add_stream("libx264", rate=30)
    s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
    s.options = {"bf": "2" if bframes else "0", "g": str(gop), "crf": "10", "threads": "1",
                 "x264-params": f"open-gop={int(open_gop)}:scenecut=0"}
    for i in range(n):
        img = np.full((48, 64, 3), 5 * i % 250, np.uint8)
        img[4:12, i % 56:i % 56 + 8] = 255
        for pkt in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
            c.mux(pkt)
    for pkt in s.encode(None):
        c.mux(pkt)
    c.close()
    return path


def _sequential(path) -> list:
    c = av.open(str(path))
    s = c.streams.video[0]
    s.codec_context.thread_count = 1
    ref = [f.to_ndarray(format="rgb24") for f in c.decode(s)]
    c.close()
    return ref


@pytest.mark.parametrize("container,bframes", [("avi", True), ("avi", False), ("mp4", True),
                                               ("mkv", True)])
def test_keyframe_start_exact_every_index(tmp_path, container, bframes):
    """Decoding starts at the last IDR at or before the target and counts display indices
    exactly: every index of a 4-keyframe video equals the full sequential decode."""
    path = make_gop_video(tmp_path / f"g.{container}", bframes=bframes)
    ref = _sequential(path)
    assert len(ref) == 50
    for i in range(50):
        vf = decode_frames_at(path, [i / 49])
        assert vf.indices == [i] and np.array_equal(vf.frames[0], ref[i]), i
        assert vf.start_packet == 12 * (i // 12), i  # the seek is really taken
    # several positions: one pass from the IDR before the first
    ps = [0.9, 0.3, 0.6]
    vf = decode_frames_at(path, ps)
    assert vf.start_packet == 12 * (frame_index(0.3, 50) // 12)
    for f, p in zip(vf.frames, ps):
        assert np.array_equal(f, ref[frame_index(p, 50)])


def test_open_gop_keyframes_are_not_seek_points(tmp_path):
    """Open-GOP I-frames are followed by B-frames shown before them: not used as starts."""
    path = make_gop_video(tmp_path / "open.avi", open_gop=True)
    ref = _sequential(path)
    for i in (13, 30, 49):
        vf = decode_frames_at(path, [i / 49])
        assert np.array_equal(vf.frames[0], ref[i]), i
        assert vf.start_packet == 0


def test_keyframe_start_verified_at_run_time(tmp_path, monkeypatch):
    """A start whose first shown frame is not its own packet's falls back to packet 0."""
    path = make_gop_video(tmp_path / "g.avi", bframes=True)
    ref = _sequential(path)
    # packet 13 (decode order) is a P-frame: B-frames decoded after it are shown before it
    monkeypatch.setattr(V, "_idr_start", lambda packets, ctx, first: 13)
    vf = decode_frames_at(path, [30 / 49])
    assert vf.start_packet == 0 and np.array_equal(vf.frames[0], ref[30])


@pytest.mark.parametrize("p", [0.0, 0.25, 0.5, 0.75, 1.0])
def test_synth_style_multi_keyframe_exact(tmp_path, p):
    """keyint=60 without B-frames (what ``mmff synth`` writes): IDR at 60 is used."""
    path = tmp_path / "s.avi"
    c = av.open(str(path), "w")
    s = c.add_stream("libx264", rate=30)
    s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
    s.options = {"preset": "ultrafast", "crf": "20",
                 "x264-params": "bframes=0:threads=1:keyint=60:scenecut=0"}
    for i in range(130):
        img = np.full((48, 64, 3), 2 * i % 250, np.uint8)
        img[20:28, i % 56:i % 56 + 8] = 255
        for pkt in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
            c.mux(pkt)
    for pkt in s.encode(None):
        c.mux(pkt)
    c.close()
    ref = _sequential(path)
    i = frame_index(p, 130)
    vf = decode_frames_at(path, [p])
    assert np.array_equal(vf.frames[0], ref[i]) and vf.start_packet == 60 * (i // 60)


def test_ntu_one_keyframe_starts_at_zero(ntu_video):
    path, hashes = ntu_video
    vf = decode_frames_at(path, [0.5, 1.0])
    assert vf.start_packet == 0
    assert _md5(vf.frames[0]) == hashes[51] and _md5(vf.frames[1]) == hashes[102]


def test_h264_nal_types_both_framings():
    annexb = b"\x00\x00\x00\x01\x67AB\x00\x00\x01\x68C\x00\x00\x01\x65DEF"
    assert V.h264_nal_types(annexb) == [7, 8, 5]
    avcc = b"\x00\x00\x00\x02\x67A" + b"\x00\x00\x00\x03\x65BC"
    assert V.h264_nal_types(avcc, 4) == [7, 5]


def _display_truth(path):
    """Display index of every packet (decode order) from a full sequential decode."""
    c = av.open(str(path))
    s = c.streams.video[0]
    packets = [p for p in c.demux(s) if p.size > 0]
    c.close()
    c = av.open(str(path))
    s = c.streams.video[0]
    s.codec_context.thread_count = 1
    shown = {f.pts: k for k, f in enumerate(c.decode(s))}
    extra = s.codec_context.extradata
    c.close()
    return packets, extra, [shown[p.pts] for p in packets]


def _nonref_by_nal_header(packets) -> int:
    """Packets whose first slice NAL has nal_ref_idc 0, read from the NAL header byte
    (Annex-B start codes in AVI, 4-byte length prefixes in MP4/MKV)."""
    n = 0
    for p in packets:
        data = bytes(p)
        if data.startswith((b"\x00\x00\x01", b"\x00\x00\x00\x01")):
            heads = [data[i + 3] for i in range(len(data) - 3) if data[i:i + 3] == b"\x00\x00\x01"]
        else:
            heads, i = [], 0
            while i + 4 < len(data):
                heads.append(data[i + 4])
                i += 4 + int.from_bytes(data[i:i + 4], "big")
        first = next(h for h in heads if h & 0x1F in (1, 5))
        n += (first >> 5) == 0
    return n


def test_h264_display_order_matches_decoder(ntu_dir, ntu_truth, tmp_path):
    """Slice-header POC ranks = the decoder's output order, on both NTU-format videos (x264
    B-pyramid, about half the packets non-reference) and made ones (open/closed GOP,
    avi/mp4/mkv)."""
    paths = [ntu_dir / "S001C001P001R001A001_rgb.avi",
             ntu_dir / "extra" / "ntu_sample_two_person_hug.avi",
             make_gop_video(tmp_path / "a.mp4"), make_gop_video(tmp_path / "b.mkv", open_gop=True),
             make_gop_video(tmp_path / "c.avi", bframes=False)]
    nonref = []
    for path in paths:
        packets, extra, truth = _display_truth(path)
        display, refs = V.h264_display_order(packets, extra)
        assert display == truth, path
        nonref.append(refs.count(0))
        assert refs.count(0) == _nonref_by_nal_header(packets), path
    videos = ntu_truth["videos"]
    assert nonref[:2] == [videos["S001C001P001R001A001_rgb.avi"]["nonref_packets"],
                          videos["extra/ntu_sample_two_person_hug.avi"]["nonref_packets"]]
    assert min(nonref[:2]) > 30 and nonref[4] == 0


def test_mapped_skipping_is_active_and_exact(ntu_video):
    """Every non-reference packet that is not a target is left out, up to the target."""
    path, hashes = ntu_video
    vf = decode_frames_at(path, [0.5])
    assert _md5(vf.frames[0]) == hashes[51]
    assert vf.decoded_packets < 52 - 15  # ~20 of the first 52 packets are non-reference B


def test_wrong_display_order_falls_back_exactly(ntu_video, monkeypatch):
    """A display order that disagrees with the decoder is caught while decoding."""
    path, hashes = ntu_video
    real = V.h264_display_order

    def swapped(packets, extra=b""):
        display, refs = real(packets, extra)
        display = list(display)
        display[5], display[6] = display[6], display[5]
        return display, refs

    monkeypatch.setattr(V, "h264_display_order", swapped)
    assert _md5(read_frame_at(path, 33 / 102)) == hashes[33]


@pytest.mark.parametrize("threads", [2, 0])
def test_frame_threads_exact(hug_video, threads):
    """Decoder frame threads delay outputs; the display-order lookup stays exact."""
    path, hashes = hug_video
    ps = [0.3, 0.5]
    for f, p in zip(read_frames_at(path, ps, threads=threads), ps):
        assert _md5(f) == hashes[frame_index(p, 72)]
