"""``mmff bench``: measure what MMFF's design saves, as ratios taken in one run on one machine."""
from __future__ import annotations

import argparse
import json
import shlex
import sys

HELP = ("Benchmark MMFF against the alternatives it replaces, as ratios measured in one run: "
        "end to end vs the same skeleton network + I3D-ResNet-50 on 32 frames (time and MACs; "
        "the paper's 300-frame ST-GCN and PYSKL's 100-frame ST-GCN / ST-GCN++), the skeleton reader "
        "vs a line-by-line reader, the frame at p vs decoding the whole video, data loader vs "
        "training step, 'mmff prepare' vs the decode floor, and scaling with sequence length.")

_SECTIONS = ("e2e", "reader", "seek", "loader", "prepare", "scaling")
E2E_VARIANTS = ("paper", "stgcn_100", "stgcnpp_100")   # mmff.engine.benchmarks.e2e.RECIPES


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true",
                   help="print one JSON object {e2e: {mmff_s, baseline_s, time_ratio, "
                        "macs_ratio, ..., variants: {RECIPE: {the same keys, skeleton_shape, "
                        "goal_time, goal_macs}}}, reader: {ratio, ...}, seek, loader, prepare, "
                        "scaling, machine} instead of the table")
    p.add_argument("--quick", action="store_true",
                   help="fewer repeats, a smaller synthetic folder, 2 scaling points at 640x360 "
                        "(about 2 minutes on 2 cores)")
    p.add_argument("--out", default="runs/bench", metavar="DIR",
                   help="work folder: synthetic samples, prepared data, results.json, "
                        "benchmarks.md, scaling.png")
    p.add_argument("--only", nargs="+", choices=_SECTIONS, default=None, metavar="SECTION",
                   help=f"run only these sections ({', '.join(_SECTIONS)})%(default).0s")
    p.add_argument("--ntu", "--ntu-dir", dest="ntu_dir", default=None, metavar="DIR",
                   help="folder of NTU-format files holding the pair S001C001P001R001A001 "
                        ".skeleton + _rgb.avi (e.g. the NTU RGB+D release); its .skeleton files "
                        "feed the reader section. Default: synthetic NTU-format pairs generated "
                        "into --out; the output says which was used%(default).0s")
    p.add_argument("--threads", type=int, default=None,
                   help="torch intra-op threads, fixed for the whole run (default: usable CPUs)%(default).0s")
    p.add_argument("--workers", type=int, default=None,
                   help="processes for 'prepare' and DataLoader workers (default: usable CPUs)%(default).0s")
    p.add_argument("--repeats", type=int, default=None,
                   help="timed repeats per measurement, median reported (default 5; quick 1)%(default).0s")
    p.add_argument("--warmup", type=int, default=None, help="untimed warm-up runs (default 1)%(default).0s")
    p.add_argument("--decode-threads", type=int, default=None,
                   help="video decoder threads for both sides of every comparison (default 1: "
                        "one worker per core; 0: FFmpeg's choice)%(default).0s")
    p.add_argument("--i3d", dest="i3d_variant", choices=("full", "mmaction2"), default=None,
                   help="I3D-ResNet-50 inflation of the video baseline: 'full' (every kxk -> "
                        "kxkxk, the paper's 46.8M 'Inflated ResNet50') or 'mmaction2' (its "
                        "28.0M i3d_r50); default full%(default).0s")
    p.add_argument("--variants", dest="e2e_variants", nargs="+", default=None,
                   choices=E2E_VARIANTS, metavar="RECIPE",
                   help="skeleton recipes of the end-to-end section, each MMFF variant timed "
                        "against the baseline with the same recipe: paper (ST-GCN, 300 "
                        "zero-padded frames), stgcn_100 / stgcnpp_100 (ST-GCN / ST-GCN++ on "
                        "100 uniformly sampled frames, PYSKL); default: all three%(default).0s")
    p.add_argument("--doc", default=None, metavar="FILE",
                   help="also write the Markdown report (and its scaling plot) to FILE, e.g. "
                        "docs/benchmarks.md (make bench does); the report is always in --out%(default).0s")
    p.add_argument("--note", default=None, metavar="TEXT",
                   help="a line for the report saying how the run was set up (e.g. 'pinned to "
                        "2 cores of an idle 16-core machine with taskset')%(default).0s")
    p.add_argument("--strict", action="store_true",
                   help="stop at the first section that fails instead of reporting it and "
                        "going on")
    p.add_argument("--no-progress", action="store_true", help="no progress messages on stderr")


def _command_line(args: argparse.Namespace) -> str:
    """The options this run was given, as a command line (for the report)."""
    parts = ["mmff bench"]
    for key, flag in (("quick", "--quick"), ("json", "--json"), ("strict", "--strict")):
        if getattr(args, key):
            parts.append(flag)
    for key in ("out", "ntu_dir", "threads", "workers", "repeats", "warmup", "decode_threads",
                "i3d_variant", "doc"):
        v = getattr(args, key)
        if v is not None and not (key == "out" and v == "runs/bench"):
            flag = {"i3d_variant": "i3d", "ntu_dir": "ntu"}.get(key, key.replace("_", "-"))
            parts.append(f"--{flag} {v}")
    if args.only:
        parts.append("--only " + " ".join(args.only))
    if args.e2e_variants:
        parts.append("--variants " + " ".join(args.e2e_variants))
    if args.note:
        parts.append("--note " + shlex.quote(args.note))
    return " ".join(parts)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..engine.benchmarks import SECTIONS, BenchSettings, run_benchmarks
    from ..engine.benchmarks.report import (format_table, markdown_report, plot_scaling,
                                            write_json, write_text)

    for name in ("threads", "workers", "repeats"):
        v = getattr(args, name)
        if v is not None and v < 1:
            raise ValueError(f"--{name}: expected a positive integer, got {v}")
    settings = BenchSettings.preset(
        args.quick, out=args.out, ntu_dir=args.ntu_dir, threads=args.threads,
        workers=args.workers, repeats=args.repeats, warmup=args.warmup,
        decode_threads=args.decode_threads, i3d_variant=args.i3d_variant,
        e2e_variants=tuple(args.e2e_variants) if args.e2e_variants else None)
    say = (lambda m: None) if args.no_progress else (lambda m: print(m, file=sys.stderr, flush=True))
    sections = args.only or list(SECTIONS)
    results = run_benchmarks(settings, sections, strict=args.strict, say=say)
    results["command"] = _command_line(args)
    if args.note:
        results["note"] = args.note
    out = settings.out
    plot_name = None
    sc = results.get("scaling") or {}
    if sc.get("rows"):
        plot_scaling(sc, out / "scaling.png")
        plot_name = "scaling.png"
    write_json(out / "results.json", results)
    write_text(out / "benchmarks.md", markdown_report(results, plot_name))
    if args.doc:
        doc = Path(args.doc)
        doc_plot = None
        if plot_name:
            doc_plot = doc.with_name(doc.stem + "_scaling.png")
            plot_scaling(sc, doc_plot)
            doc_plot = doc_plot.name
        write_text(doc, markdown_report(results, doc_plot))
        say(f"[bench] wrote {doc}")
    if args.json:
        print(json.dumps({k: v for k, v in results.items()}, indent=2, default=str))
    else:
        print(format_table(results))
        print(f"\nresults: {out / 'results.json'}  report: {out / 'benchmarks.md'}")
    failed = [k for k in sections if "error" in (results.get(k) or {})]
    return 1 if failed and args.strict else 0
