"""NTU .skeleton reader/writer: NTU-format files (tests/data/ntu stand-ins), three engines,
malformed input, round trips."""
from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mmff.data import SkeletonFormatError
from mmff.data import ntu
from mmff.data.ntu import NTUSkeleton, read_skeleton, write_skeleton

REAL = ["S001C001P001R001A001", "S001C001P001R001A011", "S001C003P008R002A058"]
FIELDS = ["joints", "color", "depth", "orientation", "tracking", "body_ids", "body_info",
          "present", "body_counts"]


def assert_same(a: NTUSkeleton, b: NTUSkeleton):
    for k in FIELDS:
        x, y = getattr(a, k), getattr(b, k)
        assert x.dtype == y.dtype and x.shape == y.shape, k
        assert np.array_equal(x, y, equal_nan=x.dtype.kind == "f"), k


def outcome(path, engine):
    """('ok', skeleton) or ('err', message) so two engines can be compared."""
    try:
        return "ok", read_skeleton(path, engine=engine)
    except SkeletonFormatError as exc:
        return "err", str(exc)


def same_outcome(path):
    a, b = outcome(path, "numba"), outcome(path, "numpy")
    assert a[0] == b[0], (a, b)
    if a[0] == "ok":
        assert_same(a[1], b[1])
    else:
        assert a[1] == b[1]
    return a


# ------------------------------------------------------------------ real files
@pytest.mark.parametrize("name", REAL)
def test_real_files_three_engines_identical(ntu_dir, name):
    path = ntu_dir / f"{name}.skeleton"
    ref = read_skeleton(path, engine="python")
    for engine in ("numba", "numpy"):
        assert_same(read_skeleton(path, engine=engine), ref)


def test_real_a001_values(ntu_dir, ntu_truth):
    s = read_skeleton(ntu_dir / "S001C001P001R001A001.skeleton")
    truth = ntu_truth["skeletons"]["S001C001P001R001A001"]
    assert s.name == "S001C001P001R001A001"
    assert s.joints.shape == (103, 1, 25, 3) and s.joints.dtype == np.float32
    assert s.color.shape == (103, 1, 25, 2) and s.depth.shape == (103, 1, 25, 2)
    assert s.body_ids.tolist() == truth["body_ids"]          # exact, not via float64
    assert truth["body_ids"][0] > 2 ** 56 and truth["body_ids"][0] % 2 == 1  # float64 would round
    # the first and last joint lines (x y z depthX depthY colorX colorY w x y z tracking) and
    # the first body line, as the stand-in generator wrote them
    first = truth["first_joint_line"].split()
    last = truth["last_joint_line"].split()
    for row, t, j in ((first, 0, 0), (last, 102, 24)):
        v = np.float32([float(x) for x in row[:11]])
        assert s.joints[t, 0, j].tolist() == v[:3].tolist()
        assert s.depth[t, 0, j].tolist() == v[3:5].tolist()
        assert s.color[t, 0, j].tolist() == v[5:7].tolist()
        assert s.orientation[t, 0, j].tolist() == v[7:11].tolist()
        assert s.tracking[t, 0, j] == int(row[11])
    body = truth["first_body_line"].split()
    assert s.body_info[0, 0].tolist() == np.float32([float(x) for x in body[1:]]).tolist()
    assert s.present.all() and s.body_counts.tolist() == [1] * 103
    assert s.num_frames == 103 and s.num_bodies == 1 and not s.is_empty


def test_real_two_person(ntu_dir, ntu_truth):
    s = read_skeleton(ntu_dir / "S001C003P008R002A058.skeleton")
    assert s.joints.shape == (70, 2, 25, 3)
    assert s.present.all() and (s.body_counts == 2).all()
    assert s.body_ids.tolist() == ntu_truth["skeletons"]["S001C003P008R002A058"]["body_ids"]
    assert len(set(s.body_ids.tolist())) == 2 and s.body_ids.min() > 2 ** 56


@pytest.mark.parametrize("ending", [b"\n", b"\r"])
def test_line_endings(ntu_dir, tmp_path, ending):
    raw = (ntu_dir / "S001C001P001R001A001.skeleton").read_bytes()
    assert b"\r\n" in raw
    p = tmp_path / "S001C001P001R001A001.skeleton"
    p.write_bytes(raw.replace(b"\r\n", ending))
    ref = read_skeleton(ntu_dir / "S001C001P001R001A001.skeleton")
    assert_same(same_outcome(p)[1], ref)


# ------------------------------------------------------------------ writer round trip
def _expected_order(present):
    """Tracks in order of first appearance (frame, then position in the frame)."""
    t, m = np.nonzero(present)
    seen = []
    for mm in m[np.lexsort((m, t))]:
        if mm not in seen:
            seen.append(int(mm))
    return seen


@st.composite
def skeletons(draw):
    T = draw(st.integers(0, 4))
    M = draw(st.integers(0, 3))
    seed = draw(st.integers(0, 2 ** 32 - 1))
    rng = np.random.default_rng(seed)
    exps = rng.integers(-6, 4, size=(T, M, 25, 12))
    vals = (rng.standard_normal((T, M, 25, 12)) * 10.0 ** exps).astype(np.float32)
    ids = rng.choice(2 ** 62, size=M, replace=False).astype(np.int64) + 2 ** 56
    present = rng.random((T, M)) < 0.7
    info = rng.integers(0, 3, size=(T, M, 9)).astype(np.float32)
    info[..., 6:8] = rng.standard_normal((T, M, 2)).astype(np.float32)
    tracking = rng.integers(0, 3, size=(T, M, 25))
    return vals, ids, present, info, tracking


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sk=skeletons())
def test_write_read_round_trip(tmp_path, sk):
    vals, ids, present, info, tracking = sk
    p = tmp_path / "S001C001P001R001A001.skeleton"
    write_skeleton(p, vals[..., 0:3], vals[..., 5:7], ids, depth=vals[..., 3:5],
                   orientation=vals[..., 7:11], tracking=tracking, body_info=info,
                   present=present)
    raw = p.read_bytes()
    assert raw.endswith(b"\r\n") and raw.count(b"\n") == raw.count(b"\r\n")
    kind, s = same_outcome(p)
    assert kind == "ok", s
    order = _expected_order(present)
    T = vals.shape[0]
    assert s.joints.shape == (T, len(order), 25, 3)
    assert s.body_ids.tolist() == ids[order].tolist()
    pm = present[:, order]
    assert np.array_equal(s.present, pm)
    assert np.array_equal(s.body_counts, present.sum(1))
    v = vals[:, order] * pm[..., None, None]
    assert np.array_equal(s.joints, v[..., 0:3])
    assert np.array_equal(s.depth, v[..., 3:5])
    assert np.array_equal(s.color, v[..., 5:7])
    assert np.array_equal(s.orientation, v[..., 7:11])
    assert np.array_equal(s.tracking, (tracking[:, order] * pm[..., None]).astype(np.int8))
    assert np.array_equal(s.body_info, info[:, order] * pm[..., None])


def test_writer_format_crlf_and_defaults(tmp_path):
    j = np.zeros((2, 1, 25, 3), np.float32)
    j[..., 2] = 3.0
    j[0, 0, 0] = [0.25, -0.5, 3.0]
    p = tmp_path / "a.skeleton"
    write_skeleton(p, j, np.full((2, 1, 25, 2), 100.0, np.float32), [72057594037931101])
    lines = p.read_bytes().split(b"\r\n")
    assert lines[0] == b"2" and lines[1] == b"1" and lines[3] == b"25"
    assert lines[2] == b"72057594037931101 0 1 1 1 1 0 0 0 2"
    assert lines[4].split()[:3] == [b"0.25", b"-0.5", b"3"] and lines[4].split()[-1] == b"2"
    assert b"\n" not in p.read_bytes().replace(b"\r\n", b"")
    s = read_skeleton(p)
    # default depth: pinhole projection into the 512x424 depth frame
    fx, fy, cx, cy = ntu.KINECT_V2_DEPTH_INTRINSICS
    assert s.depth[0, 0, 0].tolist() == pytest.approx([cx + fx * 0.25 / 3, cy + fy * 0.5 / 3])
    assert not list(tmp_path.glob(".*tmp"))              # atomic write left no temp file


def test_writer_rejects_bad_input(tmp_path):
    j = np.zeros((2, 2, 25, 3), np.float32)
    c = np.zeros((2, 2, 25, 2), np.float32)
    with pytest.raises(ValueError, match="distinct"):
        write_skeleton(tmp_path / "a.skeleton", j, c, [5, 5])
    with pytest.raises(ValueError, match=r"\(T, M, 25, 3\)"):
        write_skeleton(tmp_path / "a.skeleton", j[:, :, :20], c, [1, 2])


# ------------------------------------------------------------------ edge cases / errors
def _small(tmp_path, T=3, M=1, name="S001C001P001R001A001.skeleton", **kw):
    rng = np.random.default_rng(0)
    j = rng.standard_normal((T, M, 25, 3)).astype(np.float32)
    c = rng.uniform(0, 1000, (T, M, 25, 2)).astype(np.float32)
    p = tmp_path / name
    write_skeleton(p, j, c, np.arange(M) + 72057594037931101, **kw)
    return p


def _lines(p):
    return p.read_bytes().split(b"\r\n")


def _put(p, lines):
    p.write_bytes(b"\r\n".join(lines))
    return p


def err_of(p, pattern):
    kind, msg = same_outcome(p)
    assert kind == "err"
    assert msg.startswith(f"{p}:"), msg
    assert re.search(pattern, msg), msg
    return msg


def test_empty_file(tmp_path):
    p = tmp_path / "e.skeleton"
    p.write_bytes(b"")
    assert err_of(p, "empty file") == f"{p}:1: empty file, expected the frame count"


def test_zero_frames_is_an_empty_skeleton(tmp_path):
    p = tmp_path / "z.skeleton"
    p.write_bytes(b"0\r\n")
    kind, s = same_outcome(p)
    assert kind == "ok" and s.joints.shape == (0, 0, 25, 3) and s.color.shape == (0, 0, 25, 2)
    assert s.is_empty and s.body_ids.shape == (0,)


def test_frames_with_zero_bodies_are_zeros(tmp_path):
    p = _small(tmp_path, T=4, present=np.array([[False], [True], [False], [True]]))
    kind, s = same_outcome(p)
    assert kind == "ok" and s.joints.shape == (4, 1, 25, 3)
    assert s.body_counts.tolist() == [0, 1, 0, 1]
    assert (s.joints[[0, 2]] == 0).all() and (s.joints[[1, 3]] != 0).any()
    assert s.present[:, 0].tolist() == [False, True, False, True]
    # a file whose frames all list 0 bodies (like the missing-skeleton samples)
    q = tmp_path / "none.skeleton"
    q.write_bytes(b"3\r\n0\r\n0\r\n0\r\n")
    kind, s = same_outcome(q)
    assert kind == "ok" and s.joints.shape == (3, 0, 25, 3) and s.is_empty


def test_many_bodies(tmp_path):
    p = _small(tmp_path, T=2, M=7)
    kind, s = same_outcome(p)
    assert kind == "ok" and s.joints.shape == (2, 7, 25, 3)
    assert s.body_ids.tolist() == list(np.arange(7) + 72057594037931101)


def test_truncated_file(tmp_path):
    p = _small(tmp_path, T=3)
    ls = _lines(p)
    _put(p, ls[:40])                        # frame 2 stops after 11 joint lines
    msg = err_of(p, "unexpected end of file")
    assert msg == (f"{p}:41: unexpected end of file (frame 2 of 3), expected a joint line of "
                   "12 values (x y z depthX depthY colorX colorY orientationW orientationX "
                   "orientationY orientationZ trackingState)")
    # cut in the middle of a number: the last line has too few values
    raw = _small(tmp_path, T=1).read_bytes()
    p.write_bytes(raw[: len(raw) // 2])
    err_of(p, r":\d+: expected a joint line of 12 values .*got \d+ values \(frame 1 of 1\)")


def test_header_claims_more_frames(tmp_path):
    p = _small(tmp_path, T=3)
    ls = _lines(p)
    ls[0] = b"200"
    _put(p, ls)
    err_of(p, r":86: unexpected end of file \(frame 4 of 200\), expected the body count")


def test_header_claiming_1e9_frames_does_not_allocate(tmp_path):
    p = _small(tmp_path, T=3)
    ls = _lines(p)
    ls[0] = b"1000000000"
    _put(p, ls)
    import tracemalloc  # numpy reports its buffers to tracemalloc
    tracemalloc.start()
    err_of(p, r":1: header claims 1000000000 frames but the file has only \d+ bytes")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 16 * 2**20, peak
    ls[1] = b"1000000000"                  # a huge body count: plain truncation
    ls[0] = b"3"
    _put(p, ls)
    # the body count of frame 2 is read as the second body line of frame 1
    err_of(p, r":30: expected a body line of 10 values .*got 1 value \(frame 1 of 3\)")


def test_many_frames_times_many_ids_is_refused(tmp_path):
    """Allocation stays bounded by the file size even for a (T, M) product attack."""
    one = _small(tmp_path, T=1, M=40).read_bytes().split(b"\r\n", 1)[1]
    p = tmp_path / "bomb.skeleton"
    p.write_bytes(b"60000\r\n" + b"0\r\n" * 59999 + one)
    err_of(p, r":1: 40 distinct body IDs over 60000 frames would need .* GiB")


def test_wrong_joint_count(tmp_path):
    p = _small(tmp_path)
    ls = _lines(p)
    ls[3] = b"24"
    _put(p, ls)
    assert err_of(p, "joints") == f"{p}:4: expected 25 joints, got 24 (frame 1 of 3)"


def test_wrong_value_count(tmp_path):
    p = _small(tmp_path)
    ls = _lines(p)
    ls[10] = b" ".join(ls[10].split()[:11])
    _put(p, ls)
    err_of(p, r":11: expected a joint line of 12 values .*got 11 values \(frame 1 of 3\)")
    ls = _lines(_small(tmp_path))
    ls[2] = ls[2] + b" 7"
    _put(p, ls)
    err_of(p, r":3: expected a body line of 10 values .*got 11 values")


def test_non_numeric_value(tmp_path):
    p = _small(tmp_path)
    ls = _lines(p)
    f = ls[12].split()
    f[4] = b"abc"
    ls[12] = b" ".join(f)
    _put(p, ls)
    assert err_of(p, "number") == f"{p}:13: expected a number, got 'abc'"
    # an earlier bad number wins over a later structural error (both engines)
    ls[40] = b"1 2"
    _put(p, ls)
    assert err_of(p, "number") == f"{p}:13: expected a number, got 'abc'"


def test_bad_counts_and_ids(tmp_path):
    p = _small(tmp_path)
    ls = _lines(p)
    ls[2] = b"7.2e16" + ls[2][17:]
    _put(p, ls)
    err_of(p, r":3: expected an integer body ID, got '7.2e16'")
    ls = _lines(_small(tmp_path))
    ls[1] = b"-1"
    _put(p, ls)
    err_of(p, r":2: expected the body count \(one integer\), got '-1'")
    ls[0] = b"x"
    _put(p, ls)
    err_of(p, r":1: expected the frame count \(one integer\), got 'x'")


def test_trailing_data(tmp_path):
    p = _small(tmp_path)
    raw = p.read_bytes()
    p.write_bytes(raw + b"\r\n\r\n  \r\n")              # whitespace is fine
    assert same_outcome(p)[0] == "ok"
    p.write_bytes(raw + b"\r\n\r\nabc def\r\n")
    err_of(p, r":88: expected end of file after 3 frames, got 'abc'")


def test_binary_garbage(tmp_path):
    rng = np.random.default_rng(1)
    p = tmp_path / "g.skeleton"
    for i in range(5):
        p.write_bytes(rng.integers(0, 256, 2000, dtype=np.uint8).tobytes())
        err_of(p, r":\d+: expected")
    raw = _small(tmp_path).read_bytes()
    p.write_bytes(raw[:500] + b"\x00\xff\xfe" + raw[500:])
    err_of(p, r":\d+: expected")


def test_exotic_number_spellings_match_python_float(tmp_path):
    p = _small(tmp_path, T=1)
    ls = _lines(p)
    spell = [b"nan", b"-inf", b"1e-05", b"1.00000000000000000001", b"+.5", b"7.", b"1e39",
             b"123456789012345678901234", b"-0", b"4e-30", b"1_0", b"0.1"]
    ls[4] = b" ".join(spell)
    _put(p, ls)
    kind, s = same_outcome(p)
    assert kind == "ok"
    got = np.concatenate([s.joints[0, 0, 0], s.depth[0, 0, 0], s.color[0, 0, 0],
                          s.orientation[0, 0, 0]]).tolist() + [s.tracking[0, 0, 0]]
    with np.errstate(over="ignore"):
        want = np.float32([float(x) for x in spell])
    assert np.array_equal(np.float32(got[:11]), want[:11], equal_nan=True)
    assert np.signbit(s.orientation[0, 0, 0, 1]) and s.tracking[0, 0, 0] == 0


def test_duplicate_body_id_in_a_frame_keeps_last(tmp_path):
    p = _small(tmp_path, T=1, M=2)
    ls = _lines(p)
    ls[29] = ls[2]                           # second body gets the first body's ID
    _put(p, ls)
    kind, s = same_outcome(p)
    assert kind == "ok" and s.num_bodies == 1 and s.body_counts.tolist() == [2]
    second = np.float32([float(x) for x in ls[31].split()[:3]])
    assert np.array_equal(s.joints[0, 0, 0], second)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzz_engines_agree(tmp_path, data):
    """Random byte edits of a small valid file: both engines agree (same arrays or the
    same one-line error), never another exception."""
    raw = bytearray(_small(tmp_path, T=2, M=1, name="base.skeleton").read_bytes())
    for _ in range(data.draw(st.integers(1, 3))):
        op = data.draw(st.sampled_from(["set", "del", "ins"]))
        i = data.draw(st.integers(0, len(raw) - 1))
        b = data.draw(st.sampled_from(b"0123456789 .-+eE\r\nx\t\x00"))
        if op == "set":
            raw[i] = b
        elif op == "del":
            del raw[i]
        else:
            raw.insert(i, b)
    p = tmp_path / "fuzz.skeleton"
    p.write_bytes(bytes(raw))
    same_outcome(p)


def test_python_engine_errors_are_format_errors(tmp_path):
    p = tmp_path / "e.skeleton"
    p.write_bytes(b"2\r\n1\r\n")
    with pytest.raises(SkeletonFormatError, match=str(p)):
        read_skeleton(p, engine="python")
    with pytest.raises(ValueError, match="engine"):
        read_skeleton(p, engine="fast")


def test_take_bodies(ntu_dir):
    s = read_skeleton(ntu_dir / "S001C003P008R002A058.skeleton")
    r = s.take_bodies([1, 0])
    assert np.array_equal(r.joints[:, 0], s.joints[:, 1]) and r.body_ids[0] == s.body_ids[1]
    assert r.body_counts is s.body_counts and r.present.shape == (70, 2)


# ------------------------------------------------------------------ body selection
def _person(T, rng, x0=0.0, amp=0.3, tall=True):
    """(T, 25, 3) a standing-person-like cloud: taller than wide, moving in x."""
    base = np.stack([rng.uniform(-0.2, 0.2, 25), rng.uniform(-0.8, 0.8, 25),
                     rng.uniform(2.9, 3.1, 25)], -1)
    if not tall:                               # furniture / lying: wide and flat
        base = base[:, [1, 0, 2]]
    move = amp * np.sin(np.linspace(0, 6, T))[:, None, None] * np.array([1.0, 0.2, 0])
    return (base[None] + move + np.array([x0, 0, 0])).astype(np.float32)


def _skel(tmp_path, bodies, T):
    """bodies: list of (id, frames, (T,25,3) joints) -> NTUSkeleton via the writer."""
    M = len(bodies)
    j = np.zeros((T, M, 25, 3), np.float32)
    present = np.zeros((T, M), bool)
    for m, (_, frames, pts) in enumerate(bodies):
        j[frames, m] = pts[frames]
        present[frames, m] = True
    p = tmp_path / "S001C001P001R001A050.skeleton"
    write_skeleton(p, j, np.zeros((T, M, 25, 2), np.float32), [b[0] for b in bodies],
                   present=present)
    return read_skeleton(p)


def test_select_bodies_drops_noise_and_furniture(tmp_path):
    rng = np.random.default_rng(0)
    T = 60
    allf = np.arange(T)
    a = (11, allf, _person(T, rng, -0.5, amp=0.4))
    b = (22, allf, _person(T, rng, 0.5, amp=0.2))
    noise = (33, np.array([7]), _person(T, rng, 0, amp=0) * 3)       # 1-frame, huge spread
    sofa = (44, allf, _person(T, rng, 1.5, amp=0.0, tall=False) * 1.5)  # wide, static
    s = _skel(tmp_path, [noise, sofa, b, a], T)
    out = ntu.select_bodies(s)
    assert out.body_ids.tolist() == [11, 22]         # ranked by motion, noise removed
    assert np.array_equal(out.joints[:, 0], a[2]) and out.present.all()
    assert ntu.select_bodies(s, max_bodies=1).body_ids.tolist() == [11]
    assert ntu.select_bodies(s, rule="motion").body_ids.tolist() == [11, 22]
    # Kinect noise flickering in 3 frames has a huge temporal variance: the plain motion
    # rule keeps it, the length filter of the ctrgcn rule drops it (why ctrgcn is default)
    flicker = _person(T, rng, 0, amp=0) + rng.normal(0, 2, (T, 1, 3)).astype(np.float32)
    s = _skel(tmp_path, [(55, np.array([3, 4, 5]), flicker), b, a], T)
    assert 55 in ntu.select_bodies(s, rule="motion").body_ids.tolist()
    assert ntu.select_bodies(s).body_ids.tolist() == [11, 22]
    with pytest.raises(ValueError, match="rule"):
        ntu.select_bodies(s, rule="energy")


def test_select_bodies_merges_reentering_person(tmp_path):
    rng = np.random.default_rng(1)
    T = 80
    pa = _person(T, rng, -0.5, amp=0.5)
    first, second = np.arange(0, 40), np.arange(40, T)                # new ID at frame 40
    b = (22, np.arange(T), _person(T, rng, 0.5, amp=0.2))
    s = _skel(tmp_path, [(11, first, pa), b, (12, second, pa)], T)
    assert s.num_bodies == 3
    out = ntu.select_bodies(s)
    assert out.num_bodies == 2 and out.present.all()
    merged = out.body_ids.tolist().index(22) ^ 1
    assert np.array_equal(out.joints[:, merged], pa)
    assert out.body_ids[merged] in (11, 12)


def test_select_bodies_edge_cases(tmp_path, ntu_dir):
    rng = np.random.default_rng(2)
    s = read_skeleton(ntu_dir / "S001C003P008R002A058.skeleton")
    out = ntu.select_bodies(s)
    assert sorted(out.body_ids.tolist()) == sorted(s.body_ids.tolist())
    # all bodies short: the length filter is skipped rather than dropping everyone
    T = 8
    s = _skel(tmp_path, [(1, np.arange(T), _person(T, rng, amp=0.1)),
                         (2, np.arange(T), _person(T, rng, amp=0.5))], T)
    assert ntu.select_bodies(s).body_ids.tolist() == [2, 1]
    empty = _skel(tmp_path, [], 3)
    assert ntu.select_bodies(empty).num_bodies == 0
    with pytest.raises(ValueError, match="max_bodies"):
        ntu.select_bodies(s, max_bodies=0)


# ------------------------------------------------------------------ numba availability
def test_numba_cache_unavailable_falls_back_to_uncached(tmp_path, monkeypatch):
    """numba raises RuntimeError at decoration when no cache dir is writable: we then
    compile without cache. (A stand-in njit runs the kernel as Python to keep it fast.)"""
    import numba
    calls = []

    def fake_njit(cache=False, nogil=False):
        calls.append(cache)
        if cache:
            raise RuntimeError("cannot cache function '_nb_kernel': no locator available")
        return lambda f: f

    monkeypatch.setattr(numba, "njit", fake_njit)
    monkeypatch.setattr(ntu, "_NUMBA_KERNEL", None)
    p = _small(tmp_path, T=1)
    s = read_skeleton(p)
    assert calls == [True, False]
    assert_same(s, read_skeleton(p, engine="numpy"))


def test_without_numba_the_numpy_engine_is_used(tmp_path, monkeypatch):
    def no_numba():
        raise ImportError("No module named 'numba'")

    monkeypatch.setattr(ntu, "_numba_kernel", no_numba)
    p = _small(tmp_path, T=2)
    with pytest.warns(RuntimeWarning, match="numpy engine"):
        s = read_skeleton(p)
    assert_same(s, read_skeleton(p, engine="numpy"))


def test_import_is_light():
    """numba is imported on the first numba read, not by ``import mmff.data.ntu``."""
    import subprocess
    import sys
    code = "import sys, mmff.data.ntu, mmff.data.pyskl; print('numba' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "False"


@pytest.mark.parametrize("name", REAL)
def test_writer_reproduces_release_files_byte_for_byte(ntu_dir, tmp_path, name):
    """With 7 significant digits the writer gives back a release-format file exactly (the
    stand-ins are printed like the release by an independent writer)."""
    src = ntu_dir / f"{name}.skeleton"
    s = read_skeleton(src)
    out = tmp_path / src.name
    write_skeleton(out, s.joints, s.color, s.body_ids, depth=s.depth,
                   orientation=s.orientation, tracking=s.tracking, body_info=s.body_info,
                   present=s.present, digits=7)
    assert out.read_bytes() == src.read_bytes()
