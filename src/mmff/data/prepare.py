"""``mmff prepare``: raw dataset -> the prepared layout that :mod:`mmff.data.datasets` reads.

Layout (documented in docs/design.md, "Prepared layout")::

    OUT/index.json                  dataset, classes, positions, one entry per sample
    OUT/report.json                 ok, failed [{file, error}], missing [names], missing_reasons
    OUT/samples/NAME.npz            joints (T, M, V, 3) float32, color (T, M, V, 2) float32
    OUT/samples/NAME.json           the sample's index entry, written LAST: the "done" marker
    OUT/frames/NAME_p0.50.jpg       the frame at p, cropped generously around the joints

Every file is written atomically (temp file in the same folder, then ``os.replace``), and a
sample counts as done only once its ``.json`` marker exists, so a killed run leaves no
half-written file that a re-run would trust: the re-run skips finished samples (it does not
rewrite them) and removes stale temp files.

Decoding dominates (~190 ms to the middle of a 1080p NTU video vs ~3 ms per skeleton), so each
worker process (one per core) decodes each video once, only up to the last requested position
(:func:`mmff.data.video.decode_frames_at`, one decoder thread), then parses, crops and writes;
with one process per core the cheap steps of one sample overlap the decoding of others.

The stored frame is the joints' 2D box at p grown by the largest training margin on every
side (:func:`mmff.data.transforms.stored_crop_box`), so every projection-crop window of
training and test lies inside it and training never touches the video again. ``store="full"``
keeps the whole frame instead (needed by the w/o-projection-crop ablation).

The writer functions :func:`write_prepared_sample` and :func:`write_index` are shared with
other datasets (SYSU's ``prepare_sysu``).
"""
from __future__ import annotations

import json
import multiprocessing as mp
import os
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Optional, Sequence

import numpy as np

from mmff.atomic import atomic_write_bytes as _atomic_write_bytes
from mmff.data.transforms import pad_bodies, points_bbox, stored_crop_box
from mmff.data.video import VideoError, decode_frames_at, frame_index

__all__ = [
    "VIDEO_SUFFIXES", "find_video",
    "PREPARED_FORMAT", "PreparedError", "atomic_write_bytes", "atomic_write_json",
    "position_tag", "frame_file", "write_prepared_sample", "read_prepared_entry",
    "write_index", "load_index", "load_sample_arrays", "clean_stale_temp_files",
    "write_report", "ntu_subsets", "ntu_classes", "crop_frames", "encode_jpeg",
    "PrepareResult", "PrepareJob", "PrepareOptions", "prepare_ntu", "prepare_samples",
    "read_ntu_arrays",
]

PREPARED_FORMAT = "mmff-prepared/1"
_TMP_PREFIX = ".tmp-"


class PreparedError(ValueError):
    """A prepared folder is missing or inconsistent; the message names the file."""


# --------------------------------------------------------------------------- atomic writes
def atomic_write_bytes(path, data: bytes) -> None:
    """:func:`mmff.atomic.atomic_write_bytes` with this folder's temp prefix, so
    :func:`clean_stale_temp_files` finds what a killed run left behind."""
    _atomic_write_bytes(path, data, prefix=_TMP_PREFIX)


def atomic_write_json(path, obj) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=1) + "\n").encode())


def clean_stale_temp_files(out) -> int:
    """Remove temp files a killed run left behind; returns how many."""
    n = 0
    for sub in ("", "samples", "frames"):
        d = Path(out) / sub
        if d.is_dir():
            for f in d.glob(_TMP_PREFIX + "*"):
                f.unlink(missing_ok=True)
                n += 1
    return n


# --------------------------------------------------------------------------- writer API
def position_tag(p: float) -> str:
    """``0.5`` -> ``"p0.50"`` (file-name tag of a frame position)."""
    return f"p{float(p):.2f}"


def frame_file(name: str, p: float) -> str:
    return f"frames/{name}_{position_tag(p)}.jpg"


def encode_jpeg(rgb: np.ndarray, quality: int = 95) -> bytes:
    import cv2

    # cvtColor reads a strided crop view directly: one pass instead of flip-copy + copy
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR),
                           [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:  # pragma: no cover - cv2 only fails on empty images
        raise ValueError(f"JPEG encoding failed for an image of shape {rgb.shape}")
    return buf.tobytes()


def write_prepared_sample(out, name: str, joints: np.ndarray, color: np.ndarray,
                          frames: Sequence[np.ndarray], offsets: Sequence, meta: dict,
                          jpeg_quality: int = 95) -> dict:
    """Write one prepared sample and return its index entry.

    ``joints`` (T, M, V, 3) and ``color`` (T, M, V, 2) float32 (absent bodies zero);
    ``frames`` the K stored RGB crops (H, W, 3) uint8, ``offsets`` their (x0, y0) in the source
    frame; ``meta`` must hold ``label`` (0-based) and ``positions`` (K fractions) and may hold
    anything else the index should carry (``subsets`` {benchmark: "train"|"test"},
    ``frame_size`` [W, H], ``frame_indices``, ``video_frames``, subject/camera/...).
    The entry's marker ``samples/NAME.json`` is written last."""
    out = Path(out)
    positions = [float(p) for p in meta["positions"]]
    if len(frames) not in (0, len(positions)) or len(offsets) != len(frames):
        raise ValueError(f"{name}: {len(frames)} frames / {len(offsets)} offsets for "
                         f"{len(positions)} positions")
    joints = np.ascontiguousarray(joints, dtype=np.float32)
    color = np.ascontiguousarray(color, dtype=np.float32)
    if joints.ndim != 4 or joints.shape[-1] != 3 or color.shape != joints.shape[:-1] + (2,):
        raise ValueError(f"{name}: expected joints (T, M, V, 3) and color (T, M, V, 2), got "
                         f"{joints.shape} and {color.shape}")
    import io

    buf = io.BytesIO()
    np.savez(buf, joints=joints, color=color)
    atomic_write_bytes(out / "samples" / f"{name}.npz", buf.getvalue())
    frame_entries = []
    for p, img, off in zip(positions, frames, offsets):
        rel = frame_file(name, p)
        atomic_write_bytes(out / rel, encode_jpeg(img, jpeg_quality))
        frame_entries.append({"p": p, "file": rel, "offset": [int(off[0]), int(off[1])],
                              "size": [int(img.shape[1]), int(img.shape[0])]})
    entry = {"name": name, **{k: v for k, v in meta.items() if k != "positions"},
             "positions": positions, "num_frames": int(joints.shape[0]),
             "num_person": int(joints.shape[1]), "num_joints": int(joints.shape[2]),
             "skeleton": f"samples/{name}.npz", "frames": frame_entries}
    atomic_write_json(out / "samples" / f"{name}.json", entry)
    return entry


def read_prepared_entry(out, name: str, positions: Optional[Sequence[float]] = None):
    """The finished sample's entry, or ``None`` when it is not (completely) there or was
    prepared for other positions."""
    out = Path(out)
    marker = out / "samples" / f"{name}.json"
    try:
        entry = json.loads(marker.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    if positions is not None and [round(float(p), 6) for p in entry.get("positions", [])] != \
            [round(float(p), 6) for p in positions]:
        return None
    files = [entry["skeleton"]] + [f["file"] for f in entry.get("frames", [])]
    return entry if all((out / f).is_file() for f in files) else None


def write_index(out, dataset: str, classes: Sequence[str], samples: Iterable[dict],
                **extra) -> Path:
    """Write ``OUT/index.json``: ``format``, ``dataset``, ``classes``, ``num_classes``,
    ``samples`` (entries from :func:`write_prepared_sample`, sorted by name) and ``extra``."""
    samples = sorted(samples, key=lambda e: e["name"])
    index = {"format": PREPARED_FORMAT, "dataset": dataset, "classes": list(classes),
             "num_classes": len(classes), **extra, "samples": samples}
    path = Path(out) / "index.json"
    atomic_write_json(path, index)
    return path


def load_index(root) -> dict:
    """Read and check ``ROOT/index.json``."""
    path = Path(root) / "index.json"
    try:
        index = json.loads(path.read_text())
    except FileNotFoundError:
        raise PreparedError(f"{path}: no prepared index (run `mmff prepare ... --out "
                            f"{root}` first)") from None
    except json.JSONDecodeError as e:
        raise PreparedError(f"{path}:{e.lineno}: not valid JSON ({e.msg})") from None
    if not isinstance(index, dict) or index.get("format") != PREPARED_FORMAT:
        raise PreparedError(f"{path}: expected format {PREPARED_FORMAT!r}, got "
                            f"{index.get('format') if isinstance(index, dict) else index!r}")
    for key in ("dataset", "classes", "samples"):
        if key not in index:
            raise PreparedError(f"{path}: missing key {key!r}")
    return index


def load_sample_arrays(root, entry: dict) -> tuple:
    """(joints, color) of one prepared sample."""
    path = Path(root) / entry["skeleton"]
    try:
        with np.load(path) as z:
            return z["joints"], z["color"]
    except (OSError, KeyError, ValueError) as e:
        raise PreparedError(f"{path}: cannot read prepared skeleton ({e})") from None


def write_report(out, ok: int, failed: list, missing: Sequence[str],
                 missing_reasons: Optional[dict] = None, **extra) -> Path:
    """``OUT/report.json``: ``ok`` (int), ``failed`` [{file, error}], ``missing`` (names),
    ``missing_reasons`` {name: why}."""
    rep = {"ok": int(ok), "failed": list(failed), "missing": sorted(missing),
           "missing_reasons": dict(sorted((missing_reasons or {}).items())), **extra}
    path = Path(out) / "report.json"
    atomic_write_json(path, rep)
    return path


# --------------------------------------------------------------------------- NTU specifics
def ntu_subsets(name: str, ntu120: bool) -> dict:
    """{benchmark: "train"|"test"} for every benchmark that applies to the sample: the NTU-60
    ones for setups 1-17 and actions 1-60, the NTU-120 ones when ``ntu120``."""
    from mmff.data.ntu import parse_name, split_subset

    f = parse_name(name)
    benches = []
    if f.setup <= 17 and f.action <= 60:
        benches += ["ntu60_xsub", "ntu60_xview"]
    if ntu120:
        benches += ["ntu120_xsub", "ntu120_xset"]
    return {b: split_subset(name, b) for b in benches}


def ntu_classes(raw, ntu120: bool) -> tuple:
    """(class names, source): ``RAW/classes.txt`` (one name a line, A001 first) when present,
    else the NTU-60/120 names."""
    path = Path(raw) / "classes.txt" if raw is not None else None
    if path is not None and path.is_file():
        names = [s.strip() for s in path.read_text().splitlines() if s.strip()]
        if not names:
            raise PreparedError(f"{path}:1: expected one class name per line")
        return names, "classes.txt"
    from mmff.data.ntu import NTU60_CLASSES, NTU120_CLASSES

    return (list(NTU120_CLASSES), "ntu120") if ntu120 else (list(NTU60_CLASSES), "ntu60")


def crop_frames(frames: Sequence[np.ndarray], color: np.ndarray, positions: Sequence[float],
                margin_max: float = 300.0, store: str = "crop") -> tuple:
    """For each frame at p: the region kept (see :func:`stored_crop_box`) around the 2D joints
    of the skeleton frame at the same p (matched by relative position) -> (crops, offsets).
    The crops are views into ``frames`` (no copy: :func:`encode_jpeg` reads them as they are)."""
    crops, offsets = [], []
    T = color.shape[0]
    for img, p in zip(frames, positions):
        h, w = img.shape[:2]
        if store == "full":
            box = (0, 0, w, h)
        else:
            box = stored_crop_box(points_bbox(color[frame_index(p, T)]), w, h, margin_max)
        x0, y0, x1, y1 = box
        crops.append(img[y0:y1, x0:x1])
        offsets.append((x0, y0))
    return crops, offsets


@dataclass
class PrepareJob:
    """One sample for :func:`prepare_samples`: NTU ``.skeleton`` path or ready ``arrays``
    (joints, color), an optional video, the 0-based label and index ``meta``."""

    name: str
    skeleton: Optional[str]            # .skeleton path, or None with `arrays`
    video: Optional[str]
    label: int
    meta: dict
    arrays: Optional[tuple] = None     # (joints, color) from another source (PYSKL)


@dataclass
class PrepareOptions:
    """Settings shared by all jobs of a run (picklable for the worker processes)."""

    out: str
    positions: list
    max_bodies: int = 2
    margin_max: float = 300.0
    store: str = "crop"
    jpeg_quality: int = 95
    num_classes: int = 60


def read_ntu_arrays(path, max_bodies: int = 2) -> tuple:
    """``(joints (T, M, 25, 3), color (T, M, 25, 2))`` of an NTU ``.skeleton`` file with
    exactly ``M = max_bodies`` bodies (``select_bodies``, zero-padded); a file with no body in
    any frame raises ``ValueError`` naming it. Shared by prepare and ``mmff predict``."""
    from mmff.data.ntu import read_skeleton, select_bodies

    skel = read_skeleton(path)
    if skel.is_empty:
        raise ValueError(f"{path}: no body in any frame")
    skel = select_bodies(skel, max_bodies)
    return (pad_bodies(skel.joints, max_bodies), pad_bodies(skel.color, max_bodies))


def _load_ntu_arrays(job: PrepareJob, opt: PrepareOptions) -> tuple:
    return read_ntu_arrays(job.skeleton, opt.max_bodies)


def _process(job: PrepareJob, opt: PrepareOptions) -> dict:
    """One sample: skeleton arrays, frames at the positions, writes. Raises on bad input."""
    if not 0 <= job.label < opt.num_classes:
        raise ValueError(f"{job.skeleton or job.name}: label {job.label + 1} is outside the "
                         f"{opt.num_classes} classes")
    joints, color = job.arrays if job.arrays is not None else _load_ntu_arrays(job, opt)
    meta = dict(job.meta, label=job.label, positions=opt.positions)
    frames, offsets = [], []
    if job.video is not None:
        vf = decode_frames_at(job.video, opt.positions)
        frames, offsets = crop_frames(vf.frames, color, opt.positions, opt.margin_max,
                                      opt.store)
        meta.update(video_frames=vf.num_frames, frame_size=[vf.width, vf.height],
                    frame_indices=vf.indices, stored=opt.store)
    return write_prepared_sample(opt.out, job.name, joints, color, frames, offsets, meta,
                                 opt.jpeg_quality)


def _worker_init() -> None:
    try:
        import cv2

        cv2.setNumThreads(1)
    except ImportError:  # pragma: no cover
        pass


#: imported by the forkserver before it forks any worker (imports + the reader's kernel)
PRELOAD_MODULE = "mmff.data._prepare_preload"


def _make_pool(processes: int):
    """A process pool whose workers start warm: forkserver (never plain fork: the caller may
    hold threads) with :data:`PRELOAD_MODULE` imported once in the server, so each worker is a
    fork of a process that already imported av/cv2/numba and loaded the reader kernel
    (~1 s of CPU per worker otherwise). ``spawn`` where forkserver does not exist."""
    if "forkserver" not in mp.get_all_start_methods():
        return mp.get_context("spawn").Pool(processes, initializer=_worker_init)
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload([PRELOAD_MODULE])
    return ctx.Pool(processes, initializer=_worker_init)


def _run_job(args) -> tuple:
    job, opt = args
    try:
        return job.name, _process(job, opt), None
    except (ValueError, OSError, EOFError) as e:
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        bad = job.video if isinstance(e, VideoError) else (job.skeleton or job.video or job.name)
        return job.name, None, {"file": bad, "error": msg}
    except Exception as e:  # a bug must not stop the batch either; keep the trace short
        tb = traceback.extract_tb(e.__traceback__)[-1]
        return job.name, None, {"file": job.skeleton or job.video or job.name,
                                "error": f"{type(e).__name__}: {e} ({Path(tb.filename).name}:"
                                         f"{tb.lineno})"}


@dataclass
class PrepareResult:
    """What a prepare run did; ``report`` is what ``report.json`` holds."""

    report: dict
    index_path: Path
    written: list = field(default_factory=list)   # names prepared in this run
    skipped: list = field(default_factory=list)   # names already finished (resume)

    @property
    def failed(self) -> list:
        return self.report["failed"]


def run_jobs(fn, jobs: Sequence, entries: dict, failed: list, workers: Optional[int] = None,
             desc: str = "prepare", progress: bool = True) -> list:
    """Run ``fn(job) -> (name, entry, error-or-None)`` over ``jobs`` in a warm process pool
    (one per core by default; in-process for one worker or one job), with a progress bar.
    Fills ``entries`` {name: entry} and ``failed`` [{file, error}]; returns the names written.
    Shared by every dataset's prepare (NTU here, SYSU in ``sysu.py``)."""
    written: list = []
    workers = min(workers or os.cpu_count() or 1, max(len(jobs), 1))
    from tqdm import tqdm

    with tqdm(total=len(jobs), desc=desc, unit="sample", dynamic_ncols=True,
              disable=not progress) as bar:
        if workers <= 1:
            _worker_init()
            results, pool = map(fn, jobs), None
        else:
            pool = _make_pool(workers)
            results = pool.imap_unordered(fn, jobs, chunksize=1)
        try:
            for name, entry, err in results:
                if err is None:
                    entries[name] = entry
                    written.append(name)
                else:
                    failed.append(err)
                bar.update(1)
                bar.set_postfix(failed=len(failed), refresh=False)
        finally:
            if pool is not None:
                pool.terminate()
                pool.join()
    return written


def prepare_samples(jobs: Sequence[PrepareJob], opt: PrepareOptions, dataset: str,
                    classes: Sequence[str], workers: Optional[int] = None, progress: bool = True,
                    missing: Optional[dict] = None, extra_failed: Sequence[dict] = (),
                    index_extra: Optional[dict] = None, duplicates: Sequence[dict] = (),
                    warnings: Sequence[str] = ()) -> PrepareResult:
    """Run ``jobs`` in a process pool (resuming), then write index.json and report.json
    (``duplicates``: [{name, kept, ignored}] of names given by more than one file;
    ``warnings``: lines the user must see, e.g. a split recomputed from the names)."""
    out = Path(opt.out)
    (out / "samples").mkdir(parents=True, exist_ok=True)
    (out / "frames").mkdir(parents=True, exist_ok=True)
    clean_stale_temp_files(out)
    entries, skipped, todo = {}, [], []
    for job in jobs:
        e = read_prepared_entry(out, job.name, opt.positions)
        if e is not None:
            if "subsets" in job.meta:   # this run's split (e.g. another --pyskl split) wins
                e["subsets"] = job.meta["subsets"]
            entries[job.name] = e
            skipped.append(job.name)
        else:
            todo.append(job)
    failed = list(extra_failed)
    written = run_jobs(_run_job, [(j, opt) for j in todo], entries, failed, workers=workers,
                       desc=f"prepare {dataset}", progress=progress)
    index_path = write_index(out, dataset, classes, entries.values(), positions=opt.positions,
                             **(index_extra or {}))
    missing = missing or {}
    failed.sort(key=lambda f: f["file"])
    report = {"ok": len(entries), "failed": failed, "missing": sorted(missing),
              "missing_reasons": dict(sorted(missing.items())), "written": len(written),
              "skipped": len(skipped), "duplicates": sorted(duplicates, key=lambda d: d["name"]),
              "warnings": list(warnings)}
    write_report(out, **report)
    return PrepareResult(report, index_path, sorted(written), sorted(skipped))


#: video files looked up beside a sample NAME, in this order (NTU's own name first)
VIDEO_SUFFIXES = ("_rgb.avi", ".avi", "_rgb.mp4", ".mp4")


def find_video(videos: Path, name: str) -> Optional[Path]:
    """The video of sample ``name`` in folder ``videos`` (first of :data:`VIDEO_SUFFIXES`), or None."""
    return next((videos / f"{name}{s}" for s in VIDEO_SUFFIXES if (videos / f"{name}{s}").is_file()), None)


def _video_names(videos: Path, duplicates: dict) -> dict:
    """{NTU name: video} of a folder; a second file with the same name (sorted order) is added
    to ``duplicates`` {name: [kept, ignored, ...]}, not used."""
    from mmff.data.ntu import NTUNameError, parse_name

    found = {}
    for f in sorted(videos.glob("*")):
        if f.suffix.lower() in (".avi", ".mp4"):
            try:
                name = str(parse_name(f.name))
            except NTUNameError:
                continue
            _keep_first(found, name, f, duplicates)
    return found


def _keep_first(found: dict, name: str, source, duplicates: dict) -> None:
    """``found[name] = source`` unless ``name`` is there already (then a duplicate)."""
    if name in found:
        duplicates.setdefault(name, [str(found[name])]).append(str(source))
    else:
        found[name] = source


def _duplicate_list(duplicates: dict) -> list:
    return [{"name": n, "kept": files[0], "ignored": files[1:]}
            for n, files in sorted(duplicates.items())]


def prepare_ntu(raw=None, out=None, videos=None, workers: Optional[int] = None,
                positions: Sequence[float] = (0.5,), strict: bool = False,
                missing: Optional[str] = None, benchmark: Optional[str] = None,
                limit: Optional[int] = None, pyskl: Optional[str] = None,
                skeleton_only: bool = False, margin_max: float = 300.0, store: str = "crop",
                jpeg_quality: int = 95, max_bodies: int = 2, progress: bool = True
                ) -> PrepareResult:
    """Prepare an NTU-format folder (real NTU, or the synthetic generator's output).

    ``raw``: folder of ``*.skeleton`` (and ``classes.txt``); ``videos``: folder of
    ``NAME_rgb.avi`` (default ``raw``); ``missing``: the official missing-skeleton list (those
    names are skipped and reported); ``benchmark``: ``ntu60`` or ``ntu120`` (default: ntu120
    when any action > 60); ``pyskl``: a PYSKL pickle as the skeleton source instead of
    ``raw``. ``strict`` does not change the run; the caller decides the exit status.

    Two files that give the same sample name (``X.skeleton`` and ``X_copy.skeleton``, or two
    videos of one sample, or two annotations of a pickle) keep the first in sorted order (file
    order in a pickle) and are listed in the report's ``duplicates``. With ``pyskl``, the
    pickle's own ``split`` gives the benchmark subsets it names
    (:func:`mmff.data.pyskl.pyskl_split_subsets`); every benchmark it does not name is
    recomputed from the sample names, said in the report's ``warnings``. No video for any
    skeleton (and not ``skeleton_only``) is an error naming ``--videos`` / ``--skeleton-only``."""
    if out is None:
        raise ValueError("prepare ntu: --out is required")
    if raw is None and pyskl is None:
        raise ValueError("prepare ntu: give --raw DIR or --pyskl FILE")
    positions = [float(p) for p in positions]
    for p in positions:
        frame_index(p, 2)  # validates the range
    raw = Path(raw) if raw is not None else None
    if raw is not None and not raw.is_dir():
        raise FileNotFoundError(f"{raw}: no such folder")
    videos = Path(videos) if videos is not None else raw
    if not skeleton_only and videos is None:
        raise ValueError("prepare ntu: --pyskl gives skeletons only: give the video folder "
                         "with --videos DIR, or use --skeleton-only")
    if not skeleton_only and not videos.is_dir():
        raise FileNotFoundError(f"{videos}: no such video folder (give --videos DIR, or use "
                                "--skeleton-only)")
    from mmff.data.ntu import NTUNameError, parse_name, read_missing_list

    official = read_missing_list(missing) if missing else frozenset()
    failed: list = []
    duplicates: dict = {}  # name -> [kept file, ignored files...]
    sources = {}          # name -> skeleton path or (joints, color)
    split = None          # the pickle's own split (--pyskl)
    if pyskl is not None:
        sources, split = _pyskl_arrays(pyskl, max_bodies, duplicates)
    else:
        for f in sorted(raw.glob("*.skeleton")):
            try:
                _keep_first(sources, str(parse_name(f.name)), str(f), duplicates)
            except NTUNameError as e:
                failed.append({"file": str(f), "error": str(e)})
    reasons = {n: "on the official missing-skeleton list" for n in sources if n in official}
    names = [n for n in sorted(sources) if n not in official]
    dup_videos: dict = {}
    vids = {} if skeleton_only else _video_names(videos, dup_videos)
    if not skeleton_only:
        for n in vids:
            if n not in sources and n not in official:
                reasons[n] = "video without skeleton file"
            elif n in official:
                reasons[n] = "on the official missing-skeleton list"
    if limit is not None:
        names = names[:limit]
    if benchmark is None:
        benchmark = "ntu120" if any(parse_name(n).action > 60 or parse_name(n).setup > 17
                                    for n in names) else "ntu60"
    if benchmark not in ("ntu60", "ntu120"):
        raise ValueError(f"prepare ntu: --benchmark must be ntu60 or ntu120, got {benchmark!r}")
    ntu120 = benchmark == "ntu120"
    classes, class_source = ntu_classes(raw, ntu120)
    opt = PrepareOptions(out=str(out), positions=positions, max_bodies=max_bodies,
                   margin_max=margin_max, store=store, jpeg_quality=jpeg_quality,
                   num_classes=len(classes))
    prefix = "ntu120" if ntu120 else "ntu60"
    own, own_benches, warnings = {}, [], []
    if pyskl is not None and split:
        from mmff.data.pyskl import pyskl_split_subsets
        own, own_benches, warnings = pyskl_split_subsets(split, prefix, key=_pyskl_name)
        warnings = [f"{pyskl}: {w}" for w in warnings]
    jobs, recomputed, outside, differ = [], set(), {}, {}
    for n in names:
        f = parse_name(n)
        video = None
        if not skeleton_only:
            video = vids.get(n) or find_video(videos, n)
            if video is None:
                reasons[n] = "skeleton file without video"
                continue
        src = sources[n]
        subsets = ntu_subsets(n, ntu120)
        if pyskl is not None:
            for b in own_benches:
                if b in subsets and own.get(n, {}).get(b) not in (None, subsets[b]):
                    differ[b] = differ.get(b, 0) + 1
                if b not in own.get(n, {}):
                    outside[b] = outside.get(b, 0) + 1
            subsets = {**{b: v for b, v in subsets.items() if b not in own_benches},
                       **own.get(n, {})}
            recomputed |= set(subsets) - set(own_benches)
        meta = {"subject": f.performer, "camera": f.camera, "setup": f.setup,
                "replication": f.replication, "subsets": subsets}
        jobs.append(PrepareJob(n, src if isinstance(src, str) else None,
                         str(video) if video is not None else None, f.action - 1, meta,
                         None if isinstance(src, str) else src))
    if not skeleton_only and names and not jobs:
        raise ValueError(f"{videos}: no video (NAME_rgb.avi, NAME.avi, NAME_rgb.mp4, NAME.mp4) "
                         f"for any of the {len(names)} skeleton(s): give the video folder with "
                         "--videos DIR, or use --skeleton-only to prepare skeletons without frames")
    if recomputed:
        why = "the pickle has no split" if not split else "not in the pickle's split"
        warnings.append(f"{pyskl}: {', '.join(sorted(recomputed))}: {why}; recomputed from "
                        "the sample names (NTU rule)")
    for b in own_benches:
        if outside.get(b):
            warnings.append(f"{pyskl}: {b}: {outside[b]} sample(s) in no part of the pickle's "
                            f"split, left out of {b}")
        if differ.get(b):
            warnings.append(f"{pyskl}: {b}: the pickle's split differs from the NTU rule for "
                            f"{differ[b]} sample(s); the pickle's split is used")
    dataset = prefix
    return prepare_samples(jobs, opt, dataset, classes, workers, progress, reasons, failed,
                           index_extra={"class_source": class_source, "layout": "ntu",
                                        "num_joints": 25, "num_person": max_bodies,
                                        "stored": "none" if skeleton_only else store},
                           duplicates=_duplicate_list(duplicates) + _duplicate_list(dup_videos),
                           warnings=warnings)


def _pyskl_name(name) -> str:
    """The NTU sample name of a PYSKL ``frame_dir`` (its first 20 characters)."""
    return str(name)[:20]


def _pyskl_arrays(path, max_bodies: int, duplicates: dict) -> tuple:
    """``({name: (joints, color)}, split)`` from a PYSKL pickle (:func:`mmff.data.pyskl.
    load_pyskl_annotations`). 3D files carry no colour coordinates: the joints are projected
    with the Kinect v2 colour intrinsics (:func:`mmff.data.transforms.project_to_image`),
    which is only right for raw camera-space joints (PYSKL's ``ntu60_3danno.pkl`` holds them
    unnormalised). 2D files (pixels): the 2D points are the colour coordinates and the
    skeleton stream gets (x, y, score), PYSKL's 2D practice."""
    from mmff.data.pyskl import load_pyskl_annotations
    from mmff.data.transforms import project_to_image

    samples, split = load_pyskl_annotations(path)
    out, where = {}, {}
    for i, smp in enumerate(samples):
        name = _pyskl_name(smp.name)
        _keep_first(where, name, f"{path}: annotation {i} ({smp.name})", duplicates)
        if name in out:
            continue
        kp = smp.joints                                    # (T, M, V, C)
        if kp.shape[-1] == 3:
            joints, color = kp, project_to_image(kp)
        else:
            score = smp.score if smp.score is not None else np.ones(kp.shape[:3], np.float32)
            joints, color = np.concatenate([kp, score[..., None]], -1), kp
        out[name] = (pad_bodies(joints.astype(np.float32), max_bodies),
                     pad_bodies(color.astype(np.float32), max_bodies))
    return out, split
