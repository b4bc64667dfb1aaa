"""Skeleton graphs for ST-GCN (SPEC §2.1): NTU (25 joints) and SYSU (20 joints) layouts with
the spatial-configuration partition of ST-GCN (Yan et al. 2018, as released).

Layouts (edges 1-based as in the datasets' documentation):

* ``ntu``: the released ST-GCN ``ntu-rgb+d`` graph; its hand joints are chained
  (22,23),(23,8),(24,25),(25,12). Centre joint 21 (SpineShoulder).
* ``ntu_kinect``: the Kinect v2 topology used by PYSKL: (22,8),(23,8),(24,12),(25,12), otherwise
  identical. Centre joint 21.
* ``sysu``: Kinect v1, 20 joints (1 HipCenter, 2 Spine, 3 ShoulderCenter, 4 Head, 5-8 left arm
  ShoulderLeft..HandLeft, 9-12 right arm, 13-16 left leg HipLeft..FootLeft, 17-20 right leg).
  Centre joint 3 (ShoulderCenter): the Kinect v1 counterpart of NTU's SpineShoulder (21), the
  centre the released ST-GCN uses, so both layouts partition the body the same way.

The spatial-configuration partition splits each joint's 1-hop neighbourhood into three subsets:
the root itself, neighbours closer to the centre (centripetal) and neighbours farther from it
(centrifugal); each subset's adjacency is column-normalised (A D^-1), Eq. of ST-GCN:
``f_out = sum_j Λ_j^-1/2 A_j Λ_j^-1/2 f_in W_j`` (paper §3.2).
"""
from __future__ import annotations

import numpy as np

__all__ = ["LAYOUTS", "Graph", "num_joints"]

_NTU_BODY = [(1, 2), (2, 21), (3, 21), (4, 3), (5, 21), (6, 5), (7, 6), (8, 7), (9, 21),
             (10, 9), (11, 10), (12, 11), (13, 1), (14, 13), (15, 14), (16, 15), (17, 1),
             (18, 17), (19, 18), (20, 19)]

#: layout -> (number of joints, 1-based edges, 1-based centre joint)
LAYOUTS: dict[str, tuple[int, list[tuple[int, int]], int]] = {
    "ntu": (25, _NTU_BODY + [(22, 23), (23, 8), (24, 25), (25, 12)], 21),
    "ntu_kinect": (25, _NTU_BODY + [(22, 8), (23, 8), (24, 12), (25, 12)], 21),
    "sysu": (20, [(1, 2), (2, 3), (3, 4), (3, 5), (5, 6), (6, 7), (7, 8), (3, 9), (9, 10),
                  (10, 11), (11, 12), (1, 13), (13, 14), (14, 15), (15, 16), (1, 17), (17, 18),
                  (18, 19), (19, 20)], 3),
}


def num_joints(layout: str) -> int:
    """V for a layout name."""
    if layout not in LAYOUTS:
        raise ValueError(f"unknown graph layout {layout!r} (expected one of {sorted(LAYOUTS)})")
    return LAYOUTS[layout][0]


def _hop_distance(num_node: int, edges: np.ndarray, max_hop: int) -> np.ndarray:
    adj = np.zeros((num_node, num_node))
    adj[edges[:, 0], edges[:, 1]] = 1
    adj[edges[:, 1], edges[:, 0]] = 1
    hop = np.full((num_node, num_node), np.inf)
    reach = np.stack([np.linalg.matrix_power(adj, d) for d in range(max_hop + 1)]) > 0
    for d in range(max_hop, -1, -1):  # nearest hop wins
        hop[reach[d]] = d
    return hop


def _normalize_digraph(a: np.ndarray) -> np.ndarray:
    """A D^-1 with D the column degrees (released ST-GCN ``normalize_digraph``)."""
    deg = a.sum(0)
    inv = np.where(deg > 0, 1.0 / np.where(deg > 0, deg, 1.0), 0.0)
    return a * inv[None, :]


class Graph:
    """Spatial-configuration adjacency ``A`` of shape (3, V, V) for a layout.

    ``A[0]`` root (self links), ``A[1]`` centripetal (+ same-distance neighbours, as released),
    ``A[2]`` centrifugal. Identical to the released ST-GCN ``Graph(strategy='spatial')``.
    """

    def __init__(self, layout: str = "ntu", max_hop: int = 1):
        num_joints(layout)  # a clear error for an unknown layout
        v, edges, centre = LAYOUTS[layout]
        self.layout = layout
        self.num_node = v
        self.center = centre - 1
        e = np.asarray(edges, dtype=np.int64) - 1
        self.edges = e
        self.hop_dis = _hop_distance(v, e, max_hop)
        self.A = self._spatial(max_hop).astype(np.float32)

    def _spatial(self, max_hop: int) -> np.ndarray:
        hop = self.hop_dis
        adjacency = (hop <= max_hop).astype(float)
        norm = _normalize_digraph(adjacency)
        # dist[j, i] compares joint j's and joint i's distance to the centre (released convention
        # A[j, i], message from i to j summed over i in the einsum 'kvw' with v = i).
        to_centre = hop[:, self.center]
        dj = to_centre[:, None]
        di = to_centre[None, :]
        out = []
        for h in range(max_hop + 1):
            sel = hop == h
            if h == 0:
                out.append(np.where(sel, norm, 0.0))
                continue
            same = sel & (dj == di)
            close = sel & (dj > di)
            further = sel & (dj < di)
            out.append(np.where(same | close, norm, 0.0))
            out.append(np.where(further, norm, 0.0))
        return np.stack(out)
