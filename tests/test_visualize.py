"""`mmff visualize`: Fig. 7 (from `mmff table fig7`'s JSON), Fig. 8-9 (from `mmff eval`'s
results.json, with a skeleton-only baseline) and Fig. 10-11 (attention, from a checkpoint and a
prepared folder) as PNG; bad inputs give one-line errors."""
from __future__ import annotations

import json
import math
import types

import numpy as np
import pytest
import torch

from mmff.cli import main
from mmff.data.ntu import NTU60_CLASSES
from mmff.engine.evaluation import compute_metrics
from mmff.engine.tables import TABLES, collect_table
from mmff.engine.visualize import frame_position_series
from test_predict_support import make_checkpoint, prepare_real_pair

PNG = b"\x89PNG\r\n\x1a\n"


def _results(path, kind: str, boost: float, seed: int = 0):
    """An eval results.json (written by the real compute_metrics) for 60 classes x 4 samples."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(60).repeat(4)
    logits = torch.randn(240, 60, generator=g)
    logits[torch.arange(240), labels] += boost
    res = compute_metrics(logits, labels, NTU60_CLASSES)
    res["model_kind"] = kind
    path.write_text(json.dumps(res))
    return res


def _fig7_table(path, columns=(("xsub", "Cross-Subject"), ("xview", "Cross-View"))) -> dict:
    """tablefig7.json as `mmff table fig7` builds it (tables.collect_table over the fig7 rows)."""
    results = []
    for row in TABLES["fig7"].rows:
        p = row.set["data"]["positions"][0]
        for col, head in columns:
            for seed in range(2):
                acc = 0.7 + 0.1 * (1 - 2 * abs(p - 0.5)) + 0.02 * seed + (0.05 if row.group == "ST-GCN" else 0)
                results.append((types.SimpleNamespace(row=row, column=col, header=head, seed=seed),
                                {"top1": acc}))
    table = collect_table(TABLES["fig7"], results)
    path.write_text(json.dumps(table))
    return table


def test_every_figure_is_written(ntu_dir, tmp_path, capsys):
    res = _results(tmp_path / "mmff.json", "mmff", 3.0)
    _results(tmp_path / "skel.json", "skeleton_only", 1.0, seed=1)
    _fig7_table(tmp_path / "fig7.json")
    ck = make_checkpoint(tmp_path / "mmff.pt")
    prepared = prepare_real_pair(ntu_dir, tmp_path / "data")
    out = tmp_path / "figs"
    capsys.readouterr()  # the prepare summary
    assert main(["visualize", "--results", str(tmp_path / "mmff.json"), "--baseline", str(tmp_path / "skel.json"),
                 "--fig7", str(tmp_path / "fig7.json"), "--checkpoint", str(ck), "--data", str(prepared),
                 "--subset", "all", "--num", "2", "--out", str(out), "--json"]) == 0
    written = json.loads(capsys.readouterr().out)
    assert set(written) == {"fig8_confusion", "fig9_per_class", "fig7_xsub", "fig7_xview", "fig10_11_attention"}
    for f in written.values():
        data = open(f, "rb").read()
        assert data[:8] == PNG and len(data) > 10_000, f
    assert 0 < res["top1"] <= 1


def test_frame_position_series_reads_the_table(tmp_path):
    table = _fig7_table(tmp_path / "f.json")
    positions, series, header = frame_position_series(table, "xview")
    assert positions == pytest.approx([0.1 * i for i in range(1, 10)]) and header == "Cross-View"
    assert set(series) == {"Bi-LSTM", "ST-GCN"}
    mean, std = series["ST-GCN"]
    i = positions.index(0.5)
    assert mean[i] == pytest.approx(0.86) and std[i] == pytest.approx(np.std([0.85, 0.87], ddof=1))
    assert mean[0] == pytest.approx(0.78)
    # a backbone with a missing p gets a gap, not a shifted line
    table["rows"] = [r for r in table["rows"] if not (r["group"] == "Bi-LSTM" and r["set"]["data"]["positions"][0] == 0.9)]
    positions, series, _ = frame_position_series(table, "xsub")
    assert len(positions) == 9 and math.isnan(series["Bi-LSTM"][0][-1]) and not math.isnan(series["ST-GCN"][0][-1])


def test_bad_inputs_are_one_line_errors(tmp_path, capsys):
    def one_line(*args, needle):
        assert main(["visualize", *args, "--out", str(tmp_path / "o")]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and needle in err, err

    one_line(needle="nothing to draw")
    (tmp_path / "x.json").write_text("{\"a\": 1")
    one_line("--results", str(tmp_path / "x.json"), needle="x.json:1")
    (tmp_path / "y.json").write_text("{\"top1\": 0.5}")
    one_line("--results", str(tmp_path / "y.json"), needle="not an mmff eval results.json")
    one_line("--fig7", str(tmp_path / "y.json"), needle="mmff table fig7")
    one_line("--results", str(tmp_path / "missing.json"), needle="missing.json")
    one_line("--checkpoint", str(tmp_path / "k.pt"), needle="--data")
    one_line("--results", str(tmp_path / "y.json"), "--stats", needle="--stats needs --checkpoint")
    skel = make_checkpoint(tmp_path / "s.pt", kind="skeleton_only")
    one_line("--checkpoint", str(skel), "--data", str(tmp_path), needle="skeleton-only")
    # classes of the baseline must match
    _results(tmp_path / "a.json", "mmff", 2.0)
    b = json.loads((tmp_path / "a.json").read_text())
    b["classes"] = b["classes"][:-1] + ["other"]
    (tmp_path / "b.json").write_text(json.dumps(b))
    one_line("--results", str(tmp_path / "a.json"), "--baseline", str(tmp_path / "b.json"), needle="classes differ")


def test_attention_figure_on_a_sysu_checkpoint(tmp_path, capsys):
    """A SYSU (Kinect v1, 20-joint) model: the skeleton is drawn with the SYSU bones."""
    from mmff.config import load_config
    from mmff.data.sysu import SYSU_CLASSES, prepare_sysu, write_synthetic_sysu
    from mmff.engine.checkpoint import save_checkpoint
    from mmff.models import create_model

    raw = tmp_path / "raw"
    write_synthetic_sysu(raw, samples_per_class=2, seed=1, size=(96, 72), num_frames=(6, 8),
                         progress=False)
    prepared = tmp_path / "prepared"
    prepare_sysu(raw, prepared, workers=1, n_folds=1, progress=False)
    cfg = load_config("sysu/setting1/mmff_stgcn", overrides={
        "model": {"skeleton": {"width": 0.125},
                  "rgb": {"width": 0.05, "middle_blocks": 0, "pretrained": None},
                  "fusion": {"reduced_channels": 8, "hidden": 16, "conv_channels": 16}},
        "data": {"image_size": 48, "clip_len": 16, "num_workers": 0}})
    torch.manual_seed(0)
    ck = save_checkpoint(tmp_path / "sysu.pt", create_model(cfg).eval(), cfg, SYSU_CLASSES, stage=3)
    out = tmp_path / "figs"
    assert main(["visualize", "--checkpoint", str(ck), "--data", str(prepared), "--num", "2",
                 "--out", str(out), "--json", "--stats"]) == 0
    written = json.loads(capsys.readouterr().out)
    data = open(written["fig10_11_attention"], "rb").read()
    assert data[:8] == PNG and len(data) > 10_000
    # --stats: the whole test subset, both self-attention maps, every branch's channel maxima
    from mmff.data.datasets import PreparedDataset
    stats = json.loads(open(written["attention_stats"]).read())
    assert stats["samples"] == len(PreparedDataset(prepared, cfg, subset="test", train=False)) > 0
    assert sorted(stats["maps"]) == ["M_1", "M_2"] and len(stats["feature_size"]) == 2
    assert sorted(stats["channel_max_in_square"]) == ["F_1", "F_2", "F_in"]
    assert all(0 <= v <= 1 for m in stats["maps"].values() for v in (m["inside"], m["outside"]))
    assert 0 < stats["square_area"] <= 1


def test_attention_batch_statistics_by_hand():
    """A map equal to the square scores inside 1 / outside 0, a constant map inside = outside;
    channel maxima are located by hand (F_b = M_b * F_in, Eq. 12)."""
    from mmff.engine.visualize import attention_batch_statistics

    m_ske = torch.zeros(1, 1, 1, 3, 3)
    m_ske[..., 0, 0] = 1.0                                  # the square covers cell (0, 0)
    f = torch.ones(1, 1, 2, 3, 3)
    f[0, 0, 0, 0, 0] = 9.0                                  # channel 0: max inside the square
    f[0, 0, 1, 0, 0], f[0, 0, 1, 2, 2] = 2.0, 9.0           # channel 1: max outside
    out = {"F_in": f, "M_1": m_ske.clone(), "M_2": torch.full_like(m_ske, 0.5), "M_ske": m_ske}
    st = attention_batch_statistics(out, m_ske)
    assert st["square_area"] == pytest.approx([1 / 9])
    assert st["maps"]["M_1"]["inside"] == [1.0] and st["maps"]["M_1"]["outside"] == [0.0]
    assert st["maps"]["M_2"]["inside"] == [0.5] == st["maps"]["M_2"]["outside"]
    assert st["maps"]["M_2"]["spatial_std"] == [0.0]
    assert "M_ske" not in st["maps"]
    # F_in: one of two channels peaks in the square; F_1 keeps only the square; F_2 = F_in / 2
    assert st["channel_max"] == {"F_in": [0.5], "F_1": [1.0], "F_2": [0.5]}


def test_combine_attention_statistics_over_seeds(tmp_path):
    from mmff.engine.visualize import combine_attention_statistics

    files = []
    for k, (inside, share) in enumerate([(0.8, 0.2), (0.6, 0.4)]):
        st = {"samples": 10, "square_area": 0.1, "feature_size": [4, 4],
              "maps": {"M_1": {"inside": inside, "outside": 0.5, "spatial_std": 0.1}},
              "channel_max_in_square": {"F_in": share, "F_1": share}}
        files.append(tmp_path / f"s{k}.json")
        files[-1].write_text(json.dumps(st))
    c = combine_attention_statistics(files)
    assert c["maps"]["M_1"]["inside"] == pytest.approx([0.7, math.sqrt(0.02)])
    assert c["maps"]["M_1"]["outside"] == pytest.approx([0.5, 0.0])
    assert c["channel_max_in_square"]["F_in"] == pytest.approx([0.3, math.sqrt(0.02)])
    assert c["samples"] == [10, 10] and c["square_area"] == pytest.approx(0.1)
    with pytest.raises(ValueError, match="no attention_stats"):
        combine_attention_statistics([])
