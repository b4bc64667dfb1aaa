"""SYSU reader: .mat v5 / v7.3, sequence listing, frames, synthetic tree, error messages."""
from __future__ import annotations

import numpy as np
import pytest

from mmff.data import SkeletonFormatError
from mmff.data.sysu import (SYSU_CLASSES, list_sysu_sequences,
                            read_mat_array, read_sysu_frames_at, read_sysu_metadata,
                            read_sysu_skeleton, sysu_frame_paths, write_mat,
                            write_synthetic_sysu)


@pytest.fixture(scope="module")
def synth_tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("sysu_v5")
    summary = write_synthetic_sysu(root, samples_per_class=2, seed=3, size=(96, 72), num_frames=(12, 16))
    return root, summary


def _matlab_array(rng, t=7):
    return rng.normal(size=(20, 3, t)).astype(np.float64)


@pytest.mark.parametrize("fmt", ["v5", "v7.3"])
def test_mat_roundtrip_keeps_matlab_orientation(tmp_path, fmt):
    arr = _matlab_array(np.random.default_rng(0))
    p = write_mat(tmp_path / "sklWorld.mat", {"SW": arr}, fmt)
    out = read_mat_array(p, "SW")
    assert out.shape == (20, 3, 7)
    np.testing.assert_array_equal(out, arr)


def test_v73_is_hdf5_stored_transposed(tmp_path):
    """MATLAB v7.3 files are HDF5 with the axes reversed on disk; the reader undoes that."""
    import h5py
    arr = _matlab_array(np.random.default_rng(1), t=5)
    p = write_mat(tmp_path / "a.mat", {"SW": arr}, "v7.3")
    assert p.read_bytes()[:10] == b"MATLAB 7.3"
    with h5py.File(p, "r") as f:
        assert f["SW"].shape == (5, 3, 20)
        assert f["SW"].attrs["MATLAB_class"] == b"double"
    # A hand-written HDF5 file (as MATLAB would store a 20x3x5 array) reads the same.
    q = tmp_path / "b.mat"
    with h5py.File(q, "w") as f:
        f["SW"] = arr.T
    np.testing.assert_array_equal(read_mat_array(q, "SW"), arr)


@pytest.mark.parametrize("fmt", ["v5", "v7.3"])
def test_read_skeleton_layout_matches_ntu(tmp_path, fmt):
    rng = np.random.default_rng(2)
    sw, s = _matlab_array(rng, 9), rng.uniform(0, 300, size=(20, 3, 9))  # S may have >2 columns
    write_mat(tmp_path / "sklWorld.mat", {"SW": sw}, fmt)
    write_mat(tmp_path / "sklImage.mat", {"S": s}, fmt)
    sk = read_sysu_skeleton(tmp_path)
    assert sk.joints.shape == (9, 1, 20, 3) and sk.joints.dtype == np.float32
    assert sk.color.shape == (9, 1, 20, 2) and sk.color.dtype == np.float32
    # frame t, joint j of SW[:, :, t] ends at joints[t, 0, j]
    np.testing.assert_allclose(sk.joints[4, 0, 7], sw[7, :, 4], rtol=1e-6)
    np.testing.assert_allclose(sk.color[8, 0, 19], s[19, :2, 8], rtol=1e-6)
    assert sk.num_frames == 9


def test_malformed_and_missing_files_name_the_file(tmp_path):
    rng = np.random.default_rng(3)
    write_mat(tmp_path / "sklWorld.mat", {"SW": _matlab_array(rng)}, "v5")
    with pytest.raises(SkeletonFormatError, match=r"sklImage\.mat: file not found"):
        read_sysu_skeleton(tmp_path)
    write_mat(tmp_path / "sklImage.mat", {"X": rng.normal(size=(20, 2, 7))}, "v5")
    with pytest.raises(SkeletonFormatError, match=r"sklImage\.mat: no variable 'S'"):
        read_sysu_skeleton(tmp_path)
    write_mat(tmp_path / "sklImage.mat", {"S": rng.normal(size=(25, 2, 7))}, "v7.3")
    with pytest.raises(SkeletonFormatError, match=r"sklImage\.mat: expected 'S' of shape 20 x >=2 x T.*25 x 2 x 7"):
        read_sysu_skeleton(tmp_path)
    write_mat(tmp_path / "sklImage.mat", {"S": rng.normal(size=(20, 2, 6))}, "v5")
    with pytest.raises(SkeletonFormatError, match=r"sklImage\.mat: expected 7 frames"):
        read_sysu_skeleton(tmp_path)
    (tmp_path / "sklWorld.mat").write_bytes(b"this is not a mat file at all" * 10)
    with pytest.raises(SkeletonFormatError, match=r"sklWorld\.mat: not a readable MATLAB \.mat file"):
        read_sysu_skeleton(tmp_path)
    bad = _matlab_array(rng)
    bad[3, 1, 2] = np.nan
    write_mat(tmp_path / "sklWorld.mat", {"SW": bad}, "v5")
    with pytest.raises(SkeletonFormatError, match=r"sklWorld\.mat: 'SW' has NaN/Inf values \(first at frame 3\)"):
        read_sysu_skeleton(tmp_path)
    err = None
    try:
        read_sysu_skeleton(tmp_path)
    except SkeletonFormatError as e:
        err = str(e)
    assert err is not None and "\n" not in err and isinstance(SkeletonFormatError(), ValueError)


def test_frames_natural_order_and_position(tmp_path):
    import cv2
    rgb = tmp_path / "rgb"
    rgb.mkdir()
    for t in range(1, 12):  # 1.jpg .. 11.jpg: lexicographic order would put 10 before 2
        img = np.full((8, 10, 3), t * 20, np.uint8)
        cv2.imwrite(str(rgb / f"{t}.png"), img)
    names = [p.name for p in sysu_frame_paths(tmp_path)]
    assert names[:3] == ["1.png", "2.png", "3.png"] and names[-1] == "11.png"
    f_mid, f_last, f_first = read_sysu_frames_at(tmp_path, [0.5, 1.0, 0.0])
    assert f_mid.shape == (8, 10, 3) and f_mid[0, 0, 0] == 6 * 20   # frame_index(0.5, 11) = 5 -> 6.png
    assert f_last[0, 0, 0] == 11 * 20 and f_first[0, 0, 0] == 20
    (rgb / "6.png").write_bytes(b"garbage")
    with pytest.raises(SkeletonFormatError, match=r"6\.png: unreadable image"):
        read_sysu_frames_at(tmp_path, [0.5])
    with pytest.raises(SkeletonFormatError, match=r"rgb: missing RGB frame folder"):
        sysu_frame_paths(tmp_path / "nowhere")


def test_synthetic_tree_layout_and_reading(synth_tree):
    root, summary = synth_tree
    assert summary["sequences"] == 24 and summary["subjects"] == 2
    grid, missing = list_sysu_sequences(root)
    assert missing == [] and len(grid) == 24
    # subject-then-activity order, index = rank * 12 + activity - 1
    assert [g.activity for g in grid[:13]] == list(range(1, 13)) + [1]
    assert [g.index for g in grid] == list(range(24)) and grid[12].subject_id == 2
    for g in (grid[0], grid[17]):
        assert (g.path / "sklWorld.mat").is_file() and (g.path / "sklImage.mat").is_file()
        sk = read_sysu_skeleton(g.path)
        n = len(sysu_frame_paths(g.path))
        assert sk.num_frames == n and 12 <= n <= 16
        img = read_sysu_frames_at(g.path, [0.5])[0]
        assert img.shape == (72, 96, 3)
        # the 2D joints are the projection of the 3D joints and fall inside the frame
        assert (sk.color[..., 0] >= 0).all() and (sk.color[..., 0] < 96).all()
        assert (sk.color[..., 1] >= 0).all() and (sk.color[..., 1] < 72).all()
        assert np.all(sk.joints[..., 2] > 1.0)  # metres in front of the Kinect
    meta = read_sysu_metadata(root)
    assert meta["classes"] == list(SYSU_CLASSES)
    np.testing.assert_array_equal(meta["labels"], [g.label for g in grid])
    np.testing.assert_array_equal(meta["subjects"], [g.subject_id for g in grid])


def test_synthetic_is_deterministic_and_v73(tmp_path, synth_tree):
    root, _ = synth_tree
    other = tmp_path / "again"
    write_synthetic_sysu(other, samples_per_class=2, seed=3, size=(96, 72), num_frames=(12, 16))
    a = read_sysu_skeleton(root / "3DvideoNorm" / "Subject02" / "video5")
    b = read_sysu_skeleton(other / "3DvideoNorm" / "Subject02" / "video5")
    np.testing.assert_array_equal(a.joints, b.joints)
    for f in ("rgb/3.jpg", "sklWorld.mat", "sklImage.mat"):   # same seed, same bytes
        assert (root / "3DvideoNorm/Subject02/video5" / f).read_bytes() == \
            (other / "3DvideoNorm/Subject02/video5" / f).read_bytes()
    v73 = tmp_path / "v73"
    write_synthetic_sysu(v73, samples_per_class=1, seed=3, size=(96, 72), num_frames=(12, 16),
                         mat_format="v7.3")
    p = v73 / "3DvideoNorm" / "Subject01" / "video5"
    assert (p / "sklWorld.mat").read_bytes()[:10] == b"MATLAB 7.3"
    c = read_sysu_skeleton(p)
    # same seed, same subject/activity -> the same sequence whatever the .mat format
    np.testing.assert_allclose(c.joints, read_sysu_skeleton(root / "3DvideoNorm/Subject01/video5").joints)
    d = tmp_path / "seed4"
    write_synthetic_sysu(d, samples_per_class=1, seed=4, size=(96, 72), num_frames=(12, 16))
    e = read_sysu_skeleton(d / "3DvideoNorm/Subject01/video5")
    assert e.joints.shape != c.joints.shape or not np.allclose(e.joints, c.joints)


def test_synthetic_activities_differ_in_motion(synth_tree):
    """Hands move differently per activity: the mean right-hand track differs between classes."""
    root, _ = synth_tree
    grid, _ = list_sysu_sequences(root)
    tracks = []
    for g in grid[:12]:
        j = read_sysu_skeleton(g.path).joints[:, 0]
        tracks.append(j[:, 11] - j[:, 8])        # right hand relative to the right shoulder
    mid = np.stack([t[len(t) // 2] for t in tracks])
    d = np.linalg.norm(mid[:, None] - mid[None], axis=-1)
    assert (d + np.eye(12) * 9).min() > 0.02     # no two activities share the mid-clip hand pose


def test_listing_reports_missing_and_bad_folders(tmp_path):
    base = tmp_path / "3DvideoNorm"
    (base / "Bob" / "video1").mkdir(parents=True)
    (base / "Bob" / "video3").mkdir()
    (base / "Amy" / "video2").mkdir(parents=True)
    grid, missing = list_sysu_sequences(tmp_path)
    assert [g.subject for g in grid[::12]] == ["Amy", "Bob"] and len(grid) == 24
    assert "Amy_video01" in missing and "Bob_video01" not in missing and len(missing) == 21
    (base / "Bob" / "video13").mkdir()
    with pytest.raises(SkeletonFormatError, match=r"video13: expected video1\.\.video12"):
        list_sysu_sequences(base)
    with pytest.raises(SkeletonFormatError, match="no SYSU sequences"):
        list_sysu_sequences(tmp_path / "Bob" / "x")  # nothing there


def test_real_metadata(sysu_meta_dir):
    meta = read_sysu_metadata(sysu_meta_dir)
    assert meta["classes"] == list(SYSU_CLASSES)
    assert len(meta["subject_names"]) == 40 and meta["subject_names"] == sorted(meta["subject_names"])
    assert meta["labels"].shape == (480,) and meta["subjects"].shape == (480,)
    # subject-then-activity order: sequence i is subject i // 12 + 1, activity i % 12 + 1
    np.testing.assert_array_equal(meta["labels"], np.arange(480) % 12)
    np.testing.assert_array_equal(meta["subjects"], np.arange(480) // 12 + 1)


def test_metadata_errors_name_file_and_line(tmp_path):
    (tmp_path / "label.txt").write_text("1\n2\nthree\n")
    (tmp_path / "subjectid.txt").write_text("1\n1\n1\n")
    with pytest.raises(SkeletonFormatError, match=r"label\.txt:3: expected one integer per line"):
        read_sysu_metadata(tmp_path)


def test_bones_form_the_kinect_v1_tree_and_match_the_graph():
    from mmff.layouts import LAYOUTS
    lay = LAYOUTS["sysu"]
    assert len(lay.joint_names) == 20 and len(lay.bones) == 19
    parents = {c: p for c, p in lay.bones}
    assert sorted(parents) == list(range(1, 20))            # every joint but HipCenter has one parent
    names = dict(zip(range(20), lay.joint_names))
    assert names[parents[7]] == "WristLeft" and names[parents[11]] == "WristRight"
    assert names[parents[4]] == names[parents[8]] == names[parents[3]] == "ShoulderCenter"
    assert names[parents[12]] == names[parents[16]] == "HipCenter"
    assert lay.joint_names[lay.va_centre] == "Spine"
    from mmff.models.graph import Graph
    g = Graph("sysu")
    assert g.num_node == 20 and lay.joint_names[g.center] == "ShoulderCenter"
    assert {frozenset(e) for e in g.edges.tolist()} == {frozenset(e) for e in lay.bones}


def test_synthetic_resumes_unfinished_sequences(tmp_path):
    out = tmp_path / "s"
    first = write_synthetic_sysu(out, samples_per_class=1, seed=2, size=(64, 48), num_frames=(6, 8),
                                 progress=False)
    assert first["written"] == 12 and first["skipped"] == 0
    seq = out / "3DvideoNorm" / "Subject01" / "video4"
    ref = read_sysu_skeleton(seq).joints
    (seq / "sklWorld.mat").unlink()                      # interrupted before the marker
    jpg = seq / "rgb" / "1.jpg"
    jpg.write_bytes(b"half-written")
    again = write_synthetic_sysu(out, samples_per_class=1, seed=2, size=(64, 48), num_frames=(6, 8),
                                 progress=False)
    assert again["written"] == 1 and again["skipped"] == 11
    np.testing.assert_array_equal(read_sysu_skeleton(seq).joints, ref)
    assert jpg.read_bytes()[:2] == b"\xff\xd8"           # rewritten as a JPEG
    with pytest.raises(ValueError, match="samples_per_class must be 1..40"):
        write_synthetic_sysu(out, samples_per_class=41)
