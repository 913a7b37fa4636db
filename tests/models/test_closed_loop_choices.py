"""scripts/closed_loop_choices.py: what the policy chose in closed loop against the answer."""

import pytest

from tests.script_loader import load_script


def test_summaries_count_exact_off_by_one_and_neighbours():
    script = load_script('closed_loop_choices')
    rows = [{'answer': k, 'chosen': c, 'done_pressed': True}
            for k, c in [(1, 1), (2, 3), (3, 2), (5, 5), (4, 1)]]
    s = script.summarise('count', rows)
    assert (s['exact'], s['within_one'], s['too_many'], s['too_few']) == (2, 4, 1, 2)
    assert 0.0 < s['correlation'] < 1.0
    rows = [{'answer': 0, 'chosen': 0}, {'answer': 0, 'chosen': 1}, {'answer': 2, 'chosen': 0},
            {'answer': 1, 'chosen': None}]
    assert script.summarise('shell_game', rows) == {
        'episodes': 4, 'right': 1, 'wrong_object': 2, 'none': 1, 'neighbour': 1}
    with pytest.raises(ValueError, match='no episodes'):
        script.summarise('count', [])


@pytest.mark.parametrize('inputs,seeds', [('sim', [0, 1]), ('perception', [2])])
def test_plays_the_shipped_policy_and_reads_the_hidden_count(inputs, seeds):
    script = load_script('closed_loop_choices')
    rows = script.play(script.DEFAULT_CHECKPOINT, 'count', seeds, inputs=inputs)
    assert [r['seed'] for r in rows] == seeds
    for r in rows:
        assert 1 <= r['answer'] <= 5 and r['chosen'] >= 0  # K blinks, presses counted
        assert r['success'] == (r['done_pressed'] and r['chosen'] == r['answer'])
    with pytest.raises(ValueError, match="task='put_back'"):
        script.choice('put_back', None)
    with pytest.raises(ValueError, match="inputs='camera'"):
        script.play(script.DEFAULT_CHECKPOINT, 'count', seeds, inputs='camera')
