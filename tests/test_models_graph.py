"""Graph layouts and the spatial-configuration partition (SPEC §2.1)."""
import numpy as np
import pytest

from mmff.models.graph import LAYOUTS, Graph, num_joints


def _released_spatial(num_node, edges0, center):
    """Loop transcription of the released ST-GCN Graph(strategy='spatial', max_hop=1)."""
    A = np.zeros((num_node, num_node))
    for i, j in edges0:
        A[j, i] = A[i, j] = 1
    hop = np.zeros((num_node, num_node)) + np.inf
    arrive = np.stack([np.linalg.matrix_power(A, d) for d in range(2)]) > 0
    for d in range(1, -1, -1):
        hop[arrive[d]] = d
    adjacency = np.zeros((num_node, num_node))
    adjacency[hop <= 1] = 1
    Dl = adjacency.sum(0)
    Dn = np.zeros((num_node, num_node))
    for i in range(num_node):
        if Dl[i] > 0:
            Dn[i, i] = Dl[i] ** -1
    norm = adjacency @ Dn
    out = []
    for h in (0, 1):
        root, close, far = (np.zeros((num_node, num_node)) for _ in range(3))
        for i in range(num_node):
            for j in range(num_node):
                if hop[j, i] == h:
                    if hop[j, center] == hop[i, center]:
                        root[j, i] = norm[j, i]
                    elif hop[j, center] > hop[i, center]:
                        close[j, i] = norm[j, i]
                    else:
                        far[j, i] = norm[j, i]
        out += [root] if h == 0 else [root + close, far]
    return np.stack(out)


def _bfs_distances(v: int, edges) -> np.ndarray:
    """All-pairs hop counts by breadth-first search (inf: unreachable)."""
    nbrs = {i: set() for i in range(v)}
    for i, j in edges:
        nbrs[int(i)].add(int(j))
        nbrs[int(j)].add(int(i))
    dist = np.full((v, v), np.inf)
    for s in range(v):
        dist[s, s], frontier = 0, [s]
        while frontier:
            nxt = []
            for a in frontier:
                for b in nbrs[a]:
                    if dist[s, b] == np.inf:
                        dist[s, b] = dist[s, a] + 1
                        nxt.append(b)
            frontier = nxt
    return dist


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_partition_matches_released_code(layout):
    lay = LAYOUTS[layout]
    v, edges = lay.num_joints, lay.edges
    g = Graph(layout)
    ref = _released_spatial(v, edges, lay.centre)
    assert g.A.shape == (3, v, v)
    np.testing.assert_allclose(g.A, ref, atol=1e-7)
    # every joint is reachable (a tree: V-1 edges, BFS from joint 0 reaches all) and hop_dis is the
    # graph distance up to max_hop (inf beyond); columns of the summed partition sum to 1
    dist = _bfs_distances(v, edges)
    assert len(edges) == v - 1 and np.isfinite(dist).all()
    for max_hop in (1, 2):
        np.testing.assert_array_equal(Graph(layout, max_hop=max_hop).hop_dis,
                                      np.where(dist <= max_hop, dist, np.inf))
    np.testing.assert_allclose(g.A.sum(axis=(0, 1)), np.ones(v), atol=1e-6)


def test_layout_sizes_and_hand_links():
    assert num_joints("ntu") == 25 and num_joints("ntu_kinect") == 25 and num_joints("sysu") == 20
    # 1-based, as the released code and the dataset documentation write them
    released = {(a + 1, b + 1) for a, b in LAYOUTS["ntu"].edges}
    kinect = {(a + 1, b + 1) for a, b in LAYOUTS["ntu_kinect"].edges}
    assert released - kinect == {(22, 23), (24, 25)}
    assert kinect - released == {(22, 8), (24, 12)}
    assert {(23, 8), (25, 12)} <= released and {(23, 8), (25, 12)} <= kinect
    assert not np.allclose(Graph("ntu").A, Graph("ntu_kinect").A)
    assert Graph("ntu").center == 20 and Graph("sysu").center == 2  # SpineShoulder / ShoulderCenter
    with pytest.raises(ValueError, match="unknown skeleton layout"):
        num_joints("coco")


def test_sysu_kinect_v1_limbs():
    edges = {tuple(sorted((a + 1, b + 1))) for a, b in LAYOUTS["sysu"].edges}   # 1-based
    # left arm 5-8 and right arm 9-12 hang off ShoulderCenter (3); legs 13-16, 17-20 off HipCenter (1)
    assert {(3, 5), (5, 6), (6, 7), (7, 8), (3, 9), (9, 10), (10, 11), (11, 12)} <= edges
    assert {(1, 13), (13, 14), (14, 15), (15, 16), (1, 17), (17, 18), (18, 19), (19, 20)} <= edges
    assert {(1, 2), (2, 3), (3, 4)} <= edges
