"""NTU names, benchmark splits, class names, missing-skeleton lists."""
from __future__ import annotations

import numpy as np
import pytest

from mmff.data import SkeletonFormatError
from mmff.data.ntu import (BENCHMARKS, NTU60_CLASSES, NTU120_CLASSES, NTUName, NTUNameError,
                           is_two_person, parse_name, parse_names, read_missing_list, split_subset,
                           split_subsets, train_mask)
from mmff.layouts import LAYOUTS

# The standard splits (Shahroudy et al. 2016; Liu et al. 2020), written out here independently
# of mmff.data.ntu: cross-subject trains on these performers; NTU-60 cross-view trains on
# cameras 2 and 3; NTU-120 cross-setup trains on the even setup ids.
XSUB60_TRAIN = {1, 2, 4, 5, 8, 9, 13, 14, 15, 16, 17, 18, 19, 25, 27, 28, 31, 34, 35, 38}
XSUB120_TRAIN = XSUB60_TRAIN | {45, 46, 47, 49, 50, 52, 53, 54, 55, 56, 57, 58, 59, 70, 74, 78,
                                80, 81, 82, 83, 84, 85, 86, 89, 91, 92, 93, 94, 95, 97, 98,
                                100, 103}


def _rule(name: str, benchmark: str) -> bool:
    s, c, p = int(name[1:4]), int(name[5:8]), int(name[9:12])
    return {"ntu60_xsub": p in XSUB60_TRAIN, "ntu120_xsub": p in XSUB120_TRAIN,
            "ntu60_xview": c in (2, 3), "ntu120_xset": s % 2 == 0}[benchmark]


def _grid(setups, cameras, performers, replications, actions):
    return [f"S{s:03d}C{c:03d}P{p:03d}R{r:03d}A{a:03d}" for s in setups for c in cameras
            for p in performers for r in replications for a in actions]


#: Name grids with split sizes derived by hand from the rules above (the official sizes -
#: NTU-60 xsub 40,091 / 16,487, xview 37,646 / 18,932; NTU-120 xsub 63,026 / 50,919, xset
#: 54,468 / 59,477 - need the official available-name lists, which are not redistributed;
#: check them on your own copy with ``mmff.data.ntu.train_mask``, see README.md, Data).
#: NTU-60 grid: 17 setups x 3 cameras x performers 1-10 x 2 replications x 60 actions;
#: performers 1-10 hold 6 train subjects (1, 2, 4, 5, 8, 9) and 4 test ones.
GRID60 = dict(setups=range(1, 18), cameras=range(1, 4), performers=range(1, 11),
              replications=range(1, 3), actions=range(1, 61))
#: NTU-120 grid: 31 setups (15 even) x 3 cameras x performers 1-60 (33 train: the 20 NTU-60
#: ones, 45-47, 49, 50, 52-59) x 2 replications x actions 1 and 120.
GRID120 = dict(setups=range(1, 32), cameras=range(1, 4), performers=range(1, 61),
               replications=range(1, 3), actions=(1, 120))
EXPECTED = {
    "ntu60_xsub": (17 * 3 * 6 * 2 * 60, 17 * 3 * 4 * 2 * 60),       # 36,720 / 24,480
    "ntu60_xview": (17 * 2 * 10 * 2 * 60, 17 * 1 * 10 * 2 * 60),    # 40,800 / 20,400
    "ntu120_xsub": (31 * 3 * 33 * 2 * 2, 31 * 3 * 27 * 2 * 2),      # 12,276 / 10,044
    "ntu120_xset": (15 * 3 * 60 * 2 * 2, 16 * 3 * 60 * 2 * 2),      # 10,800 / 11,520
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
def test_standard_split_sizes(benchmark):
    names = _grid(**(GRID60 if benchmark.startswith("ntu60") else GRID120))
    assert len(names) == (61200 if benchmark.startswith("ntu60") else 22320)
    mask = train_mask(names, benchmark)
    assert (int(mask.sum()), int((~mask).sum())) == EXPECTED[benchmark]
    subsets = split_subsets(names, benchmark)
    assert (subsets == "train").sum() == EXPECTED[benchmark][0]
    # the scalar form agrees on a sample of names
    for i in np.linspace(0, len(names) - 1, 25).astype(int):
        assert split_subset(names[i], benchmark) == subsets[i]


@pytest.mark.parametrize("benchmark", BENCHMARKS)
def test_splits_equal_an_independent_rule(benchmark, ntu60, ntu120):
    """Every setup, camera and performer id of the release (1-32, 1-3, 1-106) and the
    NTU-format name lists: the mask equals the rule written out above, name by name."""
    full = _grid(range(1, 33), range(1, 4), range(1, 107), (1,), (1,))
    for names in (full, ntu60 if benchmark.startswith("ntu60") else ntu120):
        want = np.array([_rule(n, benchmark) for n in names])
        assert np.array_equal(train_mask(names, benchmark), want)
        assert 0 < want.sum() < len(names)


@pytest.mark.parametrize("benchmark", ["ntu120_xsub", "ntu120_xset"])
def test_ntu120_validation_subjects_come_from_the_training_half(benchmark):
    """data.val=subjects on the NTU-120 grid (every index entry as `mmff prepare ntu` writes
    it): the held-out subjects are training subjects, their validation samples are training
    samples, and train + val is the benchmark's training half."""
    from mmff.config import config_from_dict
    from mmff.data.datasets import subset_names, validation_split
    from mmff.data.prepare import ntu_subsets

    names = _grid(**GRID120)
    index = {"samples": [{"name": n, "label": int(n[-3:]) - 1, "subject": int(n[9:12]),
                          "subsets": ntu_subsets(n, ntu120=True)} for n in names]}
    d = config_from_dict({"data": {"dataset": "ntu120", "split": benchmark[-4:]}}).data
    val, desc = validation_split(index, benchmark, d)
    train = subset_names(index, benchmark, "train", d)
    half = {n for n in names if _rule(n, benchmark)}
    assert set(val) <= half and not set(val) & set(train) and set(val) | set(train) == half
    subjects = sorted({int(n[9:12]) for n in val})
    assert desc.startswith(f"{benchmark}/val (subjects {', '.join(map(str, subjects))};")
    if benchmark == "ntu120_xsub":
        # 10% of the grid's 33 training subjects (performers 1-60), evenly spaced
        assert set(subjects) <= XSUB120_TRAIN and len(subjects) == 3
        assert set(val) == {n for n in names if int(n[9:12]) in subjects}
    else:
        # every performer is in both halves: their even-setup samples only
        assert len(subjects) == 6 and all(int(n[1:4]) % 2 == 0 for n in val)
        assert set(val) == {n for n in half if int(n[9:12]) in subjects}


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
    for i in (0, len(ntu120) // 2, len(ntu120) - 1):
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
    ntu = LAYOUTS["ntu"]
    assert len(ntu.joint_names) == 25 and ntu.joint_names[ntu.va_centre] == "SpineMid"
    bones = {(c + 1, p + 1) for c, p in ntu.bones}          # 1-based, as PYSKL/CTR-GCN write them
    assert len(bones) == 24
    # a tree: every joint but the root (21, spine shoulder) is a child exactly once
    children = sorted(c for c, _ in bones)
    assert children == [j for j in range(1, 26) if j != 21]
    assert all(1 <= p <= 25 for _, p in bones)
    assert (22, 8) in bones and (25, 12) in bones


def test_missing_lists(ntu_dir, ntu_truth, ntu60):
    """The official lists' format (2 header lines, a blank line, names) on the stand-ins."""
    m60 = read_missing_list(ntu_dir / "NTU_RGBD_samples_with_missing_skeletons.txt")
    m120 = read_missing_list(ntu_dir / "NTU_RGBD120_samples_with_missing_skeletons.txt")
    truth = ntu_truth["lists"]
    assert len(m60) == truth["NTU60"]["missing"] and len(m120) == truth["NTU120"]["missing"]
    assert m60 < m120 and truth["NTU60"]["example_missing"] in m60
    assert not m60 & set(ntu60)                    # available + missing = the full grid
    assert len(m60) + len(ntu60) == 60 * 3 + 1     # a name per action and camera, + 1


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
