"""mmff.layouts: one table per skeleton layout (joints, 0-based bones, centres, graph edges)."""
from __future__ import annotations

import pytest

from mmff.layouts import LAYOUTS, get_layout, layout_for_joints, num_joints


def _components(v: int, pairs) -> int:
    parent = list(range(v))

    def find(a):
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for a, b in pairs:
        parent[find(a)] = find(b)
    return len({find(j) for j in range(v)})


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_bones_and_edges_are_trees_over_all_joints(name):
    lay = LAYOUTS[name]
    v = lay.num_joints
    assert lay.name == name and len(set(lay.joint_names)) == v
    for pairs in (lay.bones, lay.edges):
        assert all(0 <= a < v and 0 <= b < v and a != b for a, b in pairs)
        # V - 1 pairs joining all V joints: a spanning tree (no cycle, nothing left out)
        assert len(pairs) == v - 1 and _components(v, pairs) == 1
    # (child, parent): every joint but the root is a child exactly once
    children = sorted(c for c, _ in lay.bones)
    assert children == [j for j in range(v) if j != lay.root]
    for j in (lay.centre, lay.va_centre, *lay.shoulders):
        assert 0 <= j < v


def test_named_joints_of_each_layout():
    ntu, sysu = LAYOUTS["ntu"], LAYOUTS["sysu"]
    assert num_joints("ntu") == num_joints("ntu_kinect") == 25 and num_joints("sysu") == 20
    assert ntu.joint_names[ntu.centre] == "SpineShoulder" == ntu.joint_names[ntu.root]
    assert sysu.joint_names[sysu.centre] == "ShoulderCenter"
    assert sysu.joint_names[sysu.root] == "HipCenter"
    for lay in LAYOUTS.values():
        names = [lay.joint_names[j] for j in (lay.va_centre, *lay.shoulders)]
        assert names in (["SpineMid", "ShoulderLeft", "ShoulderRight"],
                         ["Spine", "ShoulderLeft", "ShoulderRight"])
        # the VA-pre joints are the same indices everywhere, so one default serves all layouts
        assert (lay.va_centre, lay.shoulders) == (ntu.va_centre, ntu.shoulders)
    parent = dict(ntu.bones)
    assert ntu.joint_names[parent[21]] == "HandLeft" and ntu.joint_names[parent[24]] == "HandRight"
    parent = dict(sysu.bones)
    assert sysu.joint_names[parent[7]] == "WristLeft" and sysu.joint_names[parent[11]] == "WristRight"
    # NTU: the released ST-GCN graph chains the hand joints, the Kinect bones do not
    assert LAYOUTS["ntu_kinect"].edges == ntu.bones != ntu.edges
    assert sysu.edges == sysu.bones


def test_lookups_and_errors():
    assert get_layout("sysu") is LAYOUTS["sysu"] and layout_for_joints(20) is LAYOUTS["sysu"]
    assert layout_for_joints(25) is LAYOUTS["ntu"]
    with pytest.raises(ValueError, match="unknown skeleton layout 'coco'"):
        get_layout("coco")
    with pytest.raises(ValueError, match="no skeleton layout has 17 joints"):
        layout_for_joints(17)


def test_transforms_and_graph_take_the_tables_from_layouts():
    from mmff.data import transforms as T
    from mmff.models.graph import Graph

    assert (T.SHOULDER_LEFT, T.SHOULDER_RIGHT) == LAYOUTS["sysu"].shoulders
    assert T.SPINE_MIDDLE == LAYOUTS["sysu"].va_centre
    for name, lay in LAYOUTS.items():
        g = Graph(name)
        assert g.num_node == lay.num_joints and g.center == lay.centre
        assert {frozenset(e) for e in g.edges.tolist()} == {frozenset(e) for e in lay.edges}
