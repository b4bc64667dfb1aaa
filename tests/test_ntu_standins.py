"""The NTU-format stand-ins in tests/data/ntu: made by their generator, read exactly, and
consistent with each other (skeleton vs video). See tests/data/make_ntu_standins.py."""
from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

import av
import numpy as np
import pytest

from mmff.data.ntu import read_missing_list, read_skeleton

GEN_PATH = Path(__file__).resolve().parent / "data" / "make_ntu_standins.py"
NAMES = ["S001C001P001R001A001", "S001C001P001R001A011", "S001C003P008R002A058"]


@pytest.fixture(scope="module")
def gen():
    spec = importlib.util.spec_from_file_location("make_ntu_standins", GEN_PATH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def line_by_line(path: Path) -> dict:
    """A plain reader of the release format, written independently of mmff.data.ntu:
    per frame, per listed body, the body line, '25' and 25 joint lines."""
    lines = path.read_bytes().decode("ascii").splitlines()
    it = iter(lines)
    T = int(next(it))
    ids, frames = [], []
    for _ in range(T):
        bodies = {}
        for _ in range(int(next(it))):
            head = next(it).split()
            assert len(head) == 10 and next(it) == "25"
            rows = [next(it).split() for _ in range(25)]
            assert all(len(r) == 12 for r in rows)
            bid = int(head[0])
            if bid not in ids:
                ids.append(bid)
            bodies[bid] = (head[1:], rows)
        frames.append(bodies)
    assert next(it, None) is None
    M = len(ids)
    out = {"joints": np.zeros((T, M, 25, 3), np.float32), "depth": np.zeros((T, M, 25, 2), np.float32),
           "color": np.zeros((T, M, 25, 2), np.float32),
           "orientation": np.zeros((T, M, 25, 4), np.float32),
           "tracking": np.zeros((T, M, 25), np.int8), "body_info": np.zeros((T, M, 9), np.float32),
           "present": np.zeros((T, M), bool), "body_counts": np.zeros(T, np.int32),
           "body_ids": np.array(ids, np.int64)}
    for t, bodies in enumerate(frames):
        out["body_counts"][t] = len(bodies)
        for bid, (info, rows) in bodies.items():
            m = ids.index(bid)
            out["present"][t, m] = True
            out["body_info"][t, m] = [np.float32(v) for v in info]
            vals = np.array([[np.float32(v) for v in r[:11]] for r in rows], np.float32)
            out["joints"][t, m], out["depth"][t, m] = vals[:, :3], vals[:, 3:5]
            out["color"][t, m], out["orientation"][t, m] = vals[:, 5:7], vals[:, 7:11]
            out["tracking"][t, m] = [int(r[11]) for r in rows]
    return out


def test_files_match_the_manifest(ntu_dir, ntu_truth):
    """Every committed stand-in is the file the generator recorded (SHA-256)."""
    files = {p.relative_to(ntu_dir).as_posix() for p in ntu_dir.rglob("*")
             if p.is_file() and p.name != "standins.json"}
    assert files == set(ntu_truth["sha256"])
    for rel, digest in ntu_truth["sha256"].items():
        assert hashlib.sha256((ntu_dir / rel).read_bytes()).hexdigest() == digest, rel


def test_generator_reproduces_the_text_files(gen, ntu_dir):
    """The skeleton and name-list stand-ins are bit-reproducible from the script."""
    for rel, make in gen.TEXT_FILES.items():
        assert make().encode("ascii") == (ntu_dir / rel).read_bytes(), rel


@pytest.mark.parametrize("name", NAMES)
def test_reader_equals_an_independent_line_reader(ntu_dir, ntu_truth, name):
    path = ntu_dir / f"{name}.skeleton"
    raw = path.read_bytes()
    assert raw.count(b"\r\n") == raw.count(b"\n") == ntu_truth["skeletons"][name]["lines"]
    ref = line_by_line(path)
    s = read_skeleton(path)
    for k, v in ref.items():
        got = getattr(s, k)
        assert got.dtype == v.dtype and got.shape == v.shape and np.array_equal(got, v), k
    truth = ntu_truth["skeletons"][name]
    T, M = truth["frames"], truth["bodies"]
    assert s.joints.shape == (T, M, 25, 3) and s.present.all() and (s.body_counts == M).all()
    assert s.body_ids.tolist() == truth["body_ids"] and s.body_ids.min() > 2 ** 56


def test_lf_variant_reads_like_crlf(ntu_dir):
    lf = ntu_dir / "lf" / "S001C001P001R001A011.skeleton"
    crlf = ntu_dir / "S001C001P001R001A011.skeleton"
    assert b"\r" not in lf.read_bytes() and lf.read_bytes() == crlf.read_bytes().replace(b"\r\n", b"\n")
    a, b = read_skeleton(lf), read_skeleton(crlf)
    for k in ("joints", "color", "depth", "orientation", "tracking", "body_info", "present"):
        assert np.array_equal(getattr(a, k), getattr(b, k)), k


@pytest.mark.parametrize("name", NAMES)
def test_realistic_values(ntu_dir, name):
    """Metres in front of a Kinect v2, colour pixels inside 1920x1080 given by the colour
    camera's pinhole projection of the joints, unit quaternions, a person's height."""
    s = read_skeleton(ntu_dir / f"{name}.skeleton")
    j = s.joints.astype(np.float64)
    assert (np.abs(j[..., 0]) < 2).all() and (j[..., 2] > 2).all() and (j[..., 2] < 4.5).all()
    fx, fy, cx, cy = 1081.37, 1081.37, 959.5, 539.5
    u, v = cx + fx * j[..., 0] / j[..., 2], cy - fy * j[..., 1] / j[..., 2]
    np.testing.assert_allclose(s.color, np.stack([u, v], -1), atol=0.01)
    assert (s.color[..., 0] > 0).all() and (s.color[..., 0] < 1920).all()
    assert (s.color[..., 1] > 0).all() and (s.color[..., 1] < 1080).all()
    height = j[:, :, 3, 1] - j[:, :, 15, 1]               # head above the left foot
    assert ((height > 1.3) & (height < 1.9)).all()
    q = np.linalg.norm(s.orientation.astype(np.float64), axis=-1)
    assert np.all((np.abs(q - 1) < 1e-5) | (q == 0))
    assert set(np.unique(s.tracking).tolist()) <= {1, 2}


def test_video_matches_the_skeleton(ntu_dir, ntu_truth, gen):
    """The A001 video has the skeleton's frame count, 1920x1080, one keyframe, B-frames, and
    shows the body at its colour coordinates (the head joint is on the drawn figure, the
    image corner is background)."""
    name = "S001C001P001R001A001"
    s = read_skeleton(ntu_dir / f"{name}.skeleton")
    info = ntu_truth["videos"][f"{name}_rgb.avi"]
    c = av.open(str(ntu_dir / f"{name}_rgb.avi"))
    st = c.streams.video[0]
    assert (st.codec_context.name, st.width, st.height) == ("h264", 1920, 1080)
    packets = [p for p in c.demux(st) if p.size]
    assert len(packets) == info["frames"] == s.num_frames
    assert sum(p.is_keyframe for p in packets) == 1
    c.close()
    assert gen.nal_ref_counts(ntu_dir / f"{name}_rgb.avi") == (103, info["nonref_packets"])
    assert info["nonref_packets"] > 30          # B-frames: reordered, non-reference
    c = av.open(str(ntu_dir / f"{name}_rgb.avi"))
    for t, frame in enumerate(c.decode(video=0)):
        if t in (0, 51, 102):
            img = frame.to_ndarray(format="rgb24").astype(int)
            hx, hy = np.round(s.color[t, 0, 3]).astype(int)
            assert img[hy, hx, 0] - img[hy, hx, 2] > 100, t       # the red figure
            assert abs(img[20, 20, 0] - img[20, 20, 2]) < 30, t   # grey background
    c.close()


def test_name_lists(ntu_dir, ntu_truth, gen):
    for which, miss in (("NTU60", "NTU_RGBD_samples_with_missing_skeletons.txt"),
                        ("NTU120", "NTU_RGBD120_samples_with_missing_skeletons.txt")):
        lines = (ntu_dir / miss).read_text().splitlines()
        assert len(lines[0]) > 0 and len(lines[1]) > 0 and lines[2] == ""   # 2 headers, blank
        avail = (ntu_dir / f"{which}_skes_available_name.txt").read_text().split()
        truth = ntu_truth["lists"][which]
        assert len(avail) == truth["available"] and len(read_missing_list(ntu_dir / miss)) == truth["missing"]
        assert (avail, sorted(read_missing_list(ntu_dir / miss))) == gen.generated_names(which)
