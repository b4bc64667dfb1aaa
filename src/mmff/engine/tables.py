"""``mmff table``: every paper table (2, 4, 5, 6, 7) and Fig. 7 as one resumable command.

A table is a list of rows; each row names its config file in ``configs/<folder>/``
(configs/README.md maps rows to files). A run is (row, column, seed):

* NTU-60: columns Cross-Subject (``ntu60_xsub/<file>``) and Cross-View (the same file with
  ``data.split=xview``).
* SYSU: columns Setting-1 / Setting-2 (``sysu/setting{1,2}/<file>``); the seed index is also
  the fold (``data.fold``), so ``--seeds 30`` gives the paper's 30 splits.
* Any other prepared dataset (the synthetic SynthHOI, NTU-120): one column (named after the
  dataset, plus ``_<split>`` for a split other than xsub, e.g. ``--set data.split=xview``);
  the row is the small ``--base`` config (default ``demo``) plus the row's *ablation switches*
  read from its NTU file (:data:`SWITCHES`), so every row differs from the base only where
  the paper's row does.

Each run trains the stages (:func:`~mmff.engine.stages.run_stages`, stage-1 streams shared
between rows that have the same streams) and evaluates the final model on the test subset
into ``OUT/<row>/<column>/seed<k>/results.json``: like the paper, every run trains on the whole
training split for a fixed schedule (``data.val: none``, no validation, no model selection) and
reads the test split once, at the end. Finished runs are skipped, so a killed
``mmff table`` continues where it stopped. Results print in the paper's layout (mean ± std
over seeds, the paper's number beside), plus ``table<ID>.md`` and ``table<ID>.json``.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from mmff.config import Config, ConfigError, merge_dicts, config_to_dict, load_config
from mmff.atomic import atomic_write_text

__all__ = ["TABLES", "SWITCHES", "TableSpec", "Row", "Run", "plan_table", "run_table", "format_table",
           "detect_dataset", "FIG7_POSITIONS", "collect_table", "table_schedule"]

#: the keys a paper row changes (Tables 4-7, Fig. 7; SPEC §2.4)
SWITCHES = (
    "model.kind", "model.skeleton.backbone", "model.skeleton.rnn_layers", "model.rgb.self_attention",
    "model.rgb.skeleton_attention", "model.fusion.type", "data.positions", "data.skeleton_augment",
    "data.projection_crop",
)
FIG7_POSITIONS = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]


@dataclass
class Row:
    label: str
    file: str                       # config file name in the dataset folder (configs/README.md)
    group: str = ""                 # e.g. the backbone block of Table 6
    paper: dict = field(default_factory=dict)  # column id -> accuracy (%) the paper reports
    paper_params: Optional[str] = None
    paper_gmacs: Optional[str] = None
    set: dict = field(default_factory=dict)     # extra overrides (Fig. 7 positions)


@dataclass
class TableSpec:
    id: str
    title: str
    rows: list
    complexity: bool = False        # add measured params / GMACs (Tables 2, 4)
    sweep: Optional[list] = None    # Fig. 7: frame positions
    group_header: str = "Backbone"  # header of the first column when rows are grouped


def _load_tables() -> dict:
    """The paper's tables from the package data file ``mmff/paper/tables.yaml`` (rows, their
    config files, the paper's numbers); Fig. 7's rows are its sweep x its configs."""
    import importlib.resources

    import yaml

    raw = yaml.safe_load((importlib.resources.files("mmff") / "paper" / "tables.yaml").read_text())
    tables = {}
    for tid, t in raw.items():
        sweep = t.get("sweep")
        if sweep:
            rows = [Row(f"p = {p:.1f}", c["file"], c.get("group", ""),
                        set={"data": {"positions": [p]}})
                    for c in t["sweep_configs"] for p in sweep]
        else:
            rows = [Row(r["label"], r["file"], r.get("group", ""), dict(r.get("paper", {})),
                        r.get("paper_params"), r.get("paper_gmacs")) for r in t["rows"]]
        tables[str(tid)] = TableSpec(str(tid), t["title"], rows, bool(t.get("complexity", False)),
                                     list(sweep) if sweep else None,
                                     t.get("group_header", "Backbone"))
    return tables


TABLES: dict[str, TableSpec] = _load_tables()

#: dataset -> [(column id, header, config folder, overrides)]
COLUMNS = {
    "ntu60": [("xsub", "Cross-Subject", "ntu60_xsub", {}),
              ("xview", "Cross-View", "ntu60_xsub", {"data": {"split": "xview"}})],
    "sysu": [("setting1", "Setting-1", "sysu/setting1", {}), ("setting2", "Setting-2", "sysu/setting2", {})],
}
SWITCH_SOURCE = "ntu60_xsub"  # where the ablation switches of a row are read for other datasets


@dataclass
class Run:
    row: Row
    column: str
    header: str
    seed: int
    cfg: Config
    dir: Path

    def describe(self) -> str:
        return f"{self.row.group + ': ' if self.row.group else ''}{self.row.label} | {self.header} | seed {self.seed}"


def detect_dataset(data: Optional[str | Path]) -> Optional[str]:
    """The ``dataset`` field of a prepared folder's index.json (None if unknown)."""
    if data is None:
        return None
    f = Path(data) / "index.json"
    if not f.is_file():
        raise FileNotFoundError(f"{f}: not a prepared folder (run mmff prepare ... --out {data})")
    try:
        with open(f) as fh:
            index = json.load(fh)
    except json.JSONDecodeError as e:
        raise ValueError(f"{f}: not valid JSON ({e})") from None
    ds = index.get("dataset")
    if ds == "synth" or (ds in ("ntu60", "ntu120") and index.get("class_source") == "classes.txt"
                         and index.get("num_classes") not in (60, 120)):
        return "synth"  # the generator writes NTU files with its own classes.txt (not 60/120 NTU actions)
    return ds


def _get(d: dict, dotted: str):
    for k in dotted.split("."):
        d = d[k]
    return d


def _nest(dotted: str, value) -> dict:
    out: dict = {}
    cur = out
    parts = dotted.split(".")
    for k in parts[:-1]:
        cur = cur.setdefault(k, {})
    cur[parts[-1]] = value
    return out


def row_switches(file: str) -> dict:
    """The ablation switches of a row, read from its NTU config file."""
    d = config_to_dict(load_config(f"{SWITCH_SOURCE}/{file}"))
    over: dict = {}
    for key in SWITCHES:
        over = merge_dicts(over, _nest(key, _get(d, key)))
    return over


def _scale_epochs(cfg: Config, scale: float) -> None:
    if scale != 1.0:
        cfg.train.epochs = {k: max(1, int(round(v * scale))) for k, v in cfg.train.epochs.items()}


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").lower()


def plan_table(table: str, data: Optional[str | Path] = None, out: str | Path = "runs/tables", seeds: int = 3,
               dataset: Optional[str] = None, base: str = "demo", epochs_scale: float = 1.0,
               overrides: Optional[dict] = None, rows: Optional[Sequence[str]] = None) -> list[Run]:
    """All (row, column, seed) runs of ``table`` with their configs and output folders."""
    if table not in TABLES:
        raise ValueError(f"table {table!r}: expected one of {', '.join(TABLES)}")
    spec = TABLES[table]
    dataset = dataset or detect_dataset(data)
    if dataset is None:
        raise ValueError("table: pass --data DIR (a prepared folder) so the dataset is known")
    out = Path(out) / f"table{table}"
    picked = [r for r in spec.rows if not rows or any(s.lower() in f"{r.group} {r.label} {r.file}".lower() for s in rows)]
    if not picked:
        raise ValueError(f"table {table}: no row matches {list(rows or [])}")
    data_over = {"data": {"root": str(Path(data).resolve())}} if data is not None else {}
    runs = []
    for row in picked:
        if dataset in COLUMNS:
            cols = [(cid, head, lambda folder=folder, o=o: merge_dicts(_read_row(folder, row.file), o))
                    for cid, head, folder, o in COLUMNS[dataset]]
        else:
            cols = [(dataset, dataset, lambda: merge_dicts(_read_base(base), row_switches(row.file)))]
        for cid, head, make in cols:
            for k in range(seeds):
                d = merge_dicts(make(), row.set)
                d = merge_dicts(d, data_over)
                d = merge_dicts(d, {"train": {"seed": int(d.get("train", {}).get("seed", 0)) + k}})
                if dataset == "sysu":
                    d = merge_dicts(d, {"data": {"fold": k}})  # SYSU: one fold per repetition (SPEC §1.2)
                # the paper's protocol: the whole training split trains on a fixed schedule (no
                # validation, no model selection) and the test split is read once, at the end
                # (results.json); --set data.val=subjects --set train.val_every_n_epochs=1 monitors one
                d = merge_dicts(d, {"train": {"val_every_n_epochs": 0}, "data": {"val": "none"}})
                if overrides:
                    d = merge_dicts(d, overrides)
                try:
                    cfg = _config(d)
                except ConfigError as e:
                    raise ConfigError(f"table {table}, row {row.label!r}: {e}") from None
                _scale_epochs(cfg, epochs_scale)
                name = _slug(f"{row.group}_{row.file}" if row.group else row.file)
                if row.set:
                    name += "_" + _slug(row.label)
                col, col_head = cid, head
                if dataset not in COLUMNS and cfg.data.split != "xsub":
                    # another split (--set data.split=xview) is another column, with its own runs
                    col = col_head = f"{cid}_{cfg.data.split}"
                runs.append(Run(row, col, col_head, k, cfg, out / name / col / f"seed{k}"))
    return runs


def _config(d: dict) -> Config:
    from mmff.config import config_from_dict
    return config_from_dict(d)


def _read_row(folder: str, file: str) -> dict:
    return config_to_dict(load_config(f"{folder}/{file}"))


def _read_base(base: str) -> dict:
    try:
        return config_to_dict(load_config(base))
    except ConfigError as e:
        raise ConfigError(f"{e} (the base config for this dataset; pass --base)") from None


def _run_one(run: Run, stage1_dir: Path, progress: bool, dataset_factory, model_factory, devices) -> dict:
    from mmff.engine.evaluation import evaluate
    from mmff.engine.stages import final_model_path, run_stages
    res_file = run.dir / "results.json"
    if res_file.is_file():
        return json.loads(res_file.read_text())
    run_stages(run.cfg, run.dir, resume=True, stage1_dir=stage1_dir / run.column, progress=progress,
               dataset_factory=dataset_factory, model_factory=model_factory, devices=devices)
    return evaluate(final_model_path(run.dir), run.cfg, split="test", out=run.dir, progress=progress,
                    dataset_factory=dataset_factory, model_factory=model_factory)


def _set_threads(threads: Optional[int]) -> None:
    if threads:
        import torch
        torch.set_num_threads(threads)


def _stage1_job(cfg: Config, part: str, stage1_dir: Path, dataset_factory, model_factory, threads) -> str:
    """Train one shared stage-1 stream (phase 1 of a parallel table run)."""
    from mmff.engine.stages import run_stages, stage1_key, stage_config
    _set_threads(threads)
    key = stage1_key(cfg, part)
    run_stages(stage_config(cfg, part), stage1_dir / "_jobs" / key, stages=(1,), resume=True,
               stage1_dir=stage1_dir, progress=False, dataset_factory=dataset_factory, model_factory=model_factory)
    return key


def _row_job(run: Run, stage1_dir: Path, dataset_factory, model_factory, devices, threads) -> dict:
    _set_threads(threads)
    return _run_one(run, stage1_dir, False, dataset_factory, model_factory, devices)


def run_table(table: str, data: Optional[str | Path] = None, out: str | Path = "runs/tables", seeds: int = 3,
              dataset: Optional[str] = None, base: str = "demo", epochs_scale: float = 1.0,
              overrides: Optional[dict] = None, rows: Optional[Sequence[str]] = None, dry_run: bool = False,
              progress: bool = True, dataset_factory=None, model_factory=None, devices=1, jobs: int = 1,
              echo: Callable[[str], Any] = print, command: Optional[str] = None,
              json_out: Optional[str | Path] = None) -> dict:
    """Run (or with ``dry_run`` list) every run of ``table``; returns the table as a dict.

    ``jobs`` > 1 trains that many runs at once in worker processes: first every distinct
    stage-1 stream, then the rows (each run sets ``train.num_threads`` torch threads, default
    2: with ``jobs`` = cores pass ``train.num_threads=1``). A failed run is reported
    (``failed`` in the result) and the others go on. The table's JSON (``OUT/table<ID>/
    table<ID>.json``, and ``json_out`` when given) holds per row and column the per-seed top-1s
    and their mean ± std, the ``command`` that made it and its ``schedule``.
    """
    runs = plan_table(table, data, out, seeds, dataset, base, epochs_scale, overrides, rows)
    root = Path(out) / f"table{table}"
    if dry_run:
        for r in runs:
            status = "done" if (r.dir / "results.json").is_file() else "todo"
            echo(f"[{status}] {r.describe():70s} {r.dir}  epochs={r.cfg.train.epochs}")
        return {"table": table, "runs": [{"row": r.row.label, "group": r.row.group, "column": r.column,
                                          "seed": r.seed, "dir": str(r.dir),
                                          "done": (r.dir / "results.json").is_file()} for r in runs]}
    from tqdm.auto import tqdm
    stage1 = root / "_stage1"
    results: dict[int, dict] = {}
    failed: list[dict] = []
    if jobs > 1 and devices not in (1, "1"):
        raise ValueError("table: --jobs > 1 runs one process per run; use it with --devices 1")
    if jobs <= 1:
        bar = tqdm(runs, desc=f"table {table}", unit="run", disable=not progress)
        for i, r in enumerate(bar):
            bar.set_postfix_str(r.describe()[:60])
            try:
                results[i] = _run_one(r, stage1, False, dataset_factory, model_factory, devices)
            except (ValueError, RuntimeError, FileNotFoundError) as e:
                failed.append({"run": r.describe(), "dir": str(r.dir), "error": str(e).splitlines()[0]})
    else:
        results, failed = _run_parallel(runs, stage1, jobs, progress, dataset_factory, model_factory, table)
    for f in failed:
        echo(f"FAILED {f['run']}: {f['error']}")
    table_out = collect_table(TABLES[table], [(runs[i], results[i]) for i in sorted(results)])
    table_out["fusion_beats_single_streams"] = _fusion_check(table_out)
    table_out["failed"] = failed
    table_out["command"] = command
    table_out["schedule"] = table_schedule(runs, data=data, seeds=seeds, base=base,
                                           epochs_scale=epochs_scale, overrides=overrides)
    if TABLES[table].complexity:
        _add_complexity(table_out, runs)
    from mmff.engine.stages import write_json
    text = format_table(table_out)
    write_json(root / f"table{table}.json", table_out)
    if json_out is not None:
        write_json(json_out, table_out)   # (atomic; makes the folder)
    atomic_write_text(root / f"table{table}.md", text + "\n")
    if TABLES[table].sweep and results:
        _plot_sweep(table_out, root / f"table{table}.png")
    echo(text)
    return table_out


def table_schedule(runs: Sequence[Run], data=None, seeds: int = 3, base: str = "demo",
                   epochs_scale: float = 1.0, overrides: Optional[dict] = None) -> dict:
    """What a table's runs trained on and for how long: the epochs per stage (one mapping when
    every run has the same, else per row), the split(s), the prepared folder, the base config,
    ``epochs_scale``, seeds and the ``--set`` overrides."""
    epochs = {f"{r.row.group + ': ' if r.row.group else ''}{r.row.label}": dict(r.cfg.train.epochs)
              for r in runs}
    same = len({json.dumps(e, sort_keys=True) for e in epochs.values()}) <= 1
    return {"epochs": next(iter(epochs.values()), None) if same else epochs,
            "splits": sorted({r.cfg.data.split for r in runs}),
            "data": None if data is None else str(Path(data).resolve()), "base": base,
            "epochs_scale": epochs_scale, "seeds": seeds, "overrides": overrides or {}}


def _run_parallel(runs: list[Run], stage1: Path, jobs: int, progress: bool, dataset_factory, model_factory,
                  table: str) -> tuple[dict, list]:
    import multiprocessing as mp
    import os
    from concurrent.futures import ProcessPoolExecutor, as_completed

    from tqdm.auto import tqdm

    from mmff.engine.stages import stage1_key, stage_plan
    threads = max(1, (os.cpu_count() or 1) // jobs)
    todo = [i for i, r in enumerate(runs) if not (r.dir / "results.json").is_file()]
    streams: dict[tuple, tuple] = {}
    for i in todo:
        r = runs[i]
        for stage, part, _ in stage_plan(r.cfg):
            if stage == 1:
                streams.setdefault((r.column, stage1_key(r.cfg, part)), (r.cfg, part, stage1 / r.column))
    results: dict[int, dict] = {}
    failed: list[dict] = []
    # spawn: no forked copies of a parent's threads / open files inside the workers
    with ProcessPoolExecutor(max_workers=jobs, mp_context=mp.get_context("spawn")) as pool:
        futs = {pool.submit(_stage1_job, c, p, d, dataset_factory, model_factory, threads): (c, p, d)
                for c, p, d in streams.values()}
        for f in tqdm(as_completed(futs), total=len(futs), desc=f"table {table}: streams", unit="run",
                      disable=not progress):
            try:
                f.result()
            except Exception as e:  # noqa: BLE001 (a worker's error: report it, keep going)
                c, p, d = futs[f]
                failed.append({"run": f"stage 1 {p} ({c.name})", "dir": str(d), "error": str(e).splitlines()[0]})
        futs = {pool.submit(_row_job, runs[i], stage1, dataset_factory, model_factory, 1, threads): i
                for i in range(len(runs))}
        for f in tqdm(as_completed(futs), total=len(futs), desc=f"table {table}: rows", unit="run",
                      disable=not progress):
            i = futs[f]
            try:
                results[i] = f.result()
            except Exception as e:  # noqa: BLE001
                failed.append({"run": runs[i].describe(), "dir": str(runs[i].dir), "error": str(e).splitlines()[0]})
    return results, failed


def collect_table(spec: TableSpec, results: list) -> dict:
    """The table of ``spec`` from ``(run, results.json)`` pairs: mean ± std over folds per row
    and column (the rows and columns of the paper table; ``mmff table`` writes it).

    On SynthHOI a row also gets ``factors`` / ``factors_mean_std``: per column the accuracy of
    each factor of the label (object, motion, motion pair; from the run's confusion matrix), which
    says which part of the label a row gets wrong (e.g. an RGB-only row: the object)."""
    from mmff.data.synth import class_factors
    from mmff.engine.evaluation import factor_accuracy, mean_std
    rows: dict[tuple, dict] = {}
    columns: dict[str, str] = {}
    for run, res in results:
        key = (run.row.group, run.row.label, run.row.file)
        row = rows.setdefault(key, {"group": run.row.group, "label": run.row.label, "file": run.row.file,
                                    "paper": run.row.paper, "paper_params": run.row.paper_params,
                                    "paper_gmacs": run.row.paper_gmacs, "set": run.row.set, "results": {}})
        columns[run.column] = run.header
        row["results"].setdefault(run.column, []).append(res["top1"])
        factors = class_factors(res.get("classes") or ()) if "confusion" in res else None
        if factors is not None:
            acc = factor_accuracy(res["confusion"], factors)
            col = row.setdefault("factors", {}).setdefault(run.column, {})
            for name, v in acc.items():
                col.setdefault(name, []).append(v)
    for row in rows.values():
        row["mean_std"] = {c: mean_std(v) for c, v in row["results"].items()}
        if "factors" in row:
            row["factors_mean_std"] = {c: {k: mean_std(v) for k, v in f.items()}
                                       for c, f in row["factors"].items()}
    return {"table": spec.id, "title": spec.title, "columns": columns, "rows": list(rows.values()),
            "sweep": spec.sweep, "group_header": spec.group_header}


def _fusion_check(t: dict) -> dict:
    """Per backbone group and column: does the MMFF row beat every single-stream row?"""
    out: dict = {}
    for group in dict.fromkeys(r["group"] for r in t["rows"]):
        rows = [r for r in t["rows"] if r["group"] == group]
        fused = [r for r in rows if r["label"] in ("MMFF", "MMFF w/ Bi-LSTM", "MMFF w/ ST-GCN")]
        single = [r for r in rows if r["label"] in ("Baseline", "ST-GCN", "Xception")
                  or r["label"].startswith("RGB only")]
        if not fused or not single:
            continue
        for col in t["columns"]:
            f = fused[0]["mean_std"].get(col, (float("nan"), 0))[0]
            best = max(r["mean_std"].get(col, (float("nan"), 0))[0] for r in single)
            out[f"{group or 'all'}/{col}"] = bool(f > best)
    return out


def _add_complexity(table_out: dict, runs: list[Run]) -> None:
    from mmff.engine.profiling import profile_config
    seen: dict[tuple, dict] = {}
    for r in runs:
        key = (r.row.group, r.row.label, r.row.file)
        if key not in seen:
            prof = profile_config(r.cfg)
            seen[key] = {"params": int(prof["params"]), "macs": int(prof["macs"])}
    for row in table_out["rows"]:
        row.update(seen.get((row["group"], row["label"], row["file"]), {}))


def _fmt(ms) -> str:
    m, s = ms
    return "—" if m != m else f"{100 * m:.1f} ± {100 * s:.1f}"


def format_table(t: dict) -> str:
    """Markdown in the paper's layout: ours (mean ± std over seeds) beside the paper's value."""
    cols = list(t["columns"].items())
    grouped = any(r["group"] for r in t["rows"])
    head = [t.get("group_header", "Backbone")] if grouped else []
    head += ["Method"] + [f"{h} (ours)" for _, h in cols] + [f"{h} (paper)" for c, h in cols if c in
                                                           ("xsub", "xview", "setting1", "setting2")]
    paper_cols = [c for c, _ in cols if c in ("xsub", "xview", "setting1", "setting2")]
    if not paper_cols:  # synthetic data: show the paper's NTU cross-subject figure for reference
        head.append("paper (NTU xsub)")
    complexity = any("params" in r for r in t["rows"])
    if complexity:
        head += ["Params", "GMACs", "paper Params", "paper GMACs"]
    lines = [f"**{t['title']}** (top-1 %, mean ± std over seeds)", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    last_group = None
    for r in t["rows"]:
        cells = []
        if grouped:
            cells.append(r["group"] if r["group"] != last_group else "")
            last_group = r["group"]
        cells.append(r["label"])
        cells += [_fmt(r["mean_std"].get(c, (float("nan"), 0))) for c, _ in cols]
        if paper_cols:
            cells += [f"{r['paper'][c]:.1f}" if c in r["paper"] else "—" for c in paper_cols]
        else:
            cells.append(f"{r['paper']['xsub']:.1f}" if "xsub" in r["paper"] else "—")
        if complexity:
            cells += [f"{r.get('params', 0) / 1e6:.2f}M", f"{r.get('macs', 0) / 1e9:.2f}",
                      r.get("paper_params") or "—", r.get("paper_gmacs") or "—"]
        lines.append("| " + " | ".join(cells) + " |")
    checks = t.get("fusion_beats_single_streams") or {}
    if checks:
        lines += ["", "MMFF beats every single-stream row: " +
                  ", ".join(f"{k}: {'yes' if v else 'NO'}" for k, v in checks.items())]
    return "\n".join(lines)


def _plot_sweep(t: dict, path: Path) -> None:
    from mmff.engine.figures import plot_frame_position
    col = next(iter(t["columns"]))
    series: dict[str, tuple[list, list]] = {}
    positions = t["sweep"]
    for group in dict.fromkeys(r["group"] for r in t["rows"]):
        by_p = {r["set"]["data"]["positions"][0]: r["mean_std"].get(col) for r in t["rows"] if r["group"] == group}
        ps = [p for p in positions if p in by_p and by_p[p] is not None]
        series[group] = ([by_p[p][0] for p in ps], [by_p[p][1] for p in ps])
        positions = ps
    plot_frame_position(positions, series, path, title=f"Accuracy vs. RGB frame position (Fig. 7, {t['columns'][col]})")
