"""SynthHOI's label factors (object, motion, motion pair) and their accuracies, which `mmff table`
adds per row on SynthHOI (docs/results.md uses them to say which part of the label a row misses)."""
from __future__ import annotations

import types

import numpy as np
import pytest

from mmff.data.ntu import NTU60_CLASSES
from mmff.data.synth import OBJECTS, SYNTH_CLASSES, class_factors, class_parts
from mmff.engine.evaluation import compute_metrics, factor_accuracy
from mmff.engine.tables import TABLES, collect_table


def test_class_factors_follow_the_class_names():
    f = class_factors(SYNTH_CLASSES)
    assert sorted(f) == ["motion", "motion_pair", "object"]
    for label, name in enumerate(SYNTH_CLASSES):
        motion, obj = class_parts(label)
        assert OBJECTS[f["object"][label]] is obj and obj.name in name
        # both motions of a pair share the pair index and differ only in time direction
        assert f["motion"][label] // 2 == f["motion_pair"][label]
        assert motion.reverse == bool(f["motion"][label] % 2)
    assert class_factors(NTU60_CLASSES) is None
    assert class_factors(SYNTH_CLASSES[:-1]) is None


def test_factor_accuracy_by_hand():
    f = class_factors(SYNTH_CLASSES)
    n = len(SYNTH_CLASSES)
    # every sample predicted as the same motion with the next object: motion right, object wrong
    cm = np.zeros((n, n), int)
    for t in range(n):
        cm[t, (t // 4) * 4 + (t + 1) % 4] = 2
    acc = factor_accuracy(cm, f)
    assert acc == {"object": 0.0, "motion": 1.0, "motion_pair": 1.0}
    # the reversed motion with the right object: object right, motion wrong, pair right
    cm = np.zeros((n, n), int)
    for t in range(n):
        cm[t, t ^ 4] = 1  # motion 2k <-> 2k+1, same object
    assert factor_accuracy(cm, f) == {"object": 1.0, "motion": 0.0, "motion_pair": 1.0}
    with pytest.raises(ValueError, match="empty"):
        factor_accuracy(np.zeros((n, n)), f)


def test_collect_table_adds_factors_on_synthhoi_only():
    rng = np.random.default_rng(0)
    n = len(SYNTH_CLASSES)
    row = TABLES["5"].rows[0]
    pairs = []
    for seed in range(2):
        labels = np.repeat(np.arange(n), 3)
        logits = rng.normal(size=(labels.size, n)).astype(np.float32)
        res = compute_metrics(logits, labels, SYNTH_CLASSES)
        pairs.append((types.SimpleNamespace(row=row, column="synth", header="synth", seed=seed), res))
    t = collect_table(TABLES["5"], pairs)
    r = t["rows"][0]
    want = [factor_accuracy(res["confusion"], class_factors(SYNTH_CLASSES))["object"] for _, res in pairs]
    assert r["factors"]["synth"]["object"] == want
    assert r["factors_mean_std"]["synth"]["object"][0] == pytest.approx(np.mean(want))
    # top-1 never exceeds any factor's accuracy
    assert all(r["results"]["synth"][i] <= r["factors"]["synth"][k][i] for i in range(2) for k in r["factors"]["synth"])
    # NTU classes: no factors
    ntu = compute_metrics(np.eye(60, dtype=np.float32), np.arange(60), NTU60_CLASSES)
    t = collect_table(TABLES["5"], [(types.SimpleNamespace(row=row, column="xsub", header="x", seed=0), ntu)])
    assert "factors" not in t["rows"][0]
