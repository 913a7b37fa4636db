"""Instruction grammar of the deterministic task planner (no ROS imports).

Maps a natural-language instruction to a task intent: which memory task it is and its
arguments (the ball's colour, the item's name, the distractor, ...). The patterns cover the
instructions of the simulation suite (sim/tasks/*) and reasonable rephrasings; anything else
is refused with a ValueError quoting the instruction, so the planner reports an unknown
instruction instead of guessing.
"""

from dataclasses import dataclass, field
import re

COLOR = r'(red|green|blue|yellow|purple|orange|cyan|white|black|magenta|gray|grey)'
NAME = r'([a-z][a-z ]{0,30}?)'


@dataclass(frozen=True)
class TaskIntent:
    """What an instruction asks for."""

    task: str                        # a sim task name, e.g. 'shell_game'
    args: dict = field(default_factory=dict)
    instruction: str = ''


# (task, compiled pattern, function(match) -> args); the first match wins
_RULES = [
    ('shell_game',
     re.compile(rf'\b(lift|raise|pick up)\b.*\bcup\b.*\b(hides?|hiding|covers?)\b.*?'
                rf'\b{COLOR}\s+ball\b'),
     lambda m: {'ball_color': m.group(3)}),
    ('moved_while_watched',
     re.compile(rf'\b(lift|raise|pick up)\b.*\bcup\b.*\b{COLOR}\s+ball\b.*\b(under|in)\b.*'
                r'\bnow\b'),
     lambda m: {'ball_color': m.group(2)}),
    ('remember_color',
     re.compile(r'\bremember\b.*\bcolou?r\b.*\b(pick( up)?|touch|grab)\b.*\bcube\b'),
     lambda m: {}),
    ('button_sequence',
     re.compile(r'\bbuttons?\b.*\blight(s)? up\b.*\bpress\b.*\b(same )?order\b'),
     lambda m: {}),
    ('count',
     re.compile(rf'\bcount\b.*\b(blinks?|flash(es)?)\b.*\bpress\b.*\b{COLOR}\s+button\b.*'
                rf'\bthat many times\b.*\b{COLOR}\s+button\b.*\bdone\b'),
     lambda m: {'count_button': m.group(3), 'done_button': m.group(4)}),
    ('put_back',
     re.compile(rf'\bput\b.*\b{COLOR}\s+cube\b.*\btray\b.*\bback\b'),
     lambda m: {'cube_color': m.group(1)}),
    ('where_did_i_leave_it',
     re.compile(rf'\bfind\b.*\bthe {NAME}\s*:.*\bopen\b.*\b(drawer|locker)\b'),
     lambda m: {'item': m.group(1).strip(), 'container': m.group(2)}),
    ('watch_placement',
     re.compile(rf'\bwatch\b.*\b(drawer|locker)\b.*\bthe {NAME}\s+goes? into\b'),
     lambda m: {'item': m.group(2).strip(), 'container': m.group(1)}),
]


def parse_instruction(instruction):
    """Instruction text -> TaskIntent, or ValueError quoting an instruction not understood."""
    if not isinstance(instruction, str) or not instruction.strip():
        raise ValueError(f'instruction is {instruction!r}; expected a non-empty sentence')
    text = ' '.join(instruction.lower().replace('colour', 'color').split())
    for task, pattern, to_args in _RULES:
        match = pattern.search(text)
        if match:
            args = to_args(match)
            for key, value in list(args.items()):
                if value == 'grey':
                    args[key] = 'gray'
            if task == 'put_back':
                args['distractor'] = 'drawer' if 'drawer' in text else 'stack'
            return TaskIntent(task=task, args=args, instruction=instruction)
    raise ValueError(f'instruction {instruction!r} is not one the task planner understands '
                     f'(tasks: {sorted({rule[0] for rule in _RULES})})')
