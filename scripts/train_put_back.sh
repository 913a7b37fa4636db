#!/usr/bin/env bash
# Put back (the cube back where it stood, a place no object marks any more) on the CPU:
# record the ROS graph's inputs for put back, fine-tune the default checkpoint on them with
# the goal pointer also pointing at the bank's stored object slots (--bank-pointer), and,
# for comparison, without it; evaluate both on the protocol seeds. docs/models.md ("Put
# back") has the figures; the checkpoint is not the default (it is trained on put back only).
#
#   bash scripts/train_put_back.sh                 # all: ~15 min of recording, the two
#                                                  # fine-tunes side by side (one thread
#                                                  # each, ~50 min), the evaluation (~30 min)
#   STAGE=record|train|eval bash scripts/train_put_back.sh
#   STAGE=point bash scripts/train_put_back.sh  # 2026-12-05: models/checkpoints/pcmb_put_back
#                                               # fine-tuned 2,000 more steps with the pointed
#                                               # position given to the denoiser
#                                               # (--point-residual) and, as the control,
#                                               # without it (~24 min each on 2 threads), then
#                                               # both evaluated (~6 min each)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
DATA=data/demos_put_back
INIT=models/checkpoints/pcmb_recurrent
STAGE=${STAGE:-all}

if [[ $STAGE == all || $STAGE == record ]]; then
  # the preprocessor's pipeline on the bridge's camera frames (seeds of their own); resumable
  nice -n 10 $PY -m models.record_demos --out $DATA --tasks put_back --seeds 3000-3299 \
    --modes memory --workers 2 --objects perception --resume
fi

train() {  # train OUT FLAGS...: put back only, from the default; the arm reaches further
  # than on the six tasks (the tray, the green cube, the start region), so the action range
  # is widened (sampling clips to it)
  local out=$1
  shift
  nice -n 5 $PY -m models.train --data $DATA --tasks put_back --modes memory \
    --seeds 3000-3299 --out "$out" --init-from $INIT --widen-action-range --steps 3000 \
    --lr 2e-4 --batch 8 --queries 12 --seed 0 --threads 1 --device cpu --no-progress \
    --max-minutes 60 --goal-loss-weight 1.0 --pointer-loss-weight 1.0 --write-every 2 \
    --inference-steps 3 --act-fraction 0.6 --onset-fraction 0.2 \
    --goal-targets unfinished_contact "$@"
}

if [[ $STAGE == all || $STAGE == train ]]; then
  # the stored slots start at a logit offset of -8 (models/goal_pointer.py): 25x the
  # learning rate on that offset lets them take over in a few hundred steps
  train runs/pcmb_put_back --bank-pointer --lr-scale pointer.stored_logit=25 &
  with=$!
  train runs/pcmb_put_back_plain &
  without=$!
  wait $with
  wait $without
fi

if [[ $STAGE == point ]]; then
  more() {  # more OUT FLAGS...: 2,000 more steps on put back from the committed checkpoint
    local out=$1
    shift
    nice -n 5 $PY -m models.train --data $DATA --tasks put_back --modes memory \
      --seeds 3000-3299 --out "$out" --init-from models/checkpoints/pcmb_put_back \
      --steps 2000 --lr 1e-4 --batch 8 --queries 12 --seed 0 --threads 2 --device cpu \
      --no-progress --max-minutes 30 --goal-loss-weight 1.0 --pointer-loss-weight 1.0 \
      --act-fraction 0.6 --onset-fraction 0.2 --goal-targets unfinished_contact "$@"
  }
  # the new weights start at zero (the chunks unchanged); 10x the learning rate on them
  more runs/pcmb_put_back_pr --point-residual \
    --lr-scale denoiser.point=10,pointer.stored_logit=25
  more runs/pcmb_put_back_ctl --lr-scale pointer.stored_logit=25
  for run in pcmb_put_back_pr pcmb_put_back_ctl; do
    nice -n 10 $PY -m models.evaluate --checkpoint runs/$run --inference-steps 3 \
      --tasks put_back --protocol-episodes 50 --threads 2 --no-progress --variants memory \
      --inputs perception --out runs/eval_$run.json
  done
fi

if [[ $STAGE == all || $STAGE == eval ]]; then
  for run in pcmb_put_back pcmb_put_back_plain; do
    variants=memory
    [[ $run == pcmb_put_back ]] && variants=memory,memory_off
    nice -n 10 $PY -m models.evaluate --checkpoint runs/$run --inference-steps 3 \
      --tasks put_back --protocol-episodes 50 --threads 2 --no-progress \
      --variants $variants --inputs perception --out runs/eval_${run}_perception.json
  done
fi
