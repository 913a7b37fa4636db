"""The memory-task suite: one module per task; TASKS maps task names to classes."""

from sim.tasks.button_sequence import ButtonSequence
from sim.tasks.count import Count
from sim.tasks.remember_color import RememberColor
from sim.tasks.shell_game import ShellGame

TASKS = {cls.name: cls for cls in (ShellGame, RememberColor, ButtonSequence, Count)}
