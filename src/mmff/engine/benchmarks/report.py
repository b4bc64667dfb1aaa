"""Writers for ``mmff bench``: the printed table, JSON, ``docs/benchmarks.md`` and the scaling PNG.

All files are written atomically (``mmff.data.prepare.atomic_write_bytes``: temp file in the
same folder + ``os.replace``).
"""
from __future__ import annotations

import io
import json
import math
from pathlib import Path

__all__ = ["e2e_variants", "summary_rows", "format_table", "markdown_report", "plot_scaling", "analysis",
           "write_json", "write_text"]


def write_text(path: str | Path, text: str) -> Path:
    from mmff.data.prepare import atomic_write_bytes  # the project's one atomic writer

    atomic_write_bytes(path, text.encode())
    return Path(path)


def write_json(path: str | Path, obj) -> Path:
    return write_text(path, json.dumps(obj, indent=2, default=_jsonable) + "\n")


def _jsonable(o):
    if hasattr(o, "item"):
        return o.item()
    if hasattr(o, "to_dict"):
        return o.to_dict()
    return str(o)


# --------------------------------------------------------------------------- table
def _fmt(x, unit: str = "") -> str:
    if x is None:
        return "-"
    if isinstance(x, str):
        return x
    if not math.isfinite(x):
        return str(x)
    if unit == "s":
        return f"{x * 1000:.1f} ms" if x < 1 else f"{x:.2f} s"
    if abs(x) >= 100:
        return f"{x:,.0f}{unit}"
    return f"{x:.2f}{unit}"


def e2e_variants(results: dict) -> dict:
    """``{recipe name: figures}`` of the e2e section (:func:`~.e2e.bench_e2e`), in run order."""
    return (results.get("e2e") or {}).get("variants") or {}


def summary_rows(results: dict) -> list[dict]:
    """One row per ratio: what was measured, both sides, the ratio, its goal, goal met."""
    rows = []

    def add(name, ours, theirs, ratio, goal, check=None, note=""):
        rows.append({"measurement": name, "ours": ours, "reference": theirs, "ratio": ratio,
                     "goal": goal, "met": None if ratio is None else bool(ratio >= goal),
                     "check": check, "note": note})

    for name, var in e2e_variants(results).items():
        for key, sample in (var.get("samples") or {}).items():
            if "error" in sample:
                add(f"e2e {name} [{key}]", None, None, None, var["goal_time"],
                    note=sample["error"])
                continue
            add(f"e2e time {name} [{key}]", _fmt(sample["mmff_s"], "s"),
                _fmt(sample["baseline_s"], "s"), sample["time_ratio"], var["goal_time"],
                note=f"MMFF vs {var['network']} + I3D-R50, both with {var['title']}; raw "
                     "files -> class")
            add(f"e2e MACs {name} [{key}]", f"{sample['mmff_gmacs']:.1f} G",
                f"{sample['baseline_gmacs']:.1f} G", sample["macs_ratio"], var["goal_macs"])
    reader = results.get("reader") or {}
    if "ratio" in reader:
        add("reader files/s", _fmt(reader["mmff_files_per_s"]),
            _fmt(reader["yardstick_files_per_s"]), reader["ratio"], reader["goal"],
            "same numbers" if reader["same_numbers"] else "NUMBERS DIFFER",
            "read_skeleton vs line-by-line dicts")
    seek = results.get("seek") or {}
    if "ratio" in seek:
        add("frame at p=0.5", _fmt(seek["frame_at_p_s"], "s"), _fmt(seek["decode_all_s"], "s"),
            seek["ratio"], seek["goal"], "same pixels" if seek["same_pixels"] else "PIXELS DIFFER",
            f"{seek['video']} ({seek['size']}, {seek['frames']} frames) vs decode all")
    loader = results.get("loader") or {}
    if "ratio" in loader:
        add("loader vs step samples/s", _fmt(loader["loader_samples_per_s"]),
            _fmt(loader["step_samples_per_s"]), loader["ratio"], loader["goal"],
            note=f"{loader.get('config')}, {loader.get('num_workers')} workers")
    prep = results.get("prepare") or {}
    if "ratio" in prep:
        add("prepare samples/s", _fmt(prep["prepare_samples_per_s"]),
            _fmt(prep["floor_samples_per_s"]), prep["ratio"], prep["goal"],
            note=f"{prep['samples']} synthetic 1080p pairs, {prep['workers']} workers, vs decode-to-p floor")
    for key in ("e2e", "reader", "seek", "loader", "prepare", "scaling"):
        sec = results.get(key) or {}
        if "error" in sec:
            add(key, None, None, None, float("nan"), note=f"not run: {sec['error']}")
    return rows


def format_table(results: dict) -> str:
    """Plain-text table of :func:`summary_rows` (what ``mmff bench`` prints)."""
    rows = summary_rows(results)
    head = ["measurement", "MMFF / ours", "reference", "ratio", "goal", "met", "check"]
    body = []
    for r in rows:
        met = "-" if r["met"] is None else ("yes" if r["met"] else "NO")
        goal = "-" if not math.isfinite(r["goal"]) else f">= {r['goal']:g}x"
        ratio = "-" if r["ratio"] is None else f"{r['ratio']:.2f}x"
        body.append([r["measurement"], r["ours"] or "-", r["reference"] or "-", ratio, goal, met,
                     r["check"] or ""])
    widths = [max(len(str(x)) for x in col) for col in zip(head, *body)]
    line = lambda cells: "  ".join(str(c).ljust(w) for c, w in zip(cells, widths)).rstrip()
    out = [line(head), line(["-" * w for w in widths])] + [line(b) for b in body]
    notes = [f"  {r['measurement']}: {r['note']}" for r in rows if r["note"]]
    sc = results.get("scaling") or {}
    if sc.get("rows"):
        out += ["", scaling_table(sc)]
    if notes:
        out += ["", "notes:"] + notes
    if results.get("ntu_source"):
        out += ["", f"NTU data: {results['ntu_source']['note']}"]
    return "\n".join(out)


def scaling_table(sc: dict) -> str:
    """Per-sample seconds vs sequence length T (rows) for each pipeline (columns)."""
    cols = sc["pipelines"]
    head = ["T (frames)"] + cols
    body = [[str(r["T"])] + [_fmt(r.get(c), "s") for c in cols] for r in sc["rows"]]
    widths = [max(len(x) for x in col) for col in zip(head, *body)]
    line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()
    return "\n".join([line(head), line(["-" * w for w in widths])] + [line(b) for b in body])


def _md_table(head: list, body: list) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in body]
    return "\n".join(lines)


def markdown_report(results: dict, plot_name: str | None = None) -> str:
    """``docs/benchmarks.md``: machine, versions, command, the table, per-section details."""
    m = results.get("machine", {})
    rows = summary_rows(results)
    body = []
    for r in rows:
        met = "-" if r["met"] is None else ("yes" if r["met"] else "**no**")
        goal = "-" if not math.isfinite(r["goal"]) else f">= {r['goal']:g}x"
        ratio = "-" if r["ratio"] is None else f"**{r['ratio']:.2f}x**"
        body.append([r["measurement"], r["ours"] or "-", r["reference"] or "-", ratio, goal, met,
                     r["check"] or "", r["note"]])
    parts = [
        "# Benchmarks",
        "",
        "Generated by `mmff bench` (do not edit by hand; rerun `make bench`). Ratios are what "
        "matter: both sides of each ratio were measured in the same run (end to end: "
        "alternately, call after call; the others one after the other), on the same machine "
        "with the same thread count. Times are medians of repeats after warm-up runs.",
        "",
        f"Command: `{results.get('command', 'mmff bench')}`  ",
        f"Date: {results.get('date', '?')}  ",
        f"Machine: {m.get('cpu', '?')}, {m.get('cpus_usable', '?')} usable CPUs, "
        f"torch threads {m.get('torch_threads', '?')}, load average at start "
        f"{m.get('load_avg_1m', '?')}  ",
        f"Versions: Python {m.get('python')}, torch {m.get('torch')}, numpy {m.get('numpy')}, "
        f"PyAV {m.get('av')}, OpenCV {m.get('cv2')}, numba {m.get('numba')}; {m.get('platform')}  ",
        f"Mode: {'quick' if results.get('quick') else 'full'}, repeats {results.get('repeats')}, "
        f"warm-up {results.get('warmup')}" + ("  " if results.get("note") else ""),
    ]
    if results.get("note"):
        parts.append(f"Note: {results['note']}")
    if results.get("ntu_source"):
        parts[-1] = parts[-1].rstrip() + "  "          # Markdown line break
        parts.append(f"NTU data: {results['ntu_source']['note']}")
    parts += [
        "",
        "## Summary",
        "",
        _md_table(["measurement", "MMFF / ours", "reference", "ratio", "goal", "met", "check",
                   "what"], body),
        "",
    ]
    variants = {k: v for k, v in e2e_variants(results).items() if v.get("samples")}
    if variants:
        parts += ["## End to end (raw files -> class, batch 1, CPU)", "",
                  "Each MMFF variant against the baseline with the same skeleton recipe "
                  "(network, sampling, input length): the ratio is what one frame + Xception "
                  "saves over a 3D CNN on the whole video.", ""]
        parts += [f"- **{name}**: {v.get('description', '')}" for name, v in variants.items()]
        hb = []
        for name, v in variants.items():
            for key, s in v["samples"].items():
                if "error" in s:
                    hb.append([name, key] + ["-"] * 6 + [s["error"]])
                    continue
                shape = "x".join(str(d) for d in (v.get("skeleton_shape") or {}).get("mmff", []))
                hb.append([name, key, s.get("video", ""), shape, _fmt(s["mmff_s"], "s"),
                           _fmt(s["baseline_s"], "s"),
                           f"{s['mmff_gmacs']:.1f} / {s['baseline_gmacs']:.1f}",
                           f"{s['mmff_params_m']:.1f}M / {s['baseline_params_m']:.1f}M",
                           f"{s['time_ratio']:.2f}x / {s['macs_ratio']:.2f}x"])
        parts += ["", _md_table(["variant", "sample", "video", "skeleton input", "MMFF",
                                 "baseline", "GMACs (MMFF / base)", "params",
                                 "time / MACs ratio"], hb), ""]
        rows = [[name, pipe, part, f"{d['params'] / 1e6:.2f}M", f"{d['macs'] / 1e9:.2f}"]
                for name, v in variants.items()
                for pipe, pd in (v.get("parts_macs") or {}).items() for part, d in pd.items()]
        if rows:
            parts += ["Parameters and MACs by part (FlopCounterMode on the real inputs, batch 1):",
                      "", _md_table(["variant", "pipeline", "part", "params", "GMACs"], rows), ""]
        stages = [[name, pipe] + [_fmt(t, "s") for t in d.values()]
                  for name, v in variants.items()
                  for pipe, d in (v.get("stage_breakdown") or {}).items()]
        if stages:
            parts += ["Stage breakdown (median seconds, first sample):", "",
                      _md_table(["variant", "pipeline", "load", "forward"], stages), ""]
    sc = results.get("scaling") or {}
    if sc.get("rows"):
        parts += ["## Scaling with sequence length and number of frames", "",
                  sc.get("description", ""), "", "```", scaling_table(sc), "```", ""]
        if plot_name:
            parts += [f"![scaling]({plot_name})", ""]
    explain = dict(analysis(results), **(results.get("explanations") or {}))
    if explain:
        parts += ["## Notes on ratios", ""] + [f"- **{k}**: {v}" for k, v in explain.items()] + [""]
    return "\n".join(parts)


def analysis(results: dict) -> dict:
    """Measured facts behind the ratios (computed from the results, nothing assumed)."""
    notes = {}
    for name, var in e2e_variants(results).items():
        top = next((v for v in (var.get("samples") or {}).values() if "mmff_s" in v), None)
        if not top:
            continue
        fm, fb = top["mmff_forward_s"], top["baseline_forward_s"]
        rate_m, rate_b = top["mmff_gmacs"] / fm, top["baseline_gmacs"] / fb
        parts = (var.get("parts_macs") or {}).get("mmff", {})
        skel = parts.get("skeleton_stream", {}).get("macs", 0) / 1e9
        lm, lb = top["mmff_load_s"], top["baseline_load_s"]
        bodies = ((var.get("skeleton_shape") or {}).get("mmff") or [0])[-1]
        notes[f"e2e {name}"] = (
            f"first sample: forward {_fmt(fm, 's')} (MMFF) vs {_fmt(fb, 's')} (baseline), "
            f"{fb / fm:.2f}x, at {rate_m:.0f} vs {rate_b:.0f} GMAC/s; load (read, decode, crop) "
            f"{_fmt(lm, 's')} vs {_fmt(lb, 's')}, {lb / lm:.2f}x; load is "
            f"{lm / (lm + fm):.0%} of MMFF's time. End to end {top['time_ratio']:.2f}x, MACs "
            f"{top['macs_ratio']:.2f}x. {skel:.1f} of MMFF's {top['mmff_gmacs']:.1f} GMACs are "
            f"the skeleton stream ({var['title']} x {bodies} bodies), which both pipelines run.")
    seek = results.get("seek") or {}
    if "ratio" in seek:
        fed = seek.get("decoded_packets") or seek["frame_index"] + 1
        frac = fed / seek["frames"]
        notes["seek"] = (f"the frame at p (index {seek['frame_index']}) decodes {fed} of "
                         f"{seek['frames']} frames ({frac:.0%}): decoding starts at the last IDR "
                         f"keyframe before it and leaves out every non-reference frame that is "
                         f"not requested (display order from the H.264 slice headers); the "
                         f"ideal ratio without fixed costs is {1 / frac:.2f}x.")
    sc = results.get("scaling") or {}
    if len(sc.get("rows") or []) >= 2:
        first, last = sc["rows"][0], sc["rows"][-1]
        dt = last["T"] - first["T"]
        growth = ", ".join(
            f"{name} +{_fmt(last[name] - first[name], 's')} ({(last[name] / first[name] - 1):+.0%})"
            for name in sc["pipelines"])
        notes["scaling"] = (
            f"from T={first['T']} to T={last['T']} ({dt} more frames): {growth}. Forward cost is "
            f"constant in T; the growth is decoding: MMFF decodes from the last IDR keyframe "
            f"before its first p up to its last p (flat in T when keyframes are regular), the "
            f"baseline the whole video.")
    prep = results.get("prepare") or {}
    if "ratio" in prep:
        note = (f"{prep['samples']} samples in {_fmt(prep['prepare_s'], 's')} vs the decode "
                f"floor {_fmt(prep['floor_s'], 's')}, both including the start of "
                f"{prep['workers']} worker processes.")
        if prep.get("single_process_ratio") is not None:
            note += (f" In one process, without worker start-up: "
                     f"{_fmt(prep['single_process_s'], 's')} vs "
                     f"{_fmt(prep['single_process_floor_s'], 's')}, "
                     f"{prep['single_process_ratio']:.2f}x of the floor. Prepare's workers "
                     f"fork from a forkserver that imported the libraries and loaded the "
                     f"skeleton reader's kernel once per process (the first pool pays ~1 s), so "
                     f"a pool starts warm.")
        notes["prepare"] = note
    return notes


# --------------------------------------------------------------------------- plot
def plot_scaling(sc: dict, path: str | Path) -> Path:
    """Seconds per sample vs sequence length, one line per pipeline (PNG, written atomically)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 5.4), dpi=120)
    ts = [r["T"] for r in sc["rows"]]
    styles = {"baseline": dict(color="tab:red", marker="s", linewidth=2.2)}
    for name in sc["pipelines"]:
        ys = [r.get(name) for r in sc["rows"]]
        ax.plot(ts, ys, label=sc.get("labels", {}).get(name, name),
                **styles.get(name, dict(marker="o", linewidth=1.8)))
    ax.set_xlabel("sequence length T (skeleton frames = video frames)")
    ax.set_ylabel("end-to-end seconds per sample (batch 1)")
    ax.set_title("Cost vs video length: MMFF (1/3/5 frames) vs ST-GCN + I3D-R50")
    ax.set_ylim(bottom=0)
    ax.grid(True, alpha=0.3)
    # below the axes: never on top of a line, whatever the numbers
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2, fontsize=9, frameon=False)
    fig.tight_layout()
    from mmff.data.prepare import atomic_write_bytes

    buf = io.BytesIO()
    try:
        fig.savefig(buf, format="png", bbox_inches="tight")
    finally:
        plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())
    return Path(path)
