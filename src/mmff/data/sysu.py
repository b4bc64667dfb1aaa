"""SYSU 3D Human-Object Interaction (SPEC §1.2): reader, protocols, synthetic tree, prepare.

The release stores each of its 480 sequences (40 subjects x 12 activities, Kinect v1, 20 joints)
as ``3DvideoNorm/<Subject>/video<k>/`` (k = activity 1..12) holding

* ``sklWorld.mat``: variable ``SW``, 20 x 3 x T world coordinates (Kinect v1 joint order, see
  ``mmff.layouts.LAYOUTS["sysu"]``);
* ``sklImage.mat``: variable ``S``, 20 x >=2 x T pixel coordinates of the joints in the RGB frame
  (only the first two columns, x and y, are used);
* ``rgb/`` (and ``depth/``): one image file per frame.

``.mat`` files are read with scipy (MATLAB v4/v5/v7) or h5py (MATLAB v7.3 = HDF5). MATLAB v7.3
stores arrays column-major, so h5py sees the shape reversed (``SW`` appears as T x 3 x 20); the
reader transposes it back, and both formats give the same array (tested).

Sequence order is the release's ("subject-then-activity"): subjects sorted by folder name
(ASCII, as ``subjectname.txt`` lists them), then activities 1..12, so sequence ``i`` (0-based) is
subject ``i // 12 + 1`` and activity ``i % 12 + 1``. Fold indices refer to that order.

Protocols (paper §4.1): Setting-1, for every activity half of its sequences train and half test;
Setting-2, half of the subjects train and half test; each over 30 random folds
(:func:`sysu_folds`, reproducible from a seed, or :func:`load_fold_file` for the files that
circulate).

Layer: this module belongs to :mod:`mmff.data` and imports nothing from models/engine.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Optional, Sequence, Union

import numpy as np

from mmff.atomic import atomic_path
from mmff.layouts import LAYOUTS
from . import SkeletonFormatError, SkeletonSequence
from .prepare import atomic_write_bytes
from .transforms import project_to_image
from .video import frame_index  # one rule for the skeleton frame and the image at p

__all__ = [
    "SYSU_CLASSES", "SYSU_OBJECTS", "SYSU_NUM_JOINTS", "SYSU_NUM_SUBJECTS", "KINECT_V1_INTRINSICS",
    "PLACEHOLDER_SUBJECTS",
    "SYSUSkeleton", "SYSUSequence", "read_mat_array", "write_mat", "read_sysu_skeleton",
    "list_sysu_sequences", "sysu_frame_paths", "read_sysu_frames_at", "read_sysu_metadata",
    "sysu_folds", "load_fold_file", "infer_fold_setting", "sysu_benchmark", "fold_subsets",
    "synthetic_sysu_pose", "write_synthetic_sysu", "prepare_sysu",
]

# --------------------------------------------------------------------------- constants
#: The 12 activities in label order (label ``k - 1`` = folder ``video<k>``).
SYSU_CLASSES = (
    "drinking", "pouring", "calling phone", "playing phone", "wearing backpacks",
    "packing backpacks", "sitting chair", "moving chair", "taking out wallet",
    "taking from wallet", "mopping", "sweeping",
)
#: The object each activity involves (pairs of activities share one object).
SYSU_OBJECTS = (
    "cup", "cup", "phone", "phone", "backpack", "backpack", "chair", "chair",
    "wallet", "wallet", "mop", "broom",
)
#: Kinect v1 joints per body; joint names, bones and centres: ``mmff.layouts.LAYOUTS["sysu"]``.
SYSU_NUM_JOINTS = LAYOUTS["sysu"].num_joints
SYSU_NUM_SUBJECTS = 40
#: Nominal Kinect v1 RGB camera (640 x 480): fx, fy, cx, cy in pixels. Used by the synthetic
#: generator to project the 3D joints (u = fx*x/z + cx, v = cy - fy*y/z).
KINECT_V1_INTRINSICS = (525.0, 525.0, 319.5, 239.5)
#: Placeholder subject folder names for the synthetic tree (not the release's names).
PLACEHOLDER_SUBJECTS = tuple(f"Subject{i:02d}" for i in range(1, SYSU_NUM_SUBJECTS + 1))

_IMAGE_EXT = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff")
_VIDEO_RE = re.compile(r"^video(\d+)$", re.IGNORECASE)
PathLike = Union[str, os.PathLike]


# --------------------------------------------------------------------------- data types
@dataclass
class SYSUSkeleton(SkeletonSequence):
    """One SYSU sequence in the layout of the NTU reader's ``NTUSkeleton`` (one body, M = 1).

    ``joints`` float32 (T, 1, 20, 3) world coordinates (``SW``), ``color`` float32
    (T, 1, 20, 2) pixel coordinates in the RGB frame (``S``), ``body_ids`` (1,) int64,
    ``present`` (T, 1) bool: the body is there (Kinect wrote non-zero joints) in that frame.
    """

    name: str
    joints: np.ndarray
    color: np.ndarray
    body_ids: np.ndarray = field(default_factory=lambda: np.zeros(1, dtype=np.int64))
    present: Optional[np.ndarray] = None
    path: str = ""

    def __post_init__(self):
        if self.present is None:
            self.present = np.any(self.joints != 0, axis=(2, 3))



@dataclass(frozen=True)
class SYSUSequence:
    """A sequence folder of the release: ``<root>/<subject>/video<activity>``."""

    index: int          # position in the release order (subject-then-activity), 0-based
    subject: str        # folder name
    subject_id: int     # 1-based rank of the subject folder (ASCII order, = subjectname.txt)
    activity: int       # 1..12 (folder video<k>)
    path: Path

    @property
    def label(self) -> int:
        """0-based class (``activity - 1``)."""
        return self.activity - 1

    @property
    def name(self) -> str:
        """File-safe sample name, e.g. ``BoTong_video03``."""
        return _sequence_name(self.subject, self.activity)


def _sequence_name(subject: str, activity: int) -> str:
    return f"{subject}_video{activity:02d}"


# --------------------------------------------------------------------------- .mat I/O
def _is_mat73(path: Path) -> bool:
    import h5py
    try:
        return bool(h5py.is_hdf5(str(path)))
    except OSError:
        return False


def read_mat_array(path: PathLike, var: str) -> np.ndarray:
    """Read the numeric array ``var`` from a MATLAB ``.mat`` file in MATLAB's orientation.

    v4/v5/v7 files go through :func:`scipy.io.loadmat`; v7.3 (HDF5) files through h5py, whose
    shape is MATLAB's reversed (column-major storage), so the array is transposed back.
    Raises :class:`SkeletonFormatError` naming the file if it is missing the variable, is not a
    .mat file, or the variable is not numeric.
    """
    path = Path(path)
    if not path.is_file():
        raise SkeletonFormatError(f"{path}: file not found (expected a MATLAB .mat file with '{var}')")
    if _is_mat73(path):
        import h5py
        try:
            with h5py.File(path, "r") as f:
                if var not in f:
                    keys = [k for k in f.keys() if not k.startswith("#")]
                    raise SkeletonFormatError(
                        f"{path}: no variable '{var}' in this v7.3 .mat file (found: {keys})")
                ds = f[var]
                if not isinstance(ds, h5py.Dataset) or ds.dtype.kind not in "iufb":
                    raise SkeletonFormatError(f"{path}: variable '{var}' is not a numeric matrix")
                arr = np.asarray(ds[()]).T  # column-major on disk: reverse the axes
        except SkeletonFormatError:
            raise
        except Exception as e:  # corrupt HDF5
            raise SkeletonFormatError(f"{path}: unreadable v7.3 .mat file ({type(e).__name__}: {e})") from None
        return arr
    import scipy.io
    try:
        data = scipy.io.loadmat(str(path), variable_names=[var])
    except Exception as e:  # scipy raises ValueError/MatReadError/TypeError/... on garbage
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise SkeletonFormatError(
            f"{path}: not a readable MATLAB .mat file (v5 or v7.3/HDF5): {msg}") from None
    if var not in data:
        raise SkeletonFormatError(f"{path}: no variable '{var}' in this .mat file")
    arr = data[var]
    if not isinstance(arr, np.ndarray) or arr.dtype.kind not in "iufb":
        raise SkeletonFormatError(f"{path}: variable '{var}' is not a numeric matrix")
    return arr


def _mat73_header() -> bytes:
    """The 128-byte MATLAB v7.3 header that sits in the HDF5 user block."""
    text = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created by: mmff HDF5 schema 1.00 ."
    return text.ljust(116, b" ") + b"\x00" * 8 + b"\x00\x02" + b"IM"


def write_mat(path: PathLike, arrays: Mapping[str, np.ndarray], format: str = "v5") -> Path:
    """Write ``arrays`` as a MATLAB .mat file, atomically (temp file + ``os.replace``).

    ``format="v5"`` uses :func:`scipy.io.savemat`; ``format="v7.3"`` writes HDF5 the way MATLAB
    does (512-byte user block with the MAT header, arrays stored with their axes reversed,
    ``MATLAB_class`` attribute), so MATLAB and :func:`read_mat_array` read the same shapes.
    The header text carries no date, so equal arrays give equal bytes.
    """
    path = Path(path)
    with atomic_path(path) as tmp:
        if format == "v5":
            import scipy.io
            with open(tmp, "wb") as f:
                scipy.io.savemat(f, {k: np.asarray(v) for k, v in arrays.items()}, format="5",
                                 do_compression=False)
                f.seek(0)  # scipy's header holds the creation time: fixed text = same bytes per seed
                f.write(b"MATLAB 5.0 MAT-file, Platform: posix, Created by: mmff".ljust(116, b" "))
        elif format in ("v7.3", "v73", "7.3"):
            import h5py
            with h5py.File(tmp, "w", userblock_size=512) as f:
                for k, v in arrays.items():
                    v = np.asarray(v)
                    ds = f.create_dataset(k, data=np.ascontiguousarray(v.T))
                    cls = {"f": "double" if v.dtype == np.float64 else "single",
                           "i": f"int{8 * v.dtype.itemsize}", "u": f"uint{8 * v.dtype.itemsize}",
                           "b": "logical"}[v.dtype.kind]
                    ds.attrs["MATLAB_class"] = np.bytes_(cls)
            with open(tmp, "r+b") as f:
                f.write(_mat73_header())
        else:
            raise ValueError(f"write_mat: format must be 'v5' or 'v7.3', got {format!r}")
    return path


# --------------------------------------------------------------------------- reader
def _check_matrix(arr: np.ndarray, path: Path, var: str, min_cols: int) -> np.ndarray:
    """``arr`` must be 20 x >=min_cols x T (T >= 1); returns float32 (T, 20, min_cols)."""
    if arr.ndim == 2 and arr.shape[0] == SYSU_NUM_JOINTS:  # MATLAB drops a trailing T = 1
        arr = arr[:, :, None]
    if arr.ndim != 3 or arr.shape[0] != SYSU_NUM_JOINTS or arr.shape[1] < min_cols or arr.shape[2] < 1:
        raise SkeletonFormatError(
            f"{path}: expected '{var}' of shape 20 x {min_cols if min_cols == 3 else '>=2'} x T "
            f"(20 Kinect v1 joints), got {' x '.join(map(str, arr.shape))}")
    out = np.ascontiguousarray(arr[:, :min_cols, :].transpose(2, 0, 1), dtype=np.float32)
    if not np.isfinite(out).all():
        bad = int(np.argwhere(~np.isfinite(out))[0][0])
        raise SkeletonFormatError(f"{path}: '{var}' has NaN/Inf values (first at frame {bad + 1})")
    return out


def read_sysu_skeleton(seq_dir: PathLike) -> SYSUSkeleton:
    """Read ``sklWorld.mat`` (``SW``) and ``sklImage.mat`` (``S``) of one sequence folder.

    Returns joints (T, 1, 20, 3) and color (T, 1, 20, 2), float32. Missing or malformed files,
    or a different frame count in the two files, raise :class:`SkeletonFormatError` naming the file.
    """
    seq_dir = Path(seq_dir)
    world_path, image_path = seq_dir / "sklWorld.mat", seq_dir / "sklImage.mat"
    world = _check_matrix(read_mat_array(world_path, "SW"), world_path, "SW", 3)
    image = _check_matrix(read_mat_array(image_path, "S"), image_path, "S", 2)
    if image.shape[0] != world.shape[0]:
        raise SkeletonFormatError(
            f"{image_path}: expected {world.shape[0]} frames like {world_path.name}, got {image.shape[0]}")
    m = _VIDEO_RE.match(seq_dir.name)
    name = _sequence_name(seq_dir.parent.name, int(m.group(1))) if m else f"{seq_dir.parent.name}_{seq_dir.name}"
    return SYSUSkeleton(name=name, joints=world[:, None], color=image[:, None], path=str(seq_dir))


def _natural_key(name: str):
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", name)]


def sysu_frame_paths(seq_dir: PathLike) -> list[Path]:
    """The ``rgb/`` frame images of a sequence in frame order (natural sort: 2 before 10)."""
    rgb = Path(seq_dir) / "rgb"
    if not rgb.is_dir():
        raise SkeletonFormatError(f"{rgb}: missing RGB frame folder (expected rgb/ with one image per frame)")
    files = [p for p in rgb.iterdir() if p.suffix.lower() in _IMAGE_EXT and not p.name.startswith(".")]
    if not files:
        raise SkeletonFormatError(f"{rgb}: no frame images (expected {', '.join(_IMAGE_EXT)} files)")
    return sorted(files, key=lambda p: _natural_key(p.name))


def read_sysu_frames_at(seq_dir: PathLike, positions: Sequence[float] = (0.5,)) -> list[np.ndarray]:
    """RGB frames (H, W, 3) uint8 at fractions ``positions`` of the sequence.

    Frames are image files, so frame ``frame_index(p, n)`` of the sorted ``rgb/`` listing is read
    directly (the same rule as the NTU video reader and the skeleton frame at p).
    """
    return _read_frames(seq_dir, positions)[0]


def _read_frames(seq_dir: PathLike, positions: Sequence[float]) -> tuple:
    """(frames, indices, n): RGB frames at ``positions``, their indices in the sorted ``rgb/``
    listing, and the number of frame images."""
    import cv2
    paths = sysu_frame_paths(seq_dir)
    frames, indices = [], []
    for p in positions:
        k = frame_index(p, len(paths))
        img = cv2.imread(str(paths[k]), cv2.IMREAD_COLOR)
        if img is None:
            raise SkeletonFormatError(f"{paths[k]}: unreadable image (expected a JPEG/PNG/BMP frame)")
        frames.append(cv2.cvtColor(img, cv2.COLOR_BGR2RGB))
        indices.append(int(k))
    return frames, indices, len(paths)


def _sequence_root(root: Path) -> Path:
    """Accept the release root (holding ``3DvideoNorm/``) or ``3DvideoNorm`` itself."""
    for cand in (root / "3DvideoNorm", root):
        if cand.is_dir() and any(_VIDEO_RE.match(q.name) for p in cand.iterdir() if p.is_dir()
                                 for q in p.iterdir() if q.is_dir()):
            return cand
    raise SkeletonFormatError(
        f"{root}: no SYSU sequences (expected 3DvideoNorm/<Subject>/video<k>/ folders)")


def list_sysu_sequences(root: PathLike, num_activities: int = len(SYSU_CLASSES)
                        ) -> tuple[list[SYSUSequence], list[str]]:
    """The grid of sequences ``subject x activity`` in release order, and the missing ones.

    Subjects are the folders of ``root/3DvideoNorm`` (or ``root``) that hold ``video<k>``
    folders, sorted by name (ASCII, as ``subjectname.txt``); every subject is expected to have
    ``video1`` .. ``video<num_activities>``. Returns ``(grid, missing)``: ``grid`` holds every
    expected sequence (``index = subject_rank * 12 + activity - 1``), ``missing`` the names of
    expected folders that are absent. Folders ``video<k>`` with k outside 1..12 raise.
    """
    base = _sequence_root(Path(root))
    subjects = sorted(p.name for p in base.iterdir()
                      if p.is_dir() and any(_VIDEO_RE.match(q.name) for q in p.iterdir() if q.is_dir()))
    grid, missing = [], []
    for rank, subj in enumerate(subjects):
        present = {}
        for q in (base / subj).iterdir():
            m = _VIDEO_RE.match(q.name)
            if q.is_dir() and m:
                k = int(m.group(1))
                if not 1 <= k <= num_activities:
                    raise SkeletonFormatError(
                        f"{q}: expected video1..video{num_activities} (one folder per activity)")
                present[k] = q
        for k in range(1, num_activities + 1):
            seq = SYSUSequence(rank * num_activities + k - 1, subj, rank + 1, k,
                               present.get(k, base / subj / f"video{k}"))
            grid.append(seq)
            if k not in present:
                missing.append(seq.name)
    return grid, missing


def _read_int_lines(path: Path) -> np.ndarray:
    vals = []
    for i, line in enumerate(path.read_text().splitlines(), 1):
        s = line.strip()
        if not s:
            continue
        try:
            vals.append(int(float(s)))
        except ValueError:
            raise SkeletonFormatError(f"{path}:{i}: expected one integer per line, got {s!r}") from None
    return np.asarray(vals, dtype=np.int64)


def read_sysu_metadata(meta_dir: PathLike) -> dict:
    """Read the release's statistics files from ``meta_dir``.

    ``sysu_action_classes.txt`` (class names, label order), ``subjectname.txt`` (subject folder
    names), ``label.txt`` and ``subjectid.txt`` (1-based label / subject id per sequence, one a
    line, subject-then-activity order). Returns ``{"classes", "subject_names", "labels" (0-based),
    "subjects" (1-based)}``; each file is optional except that labels and subjects go together.
    """
    meta_dir = Path(meta_dir)
    out: dict = {}
    for key, fname in (("classes", "sysu_action_classes.txt"), ("subject_names", "subjectname.txt")):
        p = meta_dir / fname
        if p.is_file():
            out[key] = [s.strip() for s in p.read_text().splitlines() if s.strip()]
    lp, sp = meta_dir / "label.txt", meta_dir / "subjectid.txt"
    if lp.is_file() or sp.is_file():
        labels, subjects = _read_int_lines(lp), _read_int_lines(sp)
        if len(labels) != len(subjects):
            raise SkeletonFormatError(
                f"{sp}: expected {len(labels)} subject ids (one per line of {lp.name}), got {len(subjects)}")
        if len(labels) and labels.min() < 1:
            raise SkeletonFormatError(f"{lp}: expected 1-based labels, found {labels.min()}")
        out["labels"] = labels - 1
        out["subjects"] = subjects
    return out


# --------------------------------------------------------------------------- protocols
_SETTINGS = {"setting1": 1, "setting2": 2, "1": 1, "2": 2, "setting-1": 1, "setting-2": 2}


def _setting_id(setting) -> int:
    sid = _SETTINGS.get(str(setting).lower().replace("_", "").replace(" ", ""))
    if sid is None:
        raise ValueError(f"SYSU setting must be 'setting1' or 'setting2', got {setting!r}")
    return sid


def sysu_benchmark(setting, fold: int) -> str:
    """Index key of fold ``fold`` (0-based) of a setting, e.g. ``sysu_setting1_fold03``."""
    return f"sysu_setting{_setting_id(setting)}_fold{int(fold):02d}"


def sysu_folds(setting, n_folds: int = 30, seed: int = 0, labels: Optional[Sequence[int]] = None,
               subjects: Optional[Sequence[int]] = None) -> list[tuple[np.ndarray, np.ndarray]]:
    """Random folds of a SYSU protocol (paper §4.1), reproducible from ``seed``.

    * Setting-1 (``labels`` needed): in every fold, for each activity a random half of its
      sequences train, the rest test (40 per activity -> 20/20, 240/240 in all).
    * Setting-2 (``subjects`` needed): in every fold a random half of the subjects train, the
      other half test (20/20 subjects -> 240/240 sequences).

    With an odd count the extra item goes to train (``test = n // 2``). Fold ``k`` draws from
    ``numpy.random.default_rng([seed, setting, k])``, so it does not depend on ``n_folds`` (the
    first 2 of 30 folds are the 2 folds of ``n_folds=2``). Returns ``n_folds`` pairs
    ``(train_idx, test_idx)`` of sorted int64 sequence indices.
    """
    sid = _setting_id(setting)
    if n_folds < 1:
        raise ValueError(f"n_folds must be >= 1, got {n_folds}")
    groups = np.asarray(labels if sid == 1 else subjects)
    if groups.ndim != 1 or groups.size == 0 or (labels if sid == 1 else subjects) is None:
        raise ValueError(f"setting{sid} folds need {'labels' if sid == 1 else 'subjects'} (one per sequence)")
    n = groups.size
    folds = []
    for k in range(n_folds):
        rng = np.random.default_rng([int(seed), sid, k])
        test_mask = np.zeros(n, dtype=bool)
        if sid == 1:  # half of every activity's sequences
            for g in np.unique(groups):
                idx = np.flatnonzero(groups == g)
                test_mask[rng.permutation(idx)[: idx.size // 2]] = True
        else:  # half of the subjects
            subj = np.unique(groups)
            test_mask = np.isin(groups, rng.permutation(subj)[: subj.size // 2])
        folds.append((np.flatnonzero(~test_mask), np.flatnonzero(test_mask)))
    return folds


def _folds_from_matrix(mat: np.ndarray, n_samples: int, base: Optional[int], src: str
                       ) -> list[tuple[np.ndarray, np.ndarray]]:
    mat = np.asarray(mat)
    if mat.ndim == 1:
        mat = mat[None]
    if mat.ndim != 2 or mat.size == 0:
        raise SkeletonFormatError(f"{src}: expected a 2-D folds x indices matrix, got shape {mat.shape}")
    if not np.all(np.isfinite(mat)) or not np.all(mat == np.round(mat)):
        raise SkeletonFormatError(f"{src}: expected integer sequence indices")
    mat = mat.astype(np.int64)
    # Masks: a row (or column) of n_samples 0/1 values marks the training sequences.
    if set(np.unique(mat).tolist()) <= {0, 1} and n_samples in mat.shape:
        rows = mat if mat.shape[1] == n_samples else mat.T
        return [(np.flatnonzero(r == 1), np.flatnonzero(r == 0)) for r in rows]
    # Index lists: each fold is a vector along the longer axis (30 x 240 or 240 x 30).
    rows = mat if mat.shape[1] >= mat.shape[0] else mat.T
    return _folds_from_rows([r for r in rows], n_samples, base, src)


def _folds_from_rows(rows: list, n_samples: int, base: Optional[int], src: str):
    allv = np.concatenate([np.asarray(r, dtype=np.int64) for r in rows]) if rows else np.zeros(0, np.int64)
    if allv.size == 0:
        raise SkeletonFormatError(f"{src}: no fold found")
    if base is None:
        has0, hasn = bool((allv == 0).any()), bool((allv == n_samples).any())
        if has0 and hasn:
            raise SkeletonFormatError(f"{src}: indices contain both 0 and {n_samples}: neither 0- nor 1-based")
        # Undecidable files follow MATLAB's 1-based convention for .mat and 0-based otherwise.
        base = 0 if has0 else 1 if hasn else (1 if src.lower().endswith(".mat") else 0)
    folds = []
    for i, r in enumerate(rows):
        r = np.asarray(r, dtype=np.int64) - base
        if r.size == 0 or r.min() < 0 or r.max() >= n_samples:
            raise SkeletonFormatError(
                f"{src}: fold {i + 1}: expected {base}-based indices in [{base}, {n_samples - 1 + base}]")
        train = np.unique(r)
        if train.size != r.size:
            raise SkeletonFormatError(f"{src}: fold {i + 1}: repeated sequence index")
        folds.append((train, np.setdiff1d(np.arange(n_samples), train)))
    return folds


def load_fold_file(path: PathLike, n_samples: int = 480, base: Optional[int] = None,
                   key: Optional[str] = None) -> list[tuple[np.ndarray, np.ndarray]]:
    """Load SYSU folds from a file listing the TRAINING sequences of every fold.

    Accepted forms (indices refer to the release order, subject-then-activity):

    * ``.mat`` (v5 via scipy, or v7.3/HDF5 via h5py): a numeric matrix of training indices,
      one fold per row or per column (e.g. 30 x 240 or 240 x 30; each fold runs along the longer
      axis), or a 0/1 training mask of 30 x 480 / 480 x 30. ``key`` names the variable; by
      default the only non-``__`` numeric variable is used.
    * ``.npy``: the same matrix forms.
    * ``.json``: a list of folds, each a list of training indices (or ``{"train": [...]}``).
    * text (any other extension): one fold per line, training indices separated by spaces,
      commas or tabs; ``#`` starts a comment. A line of ``n_samples`` 0/1 values is a mask.

    Indices may be 0- or 1-based: ``base`` forces it; otherwise a 0 anywhere means 0-based, the
    value ``n_samples`` means 1-based, and a file with neither is read as 1-based for ``.mat``
    (MATLAB convention) and 0-based otherwise. Test sequences are the complement. Returns
    ``[(train_idx, test_idx), ...]`` like :func:`sysu_folds`; a malformed file raises
    :class:`SkeletonFormatError` naming it.
    """
    path = Path(path)
    src = str(path)
    if not path.is_file():
        raise SkeletonFormatError(f"{path}: fold file not found")
    suffix = path.suffix.lower()
    if suffix == ".mat":
        if key is None:
            key = _only_matrix_variable(path)
        return _folds_from_matrix(read_mat_array(path, key), n_samples, base, src)
    if suffix == ".npy":
        try:
            mat = np.load(path, allow_pickle=False)
        except Exception as e:
            raise SkeletonFormatError(f"{path}: unreadable .npy file ({e})") from None
        return _folds_from_matrix(mat, n_samples, base, src)
    if suffix == ".json":
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as e:
            raise SkeletonFormatError(f"{path}:{e.lineno}: not valid JSON ({e.msg})") from None
        if isinstance(data, dict) and "folds" in data:
            data = data["folds"]
        if not isinstance(data, list) or not data:
            raise SkeletonFormatError(f"{path}: expected a list of folds (lists of training indices)")
        rows = [d["train"] if isinstance(d, dict) else d for d in data]
        if not all(isinstance(r, list) and all(isinstance(v, int) for v in r) for r in rows):
            raise SkeletonFormatError(f"{path}: expected every fold to be a list of integer indices")
        return _fold_rows_or_masks(rows, n_samples, base, src)
    rows = []
    for i, line in enumerate(path.read_text().splitlines(), 1):
        s = line.split("#", 1)[0].strip()
        if not s:
            continue
        try:
            rows.append([int(t) for t in re.split(r"[\s,;]+", s) if t])
        except ValueError:
            raise SkeletonFormatError(
                f"{path}:{i}: expected integer sequence indices separated by spaces or commas") from None
    return _fold_rows_or_masks(rows, n_samples, base, src)


def _fold_rows_or_masks(rows, n_samples, base, src):
    if rows and all(len(r) == n_samples and set(r) <= {0, 1} for r in rows):
        return [(np.flatnonzero(np.asarray(r) == 1), np.flatnonzero(np.asarray(r) == 0)) for r in rows]
    return _folds_from_rows(rows, n_samples, base, src)


def _only_matrix_variable(path: Path) -> str:
    if _is_mat73(path):
        import h5py
        with h5py.File(path, "r") as f:
            names = [k for k in f.keys() if not k.startswith("#") and isinstance(f[k], h5py.Dataset)]
    else:
        import scipy.io
        try:
            names = [n for n, shape, cls in scipy.io.whosmat(str(path))
                     if cls not in ("struct", "cell", "char", "object")]
        except Exception as e:
            raise SkeletonFormatError(f"{path}: not a readable MATLAB .mat file ({e})") from None
    if len(names) != 1:
        raise SkeletonFormatError(
            f"{path}: expected exactly one numeric variable (or pass key=...), found {names}")
    return names[0]


def infer_fold_setting(folds, subjects: Sequence[int]) -> str:
    """``"setting2"`` if no fold shares a subject between train and test, else ``"setting1"``."""
    subjects = np.asarray(subjects)
    disjoint = all(not np.intersect1d(subjects[tr], subjects[te]).size for tr, te in folds)
    return "setting2" if disjoint else "setting1"


def fold_subsets(folds_by_setting: Mapping[str, list], n_samples: int) -> list[dict]:
    """Per-sequence fold membership: ``[{"sysu_setting1_fold00": "train", ...}, ...]``."""
    out = [dict() for _ in range(n_samples)]
    for setting, folds in folds_by_setting.items():
        for k, (train, test) in enumerate(folds):
            key = sysu_benchmark(setting, k)
            for i in train:
                out[int(i)][key] = "train"
            for i in test:
                out[int(i)][key] = "test"
    return out


# --------------------------------------------------------------------------- synthetic SYSU
# Standing pose in metres relative to HipCenter (x: subject's right is +x, y up, z away from the
# camera; the subject faces the camera, so "in front of the body" is -z).
_BASE_POSE = np.array([
    [0.00, 0.00, 0.00], [0.00, 0.10, 0.00], [0.00, 0.45, 0.00], [0.00, 0.63, -0.02],
    [-0.18, 0.42, 0.00], [-0.22, 0.14, 0.00], [-0.24, -0.11, 0.00], [-0.25, -0.19, -0.01],
    [0.18, 0.42, 0.00], [0.22, 0.14, 0.00], [0.24, -0.11, 0.00], [0.25, -0.19, -0.01],
    [-0.09, -0.03, 0.00], [-0.10, -0.46, 0.00], [-0.10, -0.86, 0.02], [-0.10, -0.92, -0.08],
    [0.09, -0.03, 0.00], [0.10, -0.46, 0.00], [0.10, -0.86, 0.02], [0.10, -0.92, -0.08],
], dtype=np.float64)
_REST = (0.04, -0.58, -0.02)   # hand relative to its shoulder, arm hanging (right side; x mirrored left)

# Activity scripts: hand targets relative to the shoulders as (phase, (dx, dy, dz)) keyframes
# for the right ("R") and left ("L", dx mirrored) hands, torso lean in degrees, root shift,
# sitting amount, and a periodic hand oscillation (amplitude vector, cycles).
_ACTIVITY_SCRIPTS = {
    0: dict(R=[(0, _REST), (.3, (-.12, .08, -.16)), (.45, (-.12, .08, -.16)), (.55, (-.14, .13, -.12)),
               (.7, (-.12, .08, -.16)), (1, _REST)]),                                   # drinking
    1: dict(R=[(0, _REST), (.3, (-.06, -.16, -.40)), (.5, (-.18, -.10, -.38)), (.7, (-.06, -.16, -.40)),
               (1, _REST)],
            L=[(0, _REST), (.3, (.06, -.26, -.38)), (.7, (.06, -.26, -.38)), (1, _REST)]),  # pouring
    2: dict(R=[(0, _REST), (.25, (-.06, .20, -.02)), (.85, (-.06, .20, -.02)), (1, _REST)]),  # calling
    3: dict(R=[(0, _REST), (.2, (-.13, -.22, -.30)), (.9, (-.13, -.22, -.30)), (1, _REST)],
            L=[(0, _REST), (.2, (-.13, -.22, -.30)), (.9, (-.13, -.22, -.30)), (1, _REST)],
            osc=((.0, .025, .0), 6)),                                                   # playing phone
    4: dict(R=[(0, _REST), (.3, (.02, -.30, -.28)), (.6, (.00, .06, .06)), (1, (.00, -.05, .06))],
            L=[(0, _REST), (.45, (.02, -.30, -.28)), (.8, (.00, .06, .06)), (1, (.00, -.05, .06))]),  # wearing
    5: dict(R=[(0, _REST), (.3, (-.08, -.55, -.38)), (.8, (-.08, -.55, -.38)), (1, _REST)],
            L=[(0, _REST), (.3, (-.08, -.55, -.38)), (.8, (-.08, -.55, -.38)), (1, _REST)],
            lean=[(0, 0), (.3, 35), (.8, 35), (1, 0)], osc=((.0, .08, .0), 3)),          # packing
    6: dict(R=[(0, _REST), (.5, (.00, -.42, -.28)), (1, (.00, -.42, -.28))],
            L=[(0, _REST), (.5, (.00, -.42, -.28)), (1, (.00, -.42, -.28))],
            sit=[(0, 0), (.2, 0), (.6, 1), (1, 1)]),                                    # sitting chair
    7: dict(R=[(0, _REST), (.25, (.00, -.50, -.36)), (1, (.00, -.50, -.36))],
            L=[(0, _REST), (.25, (.00, -.50, -.36)), (1, (.00, -.50, -.36))],
            lean=[(0, 0), (.25, 20), (1, 20)], root=[(0, (0, 0, 0)), (.3, (0, 0, 0)), (.9, (.4, 0, 0)),
                                                     (1, (.4, 0, 0))]),                  # moving chair
    8: dict(R=[(0, _REST), (.3, (.02, -.55, .12)), (.45, (.02, -.55, .12)), (.7, (-.12, -.26, -.30)),
               (1, (-.12, -.26, -.30))],
            L=[(0, _REST), (.6, _REST), (.8, (-.12, -.28, -.30)), (1, (-.12, -.28, -.30))]),  # wallet out
    9: dict(R=[(0, _REST), (.2, (-.12, -.30, -.30)), (1, (-.12, -.30, -.30))],
            L=[(0, _REST), (.2, (-.12, -.32, -.30)), (1, (-.12, -.32, -.30))],
            osc=((.0, .04, .0), 3)),                                                    # from wallet
    10: dict(R=[(0, _REST), (.2, (-.16, -.28, -.26)), (1, (-.16, -.28, -.26))],
             L=[(0, _REST), (.2, (.10, -.42, -.26)), (1, (.10, -.42, -.26))],
             lean=[(0, 0), (.2, 15), (1, 15)], osc=((.0, .0, -.18), 3)),                 # mopping
    11: dict(R=[(0, _REST), (.2, (-.16, -.46, -.30)), (1, (-.16, -.46, -.30))],
             L=[(0, _REST), (.2, (.08, -.56, -.30)), (1, (.08, -.56, -.30))],
             lean=[(0, 0), (.2, 25), (1, 25)], osc=((.20, .0, .0), 4)),                  # sweeping
}
# Object colours (RGB) and drawing style, one per object of the release.
_OBJECT_COLORS = {"cup": (235, 235, 245), "phone": (25, 25, 30), "backpack": (200, 40, 40),
                  "chair": (150, 90, 30), "wallet": (40, 110, 50), "mop": (90, 170, 230),
                  "broom": (240, 160, 20)}


def _keyframes(frames: list, phase: np.ndarray, rng: np.random.Generator, jitter: float) -> np.ndarray:
    """Piecewise-linear keyframe track sampled at ``phase`` (T,) -> (T, D); keyframe jitter."""
    ph = np.array([k for k, _ in frames], dtype=np.float64)
    val = np.array([np.atleast_1d(v) for _, v in frames], dtype=np.float64)
    val = val + rng.normal(0.0, jitter, size=val.shape) * (val != 0)
    return np.stack([np.interp(phase, ph, val[:, d]) for d in range(val.shape[1])], axis=1)


def _place_arm(shoulder: np.ndarray, hand: np.ndarray, side: float, s: float) -> tuple:
    """Elbow and wrist for a hand target (two-bone analytic IK), vectorised over frames."""
    up, fore, palm = 0.28 * s, 0.25 * s, 0.08 * s
    v = hand - shoulder
    dist = np.linalg.norm(v, axis=1, keepdims=True).clip(1e-6)
    reach = up + fore + palm - 1e-3
    hand = shoulder + v * np.minimum(1.0, reach / dist)
    u = v / dist
    wrist = hand - palm * u
    d = np.linalg.norm(wrist - shoulder, axis=1, keepdims=True).clip(1e-6, up + fore - 1e-4)
    a = (up ** 2 - fore ** 2 + d ** 2) / (2 * d)
    h = np.sqrt(np.clip(up ** 2 - a ** 2, 0.0, None))
    bend = np.array([side * 0.5, -1.0, 0.3])          # elbows bend down, outwards, backwards
    n = bend[None] - (u @ bend)[:, None] * u
    n /= np.linalg.norm(n, axis=1, keepdims=True).clip(1e-6)
    elbow = shoulder + a * u + h * n
    return elbow, wrist, hand


def _rot_x(deg: np.ndarray) -> np.ndarray:
    """(T, 3, 3) rotations about x; positive leans the upper body towards the camera (-z)."""
    r = np.deg2rad(deg)
    c, s = np.cos(r), np.sin(r)
    z, o = np.zeros_like(r), np.ones_like(r)
    return np.stack([np.stack([o, z, z], -1), np.stack([z, c, s], -1), np.stack([z, -s, c], -1)], -2)


def synthetic_sysu_pose(activity: int, num_frames: int, rng: np.random.Generator,
                        body_scale: float = 1.0) -> np.ndarray:
    """Kinect-v1 world joints (T, 20, 3) in metres for one synthetic activity (0-based)."""
    script = _ACTIVITY_SCRIPTS[activity]
    t = np.linspace(0.0, 1.0, num_frames)
    phase = t ** rng.uniform(0.8, 1.25)                  # per-sample tempo
    s = body_scale
    base = _BASE_POSE * s
    pose = np.repeat(base[None], num_frames, axis=0)
    # Sitting: hips drop, knees come forward, feet stay (legs bend).
    sit = _keyframes(script.get("sit", [(0, 0), (1, 0)]), phase, rng, 0.0)[:, 0]
    drop = 0.38 * s * sit
    pose[:, :12, 1] -= drop[:, None]                    # torso and arms
    for hip, knee in ((12, 13), (16, 17)):
        pose[:, hip, 1] = base[hip, 1] - drop
        pose[:, knee] = base[knee] + sit[:, None] * np.array([0.0, 0.30 * s, -0.36 * s])
    # Torso lean about the hip centre (upper body joints 1-11).
    lean = _keyframes(script.get("lean", [(0, 0), (1, 0)]), phase, rng, 2.0)[:, 0]
    upper = np.r_[1:12]
    hip0 = pose[:, :1]
    pose[:, upper] = np.einsum("tij,tvj->tvi", _rot_x(lean), pose[:, upper] - hip0) + hip0
    # Hands: keyframed targets relative to the shoulders, plus an oscillation.
    amp, cycles = script.get("osc", ((0, 0, 0), 0))
    wave = np.sin(2 * np.pi * cycles * phase + rng.uniform(0, 2 * np.pi))[:, None] * np.asarray(amp) * s
    two_handed = "L" in script                             # both hands hold the object
    for side, key, (sh, el, wr, ha) in ((1.0, "R", (8, 9, 10, 11)), (-1.0, "L", (4, 5, 6, 7))):
        frames = script.get(key, [(0, _REST), (1, _REST)])
        target = _keyframes(frames, phase, rng, 0.02) * np.array([side, 1.0, 1.0]) * s
        hand = pose[:, sh] + target
        if key == "R" or two_handed:
            hand = hand + wave
        pose[:, el], pose[:, wr], pose[:, ha] = _place_arm(pose[:, sh], hand, side, s)
    root = _keyframes(script.get("root", [(0, (0, 0, 0)), (1, (0, 0, 0))]), phase, rng, 0.02)
    pose += root[:, None, :]
    pose += rng.normal(0.0, 0.004, size=pose.shape)      # sensor noise
    return pose


def _draw_object(img: np.ndarray, obj: str, uv: np.ndarray, activity: int, px_per_m: float,
                 floor_v: float) -> None:
    """Draw the activity's object near the hands (``uv``: (20, 2) pixel joints of this frame)."""
    import cv2
    col = _OBJECT_COLORS[obj][::-1]                      # cv2 draws BGR
    rh, lh = uv[11], uv[7]
    m = px_per_m

    def box(c, w, h, color, outline=(0, 0, 0)):
        p0 = (int(c[0] - w * m / 2), int(c[1] - h * m / 2))
        p1 = (int(c[0] + w * m / 2), int(c[1] + h * m / 2))
        cv2.rectangle(img, p0, p1, color, -1)
        cv2.rectangle(img, p0, p1, outline, 1)

    if obj == "cup":
        box(rh + [0, -0.03 * m], 0.08, 0.10, col, (60, 60, 60))
    elif obj == "phone":
        box(rh, 0.07, 0.14, col)
        box(rh, 0.05, 0.10, (255, 140, 60))               # lit screen
    elif obj == "wallet":
        box(rh + [0, 0.02 * m], 0.11, 0.07, col)
    elif obj == "backpack":
        c = rh + [0, 0.18 * m] if activity == 4 else (rh + lh) / 2 + [0, 0.22 * m]
        cv2.ellipse(img, (int(c[0]), int(c[1])), (int(0.15 * m), int(0.21 * m)), 0, 0, 360, col, -1)
        cv2.ellipse(img, (int(c[0]), int(c[1])), (int(0.15 * m), int(0.21 * m)), 0, 0, 360, (0, 0, 0), 1)
    elif obj == "chair":
        if activity == 6:   # behind/under the hips
            x, y = uv[0][0] + 0.05 * m, uv[0][1] + 0.05 * m
        else:               # held between the hands
            x, y = (rh[0] + lh[0]) / 2, (rh[1] + lh[1]) / 2 + 0.15 * m
        seat_y, seat_w = int(y), int(0.45 * m)
        pts = [((x - seat_w / 2, seat_y), (x + seat_w / 2, seat_y)),
               ((x + seat_w / 2, seat_y), (x + seat_w / 2, seat_y - 0.45 * m)),
               ((x - seat_w / 2, seat_y), (x - seat_w / 2, seat_y + 0.42 * m)),
               ((x + seat_w / 2, seat_y), (x + seat_w / 2, seat_y + 0.42 * m))]
        for a, b in pts:
            cv2.line(img, (int(a[0]), int(a[1])), (int(b[0]), int(b[1])), col, max(2, int(0.04 * m)))
    else:                   # mop / broom: stick from the hands to the floor, head at the bottom
        top = (rh + lh) / 2
        bottom = np.array([rh[0] + 0.25 * m * (1 if activity == 10 else -1), floor_v])
        cv2.line(img, (int(top[0]), int(top[1])), (int(bottom[0]), int(bottom[1])), (60, 60, 60),
                 max(2, int(0.025 * m)))
        if obj == "mop":
            cv2.ellipse(img, (int(bottom[0]), int(bottom[1])), (int(0.14 * m), int(0.05 * m)), 0, 0, 360,
                        col, -1)
        else:
            tri = np.array([[bottom[0], bottom[1] - 0.06 * m], [bottom[0] - 0.15 * m, bottom[1] + 0.04 * m],
                            [bottom[0] + 0.15 * m, bottom[1] + 0.04 * m]], dtype=np.int32)
            cv2.fillConvexPoly(img, tri, col)


def _write_synthetic_sequence(job: tuple) -> int:
    """Worker: one ``<Subject>/video<k>`` folder (skeleton .mat files + rgb/ JPEG frames)."""
    import cv2
    seq_dir, subject_rank, activity, seed, size, mat_format, frame_range = job
    seq_dir = Path(seq_dir)
    # Unfinished until sklWorld.mat is written again (an interrupted --overwrite run resumes it).
    (seq_dir / "sklWorld.mat").unlink(missing_ok=True)
    rng = np.random.default_rng([int(seed), subject_rank, activity])
    w, h = size
    T = int(rng.integers(frame_range[0], frame_range[1] + 1))
    srng = np.random.default_rng([int(seed), subject_rank, 1000])   # subject look, shared by its videos
    body_scale = srng.uniform(0.9, 1.1)
    cloth = tuple(int(c) for c in srng.integers(40, 220, size=3))
    joints = synthetic_sysu_pose(activity - 1, T, rng, body_scale)
    joints += np.array([rng.uniform(-0.3, 0.3), rng.uniform(-0.1, 0.1), rng.uniform(2.4, 3.0)])
    k = w / 640.0                                        # intrinsics scale with the image size
    fx, fy, cx, cy = KINECT_V1_INTRINSICS
    intr = (fx * k, fy * k, (cx + 0.5) * k - 0.5, (cy + 0.5) * k - 0.5)
    uv = project_to_image(joints, intr)
    # Background: a muted wall with a floor band, fixed for the sequence.
    bg = np.empty((h, w, 3), np.uint8)
    wall = rng.integers(90, 200, size=3)
    grad = np.linspace(0.85, 1.1, h)[:, None, None]
    bg[:] = np.clip(wall[None, None] * grad, 0, 255).astype(np.uint8)
    floor_v = float(np.max(uv[:, [15, 19], 1]) + 4)
    bg[int(min(max(floor_v - 6, 0), h - 1)):] = (bg[-1] * 0.7).astype(np.uint8)
    bg = cv2.add(bg, rng.integers(0, 12, size=bg.shape, dtype=np.uint8))
    px_per_m = fx * k / float(np.mean(joints[:, 0, 2]))
    thick = max(1, int(round(0.035 * px_per_m)))
    bones = np.asarray(LAYOUTS["sysu"].bones)
    obj = SYSU_OBJECTS[activity - 1]
    (seq_dir / "rgb").mkdir(parents=True, exist_ok=True)
    for t in range(T):
        img = bg.copy()
        p = uv[t]
        for a, b in bones:
            cv2.line(img, (int(p[a, 0]), int(p[a, 1])), (int(p[b, 0]), int(p[b, 1])), cloth, thick,
                     cv2.LINE_AA)
        cv2.circle(img, (int(p[3, 0]), int(p[3, 1])), int(0.09 * px_per_m), (150, 180, 220), -1)
        _draw_object(img, obj, p, activity - 1, px_per_m, floor_v)
        ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 90])
        atomic_write_bytes(seq_dir / "rgb" / f"{t + 1}.jpg", buf.tobytes())  # unpadded, like 1.jpg 2.jpg
    for f in (seq_dir / "rgb").iterdir():   # frames of an earlier, longer sequence (overwrite)
        if f.suffix == ".jpg" and f.stem.isdigit() and int(f.stem) > T:
            f.unlink()
    # The release's matrices, SW 20 x 3 x T and S 20 x 2 x T, written last: sklWorld.mat marks
    # a finished sequence (an interrupted run redoes the unfinished ones).
    write_mat(seq_dir / "sklImage.mat", {"S": uv.transpose(1, 2, 0)}, mat_format)
    write_mat(seq_dir / "sklWorld.mat", {"SW": joints.transpose(1, 2, 0)}, mat_format)
    return T


def _synthetic_sequence_job(job: tuple) -> tuple:
    """Worker: ``(sequence, frames, error)``; a failed sequence is reported, the others go on."""
    name = "/".join(Path(job[0]).parts[-2:])
    try:
        return name, _write_synthetic_sequence(job), None
    except Exception as e:  # noqa: BLE001 - reported per sequence (mmff synth --strict)
        return name, 0, f"{job[0]}: {type(e).__name__}: {e}"


def write_synthetic_sysu(out: PathLike, samples_per_class: int = 4, seed: int = 0,
                         size: tuple = (320, 240), workers: int = 1, mat_format: str = "v5",
                         num_frames: tuple = (58, 80), overwrite: bool = False,
                         progress: bool = True) -> dict:
    """Write a synthetic SYSU 3D HOI tree in the release layout (for tests and the demo).

    ``out/3DvideoNorm/<Subject>/video<k>/`` with ``sklWorld.mat`` (``SW`` 20 x 3 x T),
    ``sklImage.mat`` (``S`` 20 x 2 x T, the joints projected with Kinect v1 intrinsics scaled to
    ``size``) and ``rgb/1.jpg .. rgb/T.jpg``: a stick figure performing one of the 12 activities
    with its object (cup, phone, backpack, chair, wallet, mop, broom; shape and colour per object,
    so activity pairs that share an object differ only by motion) near the hands. Sample ``i`` of
    every class belongs to placeholder subject ``i`` (:data:`PLACEHOLDER_SUBJECTS`), as the
    release holds one sequence per subject and activity, so ``samples_per_class`` <= 40.
    ``mat_format`` is ``"v5"`` (scipy) or ``"v7.3"`` (HDF5). The statistics files of the
    release (``sysu_action_classes.txt``, ``subjectname.txt``, ``label.txt``, ``subjectid.txt``)
    are written to ``out``. Deterministic for a seed (any ``workers``). Sequences already
    complete (``sklWorld.mat`` is written last) are kept unless ``overwrite``, so an interrupted
    run resumes. A sequence that cannot be written is reported in ``failed`` ([{name, error}])
    and the others are written. Returns a summary dict (``written``/``skipped`` sequence counts,
    ``failed``, frames written).
    """
    if not 1 <= samples_per_class <= SYSU_NUM_SUBJECTS:
        raise ValueError(f"samples_per_class must be 1..{SYSU_NUM_SUBJECTS} (one sequence per subject "
                         f"and activity), got {samples_per_class}")
    if mat_format not in ("v5", "v7.3"):
        raise ValueError(f"mat_format must be 'v5' or 'v7.3', got {mat_format!r}")
    lo, hi = (num_frames, num_frames) if isinstance(num_frames, int) else tuple(num_frames)
    if not 2 <= lo <= hi:
        raise ValueError(f"num_frames must be a count >= 2 or a range (lo, hi), got {num_frames}")
    w, h = int(size[0]), int(size[1])
    out = Path(out)
    subjects = PLACEHOLDER_SUBJECTS[:samples_per_class]
    jobs = [(out / "3DvideoNorm" / subj / f"video{k}", rank, k, seed, (w, h), mat_format, (lo, hi))
            for rank, subj in enumerate(subjects) for k in range(1, len(SYSU_CLASSES) + 1)]
    total = len(jobs)
    if not overwrite:
        jobs = [j for j in jobs if not ((j[0] / "sklWorld.mat").is_file() and (j[0] / "sklImage.mat").is_file())]
    from tqdm import tqdm
    bar = dict(total=len(jobs), desc="synth sysu", unit="seq", disable=not progress)
    if workers > 1:
        import multiprocessing as mp
        with mp.get_context("forkserver" if os.name != "nt" else "spawn").Pool(workers) as pool:
            results = list(tqdm(pool.imap(_synthetic_sequence_job, jobs), **bar))
    else:
        results = [_synthetic_sequence_job(j) for j in tqdm(jobs, **bar)]
    failed = sorted(({"name": n, "error": e} for n, _, e in results if e is not None),
                    key=lambda f: f["name"])
    meta = {"sysu_action_classes.txt": list(SYSU_CLASSES), "subjectname.txt": list(subjects),
            "label.txt": [str(k) for _ in subjects for k in range(1, len(SYSU_CLASSES) + 1)],
            "subjectid.txt": [str(r + 1) for r in range(len(subjects)) for _ in SYSU_CLASSES]}
    for fname, lines in meta.items():
        atomic_write_bytes(out / fname, ("\n".join(lines) + "\n").encode())
    return {"root": str(out), "sequences": total, "written": len(jobs) - len(failed),
            "skipped": total - len(jobs), "failed": failed, "subjects": len(subjects),
            "classes": len(SYSU_CLASSES), "frames": int(sum(r[1] for r in results)),
            "mat_format": mat_format, "size": [w, h]}


# --------------------------------------------------------------------------- prepare
def _resolve_fold_files(fold_file, subjects: np.ndarray, n: int) -> dict:
    """``fold_file`` (path, list of paths, or {setting: path}) -> {setting: (folds, path)}."""
    if fold_file is None:
        return {}
    if isinstance(fold_file, Mapping):
        items = [(f"setting{_setting_id(k)}", v) for k, v in fold_file.items()]
    else:
        paths = [fold_file] if isinstance(fold_file, (str, os.PathLike)) else list(fold_file)
        items = [(None, p) for p in paths]
    out: dict = {}
    for setting, path in items:
        folds = load_fold_file(path, n)
        setting = setting or infer_fold_setting(folds, subjects)
        if setting in out:
            raise ValueError(f"{path}: a second fold file for {setting} (first: {out[setting][1]})")
        out[setting] = (folds, str(path))
    return out


def _prepare_sysu_job(args: tuple) -> tuple:
    """Worker: one sequence -> prepared sample. Returns (name, entry, error-or-None)."""
    from .prepare import crop_frames, write_prepared_sample
    seq, out, positions, meta, store, margin_max, jpeg_quality, skeleton_only = args
    try:
        skel = read_sysu_skeleton(seq.path)
        if skel.is_empty:
            raise SkeletonFormatError(f"{seq.path / 'sklWorld.mat'}: no body in any frame (all joints zero)")
        meta = dict(meta, positions=positions)
        crops, offsets = [], []
        if not skeleton_only:
            frames, indices, n = _read_frames(seq.path, positions)
            crops, offsets = crop_frames(frames, skel.color, positions, margin_max, store)
            meta.update(video_frames=n, frame_size=[int(frames[0].shape[1]), int(frames[0].shape[0])],
                        frame_indices=indices, stored=store)
        entry = write_prepared_sample(out, seq.name, skel.joints, skel.color, crops, offsets, meta,
                                      jpeg_quality)
        return seq.name, entry, None
    except (ValueError, OSError) as e:  # SkeletonFormatError is a ValueError
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        return seq.name, None, {"file": str(seq.path), "error": msg}


def prepare_sysu(root: PathLike, out: PathLike, workers: Optional[int] = None, strict: bool = False,
                 positions: Sequence[float] = (0.5,), n_folds: int = 30, seed: int = 0,
                 fold_file=None, skeleton_only: bool = False, store: str = "crop",
                 margin_max: float = 300.0, jpeg_quality: int = 95, progress: bool = True):
    """Prepare a SYSU 3D HOI tree (the release or :func:`write_synthetic_sysu`'s output).

    Reads every ``<Subject>/video<k>`` sequence (one process per core by default), stores the
    skeleton arrays and the frame(s) at ``positions`` (cropped generously around the joints,
    ``store="full"`` keeps whole frames) with :func:`mmff.data.prepare.write_prepared_sample`,
    and writes ``OUT/index.json`` (``dataset: "sysu"``) and ``OUT/report.json``. Every sample
    carries ``subsets`` {``sysu_setting{1,2}_fold{k:02d}``: "train"|"test"} for the ``n_folds``
    random folds of both settings from ``seed`` (:func:`sysu_folds`), computed over the whole
    subject x activity grid so failures do not shift them; ``fold_file`` (a path, a list of
    paths, or {setting: path}; see :func:`load_fold_file`) replaces one setting's folds.
    Bad or missing sequences are reported, never fatal; re-running resumes (finished samples
    are kept, fold membership is refreshed). Like ``prepare_ntu``, ``strict`` does not change
    the run: the caller (``mmff prepare sysu --strict``) fails when the report lists any
    failed or missing sequence. Returns :class:`mmff.data.prepare.PrepareResult`.
    """
    from .prepare import (PrepareResult, clean_stale_temp_files, read_prepared_entry, run_jobs,
                          write_index, write_report)
    positions = [float(p) for p in positions]
    for p in positions:
        frame_index(p, 2)  # validates the range
    root, out = Path(root), Path(out)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such folder")
    grid, missing = list_sysu_sequences(root)
    labels = np.array([s.label for s in grid])
    subjects = np.array([s.subject_id for s in grid])
    files = _resolve_fold_files(fold_file, subjects, len(grid))
    folds, fold_info = {}, {}
    for setting in ("setting1", "setting2"):
        if setting in files:
            folds[setting], src = files[setting]
        else:
            folds[setting] = sysu_folds(setting, n_folds, seed, labels=labels, subjects=subjects)
            src = None
        fold_info[setting] = {"n_folds": len(folds[setting]), "fold_file": src}
    subsets = fold_subsets(folds, len(grid))

    (out / "samples").mkdir(parents=True, exist_ok=True)
    (out / "frames").mkdir(parents=True, exist_ok=True)
    clean_stale_temp_files(out)
    absent = set(missing)
    entries, skipped, todo = {}, [], []
    for seq in grid:
        if seq.name in absent:
            continue
        e = read_prepared_entry(out, seq.name, positions)
        if e is not None:
            entries[seq.name] = e
            skipped.append(seq.name)
        else:
            meta = {"subject": seq.subject_id, "subject_name": seq.subject, "activity": seq.activity,
                    "sysu_index": seq.index, "label": seq.label}
            todo.append((seq, str(out), positions, meta, store, margin_max, jpeg_quality, skeleton_only))
    failed: list = []
    written = run_jobs(_prepare_sysu_job, todo, entries, failed, workers=workers,
                       desc="prepare sysu", progress=progress)
    by_name = {s.name: s for s in grid}
    for name, e in entries.items():  # membership from this run's folds (a resumed entry may be stale)
        e["subsets"] = subsets[by_name[name].index]
    index_path = write_index(out, "sysu", SYSU_CLASSES, entries.values(), positions=positions,
                             layout="sysu", num_joints=SYSU_NUM_JOINTS, num_person=1,
                             stored="none" if skeleton_only else store,
                             sysu={"seed": int(seed), "settings": fold_info,
                                   "num_sequences": len(grid), "subjects": sorted({s.subject for s in grid})})
    failed.sort(key=lambda f: f["file"])
    reasons = {n: "no video<k> folder for this subject and activity" for n in missing}
    report = {"ok": len(entries), "failed": failed, "missing": sorted(missing),
              "missing_reasons": reasons, "written": len(written), "skipped": len(skipped)}
    write_report(out, **report)
    return PrepareResult(report, index_path, sorted(written), sorted(skipped))
