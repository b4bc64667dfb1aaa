"""``mmff synth``: generate the synthetic SynthHOI dataset in the NTU RGB+D (or SYSU) file formats
(``--version 2``: SynthHOI v2, each module's premise by construction)."""
from __future__ import annotations

import argparse
import os
import sys

HELP = ("generate SynthHOI, a small human-object-interaction dataset written in the NTU RGB+D "
        "file formats (skeleton + _rgb.avi + classes.txt) or the SYSU 3D HOI layout")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", required=True, help="output folder (created; existing samples are "
                   "kept and skipped, so an interrupted run resumes)")
    p.add_argument("--samples-per-class", type=int, default=24, metavar="N",
                   help="samples per class (even i: a cross-subject train subject, odd i: test)")
    p.add_argument("--seed", type=int, default=0, help="random seed; same seed = same bytes")
    p.add_argument("--version", type=int, choices=(1, 2), default=1,
                   help="SynthHOI version: 1 the original; 2 with each module's "
                        "premise by construction: a small person in a wide cluttered frame, "
                        "look-alike distractors, the object in the hand only mid-action, "
                        "camera and body-size variation (see mmff.data.synth)")
    p.add_argument("--size", default=None, metavar="WxH",
                   help="video frame size (even, up to 1920x1080); default 320x240 for "
                        "--version 1, 480x270 for --version 2 (384x216: its lighter setting)")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1, metavar="N",
                   help="parallel processes")
    p.add_argument("--format", choices=("ntu", "sysu"), default="ntu",
                   help="ntu: SsssCcccPpppRrrrAaaa.skeleton + _rgb.avi; sysu: the SYSU 3D HOI "
                        "release tree (3DvideoNorm/<Subject>/video<k>/)")
    p.add_argument("--overwrite", action="store_true",
                   help="rewrite samples (sysu: sequences) that exist")
    p.add_argument("--strict", action="store_true",
                   help="exit non-zero if any sample (sysu: sequence) failed")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from mmff.data.synth import DEFAULT_SIZE, generate, parse_size

    size = parse_size(args.size or DEFAULT_SIZE[args.version])
    if args.samples_per_class < 1:
        raise ValueError(f"--samples-per-class: expected >= 1, got {args.samples_per_class}")
    if args.format == "sysu":
        if args.version != 1:
            raise ValueError("--format sysu: only --version 1 has a SYSU layout")
        from mmff.data.sysu import write_synthetic_sysu  # lazy: the SYSU module is optional here

        summary = write_synthetic_sysu(args.out, samples_per_class=args.samples_per_class,
                                       seed=args.seed, size=size, workers=max(1, args.workers),
                                       overwrite=args.overwrite, progress=not args.no_progress)
        what, out = "SynthHOI (SYSU 3D HOI layout)", summary["root"]
    else:
        summary = generate(args.out, samples_per_class=args.samples_per_class, seed=args.seed,
                           size=size, workers=max(1, args.workers), overwrite=args.overwrite,
                           progress=not args.no_progress, version=args.version)
        what = "SynthHOI" if args.version == 1 else f"SynthHOI v{args.version}"
        out = summary["out"]
    for f in summary["failed"]:
        print(f"{f['name']}: {f['error']}", file=sys.stderr)
    print(f"{what}: {summary['written']} written, {summary['skipped']} already there, "
          f"{len(summary['failed'])} failed -> {out}")
    return 1 if (summary["failed"] and args.strict) else 0
