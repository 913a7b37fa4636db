"""The planner understands every instruction of the simulation suite and bounds its retries."""

import pytest

from memory_nodes.planning.grammar import parse_instruction
from memory_nodes.planning.loop_guard import LoopGuard
import sim

EXPECTED = {
    'shell_game': 'shell_game',
    'remember_color': 'remember_color',
    'button_sequence': 'button_sequence',
    'count': 'count',
    'put_back': 'put_back',
    'moved_while_watched': 'moved_while_watched',
}


@pytest.mark.parametrize('seed', [0, 1, 7])
@pytest.mark.parametrize('task', sorted(EXPECTED))
def test_every_suite_instruction_parses_to_its_task(task, seed):
    instruction = sim.TASKS[task](seed).instruction
    assert parse_instruction(instruction).task == EXPECTED[task]


def test_across_episode_task_has_a_place_and_a_probe_stage():
    cls = sim.TASKS['where_did_i_leave_it']
    place = parse_instruction(cls(4, stage='place').instruction)
    probe = parse_instruction(cls(4, stage='probe').instruction)
    assert place.task == 'watch_placement' and probe.task == 'where_did_i_leave_it'
    assert place.args['item'] == probe.args['item'] != ''


def test_arguments_are_extracted():
    assert parse_instruction('Lift the cup that hides the red ball.').args == {
        'ball_color': 'red'}
    intent = parse_instruction('Count how many times the light blinks, then press the blue '
                               'button that many times and press the white button when done.')
    assert intent.args == {'count_button': 'blue', 'done_button': 'white'}
    assert parse_instruction('Put the red cube in the tray, open and close the drawer, then '
                             'put the red cube back exactly where it was.'
                             ).args['distractor'] == 'drawer'


@pytest.mark.parametrize('bad', ['', '   ', 'make me a sandwich', None, 'ÿ' * 40])
def test_unknown_instructions_are_refused_with_the_text(bad):
    with pytest.raises(ValueError, match='instruction'):
        parse_instruction(bad)


def test_loop_guard_retries_then_replans_then_gives_up():
    guard = LoopGuard(max_retries=1, max_replans=1)
    assert guard.record_failure('lift cup', 'state-a') == 'retry'
    assert guard.loop_detected('lift cup', 'state-a')
    # same failing state again: a loop, so no plain retry
    assert guard.record_failure('lift cup', 'state-a') == 'replan'
    assert guard.replans == 1 and not guard.loop_detected('lift cup', 'state-a')
    assert guard.record_failure('lift cup', 'state-b') == 'retry'
    assert guard.record_failure('lift cup', 'state-c') == 'give_up'
    with pytest.raises(ValueError, match='max_retries=-1'):
        LoopGuard(max_retries=-1)
