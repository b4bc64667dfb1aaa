"""The RGB frame(s) at fraction p of a video (SPEC §1.3), pixel-exact and without decoding the
whole video.

Why not seek: NTU ``_rgb.avi`` files are h264 with ONE keyframe, B-frames and container
timestamps in decode order (AVI has no presentation timestamps), so a timestamp seek lands on
the wrong frame (PyAV's seek gave frame 50 for 51) and any exact method must decode from the
keyframe anyway. We therefore decode once, from the start, counting the decoder's output frames
(display order) and stop at the last requested index.

Going further while staying exact: frames that no other frame references (non-reference
B-frames) and that are shown before the target need not be decoded at all. We set
``codec_context.skip_frame = "NONREF"`` for the packets up to ``target - REORDER_MARGIN`` in
decode order, then switch it off. A frame decoded as packet ``i`` is output at display index
``<= i + 17`` (FFmpeg delays at most 16 pictures, the H.264 DPB limit), so every skipped frame
is displayed before the first requested frame, and the display index of an output frame is
``outputs so far + skipped frames``. Skipped frames are identified by their packet's
timestamp never showing up on an output frame (frames carry their packet's pts); without
unique packet timestamps nothing is skipped. Exactness against a full sequential decode is
tested for every index of both real videos (during development) and for chosen indices in
tests/test_video.py.

Starting at a keyframe: when the stream has several keyframes (``mmff synth`` writes one every
60 frames, as do many real-world videos), decoding starts at the last H.264 IDR keyframe at or
before the first requested frame instead of the first packet, which makes the cost flat in
video length. The display index of that IDR is exact, not guessed: an IDR empties the decoded
picture buffer, so every picture before it in decode order is shown before it (one packet =
one frame, so ``k`` pictures for packet ``k``), and the first frame the decoder outputs after
the seek must carry the IDR packet's timestamp, i.e. nothing decoded after it is shown before
it (checked at run time; on a mismatch the decoder is flushed and the video decoded from its
first packet). Only IDRs qualify (NAL type 5, parsed from the packet bytes, Annex B or
length-prefixed): an open-GOP I-frame may be followed by B-frames shown before it, which a
decoder drops when started there. Exactness against a full sequential decode is tested at
every index of multi-keyframe videos with and without B-frames.

Frame count ``n``: containers' frame counts can be missing or wrong, so ``n`` is the number of
non-empty video packets (demuxing only, ~10 ms for an NTU file; one packet = one frame for the
codecs used here, tested equal to the decoded count on both real videos). The packets are read
once and reused for decoding.

Skeleton and video frame counts can differ by a few frames: both use :func:`frame_index` on
their own count, i.e. they are matched by relative position, never by equal index.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

import numpy as np

__all__ = [
    "VideoError", "VideoFrames", "frame_index", "video_frame_count", "decode_frames_at",
    "read_frames_at", "read_frame_at", "read_all_frames", "REORDER_MARGIN", "h264_nal_types",
]

#: Packets this close (in decode order) to the first requested frame are always decoded.
#: FFmpeg holds at most 16 delayed pictures (MAX_DELAYED_PIC_COUNT, the H.264 DPB limit), so a
#: frame decoded from packet i is shown at index <= i + 17; 20 leaves slack. Note the stream's
#: declared reorder depth is NOT a safe bound: it is 2 for the NTU videos, yet a P-frame
#: decoded from packet 8 is shown at index 11 (a margin of 2 miscounts, tested).
REORDER_MARGIN = 20


class VideoError(ValueError):
    """A video cannot be opened or decoded; the message names the file."""


def frame_index(p, n: int):
    """Index of the frame at fraction ``p`` of ``n`` frames: ``round(p * (n - 1))``, halves
    rounded up, clipped to ``[0, n - 1]``. ``p = 0`` is the first frame, ``p = 1`` the last,
    ``p = 0.5`` the middle one (51 of 103, 36 of 72). Works on scalars and arrays; the video
    frame and the skeleton frame at p both use it (each with its own ``n``)."""
    if n <= 0:
        raise ValueError(f"frame_index: need at least one frame, got n={n}")
    p_arr = np.asarray(p, dtype=np.float64)
    if np.any((p_arr < 0) | (p_arr > 1)):
        raise ValueError(f"frame_index: fractions must lie in [0, 1], got {p}")
    idx = np.clip(np.floor(p_arr * (n - 1) + 0.5), 0, n - 1).astype(np.int64)
    return int(idx) if idx.ndim == 0 else idx


@dataclass
class VideoFrames:
    """Frames decoded at some positions: ``frames[k]`` (H, W, 3) uint8 RGB is frame
    ``indices[k]`` of ``num_frames``."""

    frames: list
    indices: list
    num_frames: int
    width: int
    height: int
    #: decode-order packet the decoder started at (an IDR keyframe, 0 = the first packet)
    start_packet: int = 0


#: ``avformat_find_stream_info`` limits: the stream header and the first packet say all we use
#: (the decoder finds the rest itself). FFmpeg's defaults decode frames while probing: ~30 ms
#: of a 1080p synthetic sample's open, 13 ms of an NTU one; with these 7-9 ms.
_FAST_PROBE = {"probesize": "32", "analyzeduration": "0"}


def _open(path):
    import av

    try:
        container = av.open(str(path), options=_FAST_PROBE)
        if container.streams.video and not container.streams.video[0].codec_context.width:
            container.close()  # the short probe missed the frame size: probe normally
            container = av.open(str(path))
    except (av.error.FFmpegError, OSError) as e:  # includes missing/unreadable files
        raise VideoError(f"{path}: cannot open video ({_short(e)})") from None
    if not container.streams.video:
        container.close()
        raise VideoError(f"{path}: no video stream")
    return container


def _short(e: Exception) -> str:
    """FFmpeg's reason without the file name it repeats."""
    msg = getattr(e, "strerror", None) or str(e)
    return msg.splitlines()[0] if msg else type(e).__name__


def _packets(container, stream, path) -> list:
    import av

    try:
        return [pkt for pkt in container.demux(stream) if pkt.size > 0]
    except av.error.FFmpegError as e:
        raise VideoError(f"{path}: cannot read video packets ({_short(e)})") from None


def video_frame_count(path) -> int:
    """Number of frames: non-empty video packets, counted by demuxing (no decoding)."""
    container = _open(path)
    try:
        n = len(_packets(container, container.streams.video[0], path))
    finally:
        container.close()
    if n == 0:
        raise VideoError(f"{path}: video has no frames")
    return n


def decode_frames_at(path, positions: Sequence[float] = (0.5,), *, threads: int = 1,
                     skip_nonref: bool = True, backend: str = "pyav") -> VideoFrames:
    """Decode the frames at fractions ``positions`` (any order, duplicates allowed) in ONE pass
    that stops at the last requested frame. ``threads=1`` (default) suits one worker process
    per core; ``threads=0`` lets FFmpeg choose. ``backend="opencv"`` uses
    ``cv2.CAP_PROP_POS_FRAMES`` (also exact, compared in the report)."""
    positions = [float(p) for p in positions]
    if not positions:
        raise ValueError("decode_frames_at: no positions given")
    if backend == "opencv":
        return _decode_opencv(path, positions, threads)
    if backend != "pyav":
        raise ValueError(f"decode_frames_at: unknown backend {backend!r} (pyav, opencv)")
    import av

    container = _open(path)
    try:
        stream = container.streams.video[0]
        packets = _packets(container, stream, path)
        n = len(packets)
        if n == 0:
            raise VideoError(f"{path}: video has no frames")
        wanted = [frame_index(p, n) for p in positions]
        targets = set(wanted)
        last, first = max(wanted), min(wanted)
        ctx = stream.codec_context
        if threads == 1:
            ctx.thread_count = 1
        else:
            stream.thread_type = "AUTO"
            ctx.thread_count = threads
        # Skipping and the keyframe start need a per-packet identity carried onto frames (pts).
        pts = [pkt.pts for pkt in packets]
        unique = None not in pts and len(set(pts)) == n
        start = _idr_start(packets, ctx, first) if unique and first > 0 else 0
        try:
            got, shown = _decode_run(ctx, packets, start, targets, last, first,
                                     skip_nonref and unique)
            if got is None:  # the IDR was not the first frame shown: decode from the start
                ctx.flush_buffers()
                start = 0
                got, shown = _decode_run(ctx, packets, 0, targets, last, first,
                                         skip_nonref and unique)
        except av.error.FFmpegError as e:
            raise VideoError(f"{path}: decoding failed ({_short(e)})") from None
        missing = sorted(targets - set(got))
        if missing:
            raise VideoError(f"{path}: decoder stopped after {shown} of "
                             f"{n} frames; frame {missing[0]} not decoded")
        h, w = got[wanted[0]].shape[:2]
        return VideoFrames([got[i] for i in wanted], wanted, n, w, h, start)
    finally:
        container.close()


def _decode_run(ctx, packets, start: int, targets: set, last: int, first: int, skip: bool):
    """Feed ``packets[start:]`` (``start`` = 0 or an IDR) until display index ``last`` is out
    -> ({index: RGB}, frames shown so far); ``(None, 0)`` when ``start > 0`` and the first
    output frame is not the IDR's (its display index would be unknown).

    Display index of an output frame = ``start`` (pictures shown before the IDR) + outputs so
    far + skipped non-reference frames (all shown before ``first``, see the module doc)."""
    skip_until = first - REORDER_MARGIN if skip else 0
    got: dict = {}
    skipped_pts: set = set()  # pts of packets fed while skipping, minus those output
    outputs = 0

    def take(frames):
        nonlocal outputs
        for fr in frames:
            if outputs == 0 and start > 0 and fr.pts != packets[start].pts:
                return None
            skipped_pts.discard(fr.pts)
            idx = start + outputs + len(skipped_pts)
            outputs += 1
            if idx in targets:
                got[idx] = fr.to_ndarray(format="rgb24")
            if idx >= last:
                return True
        return False

    ctx.skip_frame = "NONREF" if start < skip_until else "DEFAULT"
    done = False
    for i in range(start, len(packets)):
        pkt = packets[i]
        if i == skip_until and start < skip_until:
            ctx.skip_frame = "DEFAULT"
        if i < skip_until:
            skipped_pts.add(pkt.pts)
        r = take(ctx.decode(pkt))
        if r is None:
            ctx.skip_frame = "DEFAULT"
            return None, 0
        if r:
            done = True
            break
    if not done:
        if take(ctx.decode(None)) is None:  # flush: the last frames leave the reorder buffer
            return None, 0
    ctx.skip_frame = "DEFAULT"
    return got, start + outputs + len(skipped_pts)


_START_CODE = re.compile(b"\x00\x00\x01")


def h264_nal_types(data: bytes, length_size: int = 0) -> list:
    """NAL unit types in one H.264 access unit: Annex B (start codes, AVI/TS) when
    ``length_size`` is 0, else ``length_size``-byte big-endian length prefixes (MP4 ``avcC``)."""
    if length_size == 0:
        return [data[m.end()] & 0x1F for m in _START_CODE.finditer(data) if m.end() < len(data)]
    types, pos = [], 0
    while pos + length_size < len(data):
        size = int.from_bytes(data[pos:pos + length_size], "big")
        types.append(data[pos + length_size] & 0x1F)
        pos += length_size + size
    return types


def _idr_start(packets, ctx, first: int) -> int:
    """The last H.264 IDR packet ``k <= first`` whose parameter sets are known (extradata or
    SPS + PPS in the packet): decoding from it shows frame ``k`` first (module doc); else 0."""
    if ctx.name != "h264":
        return 0
    extra = ctx.extradata or b""
    # avcC extradata (MP4/MKV) starts with version 1 and gives the NAL length size; Annex B
    # extradata (AVI, TS) starts with a start code
    length_size = (extra[4] & 3) + 1 if len(extra) > 6 and extra[0] == 1 else 0
    for k in range(min(first, len(packets) - 1), 0, -1):
        if not packets[k].is_keyframe:
            continue
        types = h264_nal_types(bytes(packets[k]), length_size)
        if 5 in types and (extra or (7 in types and 8 in types)):
            return k
    return 0


def _decode_opencv(path, positions, threads) -> VideoFrames:
    import cv2

    n = video_frame_count(path)  # OpenCV's CAP_PROP_FRAME_COUNT comes from the header
    wanted = [frame_index(p, n) for p in positions]
    params = [cv2.CAP_PROP_N_THREADS, threads] if threads else []
    cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG, params)
    if not cap.isOpened():
        raise VideoError(f"{path}: cannot open video (OpenCV)")
    try:
        order = sorted(set(wanted))
        got = {}
        cap.set(cv2.CAP_PROP_POS_FRAMES, order[0])
        pos = order[0]
        for idx in order:
            while pos < idx:  # grab() decodes without the colour conversion
                if not cap.grab():
                    raise VideoError(f"{path}: decoder stopped before frame {idx} of {n}")
                pos += 1
            ok, img = cap.read()
            if not ok:
                raise VideoError(f"{path}: decoder stopped before frame {idx} of {n}")
            pos += 1
            got[idx] = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    finally:
        cap.release()
    h, w = got[wanted[0]].shape[:2]
    return VideoFrames([got[i] for i in wanted], wanted, n, w, h)


def read_frames_at(path, positions: Sequence[float] = (0.5,), **kwargs) -> list:
    """The frames (H, W, 3) uint8 RGB at fractions ``positions``; see :func:`decode_frames_at`."""
    return decode_frames_at(path, positions, **kwargs).frames


def read_frame_at(path, p: float = 0.5, **kwargs) -> np.ndarray:
    """The single frame at fraction ``p`` (default: the middle frame)."""
    return decode_frames_at(path, [p], **kwargs).frames[0]


def read_all_frames(path, threads: int = 1) -> list:
    """Full sequential decode (reference for tests and the decode-all benchmark baseline)."""
    import av

    container = _open(path)
    try:
        stream = container.streams.video[0]
        if threads == 1:
            stream.codec_context.thread_count = 1
        else:
            stream.thread_type = "AUTO"
        try:
            return [fr.to_ndarray(format="rgb24") for fr in container.decode(stream)]
        except av.error.FFmpegError as e:
            raise VideoError(f"{path}: decoding failed ({_short(e)})") from None
    finally:
        container.close()

