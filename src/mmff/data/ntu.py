"""NTU RGB+D 60/120: raw ``.skeleton`` reader/writer, body selection, names, splits, classes.

File format (SPEC §1.1; Kinect v2, 25 joints)::

    <frame count>
    per frame:  <body count>
      per body: bodyID clippedEdges handLeftConfidence handLeftState handRightConfidence
                handRightState isRestricted leanX leanY trackingState
                <joint count = 25>
                25 x: x y z depthX depthY colorX colorY orientationW orientationX
                      orientationY orientationZ trackingState

``read_skeleton`` parses the bytes with a numba-compiled scanner (``engine="numba"``, the
default) or with vectorised numpy (``engine="numpy"``); both give bit-identical arrays and
identical error messages. ``engine="python"`` is the classic line-by-line dict reader (as in
ST-GCN's ``ntu_read_skeleton.py``), kept as the test oracle and the benchmark baseline.

Decisions (documented here once):

- Tracks: one per distinct Kinect body ID, in order of first appearance. Body IDs are 64-bit
  integers parsed exactly (never through float64). A body ID listed twice in one frame keeps
  the last record (dict semantics of the public tooling); ``body_counts`` still says what the
  file listed.
- A file with 0 frames is valid and gives an empty skeleton (T = 0, M = 0); frames with 0
  bodies are zeros. Whether to use such samples is the caller's choice (``is_empty``).
- Line ends: LF, CRLF and lone CR all end a line. Whitespace at the end of the file is fine;
  anything else after the last frame is an error.
- Allocation is bounded by the file size, never by the counts written in the file (a file
  whose distinct IDs x frames would need more than 256 MiB + 64 x its size of dense arrays is
  refused as corrupt).
- Numbers: every value is parsed exactly as Python's ``float`` then rounded to float32 (what
  ``np.float32(float(s))`` gives); fast path for plain decimals, Python for anything else
  (``nan``, 20-digit mantissas, ...).

Speed (A001, 262 KB, CPU time on the shared 2-core dev box): line-by-line dict reader about
21 ms, numpy engine about 16 ms, numba engine about 1.0 ms (kernel 0.8 ms). The kernel is
compiled on the first ``engine="numba"`` call and cached on disk by numba (``cache=True``):
about 5 s CPU cold, about 1 s (mostly importing numba) once cached.
"""
from __future__ import annotations

import os
import re
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterable, Literal, NamedTuple, Optional, Sequence, Union

import numpy as np

from mmff.atomic import atomic_write_bytes
from mmff.data import SkeletonFormatError, SkeletonSequence
from mmff.layouts import LAYOUTS

__all__ = [
    "NTUSkeleton", "read_skeleton", "read_skeleton_dict", "write_skeleton", "select_bodies",
    "read_missing_list", "NTUName", "NTUNameError", "parse_name", "parse_names", "sample_stem",
    "split_subset", "split_subsets", "train_mask", "is_two_person", "BENCHMARKS",
    "NTU60_CLASSES", "NTU120_CLASSES", "NUM_JOINTS", "BODY_INFO_FIELDS", "JOINT_FIELDS",
    "NTU60_XSUB_TRAIN_SUBJECTS", "NTU120_XSUB_TRAIN_SUBJECTS", "NTU60_XVIEW_TRAIN_CAMERAS",
    "KINECT_V2_DEPTH_INTRINSICS", "warm_numba_reader",
]

PathLike = Union[str, os.PathLike]

# --------------------------------------------------------------------------- constants
#: Kinect v2 joints per body; joint names, bones and centres: ``mmff.layouts.LAYOUTS["ntu"]``.
NUM_JOINTS = LAYOUTS["ntu"].num_joints
#: The 10 values of a body line after the body ID, as stored in ``NTUSkeleton.body_info``.
BODY_INFO_FIELDS = (
    "clippedEdges", "handLeftConfidence", "handLeftState", "handRightConfidence",
    "handRightState", "isRestricted", "leanX", "leanY", "trackingState",
)
#: The 12 values of a joint line.
JOINT_FIELDS = (
    "x", "y", "z", "depthX", "depthY", "colorX", "colorY", "orientationW", "orientationX",
    "orientationY", "orientationZ", "trackingState",
)
#: Approximate Kinect v2 depth-camera intrinsics (fx, fy, cx, cy) in the 512x424 depth image,
#: used only to fill ``depthX/depthY`` when ``write_skeleton`` is not given them.
KINECT_V2_DEPTH_INTRINSICS = (365.5, 365.5, 256.0, 212.0)

_BODY_DEFAULT = (0, 1, 1, 1, 1, 0, 0.0, 0.0, 2)   # a tracked body, hands tracked, no clipping


# --------------------------------------------------------------------------- data class
@dataclass
class NTUSkeleton(SkeletonSequence):
    """One ``.skeleton`` file as arrays; T frames, M tracks (one per Kinect body ID).

    Absent bodies are zeros in every array (``present`` says which are real).
    """

    name: str
    joints: np.ndarray         # (T, M, 25, 3) float32, camera space, metres
    color: np.ndarray          # (T, M, 25, 2) float32, pixels in the 1920x1080 RGB frame
    depth: np.ndarray          # (T, M, 25, 2) float32, pixels in the 512x424 depth frame
    orientation: np.ndarray    # (T, M, 25, 4) float32, joint quaternion (w, x, y, z)
    tracking: np.ndarray       # (T, M, 25) int8, 0 not tracked, 1 inferred, 2 tracked
    body_ids: np.ndarray       # (M,) int64 Kinect tracking IDs
    body_info: np.ndarray      # (T, M, 9) float32, columns BODY_INFO_FIELDS
    present: np.ndarray        # (T, M) bool, body listed in that frame
    body_counts: np.ndarray    # (T,) int32, bodies listed per frame in the file


    def take_bodies(self, tracks: Sequence[int]) -> "NTUSkeleton":
        """A new skeleton with the given tracks (0-based indices), in that order."""
        idx = np.asarray(tracks, dtype=np.int64)
        return replace(
            self, joints=self.joints[:, idx], color=self.color[:, idx], depth=self.depth[:, idx],
            orientation=self.orientation[:, idx], tracking=self.tracking[:, idx],
            body_ids=self.body_ids[idx], body_info=self.body_info[:, idx],
            present=self.present[:, idx])


def _empty_skeleton(name: str, num_frames: int = 0) -> NTUSkeleton:
    return _assemble(name, np.zeros(num_frames, np.int32), np.zeros(0, np.int64),
                     np.zeros(0, np.int64), np.zeros((0, 9), np.float32),
                     np.zeros((0, NUM_JOINTS, 12), np.float32))


def _tracking_int8(col: np.ndarray) -> np.ndarray:
    """trackingState column as int8 (0, 1, 2 in real files; garbage values map to -1)."""
    ok = np.isfinite(col) & (col >= -128) & (col <= 127)
    return np.where(ok, col, -1).astype(np.int8)


#: Dense (T, M) arrays may take at most this + 64 x the file size (real files: < 10 MB).
DENSE_LIMIT_BYTES = 1 << 28


def _assemble(name, body_counts, body_frame, body_ids, body_vals, rows, path="",
              nbytes=0) -> NTUSkeleton:
    """Scatter the flat per-body records (file order) into (T, M, ...) tracks (vectorised)."""
    T = int(body_counts.shape[0])
    uniq, first, inverse = np.unique(body_ids, return_index=True, return_inverse=True)
    dense = T * uniq.size * NUM_JOINTS * 13 * 4
    if dense > DENSE_LIMIT_BYTES + 64 * nbytes:
        # Many short-lived IDs spread over many frames: a corrupt file, not a recording.
        raise SkeletonFormatError(
            f"{path}:1: {uniq.size} distinct body IDs over {T} frames would need "
            f"{dense / 2**30:.1f} GiB of dense arrays; refusing (corrupt file?)")
    order = np.argsort(first, kind="stable")           # tracks in order of first appearance
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    track = rank[inverse]
    M = int(uniq.size)
    rows = rows.reshape(-1, NUM_JOINTS, 12)
    key = body_frame * max(M, 1) + track
    if np.unique(key).size != key.size:
        # A body ID listed twice in one frame: keep its last record (numpy does not promise
        # which of repeated fancy-index assignments wins, so select explicitly).
        _, last_rev = np.unique(key[::-1], return_index=True)
        keep = np.sort(key.size - 1 - last_rev)
        body_frame, track, rows, body_vals = (body_frame[keep], track[keep], rows[keep],
                                              body_vals[keep])
    # Scatter each field straight into its own (T, M, ...) array: one pass per field, no
    # (T, M, 25, 12) staging block and no contiguous copies of its slices afterwards.
    fields = {}
    for field, (c0, c1) in _ROW_FIELDS.items():
        a = np.zeros((T, M, NUM_JOINTS, c1 - c0), np.float32)
        a[body_frame, track] = rows[..., c0:c1]
        fields[field] = a
    tracking = np.zeros((T, M, NUM_JOINTS), np.int8)
    tracking[body_frame, track] = _tracking_int8(rows[..., 11])
    info = np.zeros((T, M, 9), np.float32)
    info[body_frame, track] = body_vals
    present = np.zeros((T, M), bool)
    present[body_frame, track] = True
    return NTUSkeleton(
        name=name, **fields, tracking=tracking, body_ids=uniq[order].astype(np.int64),
        body_info=info, present=present, body_counts=body_counts.astype(np.int32))


#: columns of a joint line (x y z depthX depthY colorX colorY orientW..Z trackingState)
_ROW_FIELDS = {"joints": (0, 3), "depth": (3, 5), "color": (5, 7), "orientation": (7, 11)}


# --------------------------------------------------------------------------- errors
# Line kinds (what the parser expected) and error codes shared by both engines.
_KIND_TEXT = (
    "the frame count (one integer)",
    "the body count (one integer)",
    "a body line of 10 values (bodyID clippedEdges handLeftConfidence handLeftState "
    "handRightConfidence handRightState isRestricted leanX leanY trackingState)",
    "the joint count (one integer, 25)",
    "a joint line of 12 values (x y z depthX depthY colorX colorY orientationW orientationX "
    "orientationY orientationZ trackingState)",
)
K_FRAMES, K_BODIES, K_BODY, K_NJOINT, K_JOINT = range(5)
E_OK, E_EOF, E_NTOK, E_INT, E_NJOINT, E_TRAIL, E_TOOBIG, E_SLOWCAP, E_NUM = range(9)


def _tok_repr(tok: bytes) -> str:
    s = tok[:24].decode("latin-1")
    return repr(s + ("..." if len(tok) > 24 else ""))


def _error(path: str, code: int, line: int, kind: int = 0, aux: int = 0, frame: int = 0,
           nframes: int = 0, tok: bytes = b"") -> SkeletonFormatError:
    where = f" (frame {frame + 1} of {nframes})" if kind > K_FRAMES else ""
    if code == E_EOF:
        msg = ("empty file, expected the frame count" if kind == K_FRAMES and line == 1
               else f"unexpected end of file{where}, expected {_KIND_TEXT[kind]}")
    elif code == E_NTOK:
        msg = f"expected {_KIND_TEXT[kind]}, got {aux} value{'s' if aux != 1 else ''}{where}"
    elif code == E_INT:
        what = "an integer body ID" if kind == K_BODY else _KIND_TEXT[kind]
        msg = f"expected {what}, got {_tok_repr(tok)}{where}"
    elif code == E_NJOINT:
        msg = f"expected {NUM_JOINTS} joints, got {aux}{where}"
    elif code == E_TRAIL:
        msg = f"expected end of file after {nframes} frames, got {_tok_repr(tok)}"
    elif code == E_TOOBIG:
        msg = (f"header claims {aux} frames but the file has only {nframes} bytes "
               "(truncated or corrupt)")
    elif code == E_NUM:
        msg = f"expected a number, got {_tok_repr(tok)}"
    else:  # pragma: no cover - internal
        msg = f"internal parser error {code}"
    return SkeletonFormatError(f"{path}:{line}: {msg}")


def _py_float(tok: bytes) -> Optional[float]:
    """Python's float() of a token, or None; the one slow path both engines share."""
    try:
        return float(tok)
    except ValueError:
        return None


# --------------------------------------------------------------------------- numba engine
# One function, no calls: numba passes arrays to a callee with reference counting (atomic
# ops per call), which cost more than the parsing itself; so the scanner is a single loop
# with one tokenise+parse site and a small state machine over line kinds.
_P10 = np.array([float(10 ** k) for k in range(23)])   # exact powers of ten in float64


def _nb_kernel(buf, p10, counts, body_frame, body_ids, body_vals, rows, slow, st):
    """Parse a whole ``.skeleton`` file held in ``buf`` (uint8).

    Fills the flat outputs in file order; ``st`` = [code, line, kind, aux, frame, nframes,
    tok_start, tok_end, nbodies, nslow] (codes E_*, kinds K_*). Numbers: plain decimals
    ``[+-]d*[.d*][(e|E)[+-]d+]`` with a mantissa <= 2**53 and |exponent| <= 22 are one correctly
    rounded float64 operation (Clinger's fast path), i.e. equal to Python's ``float``; any
    other token is listed in ``slow`` for Python to parse. LF, CRLF and lone CR end a line;
    space, tab, VT and FF separate tokens (the set ``bytes.split()`` uses).
    """
    n = buf.size
    ts = np.zeros(13, np.int64)
    te = np.zeros(13, np.int64)
    fv = np.zeros(13, np.float64)
    fok = np.zeros(13, np.bool_)
    scap = slow.shape[0]
    nslow = 0
    kind = 0
    T = 0
    t = 0
    left = 0
    nb = 0
    j = 0
    line = 1
    pos = 0
    st[0] = 0
    while True:
        st[1] = line
        st[2] = kind
        st[4] = t
        if pos >= n:
            if kind != 5:
                st[0] = 1
            break
        # ---- tokenise the line and parse every token as a number (the only parse site)
        ntok = 0
        while pos < n:
            c = buf[pos]
            if c == 10:
                pos += 1
                break
            if c == 13:
                pos += 1
                if pos < n and buf[pos] == 10:
                    pos += 1
                break
            if c == 32 or c == 9 or c == 11 or c == 12:
                pos += 1
                continue
            s = pos
            neg = False
            if c == 45 or c == 43:
                neg = c == 45
                pos += 1
            mant = 0
            exp10 = 0
            nd = 0
            big = False
            while pos < n and buf[pos] >= 48 and buf[pos] <= 57:
                if mant >= 100000000000000000:
                    big = True
                else:
                    mant = mant * 10 + (np.int64(buf[pos]) - 48)
                nd += 1
                pos += 1
            if pos < n and buf[pos] == 46:
                pos += 1
                while pos < n and buf[pos] >= 48 and buf[pos] <= 57:
                    if mant >= 100000000000000000:
                        big = True
                    else:
                        mant = mant * 10 + (np.int64(buf[pos]) - 48)
                    exp10 -= 1
                    nd += 1
                    pos += 1
            good = nd > 0 and not big
            if pos < n and (buf[pos] == 101 or buf[pos] == 69):
                pos += 1
                eneg = False
                if pos < n and (buf[pos] == 45 or buf[pos] == 43):
                    eneg = buf[pos] == 45
                    pos += 1
                ev = 0
                ne = 0
                while pos < n and buf[pos] >= 48 and buf[pos] <= 57:
                    if ev < 100000:
                        ev = ev * 10 + (np.int64(buf[pos]) - 48)
                    ne += 1
                    pos += 1
                good = good and ne > 0
                exp10 += -ev if eneg else ev
            # the rest of the token (if any) makes it a non-plain spelling
            while pos < n:
                c = buf[pos]
                if c == 32 or (c >= 9 and c <= 13):
                    break
                good = False
                pos += 1
            v = 0.0
            if good and mant != 0:
                if mant > 9007199254740992 or exp10 < -22 or exp10 > 22:
                    good = False
                elif exp10 < 0:
                    v = float(mant) / p10[-exp10]
                else:
                    v = float(mant) * p10[exp10]
            if ntok < 13:
                ts[ntok] = s
                te[ntok] = pos
                fv[ntok] = -v if neg else v
                fok[ntok] = good
            ntok += 1
        # ---- what this line must be
        if kind == 5:
            if ntok > 0:
                st[0] = 5
                st[6] = ts[0]
                st[7] = te[0]
                break
            line += 1
            continue
        want = 12 if kind == 4 else (10 if kind == 2 else 1)
        if ntok != want:
            st[0] = 2
            st[3] = ntok
            break
        if kind != 4:
            # exact integer of the first token: [+-]digits, |value| <= 2**63 - 1
            p = ts[0]
            e = te[0]
            ineg = buf[p] == 45
            if buf[p] == 45 or buf[p] == 43:
                p += 1
            iok = p < e
            iv = 0
            while p < e and iok:
                d = np.int64(buf[p]) - 48
                if d < 0 or d > 9 or iv > (9223372036854775807 - d) // 10:
                    iok = False
                else:
                    iv = iv * 10 + d
                p += 1
            if ineg:
                iv = -iv
            if not iok or (iv < 0 and kind < 2):
                st[0] = 3
                st[6] = ts[0]
                st[7] = te[0]
                break
        if kind == 4:
            r = nb * 25 + j
            for k in range(12):
                if fok[k]:
                    rows[r, k] = fv[k]
                elif nslow < scap:
                    slow[nslow, 0] = ts[k]
                    slow[nslow, 1] = te[k]
                    slow[nslow, 2] = r * 12 + k
                    slow[nslow, 3] = line
                    nslow += 1
                    st[9] = nslow
                else:
                    st[0] = 7
                    return
            j += 1
            if j == 25:
                nb += 1
                left -= 1
                kind = 2
                if left == 0:
                    t += 1
                    kind = 5 if t == T else 1
        elif kind == 2:
            if nb >= body_ids.size:     # cannot happen: arrays are sized by the file size
                st[0] = 9
                break
            body_ids[nb] = iv
            body_frame[nb] = t
            for k in range(9):
                if fok[k + 1]:
                    body_vals[nb, k] = fv[k + 1]
                elif nslow < scap:
                    slow[nslow, 0] = ts[k + 1]
                    slow[nslow, 1] = te[k + 1]
                    slow[nslow, 2] = -(nb * 9 + k) - 1
                    slow[nslow, 3] = line
                    nslow += 1
                    st[9] = nslow
                else:
                    st[0] = 7
                    return
            kind = 3
        elif kind == 3:
            if iv != 25:
                st[0] = 4
                st[3] = iv
                break
            j = 0
            kind = 4
        elif kind == 1:
            counts[t] = iv
            left = iv
            if left > 0:
                kind = 2
            else:
                t += 1
                kind = 5 if t == T else 1
        else:
            T = iv
            st[5] = T
            if T > n // 2:
                st[0] = 6
                st[3] = T
                break
            kind = 5 if T == 0 else 1
        line += 1
    st[8] = nb
    st[9] = nslow


_NUMBA_KERNEL = None


def _numba_kernel():
    """Compile (or load from numba's on-disk cache) the byte scanner on first use.

    numba is imported lazily so ``import mmff.data.ntu`` stays light. ``cache=True`` writes
    next to this file, else numba's user cache dir; if no location is writable we compile
    in memory instead of failing.
    """
    global _NUMBA_KERNEL
    if _NUMBA_KERNEL is None:
        import numba
        try:
            _NUMBA_KERNEL = numba.njit(cache=True, nogil=True)(_nb_kernel)
        except RuntimeError:  # "cannot cache function ...: no locator available"
            _NUMBA_KERNEL = numba.njit(cache=False, nogil=True)(_nb_kernel)
    return _NUMBA_KERNEL



def warm_numba_reader() -> bool:
    """Import numba and load the compiled kernel now (one tiny in-memory file), so the first
    real file does not pay for it; used by ``mmff prepare``'s worker pool. False without numba."""
    try:
        _read_numba(b"1\n0\n", "<warm-up>", "warm-up")
    except ImportError:
        return False
    return True

def _read_numba(data: bytes, path: str, name: str) -> NTUSkeleton:
    kernel = _numba_kernel()
    buf = np.frombuffer(data, dtype=np.uint8)
    n = buf.size
    max_frames = n // 2 + 1
    max_bodies = n // (NUM_JOINTS * 24) + 2   # a joint line takes >= 24 bytes
    slow_cap = 256
    while True:
        # np.empty: the kernel writes every entry of the parts that are used (frames and
        # bodies it completes; values it cannot parse go to `slow`, filled in below), and any
        # incomplete file raises, so zero-filling these file-sized buffers would be wasted.
        counts = np.empty(max_frames, np.int32)
        body_frame = np.empty(max_bodies, np.int64)
        body_ids = np.empty(max_bodies, np.int64)
        body_vals = np.empty((max_bodies, 9), np.float32)
        rows = np.empty((max_bodies * NUM_JOINTS, 12), np.float32)
        slow = np.empty((slow_cap, 4), np.int64)       # start, end, flat destination, line
        st = np.zeros(10, np.int64)
        kernel(buf, _P10, counts, body_frame, body_ids, body_vals, rows, slow, st)
        if st[0] != E_SLOWCAP:
            break
        slow_cap = n // 2 + 1                          # every token could be slow: retry once
    code, line, kind, aux, frame, nframes, tok_s, tok_e, nbodies, nslow = (int(v) for v in st)
    # Values the fast path could not parse: Python's float(), in file order.
    bad_line = None
    if nslow:
        flat_rows = rows.reshape(-1)
        flat_vals = body_vals.reshape(-1)
        with np.errstate(over="ignore"):            # beyond float32 range -> inf
            for s, e, dest, ln in slow[:nslow]:
                v = _py_float(data[s:e])
                if v is None:
                    bad_line = (int(ln), data[s:e])
                    break
                if dest >= 0:
                    flat_rows[dest] = v
                else:
                    flat_vals[-dest - 1] = v
    if bad_line is not None and (code == E_OK or bad_line[0] < line):
        raise _error(path, E_NUM, bad_line[0], tok=bad_line[1])
    if code != E_OK:
        tok = data[tok_s:tok_e]
        raise _error(path, code, line, kind=kind, aux=aux, frame=frame,
                     nframes=(n if code == E_TOOBIG else nframes), tok=tok)
    return _assemble(name, counts[:nframes], body_frame[:nbodies], body_ids[:nbodies],
                     body_vals[:nbodies], rows[:nbodies * NUM_JOINTS], path, n)


# --------------------------------------------------------------------------- numpy engine
_WS = np.zeros(256, bool)
_WS[[9, 10, 11, 12, 13, 32]] = True     # exactly what bytes.split() splits on
_INT_RE = re.compile(rb"[+-]?[0-9]+\Z")


def _py_int(tok: bytes) -> Optional[int]:
    """[+-]digits with |value| <= 2**63 - 1 (what the numba engine accepts), else None."""
    if _INT_RE.match(tok) is None:
        return None
    v = int(tok)
    return v if abs(v) < (1 << 63) else None


def _parse_values(data: bytes, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """float64 of every token (all tokens of a skeleton file are numbers), exactly as
    Python's float(). numpy's C parser first; per-token float() only if it stops early
    (a bad token, or a spelling it does not know such as ``1_0``)."""
    if starts.size == 0:
        return np.zeros(0, np.float64)
    text = data[: int(ends[-1])]
    try:
        vals = np.fromstring(text, dtype=np.float64, sep=" ")
        if vals.size == starts.size:
            return vals
    except ValueError:
        pass
    vals = np.empty(starts.size, np.float64)
    for k in range(starts.size):   # error path / exotic spellings only
        v = _py_float(data[starts[k]:ends[k]])
        if v is None:
            raise IndexError(k)
        vals[k] = v
    return vals


def _read_numpy(data: bytes, path: str, name: str) -> NTUSkeleton:
    n = len(data)
    if n == 0:
        raise _error(path, E_EOF, 1, K_FRAMES)
    # Token and line tables, vectorised. A lone CR ends a line like LF; the CR of CRLF is
    # whitespace before the LF.
    buf = np.frombuffer(data, dtype=np.uint8)
    is_nl = buf == 10
    cr = np.flatnonzero(buf == 13)
    if cr.size:
        nxt = np.append(buf, np.uint8(0))[cr + 1]
        is_nl[cr[nxt != 10]] = True
    ws = _WS[buf]
    edge = np.diff(np.concatenate([[1], ws.view(np.int8), [1]]))
    starts = np.flatnonzero(edge == -1)                  # ws -> token
    ends = np.flatnonzero(edge == 1)                     # token -> ws (exclusive end)
    nl_pos = np.flatnonzero(is_nl)
    tok_line = np.searchsorted(nl_pos, starts)           # 0-based line of each token
    nlines = int(nl_pos.size) + (0 if is_nl[-1] else 1)
    per_line = np.bincount(tok_line, minlength=nlines)
    first_tok = np.concatenate([[0], np.cumsum(per_line)])

    def tok(k):
        return data[starts[k]:ends[k]]

    def ntok(L):
        return int(per_line[L]) if L < nlines else -1

    def count_line(L, kind):
        """(value, err) for a line holding one non-negative integer (or any int: IDs)."""
        c = ntok(L)
        if c != 1:
            return None, (L, E_EOF if c < 0 else E_NTOK, kind, c)
        v = _py_int(tok(first_tok[L]))
        if v is None or (v < 0 and kind in (K_FRAMES, K_BODIES)):
            return None, (L, E_INT, kind, 0)
        return v, None

    # Structural walk: a Python step per frame and per body, never per joint line.
    err = None             # (line0, code, kind, aux) + frame t
    t = 0
    body_lines = []        # 0-based line of each body line, file order
    body_frame = []
    frame_counts = []
    T, err = count_line(0, K_FRAMES)
    if err is None and T > n // 2:
        raise _error(path, E_TOOBIG, 1, aux=T, nframes=n)
    L = 1
    if err is None:
        for t in range(T):
            nb, err = count_line(L, K_BODIES)
            if err is not None:
                break
            frame_counts.append(nb)
            L += 1
            for _ in range(nb):
                c = ntok(L)
                if c != 10:
                    err = (L, E_EOF if c < 0 else E_NTOK, K_BODY, c)
                    break
                if _py_int(tok(first_tok[L])) is None:
                    err = (L, E_INT, K_BODY, 0)
                    break
                body_lines.append(L)
                body_frame.append(t)
                nj, err = count_line(L + 1, K_NJOINT)
                if err is not None:
                    break
                if nj != NUM_JOINTS:
                    err = (L + 1, E_NJOINT, K_NJOINT, nj)
                    break
                seg = per_line[L + 2:L + 2 + NUM_JOINTS]
                bad = np.flatnonzero(seg != 12)
                if bad.size or seg.size < NUM_JOINTS:
                    jl = L + 2 + (int(bad[0]) if bad.size else int(seg.size))
                    c = ntok(jl)
                    err = (jl, E_EOF if c < 0 else E_NTOK, K_JOINT, c)
                    break
                L += 2 + NUM_JOINTS
            if err is not None:
                break
        if err is None and L < nlines and first_tok[L] < starts.size:
            k = int(first_tok[L])
            err = (int(tok_line[k]), E_TRAIL, 0, 0)
    # Values. The earliest bad number before a structural error wins (numba engine: same).
    limit = starts.size if err is None else int(first_tok[min(err[0], nlines)])
    try:
        vals = _parse_values(data, starts[:limit], ends[:limit])
    except IndexError as exc:
        k = exc.args[0]
        raise _error(path, E_NUM, int(tok_line[k]) + 1, tok=tok(k)) from None
    if err is not None:
        line0, code, kind, aux = err
        k = first_tok[line0] if line0 < nlines and first_tok[line0] < starts.size else 0
        raise _error(path, code, line0 + 1, kind=kind, aux=aux, frame=t, nframes=T,
                     tok=tok(k) if code in (E_INT, E_TRAIL) else b"")
    if not body_lines:
        sk = _empty_skeleton(name, T)
        sk.body_counts[:] = frame_counts
        return sk
    bt = first_tok[np.asarray(body_lines, np.int64)]
    ids = np.array([int(tok(k)) for k in bt], np.int64)     # exact: never through float64
    jt = (bt + 11)[:, None] + np.arange(NUM_JOINTS * 12)     # 10 body values + joint count
    with np.errstate(over="ignore"):     # beyond float32 range -> inf, as the numba engine
        info = vals[bt[:, None] + np.arange(1, 10)].astype(np.float32)
        rows = vals[jt].astype(np.float32)
    return _assemble(name, np.asarray(frame_counts, np.int32), np.asarray(body_frame, np.int64),
                     ids, info, rows, path, n)


# --------------------------------------------------------------------------- python engine
def read_skeleton_dict(path: PathLike) -> dict:
    """The classic line-by-line reader (ST-GCN ``ntu_read_skeleton.read_skeleton``): a dict
    ``{"numFrame", "frameInfo": [{"numBody", "bodyInfo": [{..., "jointInfo": [...]}]}]}``.

    Kept as the oracle for tests and the baseline for benchmarks; the body ID is kept as
    an exact ``int`` (the original stores ``float``, which merges IDs closer than 16).
    """
    body_keys = ("bodyID",) + BODY_INFO_FIELDS
    with open(path, "r", encoding="latin-1") as f:
        seq = {"numFrame": int(f.readline()), "frameInfo": []}
        for _ in range(seq["numFrame"]):
            frame = {"numBody": int(f.readline()), "bodyInfo": []}
            for _ in range(frame["numBody"]):
                vals = f.readline().split()
                body = {k: (int(v) if k == "bodyID" else float(v)) for k, v in zip(body_keys, vals)}
                body["numJoint"] = int(f.readline())
                body["jointInfo"] = [
                    {k: float(v) for k, v in zip(JOINT_FIELDS, f.readline().split())}
                    for _ in range(body["numJoint"])]
                frame["bodyInfo"].append(body)
            seq["frameInfo"].append(frame)
    return seq


def _from_dict(seq: dict, name: str) -> NTUSkeleton:
    counts, bframe, ids, info, rows = [], [], [], [], []
    for t, frame in enumerate(seq["frameInfo"]):
        counts.append(frame["numBody"])
        for body in frame["bodyInfo"]:
            bframe.append(t)
            ids.append(body["bodyID"])
            info.append([body[k] for k in BODY_INFO_FIELDS])
            rows.append([[j[k] for k in JOINT_FIELDS] for j in body["jointInfo"]])
    return _assemble(name, np.asarray(counts, np.int32), np.asarray(bframe, np.int64),
                     np.asarray(ids, np.int64), np.asarray(info, np.float32).reshape(-1, 9),
                     np.asarray(rows, np.float32).reshape(-1, 12))


# --------------------------------------------------------------------------- public reader
def read_skeleton(path: PathLike, engine: Literal["numba", "numpy", "python"] = "numba",
                  ) -> NTUSkeleton:
    """Read an NTU RGB+D ``.skeleton`` file (SPEC §1.1) into (T, M, 25, ...) arrays.

    ``engine``: ``"numba"`` (compiled byte scanner, default; falls back to ``"numpy"``
    with a warning if numba is unavailable), ``"numpy"`` (vectorised, same results), or
    ``"python"`` (the classic line-by-line dict reader; oracle/baseline, looser errors).
    Raises :class:`~mmff.data.SkeletonFormatError` ``"<file>:<line>: <what was expected>"``
    on malformed input. See the module docstring for the decisions on edge cases.
    """
    if engine not in ("numba", "numpy", "python"):
        raise ValueError(f"engine must be 'numba', 'numpy' or 'python', got {engine!r}")
    path = os.fspath(path)
    name = Path(path).name.split(".")[0]
    if engine == "python":
        try:
            return _from_dict(read_skeleton_dict(path), name)
        except (ValueError, KeyError) as exc:
            raise SkeletonFormatError(f"{path}: {exc}") from None
    with open(path, "rb") as f:
        data = f.read()
    if engine == "numba":
        try:
            return _read_numba(data, path, name)
        except ImportError:
            warnings.warn("numba is not installed: reading skeletons with the numpy engine",
                          RuntimeWarning, stacklevel=2)
            engine = "numpy"
    return _read_numpy(data, path, name)


# --------------------------------------------------------------------------- writer
def write_skeleton(path: PathLike, joints: np.ndarray, color: np.ndarray,
                   body_ids: Sequence[int], depth: Optional[np.ndarray] = None,
                   orientation: Optional[np.ndarray] = None,
                   tracking: Optional[np.ndarray] = None,
                   body_info: Optional[np.ndarray] = None,
                   present: Optional[np.ndarray] = None, digits: int = 9) -> None:
    """Write arrays as an NTU ``.skeleton`` text file (CRLF line ends), atomically.

    ``joints`` (T,M,25,3) metres, ``color`` (T,M,25,2) RGB pixels, ``body_ids`` (M,) distinct
    integers. Optional: ``depth`` (T,M,25,2) (default: pinhole projection with
    ``KINECT_V2_DEPTH_INTRINSICS``), ``orientation`` (T,M,25,4) (default 0), ``tracking``
    (T,M,25) (default 2 = tracked), ``body_info`` (T,M,9) in ``BODY_INFO_FIELDS`` order
    (default: tracked, no clipping), ``present`` (T,M) bool (default: joints not all zero).
    A body is written in a frame only where present. ``digits`` significant digits; the
    default 9 makes ``read_skeleton`` return exactly the float32 values given; 7 is the
    release's own format (arrays read from a release file are written back byte for byte).
    """
    joints = np.asarray(joints, np.float32)
    if joints.ndim != 4 or joints.shape[2:] != (NUM_JOINTS, 3):
        raise ValueError(f"joints must be (T, M, 25, 3), got {joints.shape}")
    T, M = joints.shape[:2]
    ids = np.asarray(body_ids, np.int64).reshape(-1)
    if ids.shape != (M,) or np.unique(ids).size != M:
        raise ValueError(f"body_ids must be {M} distinct integers, got {list(ids)}")

    def arr(a, shape, default, dtype=np.float32):
        if a is None:
            return np.broadcast_to(np.asarray(default, dtype), shape)
        a = np.asarray(a, dtype)
        if a.shape != shape:
            raise ValueError(f"expected shape {shape}, got {a.shape}")
        return a

    color = arr(color, (T, M, NUM_JOINTS, 2), 0.0)
    if depth is None:
        fx, fy, cx, cy = KINECT_V2_DEPTH_INTRINSICS
        z = np.where(np.abs(joints[..., 2]) > 1e-6, joints[..., 2], 1.0)
        depth = np.stack([cx + fx * joints[..., 0] / z, cy - fy * joints[..., 1] / z], -1)
    depth = arr(depth, (T, M, NUM_JOINTS, 2), 0.0)
    orientation = arr(orientation, (T, M, NUM_JOINTS, 4), 0.0)
    tracking = arr(tracking, (T, M, NUM_JOINTS), 2, np.int64)
    body_info = arr(body_info, (T, M, 9), _BODY_DEFAULT)
    if present is None:
        present = np.any(joints != 0, axis=(2, 3))
    present = arr(present, (T, M), True, bool)

    f = f"%.{int(digits)}G"   # C# style as in the release: 7.257856E-05
    joint_line = " ".join([f] * 11) + " %d\r\n"
    body_head = "%d %d %d %d %d %d %d " + f + " " + f + " %d\r\n25\r\n"
    jblock = joint_line * NUM_JOINTS
    # (T, M, 25, 12) value table as Python objects once; one %-format per body.
    table = np.concatenate([joints, depth, color, orientation], -1).astype(np.float64)
    out = [f"{T}\r\n"]
    for t in range(T):
        ms = np.flatnonzero(present[t])
        out.append(f"{ms.size}\r\n")
        for m in ms:
            bi = body_info[t, m]
            head = (int(ids[m]),) + tuple(int(v) for v in bi[:6]) + (float(bi[6]), float(bi[7]),
                                                                      int(bi[8]))
            vals = np.concatenate([table[t, m], tracking[t, m][:, None]], 1).tolist()
            out.append(body_head % head)
            out.append(jblock % tuple(v for row in vals for v in row))
    atomic_write_bytes(path, "".join(out).encode("ascii"))


# --------------------------------------------------------------------------- body selection
#: CTR-GCN denoising thresholds (get_raw_denoised_data.py).
NOISE_LEN_THRES = 11
NOISE_SPR_THRES1 = 0.8
NOISE_SPR_THRES2 = 0.69754


def _motion(joints: np.ndarray, frames: np.ndarray) -> float:
    """Motion of one track: sum over joints and x, y, z of the temporal variance over the
    given frames. (CTR-GCN pools joints and frames into one variance, so body size counts
    as motion; per-joint temporal variance does not reward a large static object.)"""
    if frames.size == 0:
        return 0.0
    return float(np.var(joints[frames].astype(np.float64), axis=0).sum())


def select_bodies(skel: NTUSkeleton, max_bodies: int = 2,
                  rule: Literal["ctrgcn", "motion"] = "ctrgcn") -> NTUSkeleton:
    """Keep at most ``max_bodies`` tracks; track 0 is the main actor.

    Motion of a track = sum over its 25 joints and x, y, z of the temporal variance over
    the frames where it is present.

    ``rule="motion"`` (ST-GCN practice): rank tracks by motion, keep the top ones.

    ``rule="ctrgcn"`` (default; CTR-GCN/2s-AGCN ``get_raw_denoised_data.py``), with more than
    one track:
      1. drop tracks present in <= 11 frames (1-frame noise bodies);
      2. drop tracks whose frames are mostly "spread noise" (x-extent > 0.8 y-extent, i.e. a
         lying/furniture shape) in >= 69.754% of their frames; otherwise their motion is taken
         over the non-noisy frames only (the minimum of both);
      3. rank by motion; then, as CTR-GCN's actor assignment, give each track to the first
         actor slot whose frames it does not overlap (a person who re-enters with a new ID
         continues the same actor track), dropping tracks that fit no slot.
    A filter that would drop every track is skipped. Merged tracks keep the ID of their
    first (highest-motion) member in ``body_ids``.
    """
    M = skel.num_bodies
    if max_bodies < 1:
        raise ValueError(f"max_bodies must be >= 1, got {max_bodies}")
    if M == 0:
        return skel
    present = skel.present
    frames = [np.flatnonzero(present[:, m]) for m in range(M)]     # per track, not per joint
    motion = np.array([_motion(skel.joints[:, m], frames[m]) for m in range(M)])
    if rule == "motion":
        order = np.argsort(-motion, kind="stable")[:max_bodies]
        return skel.take_bodies(order)
    if rule != "ctrgcn":
        raise ValueError(f"rule must be 'ctrgcn' or 'motion', got {rule!r}")
    alive = list(range(M))
    if M > 1:
        longer = [m for m in alive if frames[m].size > NOISE_LEN_THRES]
        alive = longer or alive
    if len(alive) > 1:
        j = skel.joints
        ext = j.max(axis=2) - j.min(axis=2)                             # (T, M, 3)
        noisy = ext[..., 0] > NOISE_SPR_THRES1 * ext[..., 1]            # (T, M)
        kept = []
        for m in alive:
            f = frames[m]
            ratio = noisy[f, m].mean() if f.size else 0.0
            if ratio >= NOISE_SPR_THRES2:
                continue
            if ratio > 0:
                motion[m] = min(motion[m], _motion(j[:, m], f[~noisy[f, m]]))
            kept.append(m)
        alive = kept or alive
    alive.sort(key=lambda m: -motion[m])
    slots: list[list[int]] = []
    used = []
    for m in alive:
        for s, members in enumerate(slots):
            if not np.any(used[s][frames[m]]):
                members.append(m)
                used[s][frames[m]] = True
                break
        else:
            if len(slots) < max_bodies:
                slots.append([m])
                u = np.zeros(skel.num_frames, bool)
                u[frames[m]] = True
                used.append(u)
    out = skel.take_bodies([s[0] for s in slots])
    for s, members in enumerate(slots):
        for m in members[1:]:   # merge non-overlapping continuation tracks into slot s
            f = frames[m]
            for a_out, a_in in ((out.joints, skel.joints), (out.color, skel.color),
                                (out.depth, skel.depth), (out.orientation, skel.orientation),
                                (out.tracking, skel.tracking), (out.body_info, skel.body_info),
                                (out.present, skel.present)):
                a_out[f, s] = a_in[f, m]
    return out


# --------------------------------------------------------------------------- missing lists
def read_missing_list(path: PathLike) -> frozenset:
    """Sample names from an official "samples with missing skeletons" file.

    The official files start with 2 header lines and a blank line, then one name a line
    (NTU-60: 302 names, NTU-120: 535). Lines that are not sample names before the first
    name are treated as header; after it, a line that is not a name is an error. The data is
    under the ROSE Lab agreement, so the files are not shipped: pass the path.
    """
    path = os.fspath(path)
    names = []
    with open(path, "r", encoding="utf-8", errors="replace") as f:
        for i, raw in enumerate(f, 1):
            s = raw.strip()
            if not s:
                continue
            if _NAME_RE.match(s):
                names.append(s[:20])
            elif names:
                raise SkeletonFormatError(f"{path}:{i}: expected a sample name like "
                                          f"S001C002P005R002A008, got {s[:40]!r}")
    if not names:
        raise SkeletonFormatError(f"{path}:1: no sample names found")
    return frozenset(names)


# --------------------------------------------------------------------------- names, splits
class NTUNameError(ValueError):
    """A string is not an NTU sample name ``SsssCcccPpppRrrrAaaa``."""


_NAME_RE = re.compile(r"S(\d{3})C(\d{3})P(\d{3})R(\d{3})A(\d{3})(?:$|[._])")


class NTUName(NamedTuple):
    """The five 1-based fields of ``SsssCcccPpppRrrrAaaa``."""

    setup: int
    camera: int
    performer: int
    replication: int
    action: int

    @property
    def label(self) -> int:
        """0-based class index (action - 1)."""
        return self.action - 1

    def __str__(self) -> str:
        return "S%03dC%03dP%03dR%03dA%03d" % tuple(self)


def _basename(name: str) -> str:
    return os.path.basename(os.fspath(name))


def parse_name(name: PathLike) -> NTUName:
    """Parse ``S001C002P003R002A013`` (a bare name, file name or path; suffixes such as
    ``.skeleton`` or ``_rgb.avi`` are allowed) into 1-based ints. Fields must be >= 1."""
    base = _basename(name)
    m = _NAME_RE.match(base)
    if m is None:
        raise NTUNameError(f"{name!s}: expected an NTU sample name SsssCcccPpppRrrrAaaa "
                           "(e.g. S001C002P003R002A013)")
    out = NTUName(*(int(g) for g in m.groups()))
    if min(out) < 1:
        raise NTUNameError(f"{name!s}: NTU name fields are 1-based, got a 000 field")
    return out


def sample_stem(path: PathLike) -> str:
    """The sample name of a skeleton or video file (the one name rule of the package): the NTU
    ``SsssCcccPpppRrrrAaaa`` when the file name starts with one (as :func:`parse_name` reads
    it), else the file name without its suffix(es) and a trailing ``_rgb``."""
    base = _basename(path)
    if _NAME_RE.match(base):
        return base[:20]
    stem = base.split(".")[0]
    return stem[:-4] if stem.endswith("_rgb") else stem


def parse_names(names: Iterable[PathLike]) -> dict:
    """Vectorised :func:`parse_name`: ``{"setup", "camera", "performer", "replication",
    "action"}`` -> (N,) int64 arrays. Checks the pattern for all names at once."""
    base = [_basename(n) for n in names]
    if not base:
        return {k: np.zeros(0, np.int64) for k in NTUName._fields}
    a = np.array(base, dtype="S")
    if a.dtype.itemsize < 20:
        a = a.astype("S20")
    u = a.view(np.uint8).reshape(len(base), -1)
    digits = (u[:, :20] >= 48) & (u[:, :20] <= 57)
    letters_ok = np.ones(len(base), bool)
    for pos, ch in zip((0, 4, 8, 12, 16), b"SCPRA"):
        letters_ok &= u[:, pos] == ch
    dpos = np.array([p for s in (1, 5, 9, 13, 17) for p in range(s, s + 3)])
    ok = letters_ok & digits[:, dpos].all(1)
    if u.shape[1] > 20:
        ok &= np.isin(u[:, 20], np.frombuffer(b"\x00._", np.uint8))
    vals = (u[:, dpos].astype(np.int64) - 48).reshape(len(base), 5, 3) @ np.array([100, 10, 1])
    ok &= vals.min(1) >= 1
    if not ok.all():
        i = int(np.flatnonzero(~ok)[0])
        parse_name(base[i])        # raises the one-line error for the first bad name
        raise NTUNameError(f"{base[i]}: expected an NTU sample name")  # pragma: no cover
    return {k: vals[:, i] for i, k in enumerate(NTUName._fields)}


NTU60_XSUB_TRAIN_SUBJECTS = (1, 2, 4, 5, 8, 9, 13, 14, 15, 16, 17, 18, 19, 25, 27, 28, 31, 34,
                             35, 38)
NTU120_XSUB_TRAIN_SUBJECTS = NTU60_XSUB_TRAIN_SUBJECTS + (
    45, 46, 47, 49, 50, 52, 53, 54, 55, 56, 57, 58, 59, 70, 74, 78, 80, 81, 82, 83, 84, 85, 86,
    89, 91, 92, 93, 94, 95, 97, 98, 100, 103)
NTU60_XVIEW_TRAIN_CAMERAS = (2, 3)
BENCHMARKS = ("ntu60_xsub", "ntu60_xview", "ntu120_xsub", "ntu120_xset")


def train_mask(names: Iterable[PathLike], benchmark: str) -> np.ndarray:
    """(N,) bool: True where the sample is in the benchmark's training set.

    ``ntu60_xsub``/``ntu120_xsub``: train performers (20 / 53 listed subjects);
    ``ntu60_xview``: cameras 2 and 3; ``ntu120_xset``: even setup numbers.
    """
    f = parse_names(names)
    if benchmark == "ntu60_xsub":
        return np.isin(f["performer"], NTU60_XSUB_TRAIN_SUBJECTS)
    if benchmark == "ntu120_xsub":
        return np.isin(f["performer"], NTU120_XSUB_TRAIN_SUBJECTS)
    if benchmark == "ntu60_xview":
        return np.isin(f["camera"], NTU60_XVIEW_TRAIN_CAMERAS)
    if benchmark == "ntu120_xset":
        return f["setup"] % 2 == 0
    raise ValueError(f"benchmark must be one of {', '.join(BENCHMARKS)}, got {benchmark!r}")


def split_subsets(names: Iterable[PathLike], benchmark: str) -> np.ndarray:
    """Vectorised :func:`split_subset`: (N,) array of ``"train"``/``"test"``."""
    return np.where(train_mask(names, benchmark), "train", "test")


def split_subset(name: PathLike, benchmark: str) -> str:
    """``"train"`` or ``"test"`` for one sample name under ``benchmark`` (see BENCHMARKS)."""
    return str(split_subsets([name], benchmark)[0])


def is_two_person(action: int) -> bool:
    """A050-A060 and A106-A120 are the two-person (mutual) actions."""
    return 50 <= int(action) <= 60 or 106 <= int(action) <= 120


# --------------------------------------------------------------------------- class names
NTU120_CLASSES = (
    "drink water", "eat meal/snack", "brushing teeth", "brushing hair", "drop", "pickup",
    "throw", "sitting down", "standing up (from sitting position)", "clapping", "reading",
    "writing", "tear up paper", "wear jacket", "take off jacket", "wear a shoe",
    "take off a shoe", "wear on glasses", "take off glasses", "put on a hat/cap",
    "take off a hat/cap", "cheer up", "hand waving", "kicking something", "reach into pocket",
    "hopping (one foot jumping)", "jump up", "make a phone call/answer phone",
    "playing with phone/tablet", "typing on a keyboard", "pointing to something with finger",
    "taking a selfie", "check time (from watch)", "rub two hands together", "nod head/bow",
    "shake head", "wipe face", "salute", "put the palms together",
    "cross hands in front (say stop)", "sneeze/cough", "staggering", "falling",
    "touch head (headache)", "touch chest (stomachache/heart pain)", "touch back (backache)",
    "touch neck (neckache)", "nausea or vomiting condition",
    "use a fan (with hand or paper)/feeling warm", "punching/slapping other person",
    "kicking other person", "pushing other person", "pat on back of other person",
    "point finger at the other person", "hugging other person",
    "giving something to other person", "touch other person's pocket", "handshaking",
    "walking towards each other", "walking apart from each other",
    # NTU-120 additions
    "put on headphone", "take off headphone", "shoot at the basket", "bounce ball",
    "tennis bat swing", "juggling table tennis balls", "hush (quite)", "flick hair",
    "thumb up", "thumb down", "make ok sign", "make victory sign", "staple book",
    "counting money", "cutting nails", "cutting paper (using scissors)", "snapping fingers",
    "open bottle", "sniff (smell)", "squat down", "toss a coin", "fold paper",
    "ball up paper", "play magic cube", "apply cream on face", "apply cream on hand back",
    "put on bag", "take off bag", "put something into a bag", "take something out of a bag",
    "open a box", "move heavy objects", "shake fist", "throw up cap/hat",
    "hands up (both hands)", "cross arms", "arm circles", "arm swings", "running on the spot",
    "butt kicks (kick backward)", "cross toe touch", "side kick", "yawn", "stretch oneself",
    "blow nose", "hit other person with something", "wield knife towards other person",
    "knock over other person (hit with body)", "grab other person's stuff",
    "shoot at other person with a gun", "step on foot", "high-five", "cheers and drink",
    "carry something with other person", "take a photo of other person",
    "follow other person", "whisper in other person's ear",
    "exchange things with other person", "support somebody with hand",
    "finger-guessing game (playing rock-paper-scissors)",
)
NTU60_CLASSES = NTU120_CLASSES[:60]
