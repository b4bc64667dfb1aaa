"""Generate the NTU RGB+D-format stand-in files in ``tests/data/ntu/`` (deterministic).

The NTU RGB+D release is under the ROSE Lab research-use agreement and may not be copied
into this repository, so the tests read stand-ins made here instead. They have the
properties the tests rely on:

* ``.skeleton`` files in the release's text format (frame count; per frame a body count; per
  body the 10-value body line, ``25`` and 25 joint lines of x y z (metres, camera space),
  depth x y, colour x y (pixels in the 1920x1080 RGB frame), orientation w x y z and the
  tracking state), CRLF line ends, numbers printed like the release (C# ``float.ToString()``:
  7 significant digits, ``E-05`` exponents), body ids above 2**56 as Kinect v2 writes them:

  - ``S001C001P001R001A001`` (A001 drink water): 1 body, 103 frames;
  - ``S001C001P001R001A011`` (A011 reading): 1 body, 82 frames;
  - ``S001C003P008R002A058`` (A058 handshaking): 2 bodies in every frame, 70 frames;
  - ``lf/S001C001P001R001A011.skeleton``: the A011 file with LF line ends.

* ``S001C001P001R001A001_rgb.avi``: 1920x1080, 30 fps, h264 (High profile, x264 with
  3 B-frames and a B-pyramid like the release, one keyframe), 103 frames = the skeleton's
  frames; frame t shows the A001 body of frame t drawn at its colour coordinates, so a
  projection crop around the joints contains the person. AVI stores no presentation times,
  so the decoder output follows the B-frame reordering, not the packet order.
* ``extra/ntu_sample_two_person_hug.avi``: 72 frames, two bodies walking into a hug, no
  skeleton file (as the release's extra sample).
* ``NTU60_skes_available_name.txt`` / ``NTU120_skes_available_name.txt``: sample-name lists
  (one name a line) and ``NTU_RGBD_samples_with_missing_skeletons.txt`` /
  ``NTU_RGBD120_samples_with_missing_skeletons.txt`` (2 header lines, a blank line, names) in
  the official formats, made of names generated here (not the official lists).
* ``standins.json``: the ground truth the tests compare against (frame and body counts, body
  ids, first lines, sizes, SHA-256 of every file).

Everything in the skeleton files and the name lists is computed with +, -, *, / and sqrt on
float64 and an integer LCG, and printed with Python's correctly rounded formatting, so the
text files are bit-identical on every platform (``tests/test_ntu_standins.py`` regenerates
them and compares bytes). The videos depend on the x264 build; they are made once and
committed. The writer here is independent of ``mmff.data.ntu.write_skeleton`` on purpose.

Usage: ``python tests/data/make_ntu_standins.py [--out DIR] [--no-video]``
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
OUT = HERE / "ntu"

A001, A011, A058 = "S001C001P001R001A001", "S001C001P001R001A011", "S001C003P008R002A058"
FRAMES = {A001: 103, A011: 82, A058: 70}
HUG_FRAMES = 72
WIDTH, HEIGHT, FPS = 1920, 1080, 30
BODY_ID_BASE = 2 ** 56                      # Kinect v2 tracking ids: 72057594037927936 + n

#: Kinect v2 colour (1920x1080) and depth (512x424) pinhole intrinsics fx, fy, cx, cy
COLOR_K = (1081.37, 1081.37, 959.5, 539.5)
DEPTH_K = (365.5, 365.5, 256.0, 212.0)

# 25 Kinect v2 joints (NTU order, 0-based), rest pose relative to SpineBase, metres, body
# frame: x to the subject's right as seen in the release (ShoulderRight has the larger x),
# y up, z away from the camera (the subject faces the camera: forward is -z).
REST = [
    (0.00, 0.00, 0.00),      # 0 SpineBase
    (0.00, 0.27, -0.02),     # 1 SpineMid
    (0.00, 0.58, -0.04),     # 2 Neck
    (0.00, 0.72, -0.03),     # 3 Head
    (-0.18, 0.47, -0.02),    # 4 ShoulderLeft
    (-0.23, 0.22, 0.00),     # 5 ElbowLeft
    (-0.24, -0.02, -0.03),   # 6 WristLeft
    (-0.24, -0.09, -0.04),   # 7 HandLeft
    (0.18, 0.47, -0.02),     # 8 ShoulderRight
    (0.23, 0.22, 0.00),      # 9 ElbowRight
    (0.24, -0.02, -0.03),    # 10 WristRight
    (0.24, -0.09, -0.04),    # 11 HandRight
    (-0.08, -0.02, 0.00),    # 12 HipLeft
    (-0.09, -0.42, -0.02),   # 13 KneeLeft
    (-0.09, -0.80, 0.01),    # 14 AnkleLeft
    (-0.09, -0.86, -0.08),   # 15 FootLeft
    (0.08, -0.02, 0.00),     # 16 HipRight
    (0.09, -0.42, -0.02),    # 17 KneeRight
    (0.09, -0.80, 0.01),     # 18 AnkleRight
    (0.09, -0.86, -0.08),    # 19 FootRight
    (0.00, 0.51, -0.04),     # 20 SpineShoulder
    (-0.24, -0.16, -0.05),   # 21 HandTipLeft
    (-0.21, -0.09, -0.07),   # 22 ThumbLeft
    (0.24, -0.16, -0.05),    # 23 HandTipRight
    (0.21, -0.09, -0.07),    # 24 ThumbRight
]
BONES = [(0, 1), (1, 20), (20, 2), (2, 3), (20, 4), (4, 5), (5, 6), (6, 7), (7, 21), (7, 22),
         (20, 8), (8, 9), (9, 10), (10, 11), (11, 23), (11, 24), (0, 12), (12, 13), (13, 14),
         (14, 15), (0, 16), (16, 17), (17, 18), (18, 19)]
RIGHT_HAND = (10, 11, 23, 24)
LEFT_HAND = (6, 7, 21, 22)
NO_ORIENTATION = (3, 15, 19, 21, 22, 23, 24)   # end joints: the SDK writes 0 0 0 0


# ----------------------------------------------------------------------- exact helpers
class LCG:
    """Numerical Recipes 32-bit LCG: the same integers everywhere."""

    def __init__(self, seed: int):
        self.state = seed & 0xFFFFFFFF

    def next(self) -> int:
        self.state = (1664525 * self.state + 1013904223) & 0xFFFFFFFF
        return self.state

    def uniform(self) -> float:
        """In [-1, 1): an exact float64 from the top 24 bits."""
        return (self.next() >> 8) / 8388608.0 - 1.0


def smoothstep(u: float) -> float:
    u = 0.0 if u < 0 else 1.0 if u > 1 else u
    return u * u * (3.0 - 2.0 * u)


def bump(t: int, a: int, b: int, c: int, d: int) -> float:
    """0 before a, rises to 1 over [a, b], holds until c, falls to 0 over [c, d]."""
    if t <= a or t >= d:
        return 0.0
    if t < b:
        return smoothstep((t - a) / (b - a))
    if t <= c:
        return 1.0
    return 1.0 - smoothstep((t - c) / (d - c))


def triangle(t: float, period: float) -> float:
    """Triangle wave in [-1, 1] (a shake, a sway) without trigonometry."""
    x = (t / period) % 1.0
    return 4.0 * x - 1.0 if x < 0.5 else 3.0 - 4.0 * x


def cs_float(v: float) -> str:
    """A number as the release prints it (C# float.ToString(): 7 significant digits, E-05
    exponents), chosen so that the float32 read back prints the same string again."""
    s = format(v + 0.0, ".7G")
    for _ in range(8):
        back = format(float(np.float32(float(s))) + 0.0, ".7G")
        if back == s:
            return s
        s = back
    raise AssertionError(f"no stable 7-digit form for {v!r}")


# ----------------------------------------------------------------------- motion
def lerp(p, q, w):
    return tuple(a + (b - a) * w for a, b in zip(p, q))


def pose(name: str, t: int, person: int) -> list:
    """Body-frame joint positions (25 tuples) of one body at frame ``t``."""
    j = [tuple(p) for p in REST]
    T = FRAMES.get(name, HUG_FRAMES)
    sway = 0.015 * triangle(t + 7 * person, 41.0)
    j = [(x + sway, y, z) for x, y, z in j]
    if name == A001:                                   # drink water: right hand to the mouth
        w = bump(t, 18, 42, 66, 92)
        sip = 0.012 * triangle(t, 9.0) * w
        elbow = (0.24, 0.33, -0.20)
        mouth = {10: (0.07, 0.60, -0.16), 11: (0.05, 0.66, -0.17), 23: (0.03, 0.71, -0.18),
                 24: (0.02, 0.63, -0.19)}
        j[9] = lerp(j[9], elbow, w)
        for k, target in mouth.items():
            j[k] = lerp(j[k], (target[0] + sway, target[1] + sip, target[2]), w)
        j[3] = (j[3][0], j[3][1], j[3][2] + 0.03 * w)  # head tips back
    elif name == A011:                                 # reading: both hands hold a book
        w = bump(t, 6, 24, T - 10, T + 40)
        page = 0.02 * triangle(t, 23.0) * w
        book = {6: (-0.10, 0.16, -0.30), 7: (-0.07, 0.19, -0.34), 21: (-0.04, 0.22, -0.37),
                22: (-0.05, 0.20, -0.33), 10: (0.10, 0.16, -0.30), 11: (0.07, 0.19, -0.34),
                23: (0.04, 0.22, -0.37), 24: (0.05, 0.20, -0.33)}
        for k, target in book.items():
            dy = page if k in LEFT_HAND else 0.0
            j[k] = lerp(j[k], (target[0] + sway, target[1] + dy, target[2]), w)
        j[5] = lerp(j[5], (-0.22, 0.22, -0.14), w)
        j[9] = lerp(j[9], (0.22, 0.22, -0.14), w)
        j[3] = (j[3][0], j[3][1] - 0.03 * w, j[3][2] - 0.04 * w)  # looks down
    elif name == A058:                                 # handshaking: right hands meet
        w = bump(t, 10, 28, 50, 66)
        shake = 0.03 * triangle(t, 8.0) * w
        j[9] = lerp(j[9], (0.26, 0.28, -0.22), w)
        reach = {10: (0.18, 0.18, -0.44), 11: (0.17, 0.17, -0.51), 23: (0.16, 0.16, -0.58),
                 24: (0.14, 0.20, -0.51)}
        for k, target in reach.items():
            j[k] = lerp(j[k], (target[0] + sway, target[1] + shake, target[2]), w)
    else:                                              # hug: arms around each other
        w = bump(t, 30, 50, HUG_FRAMES + 10, HUG_FRAMES + 20)
        for hand, elbow, side in ((RIGHT_HAND, 9, 1.0), (LEFT_HAND, 5, -1.0)):
            j[elbow] = lerp(j[elbow], (0.30 * side, 0.40, -0.25), w)
            for k in hand:
                j[k] = lerp(j[k], (0.12 * side, 0.45, -0.45), w)
    return j


#: per file: bodies as (id offset, seed, root x, root y, root z, yaw cos, yaw sin, approach)
PEOPLE = {
    A001: [(3165, 11, 0.22, 0.16, 3.78, 1.0, 0.0, 0.0)],
    A011: [(3166, 12, 0.05, 0.12, 3.25, 1.0, 0.0, 0.0)],
    # two people facing each other at an angle (3-4-5 yaw: cos 0.6, sin 0.8)
    A058: [(4001, 21, -0.42, 0.14, 3.05, 0.6, 0.8, 0.0),
           (4002, 22, 0.46, 0.11, 3.20, 0.6, -0.8, 0.0)],
    "hug": [(5001, 31, -0.90, 0.14, 3.10, 0.6, 0.8, 0.55),
            (5002, 32, 0.95, 0.12, 3.20, 0.6, -0.8, -0.58)],
}


def body_frames(name: str) -> list:
    """Per body: T lists of 25 camera-space joints (metres)."""
    key = name if name in PEOPLE else "hug"
    T = FRAMES.get(name, HUG_FRAMES)
    out = []
    for person, (_, seed, x0, y0, z0, c, s, approach) in enumerate(PEOPLE[key]):
        rng = LCG(seed)
        frames = []
        for t in range(T):
            walk = approach * smoothstep(t / 40.0)
            cam = []
            for bx, by, bz in pose(name, t, person):
                # yaw about the vertical axis, then place the body (Kinect jitter ~2 mm)
                x = c * bx - s * bz + x0 + walk + 0.002 * rng.uniform()
                z = s * bx + c * bz + z0 + 0.002 * rng.uniform()
                y = by + y0 + 0.002 * rng.uniform()
                cam.append((x, y, z))
            frames.append(cam)
        out.append(frames)
    return out


def project(p, k):
    fx, fy, cx, cy = k
    return cx + fx * p[0] / p[2], cy - fy * p[1] / p[2]


def orientation(rng: LCG, jidx: int, t: int):
    if jidx in NO_ORIENTATION:
        return (0.0, 0.0, 0.0, 0.0)
    base = (0.9 - 0.02 * (jidx % 5), 0.05 * ((jidx % 3) - 1), 0.3 + 0.01 * jidx, -0.1)
    q = [b + 0.01 * triangle(t + jidx, 30.0) + 0.004 * rng.uniform() for b in base]
    n = math.sqrt(sum(v * v for v in q))
    return tuple(v / n for v in q)


def skeleton_text(name: str, newline: str = "\r\n") -> str:
    """The .skeleton text of a stand-in (independent of mmff's writer)."""
    bodies = body_frames(name)
    ids = [BODY_ID_BASE + p[0] for p in PEOPLE[name]]
    T = FRAMES[name]
    lines = [str(T)]
    for t in range(T):
        lines.append(str(len(bodies)))
        for m, frames in enumerate(bodies):
            rng = LCG(1000 * (m + 1) + t)
            lean_x = 0.03 + 0.02 * triangle(t, 37.0) + 0.002 * rng.uniform()
            lean_y = 0.05 + 0.01 * triangle(t, 29.0) + 0.002 * rng.uniform()
            # bodyID clipedEdges handLeftConfidence handLeftState handRightConfidence
            # handRightState isRestricted leanX leanY trackingState
            lines.append(f"{ids[m]} 0 1 1 1 1 0 {cs_float(lean_x)} {cs_float(lean_y)} 2")
            lines.append("25")
            for jidx, p in enumerate(frames[t]):
                d = project(p, DEPTH_K)
                c = project(p, COLOR_K)
                q = orientation(rng, jidx, t)
                # hand tips and thumbs are often only inferred (1); the rest tracked (2)
                state = 1 if jidx >= 21 and (rng.next() >> 16) % 5 == 0 else 2
                vals = list(p) + list(d) + list(c) + list(q)
                lines.append(" ".join(cs_float(v) for v in vals) + f" {state}")
    return newline.join(lines) + newline


# ----------------------------------------------------------------------- name lists
#: NTU-120 has 32 setups, 3 cameras, 106 performers, 2 replications, 120 actions;
#: NTU-60 is setups 1-17, performers 1-40, actions 1-60.
def generated_names(which: str) -> tuple:
    """(available, missing) sample names for a stand-in list: one name per (action, camera)
    with setup, performer and replication from an LCG, the largest ids included."""
    n_act, n_set, n_perf = (60, 17, 40) if which == "NTU60" else (120, 32, 106)
    rng = LCG(60 if which == "NTU60" else 120)
    names = set()
    for a in range(1, n_act + 1):
        for c in range(1, 4):
            s = 1 + (rng.next() >> 8) % n_set
            p = 1 + (rng.next() >> 8) % n_perf
            r = 1 + (rng.next() >> 8) % 2
            names.add(f"S{s:03d}C{c:03d}P{p:03d}R{r:03d}A{a:03d}")
    names.add(f"S{n_set:03d}C003P{n_perf:03d}R002A{n_act:03d}")
    names = sorted(names)
    missing = names[5::37]                      # a few samples "without skeletons"
    if which == "NTU120":                       # the NTU-120 list repeats the NTU-60 one
        missing = sorted(set(missing) | set(generated_names("NTU60")[1]))
    available = [n for n in names if n not in set(missing)]
    return available, missing


def missing_list_text(which: str) -> str:
    _, missing = generated_names(which)
    head = ("Stand-in list in the format of the official NTU RGB+D missing-skeleton list: "
            "these generated sample names have missing or incomplete skeleton data.\r\n"
            "If you are working on skeleton-based analysis, please ignore these files in your "
            "training and testing procedures.\r\n\r\n")
    return head + "\r\n".join(missing) + "\r\n"


def available_list_text(which: str) -> str:
    return "\n".join(generated_names(which)[0]) + "\n"


TEXT_FILES = {
    f"{A001}.skeleton": lambda: skeleton_text(A001),
    f"{A011}.skeleton": lambda: skeleton_text(A011),
    f"{A058}.skeleton": lambda: skeleton_text(A058),
    f"lf/{A011}.skeleton": lambda: skeleton_text(A011, "\n"),
    "NTU60_skes_available_name.txt": lambda: available_list_text("NTU60"),
    "NTU120_skes_available_name.txt": lambda: available_list_text("NTU120"),
    "NTU_RGBD_samples_with_missing_skeletons.txt": lambda: missing_list_text("NTU60"),
    "NTU_RGBD120_samples_with_missing_skeletons.txt": lambda: missing_list_text("NTU120"),
}


# ----------------------------------------------------------------------- video
def _draw(img: np.ndarray, frames2d: list, colours: list) -> None:
    """Thick limbs (capsules) and a head disc at the colour coordinates."""
    H, W = img.shape[:2]
    for pts, col in zip(frames2d, colours):
        for a, b in BONES:
            (x0, y0), (x1, y1) = pts[a], pts[b]
            r = 30.0 if b == 3 else 16.0
            bx0, bx1 = int(max(0, min(x0, x1) - r)), int(min(W, max(x0, x1) + r + 1))
            by0, by1 = int(max(0, min(y0, y1) - r)), int(min(H, max(y0, y1) + r + 1))
            if bx0 >= bx1 or by0 >= by1:
                continue
            yy, xx = np.mgrid[by0:by1, bx0:bx1].astype(np.float32)
            dx, dy = x1 - x0, y1 - y0
            L = dx * dx + dy * dy
            u = np.clip(((xx - x0) * dx + (yy - y0) * dy) / L, 0, 1) if L > 0 else 0 * xx
            d2 = (xx - (x0 + u * dx)) ** 2 + (yy - (y0 + u * dy)) ** 2
            img[by0:by1, bx0:bx1][d2 <= r * r] = col


def write_video(path: Path, name: str, n: int) -> None:
    import av

    bodies = body_frames(name)
    colours = [(200, 60, 40), (40, 90, 200)]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    c = av.open(str(tmp), "w", format="avi")
    s = c.add_stream("libx264", rate=FPS)
    s.width, s.height, s.pix_fmt = WIDTH, HEIGHT, "yuv420p"
    s.options = {"preset": "medium", "crf": "30", "profile": "high",
                 "x264-params": "bframes=3:b-pyramid=normal:b-adapt=0:ref=2:keyint=250:"
                                "min-keyint=25:scenecut=0:open-gop=0:threads=1"}
    floor = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    floor[:] = (150, 146, 138)
    floor[700:] = (112, 104, 96)                      # a floor below the horizon
    for t in range(n):
        img = floor.copy()
        _draw(img, [[project(p, COLOR_K) for p in frames[t]] for frames in bodies],
              colours)
        for pkt in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
            c.mux(pkt)
    for pkt in s.encode(None):
        c.mux(pkt)
    c.close()
    tmp.replace(path)


def nal_ref_counts(path: Path) -> tuple:
    """(packets, non-reference VCL packets): nal_ref_idc of each packet's first slice NAL."""
    import av

    c = av.open(str(path))
    n = nonref = 0
    for pkt in c.demux(c.streams.video[0]):
        data = bytes(pkt)
        if not data:
            continue
        n += 1
        i = 0
        while True:
            i = data.find(b"\x00\x00\x01", i)
            if i < 0:
                break
            h = data[i + 3]
            if h & 0x1F in (1, 5):
                nonref += (h >> 5) & 3 == 0
                break
            i += 3
    c.close()
    return n, nonref


# ----------------------------------------------------------------------- manifest
def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def manifest(out: Path) -> dict:
    m = {"skeletons": {}, "videos": {}, "lists": {}, "sha256": {}}
    for name in (A001, A011, A058):
        text = skeleton_text(name).split("\r\n")
        m["skeletons"][name] = {
            "frames": FRAMES[name], "bodies": len(PEOPLE[name]),
            "body_ids": [BODY_ID_BASE + p[0] for p in PEOPLE[name]],
            "first_body_line": text[2], "first_joint_line": text[4],
            "last_joint_line": text[-2], "lines": len(text) - 1}
    for which in ("NTU60", "NTU120"):
        avail, missing = generated_names(which)
        m["lists"][which] = {"available": len(avail), "missing": len(missing),
                             "example_missing": missing[0]}
    for rel, n in ((f"{A001}_rgb.avi", FRAMES[A001]),
                   ("extra/ntu_sample_two_person_hug.avi", HUG_FRAMES)):
        p = out / rel
        if p.exists():
            packets, nonref = nal_ref_counts(p)
            m["videos"][rel] = {"frames": n, "width": WIDTH, "height": HEIGHT, "fps": FPS,
                                "packets": packets, "nonref_packets": nonref}
    for p in sorted(out.rglob("*")):
        if p.is_file() and p.name != "standins.json":
            m["sha256"][p.relative_to(out).as_posix()] = sha256(p)
    return m


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--no-video", action="store_true", help="text files only")
    a = ap.parse_args(argv)
    for rel, make in TEXT_FILES.items():
        p = a.out / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(make().encode("ascii"))
    if not a.no_video:
        write_video(a.out / f"{A001}_rgb.avi", A001, FRAMES[A001])
        write_video(a.out / "extra" / "ntu_sample_two_person_hug.avi", "hug", HUG_FRAMES)
    (a.out / "standins.json").write_text(json.dumps(manifest(a.out), indent=1) + "\n")
    for p in sorted(a.out.rglob("*")):
        if p.is_file():
            print(f"{p.stat().st_size:>9}  {p.relative_to(a.out)}")


if __name__ == "__main__":
    main()
