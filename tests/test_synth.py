"""SynthHOI generator: NTU formats, determinism, projection, splits, the design properties."""
from __future__ import annotations

import hashlib
import json
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
from mmff.data.video import frame_index

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


# --------------------------------------------------------------------------- v1 stays v1
#: sha256 of SynthHOI v1 files made before v2 existed (the demo's published numbers rest on
#: them); seed 0: classes 0, 5, 13 x 2 samples at 64x48, and one 320x240 sample (the demo's).
V1_PINNED = {
    "S001C001P001R001A001.skeleton":
        "a88b18dd9f2e78519b30399801cea9ce7404bf168c1a6757c7ca85909ecd4ebf",
    "S001C001P001R001A001_rgb.avi":
        "389689db4723fe227a9df249d04f29477573ecbf9b259513e6f2c9ee7f4e6960",
    "S001C001P028R001A006.skeleton":
        "3ce48b713b30a73dba79f5bce7e202d07a74158edab7d49511c3349bed9feea8",
    "S001C001P028R001A006_rgb.avi":
        "141c4d19e0c3bc768dabc469acde769c9795ccc05f9fd64cc9bab0ea0e607c34",
    "S001C001P038R001A014.skeleton":
        "497e834a419c5dca8a12c74f20bb01d47915024b05040518a5822ad206c6bed4",
    "S001C001P038R001A014_rgb.avi":
        "0c513c2606f2764bf8426b911c163aa75b5726e6db21732213ef977321e399a7",
    "S001C002P003R001A001.skeleton":
        "1532a7494df97ffa615919d8d5cafcd5c5813310ea4b934b57a369018dbfc297",
    "S001C002P003R001A001_rgb.avi":
        "40546f586fc5f4f5e847a004ddcb3678facf05d9cc9ceebcee9be628761842a0",
    "S001C002P033R001A006.skeleton":
        "f1bcb10f55990d98c905d014ff27fe0c01ae6cd20d73e9858be048e1fcdda9a4",
    "S001C002P033R001A006_rgb.avi":
        "d0c2bdbe578df5768970a4225e7338f05a6deda42fb4a8666aa1755cf47397d1",
    "S001C002P040R001A014.skeleton":
        "798654b428a4575208ac48b37d7396ad06a956cd12356404ef0332f2317ff911",
    "S001C002P040R001A014_rgb.avi":
        "30a76dfab9e0184c88749d740325b59485a5865ab2f3be1eeef91ba427a076aa",
    "demo/S001C001P002R001A008.skeleton":
        "25fae1c9fd4329558036de7632786972707987587525484f4dd11a6637032658",
    "demo/S001C001P002R001A008_rgb.avi":
        "11389ff595935d02058f79c409776559f2db28119c60ed60f03b771a3b565250",
}


def _has_x264() -> bool:
    try:
        av.codec.Codec("libx264", "w")
        return True
    except Exception:  # noqa: BLE001 - this PyAV build has no libx264
        return False


def _generator(folder: Path) -> str:
    return json.loads((folder / "synth.json").read_text())["generator"]


def test_v1_output_is_unchanged(tmp_path):
    """Version 1 (the default) writes exactly the bytes it wrote before v2 was added. The
    videos' bytes also depend on the encoder: pinned for the libx264 build of the pinned PyAV
    (scripts/constraints.txt); the skeleton files depend on numpy alone."""
    S.generate(tmp_path, samples_per_class=2, seed=0, size=(64, 48), progress=False,
               classes=[0, 5, 13])
    S.generate(tmp_path / "demo", samples_per_class=1, seed=0, progress=False, classes=[7])
    assert _generator(tmp_path) == "mmff.data.synth/1"
    assert "version" not in json.loads((tmp_path / "synth.json").read_text())
    check_videos = _has_x264()
    for name, digest in V1_PINNED.items():
        if name.endswith(".avi") and not check_videos:
            continue
        assert hashlib.sha256((tmp_path / name).read_bytes()).hexdigest() == digest, name


# --------------------------------------------------------------------------- SynthHOI v2
V2_SIZE = (320, 180)
V2_CLASSES = [0, 5, 13, 22]   # raise (fwd), lower (reversed), push, bring down from overhead


@pytest.fixture(scope="module")
def v2(tmp_path_factory) -> tuple[Path, dict]:
    """A handful of v2 samples written to disk, and each one's :func:`build_sample` (the
    generator's own per-frame ground truth, the same draws as the written files)."""
    out = tmp_path_factory.mktemp("synth2") / "raw"
    summary = S.generate(out, samples_per_class=2, seed=3, size=V2_SIZE, progress=False,
                         classes=V2_CLASSES, version=2)
    assert summary["written"] == 2 * len(V2_CLASSES) and not summary["failed"]
    plan = [s for s in S.sample_plan(2) if s.label in V2_CLASSES]
    return out, {s.name: (s, S.build_sample(s, seed=3, size=V2_SIZE, version=2)) for s in plan}


def _cases(v2):
    """(name, sample, built sample, its scene, the class object's kind, T) per v2 sample."""
    for name, (sample, b) in v2[1].items():
        yield name, sample, b, b.scene, sample.label % len(S.OBJECTS), len(b.joints)


def _scene(sample, seed: int = 0, size=(480, 270)):
    """The v2 scene of ``sample`` as :func:`build_sample` simulates it (same draws), unrendered."""
    return S.scene_of(sample, seed, size)


def _kind_at(img: np.ndarray, uv) -> int | None:
    """The object kind whose colour a pixel shows (median of the 3x3 patch at ``uv``), or None
    for an unsaturated (background, body, table) colour."""
    u, v = (int(round(x)) for x in uv)
    patch = img[max(v - 1, 0):v + 2, max(u - 1, 0):u + 2].reshape(-1, 3)
    c = np.median(patch, axis=0)
    if c.max() - c.min() < 60:
        return None
    return int(np.argmin([np.linalg.norm(c - o.color) for o in S.OBJECTS]))


def _kind_share(img: np.ndarray, uv, kind: int, ppm: float) -> float:
    """The share of the pixels in the box of a ``kind`` object centred at ``uv`` (drawn at
    ``ppm`` pixels per metre) that show that kind's colour (what is left visible of it)."""
    w, h = np.asarray(S.OBJECTS[kind].size) * ppm / 2
    x0, y0 = (max(int(round(c)), 0) for c in (uv[0] - w, uv[1] - h))
    x1, y1 = (int(round(c)) + 1 for c in (uv[0] + w, uv[1] + h))
    box = img[y0:y1, x0:x1].reshape(-1, 3).astype(float)
    sat = box.max(1) - box.min(1) >= 60
    near = np.argmin([np.linalg.norm(box - o.color, axis=1) for o in S.OBJECTS], axis=0)
    return float(np.mean(sat & (near == kind)))


def _decode(path: Path) -> list:
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(c.streams.video[0])]


def test_v2_same_bytes_for_a_seed_any_workers(v2, tmp_path):
    raw, _ = v2
    again = tmp_path / "again"
    S.generate(again, samples_per_class=2, seed=3, size=V2_SIZE, workers=2, progress=False,
               classes=V2_CLASSES, version=2)
    assert _digest(again) == _digest(raw)
    meta = json.loads((raw / "synth.json").read_text())
    assert meta["generator"] == "mmff.data.synth/2" and meta["version"] == 2
    assert {(v["setup"], v["camera"]) for v in meta["camera_views"]} == {(1, 1), (1, 2)}


def test_v2_files_hold_the_scene(v2):
    """The skeleton file holds the scene's joints and their exact projection into the video
    frame (what the projection crop and skeleton attention read); the video has 0-2 frames
    more, and shows the body where the file says it is."""
    raw, built = v2
    intr = S.camera_intrinsics(*V2_SIZE)
    for name, (sample, b) in built.items():
        skel = read_skeleton(raw / f"{name}.skeleton")
        np.testing.assert_array_equal(skel.joints[:, 0], b.joints.astype(np.float32))
        np.testing.assert_allclose(skel.color[:, 0], S.project(b.joints, intr), atol=2e-3)
        u, v = skel.color[..., 0], skel.color[..., 1]
        assert u.min() >= 0 and v.min() >= 0 and u.max() < V2_SIZE[0] and v.max() < V2_SIZE[1]
        frames = _decode(raw / f"{name}_rgb.avi")
        assert len(frames) == len(b.frames) and 0 <= len(frames) - len(b.joints) <= 2
        t = len(b.joints) // 2
        img = frames[t + b.info["k0"]].astype(int)
        # the head is drawn (skin colour) where the file projects it
        hu, hv = np.round(skel.color[t, 0, S.HEAD]).astype(int)
        assert np.abs(img[hv, hu] - np.array(S._subject_traits(3, sample.subject, 2)["skin"])
                      ).max() < 40


def test_v2_distractors_look_alike_and_lie_away_from_the_acting_hand(v2):
    """Every sample has look-alikes: one in the other hand, 1-3 on the table, some on shelves;
    each is an object of the catalogue (same shape and size as that kind's held object) and
    shows that kind's colour in the video; none is near the object in the middle of the action,
    and the kinds are not the class's (independent draws: here some match, some do not)."""
    intr = S.camera_intrinsics(*V2_SIZE)
    same_kind = []
    for name, sample, b, sc, obj_kind, T in _cases(v2):
        kinds = [sc.other_kind, *sc.table_kinds, *(k for k, *_ in b.info["shelf"])]
        assert 1 <= len(sc.table_kinds) <= 3 and b.info["shelf"]
        assert all(0 <= k < len(S.OBJECTS) for k in kinds)
        same_kind.append(obj_kind in kinds)
        t = frame_index(0.5, T)
        img = b.frames[t + b.info["k0"]]
        # the look-alikes in the other hand, on the table and on the shelves show their kinds'
        # colours, at the held object's scale (table items may partly hide each other)
        ppm = intr[0] * S.V2_OBJECT_SCALE
        for k, xyz in [(sc.other_kind, sc.other_xyz[t]), *zip(sc.table_kinds, sc.table_xyz)]:
            assert _kind_share(img, S.project(xyz, intr), k, ppm / xyz[2]) > 0.25, (name, k)
        for k, u, v, p in b.info["shelf"]:
            assert _kind_share(img, (u, v), k, p) > 0.5, (name, k)
        # ... and lie away from the object in the acting hand
        mid = (np.arange(T) >= 0.3 * (T - 1)) & (np.arange(T) <= 0.7 * (T - 1))
        assert np.linalg.norm(sc.other_xyz[mid] - sc.object_xyz[mid], axis=1).min() > 0.3
        assert np.linalg.norm(sc.table_xyz - sc.object_xyz[t], axis=1).min() > 0.15
        hand_uv = S.project(sc.joints[:, sc.acting], intr)
        for _, u, v, ppm in b.info["shelf"]:   # shelves: off the person's whole track
            assert np.hypot(hand_uv[:, 0] - u, hand_uv[:, 1] - v).min() > 0.15 * ppm
    assert any(same_kind) and not all(same_kind)


def test_v2_object_in_the_hand_only_in_the_middle_of_the_action(v2):
    """Ground truth: the object is in the acting hand at every frame with p in [0.3, 0.7] and on
    the table (where the hand takes it from / puts it back) at p <= 0.14 and p >= 0.86. Pixels
    of the written video: at the frame for p = 0.5 the object's colour is where the scene puts
    it, in the hand; at p = 0.1 and 0.9 that place shows no object and the object's colour is
    on the table instead (among look-alikes, which may hide part of it), away from where the
    hand holds it at p = 0.5."""
    raw = v2[0]
    intr = S.camera_intrinsics(*V2_SIZE)
    on_table = []
    for name, sample, b, sc, kind, T in _cases(v2):
        u = np.arange(T) / (T - 1)
        tip = {S.R_HAND: S.R_TIP, S.L_HAND: S.L_TIP}[sc.acting]
        held = sc.joints[:, sc.acting] + 0.6 * (sc.joints[:, tip] - sc.joints[:, sc.acting])
        assert sc.in_hand[(u >= 0.3) & (u <= 0.7)].all()
        assert not sc.in_hand[(u <= 0.14) | (u >= 0.86)].any()
        np.testing.assert_allclose(sc.object_xyz[sc.in_hand], held[sc.in_hand], atol=1e-6)
        g = np.flatnonzero(sc.in_hand)
        # (the scene's tracks come from the joints before the file's float32 rounding)
        np.testing.assert_allclose(sc.object_xyz[:g[0]], np.broadcast_to(held[g[0]], (g[0], 3)),
                                   atol=1e-6)
        assert np.ptp(sc.object_xyz[g[-1] + 1:], axis=0).max() == 0      # lies still after
        # resting on the table: the hand grips it 0.09 m (x body size) above the top
        n = np.cross(sc.table_top[1] - sc.table_top[0], sc.table_top[3] - sc.table_top[0])
        n /= np.linalg.norm(n)
        above = abs((sc.object_xyz[0] - sc.table_top[0]) @ n)
        assert 0.06 < above < 0.12

        frames = _decode(raw / f"{name}_rgb.avi")
        N = len(frames)
        src = np.clip(np.arange(N) - b.info["k0"], 0, T - 1)    # video frame -> skeleton frame
        mid_uv = S.project(sc.object_xyz[src[frame_index(0.5, N)]], intr)
        assert _kind_at(frames[frame_index(0.5, N)], mid_uv) == kind, name
        for p in (0.1, 0.9):
            i = frame_index(p, N)
            assert not sc.in_hand[src[i]]
            table_uv = S.project(sc.object_xyz[src[i]], intr)
            ppm = intr[0] * S.V2_OBJECT_SCALE / sc.object_xyz[src[i], 2]
            on_table.append(_kind_share(frames[i], table_uv, kind, ppm) > 0.2)
            assert _kind_at(frames[i], mid_uv) != kind, (name, p)
            assert np.hypot(*(table_uv - mid_uv)) > 4
    # a look-alike standing in front of it on the table may hide it, but mostly it shows
    assert np.mean(on_table) >= 0.75, on_table


def test_v2_person_small_at_a_varying_place():
    """The person's box (all frames) is a small part of the wide frame and its place varies
    across samples; the projection crop (test window) keeps a fraction of the frame, so a
    plain crop of the frame is mostly background."""
    from mmff.data.transforms import points_bbox, projection_crop_box

    size = (480, 270)
    intr = S.camera_intrinsics(*size)
    area, centres, crop = [], [], []
    for s in S.sample_plan(6)[::5]:
        sc = _scene(s, size=size)
        uv = S.project(sc.joints, intr)
        lo, hi = uv.reshape(-1, 2).min(0), uv.reshape(-1, 2).max(0)
        assert 0.25 < (hi - lo)[1] / size[1] < 0.65
        area.append((hi - lo).prod() / (size[0] * size[1]))
        centres.append((lo + hi) / 2 / size)
        x0, y0, x1, y1 = projection_crop_box(points_bbox(uv[len(uv) // 2]), *size, train=False,
                                             scale="frame_height")
        crop.append((x1 - x0) * (y1 - y0) / (size[0] * size[1]))
    assert len(area) >= 25 and max(area) < 0.12 and np.mean(area) < 0.07
    centres = np.array(centres)
    assert centres[:, 0].std() > 0.15 and np.ptp(centres[:, 0]) > 0.5
    assert centres[:, 1].std() > 0.03
    assert max(crop) < 0.3


def test_v2_largest_displacement_is_the_acting_hand():
    """Eq. 13-14 on v2: from p = 0.3 to 0.7 the joint that moved most since the first frame is
    one of the acting hand's (hand, tip, thumb, wrist; right or left, per sample) and the
    object lies in its attention square (a third of the projection crop's side)."""
    samples = S.sample_plan(4)[::3]
    assert {_scene(s, size=(480, 270)).acting for s in samples} == {S.R_HAND, S.L_HAND}
    res = S.attention_premise(samples, (0.3, 0.4, 0.5, 0.6, 0.7), size=(480, 270))
    assert res["samples"] * 5 >= 150
    for p, r in res["positions"].items():
        assert r["in_hand"] == 1.0, p
    assert np.mean([r["j_max_on_hand"] for r in res["positions"].values()]) >= 0.97
    assert np.mean([r["object_in_square"] for r in res["positions"].values()]) >= 0.97
    # at the ends the object lies on the table (p <= 0.145, p >= 0.855)
    ends = S.attention_premise(samples[:8], (0.1, 0.9), size=(480, 270))["positions"]
    assert ends[0.1]["in_hand"] == 0.0 == ends[0.9]["in_hand"]


def test_v2_views_and_body_sizes_vary():
    """Cameras differ in direction and height (tilt), subjects in size: what the skeleton
    augmentation's rotations and scaling cover, and what the cross-view test camera shows."""
    views = np.array([S.camera_view(0, 1, c) for c in (1, 2, 3)])
    assert np.all(np.abs(views[:, 0] - [-45, 0, 45]) <= 10) and np.all(views[:, 1] >= 0)
    elevations = np.array([[S.camera_view(seed, 1, c)[1] for c in (1, 2, 3)]
                           for seed in range(8)])
    assert np.ptp(elevations) > 15 and np.ptp(elevations, axis=1).mean() > 5
    heights = [S._subject_traits(0, p, 2)["height"] for p in range(1, 41)]
    assert min(heights) < 1.6 and max(heights) > 1.85
    assert [S._subject_traits(0, p)["height"] for p in (1, 2)] != heights[:2]   # v1 untouched
    # the skeletons show it: body height and spine tilt towards the camera per sample
    tall, tilt = [], {}
    for s in S.sample_plan(3)[::2]:
        J = _scene(s).joints[0]
        tall.append(np.linalg.norm(J[S.HEAD] - (J[S.L_FOOT] + J[S.R_FOOT]) / 2))
        spine = J[S.SPINE_SHOULDER] - J[S.SPINE_BASE]
        tilt.setdefault(s.camera, []).append(np.degrees(np.arctan2(-spine[2], spine[1])))
    assert np.ptp(tall) > 0.3
    mean_tilt = [np.mean(tilt[c]) for c in (1, 2, 3)]
    assert np.ptp(mean_tilt) > 5


def test_v2_keeps_the_single_modality_caps():
    """As in v1: a reversed class is its forward performance played backwards (same draws:
    the same scene, time reversed), so one frame cannot tell the direction; and the object is
    no input of the skeleton simulation, so the skeleton cannot tell the object."""
    import inspect

    assert "obj" not in inspect.signature(S.simulate_scene).parameters
    intr = S.camera_intrinsics(480, 270)
    traits = S._subject_traits(0, 7, 2)
    for pair in range(len(S.MOTIONS) // 2):
        fwd, bwd = S.MOTIONS[2 * pair], S.MOTIONS[2 * pair + 1]
        a = S.simulate_scene(np.random.default_rng(11), fwd, traits, (0.0, 10.0), intr,
                             (480, 270))
        b = S.simulate_scene(np.random.default_rng(11), bwd, traits, (0.0, 10.0), intr,
                             (480, 270))
        np.testing.assert_array_equal(a.joints[::-1], b.joints)
        np.testing.assert_array_equal(a.in_hand[::-1], b.in_hand)
        np.testing.assert_allclose(a.object_xyz[::-1], b.object_xyz)
        np.testing.assert_array_equal(a.table_xyz, b.table_xyz)
        assert np.linalg.norm(a.joints[0, a.acting] - b.joints[0, b.acting]) < 0.05   # at rest
        mid = len(a.joints) // 3                                  # while in the middle they differ
        assert np.linalg.norm(a.joints[mid, a.acting] - b.joints[mid, b.acting]) > 0.1


def test_v2_prepares_with_mmff_prepare_ntu(v2, tmp_path):
    """``mmff prepare ntu`` reads v2 output as it is: every sample prepared, and the stored
    frame at p = 0.5 shows the object where the scene's hand holds it."""
    from mmff.data.prepare import load_index, prepare_ntu

    raw, built = v2
    res = prepare_ntu(raw, tmp_path / "prep", workers=1, positions=[0.1, 0.5, 0.9],
                      progress=False)
    assert res.report["ok"] == len(built) and not res.failed
    index = load_index(tmp_path / "prep")
    assert index["classes"] == list(S.SYNTH_CLASSES)
    intr = S.camera_intrinsics(*V2_SIZE)
    import cv2

    for entry in index["samples"]:
        sample, b = built[entry["name"]]
        assert entry["frame_size"] == list(V2_SIZE)
        f = next(fr for fr in entry["frames"] if fr["p"] == 0.5)
        crop = cv2.cvtColor(cv2.imread(str(tmp_path / "prep" / f["file"])), cv2.COLOR_BGR2RGB)
        T, N = len(b.joints), len(b.frames)
        t = int(np.clip(frame_index(0.5, N) - b.info["k0"], 0, T - 1))
        uv = S.project(b.scene.object_xyz[t], intr) - f["offset"]
        assert _kind_at(crop, uv) == sample.label % len(S.OBJECTS)


def test_cli_version_2(tmp_path, capsys):
    out = tmp_path / "v2"
    assert main(["synth", "--out", str(out), "--version", "2", "--samples-per-class", "1",
                 "--size", "96x54", "--workers", "1", "--no-progress"]) == 0
    assert len(list(out.glob("*.skeleton"))) == len(S.SYNTH_CLASSES)
    assert "SynthHOI v2: 24 written" in capsys.readouterr().out
    assert json.loads((out / "synth.json").read_text())["size"] == [96, 54]
    assert main(["synth", "--out", str(tmp_path / "s"), "--version", "2", "--format", "sysu"]) == 2
    assert "--version 1" in capsys.readouterr().err


def test_resuming_into_a_folder_of_other_settings_is_refused(tmp_path, capsys):
    """`mmff synth` resumes (skips finished samples) only into a folder made with the same
    version, seed, size and samples-per-class; otherwise one line naming synth.json, and nothing
    is written. --overwrite regenerates."""
    out = tmp_path / "raw"
    S.generate(out, 1, seed=0, size=(64, 48), classes=[0], progress=False)
    first = sorted(p.name for p in out.iterdir())
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    for extra in (["--version", "2"], ["--seed", "1"], ["--size", "96x54"], ["--samples-per-class", "2"]):
        args = ["synth", "--out", str(out), "--samples-per-class", "1", "--size", "64x48", "--no-progress"]
        assert main(args + extra) == 2, extra
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "synth.json" in err[0] and "asked for" in err[0], err
        assert {p.name: p.read_bytes() for p in out.iterdir()} == before, extra
    # same settings: a resume, nothing regenerated
    assert S.generate(out, 1, seed=0, size=(64, 48), classes=[0], progress=False)["skipped"] == 1
    # --overwrite: the folder becomes the other version, its sample rewritten
    res = S.generate(out, 1, seed=0, size=(64, 48), classes=[0], progress=False, version=2, overwrite=True)
    assert res["written"] == 1 and _generator(out) == "mmff.data.synth/2"
    assert sorted(p.name for p in out.iterdir()) == first
    skel = next(p for p in out.iterdir() if p.suffix == ".skeleton")
    assert skel.read_bytes() != before[skel.name]
