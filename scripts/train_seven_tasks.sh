#!/usr/bin/env bash
# One checkpoint for all seven tasks on the CPU: record the ROS graph's inputs for the six
# tasks of models/checkpoints/pcmb_recurrent (the default) and for put back, fine-tune
# models/checkpoints/pcmb_put_back (the default fine-tuned on put back alone, with the bank
# pointer and the widened action range: scripts/train_put_back.sh) on all seven, and
# evaluate it on the protocol seeds. docs/models.md ("Seven tasks") has the figures.
#
#   bash scripts/train_seven_tasks.sh         # all: ~35 min of recording (put back's 300
#                                             # demonstrations are copied from
#                                             # data/demos_put_back when there), ~50 min of
#                                             # training, the evaluation (~70 min)
#   STAGE=record|train|train2|train3|point|eval bash scripts/train_seven_tasks.sh
#
# `train` fine-tunes pcmb_put_back on the first recording (seeds 1000-, put back's 3000-):
# models/checkpoints/pcmb_seven. `train2` is a second stage tried after it (2026-12-04
# night): from runs/pcmb_seven on the same data plus more remember colour, button sequence
# and count episodes (the three that lost most against the six-task default; seeds 2000-),
# their weights up, a lower learning rate that decays to its end. It gained on the six tasks
# (remember colour 76, button sequence 88 %) and lost put back (18 %): 74 % over seven again,
# so it is not committed. EVAL=runs/pcmb_seven2 evaluates it. `train3` (2026-12-04, after
# train2) goes on from runs/pcmb_seven2 with put back's recovery demonstrations added (200
# episodes whose first stack slips off and is stacked again: the knob stack_slips=1, seeds
# 3300-) and put back's weight up: put back 14 % (the policy stays at the stack but stacks no
# better), so it is not committed either. EVAL=runs/pcmb_seven3.
# `point` (2026-12-05) goes on from models/checkpoints/pcmb_seven on train2's data with the
# pointed position given to the denoiser (--point-residual; docs/models.md, "The pointed
# position"): runs/pcmb_seven_pr, EVAL=runs/pcmb_seven_pr.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
DATA=data/demos_seven
INIT=models/checkpoints/pcmb_put_back
TASKS=shell_game,remember_color,moved_while_watched,where_did_i_leave_it,button_sequence,count,put_back
OUT=runs/pcmb_seven
OUT2=runs/pcmb_seven2
OUT3=runs/pcmb_seven3
OUT_POINT=runs/pcmb_seven_pr
STAGE=${STAGE:-all}
EVAL=${EVAL:-$OUT}

record() {  # the preprocessor's pipeline on the bridge's camera frames; resumable
  nice -n 10 $PY -m models.record_demos --out $DATA --modes memory --workers 2 \
    --objects perception --resume "$@"
}

if [[ $STAGE == all || $STAGE == record ]]; then
  if [[ -d data/demos_put_back/put_back && ! -d $DATA/put_back ]]; then
    mkdir -p $DATA
    cp -r data/demos_put_back/put_back $DATA/  # the same seeds; --resume keeps them
  fi
  record --tasks put_back --seeds 3000-3299
  # the two tasks with several presses in turn get twice the episodes (the six-task
  # chain: they were the last to be learned)
  record --tasks button_sequence,count --seeds 1000-1199
  record --tasks shell_game,remember_color,moved_while_watched,where_did_i_leave_it \
    --seeds 1000-1099
fi

train() {  # train OUT INIT SEED FLAGS...: one fine-tune on all seven; the shared recipe, then FLAGS
  local out=$1 init=$2 seed=$3
  shift 3
  nice -n 5 $PY -m models.train --data $DATA --tasks $TASKS --modes memory --out "$out" \
    --init-from "$init" --batch 8 --queries 12 --seed "$seed" --threads 2 --device cpu \
    --no-progress --goal-loss-weight 1.0 --pointer-loss-weight 1.0 --write-every 2 \
    --inference-steps 3 --act-fraction 0.6 --onset-fraction 0.2 \
    --goal-targets unfinished_contact --pointer-query fused --bank-pointer \
    --lr-scale retrieval.recurrent=10 "$@"
}

if [[ $STAGE == all || $STAGE == train ]]; then
  # the init's action range already covers put back (and the six tasks' lie inside it)
  train $OUT $INIT 9 --seeds 1000-1199,3000-3299 --steps 4000 --lr 1.5e-4 --max-minutes 50 \
    --task-weights remember_color=2.5,moved_while_watched=1.5,button_sequence=3,count=4,put_back=3
fi

if [[ $STAGE == train2 ]]; then  # records its extra episodes first (~20 min), then trains
  record --tasks remember_color --seeds 2000-2099
  record --tasks button_sequence --seeds 2000-2199
  record --tasks count --seeds 2000-2099
  train $OUT2 $OUT 10 --seeds 1000-1199,2000-2199,3000-3299 --steps 2500 --lr 1e-4 \
    --max-minutes 45 --task-weights remember_color=3.5,button_sequence=4,count=4,put_back=3
fi

if [[ $STAGE == train3 ]]; then  # records its recovery episodes first (~12 min), then trains
  record --tasks put_back --seeds 3300-3499 --knob stack_slips=1
  train $OUT3 $OUT2 11 --seeds 1000-1199,2000-2199,3000-3499 --steps 2500 --lr 1e-4 \
    --max-minutes 45 --task-weights remember_color=3.5,button_sequence=4,count=4,put_back=5
fi

if [[ $STAGE == point ]]; then  # train2's episodes (records what is missing), ~25 min
  record --tasks remember_color --seeds 2000-2099
  record --tasks button_sequence --seeds 2000-2199
  record --tasks count --seeds 2000-2099
  # the new weights start at zero (the chunks unchanged); 10x the learning rate on them
  train $OUT_POINT models/checkpoints/pcmb_seven 12 --seeds 1000-1199,2000-2199,3000-3299 \
    --steps 2000 --lr 1e-4 --max-minutes 30 --point-residual \
    --lr-scale retrieval.recurrent=10,denoiser.point=10 \
    --task-weights remember_color=3.5,button_sequence=4,count=4,put_back=3
fi

if [[ $STAGE == all || $STAGE == eval ]]; then
  # the seven tasks with and without the bank, through the graph's inputs, with the 3 DDIM
  # steps the stack runs (config/params.yaml)
  nice -n 10 $PY -m models.evaluate --checkpoint $EVAL --inference-steps 3 --tasks $TASKS \
    --protocol-episodes 50 --threads 2 --no-progress --variants memory,memory_off \
    --inputs perception --out "runs/eval_$(basename $EVAL)_perception.json"
fi
