"""``mmff prepare ntu|sysu``: raw skeletons + videos -> the prepared folder training reads."""
from __future__ import annotations

import argparse
import json
import sys

HELP = "prepare a dataset (skeleton arrays + cropped frames at p + index.json) for training"

_EPILOG = """\
examples:
  mmff prepare ntu --raw nturgb+d_skeletons --videos nturgb+d_rgb --out prepared/ntu60 \\
      --missing NTU_RGBD_samples_with_missing_skeletons.txt
  mmff prepare ntu --raw synth_raw --out prepared/synth --positions 0.3 0.5 0.7
  mmff prepare sysu --raw SYSU3DHOI --out prepared/sysu

Writes OUT/index.json, OUT/samples/NAME.{npz,json}, OUT/frames/NAME_pX.XX.jpg and
OUT/report.json ({"ok": int, "failed": [{"file", "error"}], "missing": [names],
"missing_reasons": {name: why}, "duplicates": [{"name", "kept", "ignored"}], "warnings": [..]}).
Bad files are reported and skipped (exit 0) unless --strict; so are files that give an
already-seen sample name (the first in sorted order is kept). --pyskl uses the pickle's own
split where it has one and says (warning) which benchmark splits it recomputed from the names.
Re-running resumes: finished samples are skipped."""


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", required=True, help="output folder (created; re-runs resume)")
    p.add_argument("--workers", type=int, default=None,
                   help="worker processes (None: one per core)")
    p.add_argument("--positions", type=float, nargs="+", default=[0.5], metavar="P",
                   help="frame fractions p to extract (e.g. 0.3 0.5 0.7)")
    p.add_argument("--strict", action="store_true",
                   help="exit non-zero (after writing the report) if any file failed or a "
                        "skeleton/video has no partner")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = _EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    sub = parser.add_subparsers(dest="dataset", metavar="DATASET", required=True)
    ntu = sub.add_parser("ntu", help="NTU RGB+D 60/120 format (also the synthetic generator's)",
                         formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ntu.add_argument("--raw", default=None,
                     help="folder of *.skeleton files (and optional classes.txt)")
    ntu.add_argument("--videos", default=None, help="folder of NAME_rgb.avi (None: --raw)")
    ntu.add_argument("--pyskl", default=None, metavar="FILE.pkl",
                     help="use a PYSKL annotation pickle as the skeleton source")
    ntu.add_argument("--missing", default=None, metavar="FILE",
                     help="official list of samples with missing skeletons (skipped, reported); "
                          f"None: {' or '.join(OFFICIAL_MISSING_LISTS)} in --raw or its parent "
                          "if there, else a warning (the lists are not redistributed here)"),
    ntu.add_argument("--benchmark", choices=("ntu60", "ntu120"), default=None,
                     help="class set and split benchmarks (None: ntu120 if any action > 60 or "
                          "setup > 17)")
    ntu.add_argument("--limit", type=int, default=None, help="only the first N samples")
    ntu.add_argument("--skeleton-only", action="store_true",
                     help="store no frames (skeleton-only models); no videos needed")
    ntu.add_argument("--store", choices=("crop", "full"), default="crop",
                     help="keep a generous crop around the joints, or the full frame "
                          "(needed by data.projection_crop=false)")
    ntu.add_argument("--margin-max", type=float, default=300.0,
                     help="largest projection-crop margin w', h' (1080p pixels) the stored crop "
                          "must allow")
    ntu.add_argument("--jpeg-quality", type=int, default=95, help="JPEG quality of stored frames")
    _common(ntu)
    sysu = sub.add_parser("sysu", help="SYSU 3D Human-Object Interaction",
                          formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    sysu.add_argument("--root", "--raw", dest="raw", required=True,
                      help="SYSU root (3DvideoNorm/<Subject>/video<k>/)")
    sysu.add_argument("--folds", type=int, default=30,
                      help="random folds per setting stored in the index (Setting-1 and -2)")
    sysu.add_argument("--seed", type=int, default=0, help="seed of the random folds")
    sysu.add_argument("--fold-file", action="append", default=None, metavar="[SETTING=]FILE",
                      help="fold file that circulates with the dataset (train indices per fold; "
                           "see docs/sysu.md); repeatable, e.g. setting1=folds1.mat")
    sysu.add_argument("--skeleton-only", action="store_true", help="store no frames")
    sysu.add_argument("--store", choices=("crop", "full"), default="crop",
                      help="keep a generous crop around the joints, or the full frame")
    _common(sysu)


#: file names of the official NTU missing-skeleton lists (github.com/shahroudy/NTURGB-D); the
#: NTU-120 list contains the NTU-60 one. Not shipped: the NTU RGB+D terms forbid redistribution.
OFFICIAL_MISSING_LISTS = ("NTU_RGBD120_samples_with_missing_skeletons.txt",
                          "NTU_RGBD_samples_with_missing_skeletons.txt")


def default_missing_list(raw) -> tuple:
    """``(path or None, message)`` for ``--missing`` left out: the first official list (NTU-120
    first) found in ``raw`` or its parent, else None and a warning saying where to get it.
    A folder with its own ``classes.txt`` (SynthHOI, a custom NTU-format set) needs no list:
    ``(None, None)``."""
    from pathlib import Path

    raw = Path(raw).resolve()
    if (raw / "classes.txt").is_file():
        return None, None
    for folder in (raw, raw.parent):
        for name in OFFICIAL_MISSING_LISTS:
            if (folder / name).is_file():
                return str(folder / name), f"using the official missing-skeleton list {folder / name}"
    return None, ("warning: no --missing FILE given and no official missing-skeleton list "
                  f"({' / '.join(OFFICIAL_MISSING_LISTS)}) in {raw} or its parent: samples with "
                  "no usable body will be reported as failed; get the list from "
                  "https://github.com/shahroudy/NTURGB-D and pass --missing FILE")


def _finish(report: dict, out, strict: bool) -> int:
    failed, missing = report["failed"], report.get("missing_reasons", {})
    dups = report.get("duplicates", [])
    for w in report.get("warnings", []):
        print(f"warning: {w}", file=sys.stderr)
    for d in dups:
        print(f"duplicate: {d['name']}: kept {d['kept']}, ignored {', '.join(d['ignored'])}",
              file=sys.stderr)
    for f in failed:
        print(f"failed: {f['file']}: {f['error']}", file=sys.stderr)
    unpaired = {n: r for n, r in missing.items() if "official" not in r}
    print(json.dumps({"ok": report["ok"], "failed": len(failed), "missing": len(missing),
                      "duplicates": len(dups), "written": report.get("written"),
                      "skipped": report.get("skipped"), "out": str(out)}))
    if strict and (failed or unpaired or dups):
        print(f"mmff prepare: --strict: {len(failed)} failed file(s), {len(unpaired)} "
              f"sample(s) without skeleton/video partner, {len(dups)} duplicate name(s); "
              f"see {out}/report.json", file=sys.stderr)
        return 1
    return 0


def run(args: argparse.Namespace) -> int:
    if args.dataset == "ntu":
        from mmff.data.prepare import prepare_ntu

        missing, said = args.missing, None
        if missing is None and args.raw and not args.pyskl:
            missing, said = default_missing_list(args.raw)
        res = prepare_ntu(args.raw, args.out, videos=args.videos, workers=args.workers,
                          positions=args.positions, strict=args.strict, missing=missing,
                          benchmark=args.benchmark, limit=args.limit, pyskl=args.pyskl,
                          skeleton_only=args.skeleton_only, margin_max=args.margin_max,
                          store=args.store, jpeg_quality=args.jpeg_quality,
                          progress=not args.no_progress)
        if said:
            print(said, file=sys.stderr)
        return _finish(res.report, args.out, args.strict)
    try:
        from mmff.data.sysu import prepare_sysu
    except ImportError:
        raise ValueError("prepare sysu: mmff.data.sysu.prepare_sysu is not available") from None
    fold_file = None
    if args.fold_file:
        pairs = [f.split("=", 1) if "=" in f else (None, f) for f in args.fold_file]
        keyed = {k: v for k, v in pairs if k}
        plain = [v for k, v in pairs if not k]
        if keyed and plain:
            raise ValueError("--fold-file: use either SETTING=FILE for all files or plain FILEs")
        fold_file = keyed or (plain[0] if len(plain) == 1 else plain)
    res = prepare_sysu(args.raw, args.out, workers=args.workers, strict=args.strict,
                       positions=args.positions, n_folds=args.folds, seed=args.seed,
                       fold_file=fold_file, skeleton_only=args.skeleton_only, store=args.store,
                       progress=not args.no_progress)
    report = getattr(res, "report", res)
    if not isinstance(report, dict):
        import pathlib

        report = json.loads((pathlib.Path(args.out) / "report.json").read_text())
    return _finish(report, args.out, args.strict)
