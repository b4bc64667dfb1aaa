#!/usr/bin/env bash
# Issue 13, item 2: every table of the paper on SynthHOI v2, 3 seeds, mean ± std
# (docs/results.md, "Tables on SynthHOI v2: how to run"). Each table is sized to ~45 min or
# less on 2 idle cores: 2 runs at once (--jobs 2), one torch thread each
# (train.num_threads=1), stage-1 streams shared across rows, one schedule per table.
#
#   scripts/tables_v2.sh            # everything: data, then tables 4, 5 (+ cross-view), 6, 7, fig7
#   scripts/tables_v2.sh 6 fig7     # only these tables (the data step is skipped when done)
#   scripts/tables_v2.sh attention  # after 6: self-attention statistics of Table 6's MMFF rows
#   scripts/tables_v2.sh premise    # Fig. 7's premise from the generator's ground truth (no training)
#   DRY_RUN=1 scripts/tables_v2.sh  # list every run (done/todo) and its epochs, train nothing
#
# Resumable: rerun the same line after a kill; finished runs are skipped. Each table writes
# OUT/table<ID>/table<ID>.{json,md} and, via --json, docs/results/<name>.json (per-row per-seed
# top-1s, mean, std, the command and the schedule). Wall times go to OUT/times.txt.
set -euo pipefail
cd "$(dirname "$0")/.."

MMFF=${MMFF:-.venv/bin/mmff}
PY=${PY:-$(dirname "$MMFF")/python}
OUT=${OUT:-runs/tables_v2}
RESULTS=${RESULTS:-docs/results}
SEEDS=${SEEDS:-3}
JOBS=${JOBS:-2}
WORKERS=${WORKERS:-2}
DRY_RUN=${DRY_RUN:-}
# --epochs-scale per table (docs/results.md has the arithmetic): the demo's {1: 20, 2: 20, 3: 14}
# epochs times this, the same for every row of a table. --epochs-scale leaves train.lr_step
# (demo: 15) alone, so a shortened table also gets lr_step = round(15 x scale): the x0.1 step
# falls in the last quarter of stages 1-2 as in the demo (without it a 15-epoch stage never decays)
SCALE_4=${SCALE_4:-1.0};     LR_STEP_4=${LR_STEP_4:-15}       # 9 runs, est. 32 min
SCALE_5=${SCALE_5:-1.0};     LR_STEP_5=${LR_STEP_5:-15}       # 24 + 6 cross-view runs, est. 25 + 4 min
SCALE_6=${SCALE_6:-0.75};    LR_STEP_6=${LR_STEP_6:-11}       # 42 runs, est. 30 min (1.0: 41 min)
SCALE_7=${SCALE_7:-1.0};     LR_STEP_7=${LR_STEP_7:-15}       # 27 skeleton-only runs, est. <= 22 min
SCALE_FIG7=${SCALE_FIG7:-0.4}; LR_STEP_FIG7=${LR_STEP_FIG7:-6}  # 54 runs, est. 34 min (0.5: 41 min)

mkdir -p "$OUT" "$RESULTS"

# 1. SynthHOI v2 at its lite size (V2_LITE_SIZE, 384x216), 24 samples per class (576; ~40 s on
#    one core), dataset seed 0; then one prepared folder for every table: whole frames (Table 5's
#    rows without the projection crop) at every frame position (Table 4: 0.3-0.7; Fig. 7: 0.1-0.9)
if [ ! -f "$OUT/prepared/index.json" ]; then
  "$MMFF" synth --version 2 --size 384x216 --samples-per-class 24 --seed 0 \
      --out "$OUT/raw" --workers "$WORKERS" --strict --no-progress
  "$MMFF" prepare ntu --raw "$OUT/raw" --out "$OUT/prepared" --store full \
      --positions 0.1 0.2 0.3 0.4 0.5 0.6 0.7 0.8 0.9 --workers "$WORKERS" --strict --no-progress
fi

# run_table ID SCALE LR_STEP OUTDIR JSON [more mmff table options]
run_table() {
  local id=$1 scale=$2 lr_step=$3 out=$4 json=$5
  shift 5
  local t0=$SECONDS
  local args=(--data "$OUT/prepared" --out "$out" --seeds "$SEEDS" --base demo --epochs-scale "$scale"
              --set "train.lr_step=$lr_step" --set train.num_threads=1 "$@")
  if [ -n "$DRY_RUN" ]; then
    "$MMFF" table "$id" "${args[@]}" --dry-run
    return
  fi
  "$MMFF" table "$id" "${args[@]}" --jobs "$JOBS" --no-progress --json "$RESULTS/$json"
  echo "table $id $* (scale $scale): $(( (SECONDS - t0) / 60 )) min $(( (SECONDS - t0) % 60 )) s" \
      | tee -a "$OUT/times.txt"
}

want() {  # is table $1 asked for (no arguments: all)?
  [ ${#TABLES[@]} -eq 0 ] && return 0
  local t
  for t in "${TABLES[@]}"; do [ "$t" = "$1" ] && return 0; done
  return 1
}
TABLES=("$@")

if want 4; then run_table 4 "$SCALE_4" "$LR_STEP_4" "$OUT" table4.json; fi
if want 5; then
  run_table 5 "$SCALE_5" "$LR_STEP_5" "$OUT" table5.json
  # the cross-view target (ST-GCN w/ Data Augmentation beats ST-GCN): column synth_xview, its own
  # OUT so that OUT/table5/table5.json stays the cross-subject table
  run_table 5 "$SCALE_5" "$LR_STEP_5" "$OUT/xview" table5_xview.json --rows ST-GCN --set data.split=xview
fi
if want 6; then run_table 6 "$SCALE_6" "$LR_STEP_6" "$OUT" table6.json; fi
if want 7; then run_table 7 "$SCALE_7" "$LR_STEP_7" "$OUT" table7.json; fi
if want fig7; then run_table fig7 "$SCALE_FIG7" "$LR_STEP_FIG7" "$OUT" fig7.json; fi

# Table 6's self-attention finding (docs/results.md): `mmff visualize --stats` on the stage-3 model
# of each MMFF row with self- and/or skeleton attention, per seed (OUT/attention/ROW/seedK), then
# mean +- std over seeds in RESULTS/attention_v2.json. Needs Table 6's runs.
if want attention && [ -z "$DRY_RUN" ]; then
  rows=()
  for g in bi_lstm_mmff_bilstm st_gcn_mmff_stgcn; do
    for r in "$g" "${g}_wo_skeleton_attention" "${g}_wo_self_attention"; do rows+=("$r"); done
  done
  for r in "${rows[@]}"; do
    for ((k = 0; k < SEEDS; k++)); do
      o="$OUT/attention/$r/seed$k"
      [ -f "$o/attention_stats.json" ] && continue
      "$MMFF" visualize --checkpoint "$OUT/table6/$r/synth/seed$k/stage3/model.pt" \
          --data "$OUT/prepared" --num 4 --stats --out "$o"
    done
  done
  "$PY" - "$RESULTS/attention_v2.json" "$OUT/attention" "$SEEDS" "${rows[@]}" <<'PYEOF'
import json, sys
from mmff.atomic import atomic_write_text
from mmff.engine.visualize import combine_attention_statistics
dest, root, seeds, rows = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4:]
table = {r: combine_attention_statistics([f"{root}/{r}/seed{k}/attention_stats.json" for k in range(seeds)])
         for r in rows}
out = {"command": "scripts/tables_v2.sh attention (mmff visualize --checkpoint "
                  "OUT/table6/ROW/synth/seedK/stage3/model.pt --data OUT/prepared --stats, per row and seed)",
       "rows": table}
atomic_write_text(dest, json.dumps(out, indent=1) + "\n")
print(f"attention statistics of {len(rows)} rows x {seeds} seeds -> {dest}")
PYEOF
fi

# Fig. 7's premise, from the generator's ground truth (no training): per frame position, on the
# test samples of the dataset above, is the object in the acting hand, is Eq. 14's j_max on that
# hand, and does the attention square hold the object / a look-alike -> RESULTS/fig7_premise.json
if want premise && [ -z "$DRY_RUN" ]; then
  "$PY" - "$RESULTS/fig7_premise.json" <<'PYEOF'
import json, sys
from mmff.atomic import atomic_write_text
from mmff.data import synth as S
test = [s for s in S.sample_plan(24) if s.subject not in S.XSUB_TRAIN_SUBJECTS]
res = S.attention_premise(test, [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9], seed=0, size=(384, 216))
res["command"] = ("scripts/tables_v2.sh premise (mmff.data.synth.attention_premise over the "
                  "cross-subject test samples of SynthHOI v2 lite, 24 per class, seed 0)")
atomic_write_text(sys.argv[1], json.dumps(res, indent=1) + "\n")
print(f"premise of {res['samples']} samples -> {sys.argv[1]}")
PYEOF
fi
