"""NTU names, benchmark splits, class names, missing-skeleton lists."""
from __future__ import annotations

import numpy as np
import pytest

from mmff.data import SkeletonFormatError
from mmff.data.ntu import (BENCHMARKS, NTU60_CLASSES, NTU120_CLASSES, NTU_BONES,
                           NTU_JOINT_NAMES, SPINE_MID, NTUName, NTUNameError, is_two_person,
                           parse_name, parse_names, read_missing_list, split_subset,
                           split_subsets, train_mask)

EXPECTED = {
    "ntu60_xsub": (40091, 16487),
    "ntu60_xview": (37646, 18932),
    "ntu120_xsub": (63026, 50919),
    "ntu120_xset": (54468, 59477),
}


def _names(ntu_dir, which):
    return (ntu_dir / f"{which}_skes_available_name.txt").read_text().split()


@pytest.fixture(scope="module")
def ntu60(ntu_dir):
    return _names(ntu_dir, "NTU60")


@pytest.fixture(scope="module")
def ntu120(ntu_dir):
    return _names(ntu_dir, "NTU120")


@pytest.mark.parametrize("benchmark", BENCHMARKS)
def test_standard_split_sizes(benchmark, ntu60, ntu120):
    names = ntu60 if benchmark.startswith("ntu60") else ntu120
    assert len(names) == (56578 if names is ntu60 else 113945)
    mask = train_mask(names, benchmark)
    assert (int(mask.sum()), int((~mask).sum())) == EXPECTED[benchmark]
    subsets = split_subsets(names, benchmark)
    assert (subsets == "train").sum() == EXPECTED[benchmark][0]
    # the scalar form agrees on a sample of names
    for i in np.linspace(0, len(names) - 1, 25).astype(int):
        assert split_subset(names[i], benchmark) == subsets[i]


def test_split_rules():
    assert split_subset("S001C001P001R001A001", "ntu60_xsub") == "train"
    assert split_subset("S001C001P003R001A001", "ntu60_xsub") == "test"
    assert split_subset("S001C001P001R001A001", "ntu60_xview") == "test"
    assert split_subset("S001C002P003R001A001.skeleton", "ntu60_xview") == "train"
    assert split_subset("S018C003P045R001A120", "ntu120_xsub") == "train"
    assert split_subset("S018C003P044R001A120", "ntu120_xsub") == "test"
    assert split_subset("S018C003P044R001A120", "ntu120_xset") == "train"
    assert split_subset("S017C003P044R001A120", "ntu120_xset") == "test"
    with pytest.raises(ValueError, match="benchmark must be one of"):
        split_subset("S001C001P001R001A001", "ntu60_xset")


def test_parse_name():
    n = parse_name("S017C003P020R002A060")
    assert n == NTUName(17, 3, 20, 2, 60) and n.label == 59 and str(n) == "S017C003P020R002A060"
    assert parse_name("/data/nturgbd/S001C002P003R001A013_rgb.avi").action == 13
    assert parse_name("S001C002P003R001A013.skeleton").camera == 2
    for bad in ["S01C002P003R001A013", "s001c002p003r001a013", "S001C002P003R001A013x",
                "S001C002P003R001B013", "", "S000C001P001R001A001", "S001C001P001R001A000"]:
        with pytest.raises(NTUNameError, match="NTU"):
            parse_name(bad)
    assert issubclass(NTUNameError, ValueError)


def test_parse_names_vectorised(ntu120):
    f = parse_names(ntu120)
    assert f["setup"].max() == 32 and f["camera"].max() == 3 and f["performer"].max() == 106
    assert f["action"].min() == 1 and f["action"].max() == 120
    for i in (0, 777, len(ntu120) - 1):
        assert tuple(int(f[k][i]) for k in NTUName._fields) == tuple(parse_name(ntu120[i]))
    mixed = ["a/S001C002P003R001A013.skeleton", "S002C001P001R002A120_rgb.avi"]
    assert parse_names(mixed)["action"].tolist() == [13, 120]
    with pytest.raises(NTUNameError, match="S001C002P003R001A1x3"):
        parse_names(["S001C002P003R001A013", "S001C002P003R001A1x3"])
    with pytest.raises(NTUNameError):
        parse_names(["S001C002P003R001A01"])
    assert parse_names([])["action"].shape == (0,)


def test_two_person_actions():
    two = [a for a in range(1, 121) if is_two_person(a)]
    assert two == list(range(50, 61)) + list(range(106, 121))


def test_class_names():
    assert len(NTU60_CLASSES) == 60 and len(NTU120_CLASSES) == 120
    assert NTU120_CLASSES[:60] == NTU60_CLASSES
    assert NTU60_CLASSES[0] == "drink water" and NTU60_CLASSES[57] == "handshaking"
    assert NTU120_CLASSES[10] == "reading" and "rock-paper-scissors" in NTU120_CLASSES[119]
    assert len(set(NTU120_CLASSES)) == 120 and isinstance(NTU120_CLASSES, tuple)


def test_joint_topology():
    assert len(NTU_JOINT_NAMES) == 25 and NTU_JOINT_NAMES[SPINE_MID] == "SpineMid"
    assert len(NTU_BONES) == 24
    # a tree: every joint but the root (21, spine shoulder) is a child exactly once
    children = sorted(c for c, _ in NTU_BONES)
    assert children == [j for j in range(1, 26) if j != 21]
    assert all(1 <= p <= 25 for _, p in NTU_BONES)
    assert (22, 8) in NTU_BONES and (25, 12) in NTU_BONES


def test_missing_lists(ntu_dir, ntu60):
    m60 = read_missing_list(ntu_dir / "NTU_RGBD_samples_with_missing_skeletons.txt")
    m120 = read_missing_list(ntu_dir / "NTU_RGBD120_samples_with_missing_skeletons.txt")
    assert len(m60) == 302 and len(m120) == 535 and m60 <= m120
    assert "S001C002P005R002A008" in m60
    assert not m60 & set(ntu60)                    # available + missing = the full release
    assert len(m60) + len(ntu60) == 56880


def test_missing_list_errors(tmp_path):
    p = tmp_path / "m.txt"
    p.write_text("header line\nsecond\n\nS001C002P005R002A008\nnot a name\n")
    with pytest.raises(SkeletonFormatError, match=r"m.txt:5: expected a sample name"):
        read_missing_list(p)
    p.write_text("just a header\n")
    with pytest.raises(SkeletonFormatError, match="no sample names"):
        read_missing_list(p)
    p.write_text("S001C002P005R002A008\r\nS001C002P006R001A008\r\n")   # no header is fine
    assert read_missing_list(p) == {"S001C002P005R002A008", "S001C002P006R001A008"}
