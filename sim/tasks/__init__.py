"""The memory-task suite: one module per task; TASKS maps task names to classes."""

from sim.tasks.button_sequence import ButtonSequence
from sim.tasks.count import Count
from sim.tasks.moved_while_watched import MovedWhileWatched
from sim.tasks.put_back import PutBack
from sim.tasks.remember_color import RememberColor
from sim.tasks.shell_game import ShellGame
from sim.tasks.where_did_i_leave_it import WhereDidILeaveIt

TASK_ORDER = (ShellGame, RememberColor, ButtonSequence, Count, PutBack, MovedWhileWatched,
              WhereDidILeaveIt)
TASKS = {cls.name: cls for cls in TASK_ORDER}
