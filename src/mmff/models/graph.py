"""Skeleton graphs for ST-GCN (SPEC §2.1): NTU (25 joints) and SYSU (20 joints) layouts with
the spatial-configuration partition of ST-GCN (Yan et al. 2018, as released).

Layouts (:mod:`mmff.layouts`, the one table of joints, bones, edges and centres):

* ``ntu``: the released ST-GCN ``ntu-rgb+d`` graph; its hand joints are chained
  (22,23),(23,8),(24,25),(25,12) (1-based). Centre joint 21 (SpineShoulder).
* ``ntu_kinect``: the Kinect v2 topology used by PYSKL: (22,8),(23,8),(24,12),(25,12), otherwise
  identical. Centre joint 21.
* ``sysu``: Kinect v1, 20 joints; centre joint 3 (ShoulderCenter): the Kinect v1 counterpart of
  NTU's SpineShoulder (21), the centre the released ST-GCN uses, so both layouts partition the
  body the same way.

The spatial-configuration partition splits each joint's 1-hop neighbourhood into three subsets:
the root itself, neighbours closer to the centre (centripetal) and neighbours farther from it
(centrifugal); each subset's adjacency is column-normalised (A D^-1), Eq. of ST-GCN:
``f_out = sum_j Λ_j^-1/2 A_j Λ_j^-1/2 f_in W_j`` (paper §3.2).

``strategy="agcn"`` is the partition of 2s-AGCN (Shi et al. 2019) that CTR-GCN and PYSKL's
ST-GCN++ use (PYSKL's ``mode='spatial'``): identity, inward links (each joint to its neighbour
one hop nearer the centre) and outward links, each column-normalised; no self links in the
directed subsets. Both partitions have three subsets, so the backbones' sizes do not depend on it.
"""
from __future__ import annotations

import numpy as np

from mmff.layouts import LAYOUTS, get_layout, num_joints

__all__ = ["LAYOUTS", "Graph", "num_joints"]   # LAYOUTS, num_joints: re-exported from mmff.layouts


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
    ``strategy="agcn"``: ``A[0]`` identity, ``A[1]`` inward, ``A[2]`` outward (module doc).
    """

    STRATEGIES = ("spatial", "agcn")

    def __init__(self, layout: str = "ntu", max_hop: int = 1, strategy: str = "spatial"):
        lay = get_layout(layout)  # a clear error for an unknown layout
        if strategy not in self.STRATEGIES:
            raise ValueError(f"unknown graph strategy {strategy!r} (expected one of "
                             f"{self.STRATEGIES})")
        v = lay.num_joints
        self.layout = layout
        self.strategy = strategy
        self.num_node = v
        self.center = lay.centre
        e = np.asarray(lay.edges, dtype=np.int64)
        self.edges = e
        self.hop_dis = _hop_distance(v, e, max_hop)
        A = self._spatial(max_hop) if strategy == "spatial" else self._inward_outward()
        self.A = A.astype(np.float32)

    def _inward_outward(self) -> np.ndarray:
        # PYSKL's edge2mat convention: inward link child -> parent sets A[parent, child]
        depth = _hop_distance(self.num_node, self.edges, self.num_node)[:, self.center]
        inward = np.zeros((self.num_node, self.num_node))
        for a, b in self.edges:
            child, parent = (a, b) if depth[a] > depth[b] else (b, a)
            inward[parent, child] = 1.0
        return np.stack([np.eye(self.num_node), _normalize_digraph(inward),
                         _normalize_digraph(inward.T)])

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
