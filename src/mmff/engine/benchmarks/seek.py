"""Benchmark 3: the frame at p (``read_frames_at``) vs decoding the whole video.

The yardstick is what a script does without a seek: decode every frame of the video to RGB
(``mmff.data.video.read_all_frames``, plain PyAV) and index the list. Both sides use the same
decoder threading; the frame returned by ``read_frames_at`` must be pixel-identical to the
yardstick's frame at the same index.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .timing import measure, ratio

__all__ = ["bench_seek"]


def bench_seek(video: str | Path, p: float = 0.5, repeats: int = 5, warmup: int = 1,
               threads: int = 1) -> dict:
    """Seconds for the frame at ``p`` vs decode-everything; ``same_pixels`` is checked.

    ``threads`` is the decoder thread count for both sides (1 = one worker per core, the
    setting ``mmff prepare`` uses; 0 = FFmpeg's choice).
    """
    from mmff.data.video import decode_frames_at, frame_index, read_all_frames, read_frames_at

    video = Path(video)
    frames = read_all_frames(video, threads=threads)
    n = len(frames)
    idx = int(frame_index(p, n))
    vf = decode_frames_at(video, [p], threads=threads)
    got = vf.frames[0]
    same = bool(got.shape == frames[idx].shape and np.array_equal(got, frames[idx]))
    del frames
    fast = measure(lambda: read_frames_at(video, [p], threads=threads), repeats, warmup)
    slow = measure(lambda: read_all_frames(video, threads=threads)[idx], repeats, warmup)
    return {
        "video": video.name,
        "frames": n,
        "p": p,
        "frame_index": idx,
        "size": f"{got.shape[1]}x{got.shape[0]}",
        "decoder_threads": threads,
        "decoded_packets": vf.decoded_packets,   # packets fed to the decoder (rest skipped)
        "start_packet": vf.start_packet,         # the IDR decoding started at
        "frame_at_p_s": fast.median,
        "decode_all_s": slow.median,
        "ratio": ratio(slow.median, fast.median),
        "same_pixels": same,
        "frame_at_p": fast.to_dict(),
        "decode_all": slow.to_dict(),
        "goal": 1.8,
    }
