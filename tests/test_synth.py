"""SynthHOI generator: NTU formats, determinism, projection, splits, the design properties."""
from __future__ import annotations

import hashlib
import os
import re
import shutil
from pathlib import Path

import av
import numpy as np
import pytest

from mmff.cli import main
from mmff.data import synth as S
from mmff.data.ntu import parse_name, read_skeleton, split_subset

SIZE = (64, 48)
CLASSES = [0, 5, 13]          # a forward motion, a reversed one, another pair/object


def _digest(folder: Path) -> dict:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.iterdir()) if not p.name.startswith(".")}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "raw"
    summary = S.generate(out, samples_per_class=2, seed=3, size=SIZE, workers=1,
                         progress=False, classes=CLASSES)
    assert summary["written"] == 2 * len(CLASSES) and not summary["failed"]
    return out


def test_same_bytes_for_a_seed_any_workers(tiny, tmp_path):
    again = tmp_path / "again"
    s = S.generate(again, samples_per_class=2, seed=3, size=SIZE, workers=2, progress=False,
                   classes=CLASSES)
    assert s["written"] == 6
    assert _digest(again) == _digest(tiny)
    other = tmp_path / "other"
    S.generate(other, samples_per_class=2, seed=4, size=SIZE, progress=False, classes=CLASSES)
    a, b = _digest(tiny), _digest(other)
    assert a.keys() == b.keys()
    assert all(a[k] != b[k] for k in a if k.endswith((".skeleton", ".avi")))


def test_ntu_round_trip(tiny):
    skels = sorted(tiny.glob("*.skeleton"))
    assert len(skels) == 6
    for path in skels:
        name = parse_name(path.name)
        assert name.action - 1 in CLASSES and 1 <= name.performer <= 40
        skel = read_skeleton(path)
        T = skel.joints.shape[0]
        assert skel.joints.shape == (T, 1, 25, 3) and skel.color.shape == (T, 1, 25, 2)
        assert 40 <= T <= 80
        assert np.all(skel.joints[..., 2] > 1.5)                 # in front of the camera
        video = path.with_name(path.name.replace(".skeleton", "_rgb.avi"))
        with av.open(str(video)) as c:
            st = c.streams.video[0]
            assert (st.codec_context.width, st.codec_context.height) == SIZE
            assert round(float(st.average_rate)) == S.FPS
            frames = [f.to_ndarray(format="rgb24") for f in c.decode(st)]
        # header frame count is exact and the video has 0-2 frames more than the skeleton
        assert st.frames == len(frames) and 0 <= len(frames) - T <= 2
        assert frames[len(frames) // 2].std() > 5                # not a blank frame


def test_color_is_the_pinhole_projection(tiny):
    intr = S.camera_intrinsics(*SIZE)
    fx, fy, cx, cy = intr
    for path in sorted(tiny.glob("*.skeleton")):
        skel = read_skeleton(path)
        x, y, z = np.moveaxis(skel.joints[:, 0].astype(np.float64), -1, 0)
        expected = np.stack([fx * x / z + cx, cy - fy * y / z], -1)
        np.testing.assert_allclose(skel.color[:, 0], expected, atol=2e-3)
        np.testing.assert_allclose(skel.depth[:, 0], S.depth_projection(skel.joints[:, 0]),
                                   atol=2e-3)
        u, v = skel.color[..., 0], skel.color[..., 1]           # the body stays in the frame
        assert u.min() >= 0 and v.min() >= 0 and u.max() < SIZE[0] and v.max() < SIZE[1]


def test_classes_file_and_resume(tiny):
    lines = (tiny / "classes.txt").read_text().splitlines()
    assert lines == list(S.SYNTH_CLASSES) and len(lines) >= 12
    assert lines[0] == "raise the cup to the head" and lines[4] == "lower the cup from the head"
    before = {p.name: p.stat().st_mtime_ns for p in tiny.iterdir()
              if p.suffix in (".skeleton", ".avi")}
    s = S.generate(tiny, samples_per_class=2, seed=3, size=SIZE, progress=False, classes=CLASSES)
    assert s["written"] == 0 and s["skipped"] == 6
    after = {p.name: p.stat().st_mtime_ns for p in tiny.iterdir()
             if p.suffix in (".skeleton", ".avi")}
    assert after == before
    assert not [p for p in tiny.iterdir() if p.name.startswith(".")]   # no temp files left


def test_plan_covers_the_ntu_splits():
    plan = S.sample_plan(24)
    names = [s.name for s in plan]
    assert len(set(names)) == len(names) == 24 * len(S.SYNTH_CLASSES)
    assert len({s.name for s in S.sample_plan(250, num_classes=2)}) == 500   # never collide
    for label in range(len(S.SYNTH_CLASSES)):
        mine = [n for n, s in zip(names, plan) if s.label == label]
        xsub = [split_subset(n, "ntu60_xsub") for n in mine]
        xview = [split_subset(n, "ntu60_xview") for n in mine]
        assert xsub.count("train") == xsub.count("test") == 12
        assert {parse_name(n).camera for n in mine} == {1, 2, 3}
        assert {"train", "test"} <= set(xview)
    subjects = {s.subject for s in plan}
    assert subjects == set(range(1, 41))


def test_reversed_motion_is_the_forward_one_played_backwards():
    """Why one RGB frame cannot tell the direction: with the same random draws, a reversed
    class is exactly the forward performance in reverse order (so the frame at p = 0.5 has the
    same distribution); the object never enters the skeleton simulation."""
    intr = S.camera_intrinsics(320, 240)
    traits = S._subject_traits(0, 7)
    for pair in range(len(S.MOTIONS) // 2):
        fwd, bwd = S.MOTIONS[2 * pair], S.MOTIONS[2 * pair + 1]
        assert not fwd.reverse and bwd.reverse and (fwd.start, fwd.end) == (bwd.start, bwd.end)
        a, _ = S.simulate_skeleton(np.random.default_rng(11), fwd, traits, 2, intr, (320, 240))
        b, _ = S.simulate_skeleton(np.random.default_rng(11), bwd, traits, 2, intr, (320, 240))
        np.testing.assert_array_equal(a[::-1], b)
        # while the whole sequences differ in time: first frames are far apart
        assert np.linalg.norm(a[0, S.R_HAND] - b[0, S.R_HAND]) > 0.2


def test_direction_is_invisible_at_the_middle_frame_but_not_in_the_sequence():
    """Nearest-centroid check over many performances: the right hand at p = 0.5 separates
    the two directions no better than chance, the hand at p = 0.2 separates them."""
    intr = S.camera_intrinsics(320, 240)
    hand = {True: [], False: []}
    for i in range(80):
        m = S.MOTIONS[i % 2]
        traits = S._subject_traits(0, i % 40 + 1)
        J, _ = S.simulate_skeleton(np.random.default_rng(1000 + i), m, traits, 2, intr,
                                   (320, 240))
        rel = J - J[:, S.SPINE_BASE:S.SPINE_BASE + 1]
        T = len(J)
        hand[m.reverse].append([rel[round(0.5 * (T - 1)), S.R_HAND],
                                rel[round(0.2 * (T - 1)), S.R_HAND]])
    f, r = np.array(hand[False]), np.array(hand[True])          # (40, 2, 3)

    def centroid_acc(k):
        tr_f, te_f, tr_r, te_r = f[::2, k], f[1::2, k], r[::2, k], r[1::2, k]
        cf, cr = tr_f.mean(0), tr_r.mean(0)
        right = np.concatenate([np.linalg.norm(te_f - cf, axis=1) < np.linalg.norm(te_f - cr,
                                                                                   axis=1),
                                np.linalg.norm(te_r - cr, axis=1) < np.linalg.norm(te_r - cf,
                                                                                   axis=1)])
        return right.mean()

    assert centroid_acc(1) > 0.9
    assert centroid_acc(0) < 0.75


def test_cli(tmp_path, capsys):
    out = tmp_path / "cli"
    rc = main(["synth", "--out", str(out), "--samples-per-class", "1", "--size", "64x48",
               "--workers", "1", "--no-progress"])
    assert rc == 0
    assert len(list(out.glob("*.skeleton"))) == len(S.SYNTH_CLASSES) == \
        len(list(out.glob("*_rgb.avi")))
    assert "written" in capsys.readouterr().out
    assert main(["synth", "--out", str(out), "--size", "65x48"]) == 2
    assert "65x48" in capsys.readouterr().err


@pytest.mark.parametrize("text, size", [("320x240", (320, 240)), ("1920X1080", (1920, 1080)),
                                        ((64, 48), (64, 48)), ("32x24", (32, 24))])
def test_parse_size(text, size):
    assert S.parse_size(text) == size


@pytest.mark.parametrize("text", ["320", "2000x1080", "321x240", "320x241", "30x24", "axb", "320x240x2"])
def test_parse_size_rejects(text):
    with pytest.raises(ValueError):
        S.parse_size(text)


def test_no_stray_files_after_a_failed_encode(tmp_path):
    frames = np.zeros((3, 48, 64, 3), np.uint8)
    with pytest.raises(Exception):
        S.encode_video(tmp_path / "x_rgb.avi", frames[..., :2])       # wrong channel count
    assert os.listdir(tmp_path) == []


def _sysu_cli(out, *extra):
    return main(["synth", "--format", "sysu", "--out", str(out), "--samples-per-class", "1",
                 "--size", "64x48", "--workers", "1", *extra])


def _counts(text: str) -> tuple[int, int, int]:
    m = re.search(r"(\d+) written, (\d+) already there, (\d+) failed", text)
    assert m, text
    return tuple(int(g) for g in m.groups())


def test_cli_sysu_progress_overwrite_strict(tmp_path, capsys):
    """`mmff synth --format sysu` honours --no-progress, --overwrite and --strict."""
    out = tmp_path / "sysu"
    assert _sysu_cli(out) == 0                                  # progress bar on stderr
    cap = capsys.readouterr()
    assert _counts(cap.out) == (12, 0, 0) and "synth sysu" in cap.err
    seq = out / "3DvideoNorm" / "Subject01" / "video1"
    world = (seq / "sklWorld.mat").read_bytes()
    frames = sorted(p.name for p in (seq / "rgb").iterdir())
    (seq / "sklWorld.mat").write_bytes(b"stale")
    (seq / "rgb" / "999.jpg").write_bytes(b"stale")
    assert _sysu_cli(out, "--no-progress") == 0                 # resume: nothing rewritten
    cap = capsys.readouterr()
    assert _counts(cap.out) == (0, 12, 0) and cap.err == ""
    assert (seq / "sklWorld.mat").read_bytes() == b"stale"
    assert _sysu_cli(out, "--no-progress", "--overwrite") == 0  # every sequence rewritten
    assert _counts(capsys.readouterr().out) == (12, 0, 0)
    assert (seq / "sklWorld.mat").read_bytes() == world
    assert sorted(p.name for p in (seq / "rgb").iterdir()) == frames   # no stale frame left
    bad = out / "3DvideoNorm" / "Subject01" / "video2"
    shutil.rmtree(bad)
    bad.write_text("a file where a sequence folder belongs")
    for strict, rc in ((False, 0), (True, 1)):
        assert _sysu_cli(out, "--no-progress", *(["--strict"] if strict else [])) == rc
        cap = capsys.readouterr()
        assert _counts(cap.out) == (0, 11, 1)
        err = cap.err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("Subject01/video2: ") and str(bad) in err[0]
