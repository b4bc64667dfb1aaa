"""Skeleton layouts (SPEC §1.1-1.3, §2.1): the one place that knows, per layout, the joints,
the bones, the centre joint and the ST-GCN graph edges.

Every index here is 0-based: joint ``k`` of the datasets' 1-based documentation is index
``k - 1``. Layouts:

* ``ntu``: NTU RGB+D (Kinect v2, 25 joints). Bones: the Kinect v2 topology as in PYSKL/CTR-GCN
  (1-based child-parent: 1-2, 2-21, 3-21, 4-3, 5-21, 6-5, 7-6, 8-7, 9-21, 10-9, 11-10, 12-11,
  13-1, 14-13, 15-14, 16-15, 17-1, 18-17, 19-18, 20-19, 22-8, 23-8, 24-12, 25-12), rooted at
  SpineShoulder (21). Graph edges: the released ST-GCN ``ntu-rgb+d`` graph, whose hand joints
  are chained instead: (22, 23), (23, 8), (24, 25), (25, 12).
* ``ntu_kinect``: the same joints; graph edges = the Kinect v2 bones (PYSKL's NTU graph).
* ``sysu``: SYSU 3D HOI (Kinect v1, 20 joints: 1 HipCenter, 2 Spine, 3 ShoulderCenter, 4 Head,
  5-8 left arm ShoulderLeft..HandLeft, 9-12 right arm, 13-16 left leg HipLeft..FootLeft, 17-20
  right leg). Bones (1-based: 2-1, 3-2, 4-3, 5-3, 6-5, 7-6, 8-7, 9-3, 10-9, 11-10, 12-11, 13-1,
  14-13, 15-14, 16-15, 17-1, 18-17, 19-18, 20-19) rooted at HipCenter; graph edges = bones.

Centre joints: ``centre`` is the root of ST-GCN's spatial-configuration partition (released
ST-GCN: NTU's SpineShoulder 21; SYSU: ShoulderCenter 3, its Kinect v1 counterpart).
``va_centre`` is the VA-pre origin, the spine-middle joint (SPEC §1.3: NTU SpineMid 2, SYSU
Spine 2); ``shoulders`` (left, right) are the joints of VA-pre's rotation alignment.

Layer: a leaf like :mod:`mmff.config`; imports nothing from mmff.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

__all__ = ["Layout", "LAYOUTS", "get_layout", "num_joints", "layout_for_joints"]


@dataclass(frozen=True)
class Layout:
    """One skeleton layout; all joint indices 0-based."""

    name: str
    joint_names: tuple          # V names in file order
    bones: tuple                # (child, parent) pairs: a tree over all V joints
    centre: int                 # ST-GCN partition centre
    va_centre: int              # VA-pre origin (spine middle)
    shoulders: tuple            # (left, right): VA-pre rotation alignment
    graph_edges: Optional[tuple] = None   # ST-GCN edges when they differ from the bones

    @property
    def num_joints(self) -> int:
        return len(self.joint_names)

    @property
    def edges(self) -> tuple:
        """The ST-GCN graph edges (0-based pairs; the adjacency is symmetric)."""
        return self.bones if self.graph_edges is None else self.graph_edges

    @property
    def root(self) -> int:
        """The one joint that is no bone's child."""
        return next(j for j in range(self.num_joints) if j not in {c for c, _ in self.bones})


_NTU_NAMES = (
    "SpineBase", "SpineMid", "Neck", "Head", "ShoulderLeft", "ElbowLeft", "WristLeft",
    "HandLeft", "ShoulderRight", "ElbowRight", "WristRight", "HandRight", "HipLeft", "KneeLeft",
    "AnkleLeft", "FootLeft", "HipRight", "KneeRight", "AnkleRight", "FootRight", "SpineShoulder",
    "HandTipLeft", "ThumbLeft", "HandTipRight", "ThumbRight",
)
_NTU_BODY = ((0, 1), (1, 20), (2, 20), (3, 2), (4, 20), (5, 4), (6, 5), (7, 6), (8, 20), (9, 8),
             (10, 9), (11, 10), (12, 0), (13, 12), (14, 13), (15, 14), (16, 0), (17, 16),
             (18, 17), (19, 18))
_NTU_KINECT_BONES = _NTU_BODY + ((21, 7), (22, 7), (23, 11), (24, 11))
_NTU_RELEASED_EDGES = _NTU_BODY + ((21, 22), (22, 7), (23, 24), (24, 11))

_SYSU_NAMES = (
    "HipCenter", "Spine", "ShoulderCenter", "Head",
    "ShoulderLeft", "ElbowLeft", "WristLeft", "HandLeft",
    "ShoulderRight", "ElbowRight", "WristRight", "HandRight",
    "HipLeft", "KneeLeft", "AnkleLeft", "FootLeft",
    "HipRight", "KneeRight", "AnkleRight", "FootRight",
)
_SYSU_BONES = ((1, 0), (2, 1), (3, 2), (4, 2), (5, 4), (6, 5), (7, 6), (8, 2), (9, 8), (10, 9),
               (11, 10), (12, 0), (13, 12), (14, 13), (15, 14), (16, 0), (17, 16), (18, 17),
               (19, 18))

#: layout name (``model.skeleton.layout``) -> :class:`Layout`
LAYOUTS: dict = {
    "ntu": Layout("ntu", _NTU_NAMES, _NTU_KINECT_BONES, centre=20, va_centre=1, shoulders=(4, 8),
                  graph_edges=_NTU_RELEASED_EDGES),
    "ntu_kinect": Layout("ntu_kinect", _NTU_NAMES, _NTU_KINECT_BONES, centre=20, va_centre=1,
                         shoulders=(4, 8)),
    "sysu": Layout("sysu", _SYSU_NAMES, _SYSU_BONES, centre=2, va_centre=1, shoulders=(4, 8)),
}


def get_layout(name: str) -> Layout:
    """The :class:`Layout` called ``name``; a one-line error for an unknown name."""
    try:
        return LAYOUTS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown skeleton layout {name!r} (expected one of "
                         f"{sorted(LAYOUTS)})") from None


def num_joints(name: str) -> int:
    """V for a layout name."""
    return get_layout(name).num_joints


def layout_for_joints(v: int) -> Layout:
    """The first layout with ``v`` joints (``ntu`` for 25, ``sysu`` for 20)."""
    for lay in LAYOUTS.values():
        if lay.num_joints == v:
            return lay
    raise ValueError(f"no skeleton layout has {v} joints (known: "
                     f"{ {k: lay.num_joints for k, lay in LAYOUTS.items()} })")
