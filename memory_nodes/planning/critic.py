"""The critic: did a subgoal do what it was for? Checked from perception, not from the
executor's say-so (no ROS imports).

The executor reports that a motion finished; the critic looks at the scene afterwards. A
``lifted`` step succeeded when an object of the step's label is seen at least
``min_rise_m`` above the point it was grasped at, near that point in the plane. An
``opened`` step (a drawer pulled) succeeded when a drawer in line with the knob it pulled
(across its slide axis) is seen open (``recipes.drawer_is_open``: its box shows, where a
closed drawer shows only its knob); a ``closed`` step (pushed) when that drawer is seen
and is no longer open. Steps with no check (a button press, whose travel a camera cannot
measure) pass on completion.
"""

import math

from memory_nodes.planning.recipes import Step, drawer_is_open, in_line

LIFT_RADIUS_M = 0.08  # the lifted object is within this distance of the grasp point (xy)
CHECKS = ('', 'lifted', 'opened', 'closed')


def check_step(step: Step, scene, min_rise_m: float = 0.05):
    """(ok, reason) for a finished ``step`` given the scene now (SceneObjects)."""
    if step.check == '':
        return True, 'finished'
    if step.check == 'lifted':
        label = step.target.split()[-1]
        for obj in scene:
            if obj.label != label or not obj.visible:
                continue
            near = math.dist(obj.position[:2], step.point[:2]) <= LIFT_RADIUS_M
            if near and obj.position[2] >= step.point[2] - 0.05 + min_rise_m:
                return True, f'{step.target} seen lifted at z={obj.position[2]:.2f} m'
        return False, f'no {label} seen lifted near {tuple(round(v, 2) for v in step.point)}'
    if step.check in ('opened', 'closed'):
        drawers = in_line([o for o in scene if o.label == 'drawer' and o.visible],
                          step.point[1])
        if not drawers:
            return False, f'no drawer seen in line with y={step.point[1]:.2f}'
        drawer = min(drawers, key=lambda o: abs(o.position[1] - step.point[1]))
        seen = 'opened' if drawer_is_open(drawer) else 'closed'
        return seen == step.check, (f'drawer at y={drawer.position[1]:.2f} seen {seen} '
                                    f'({drawer.extent[0]:.3f} m deep)')
    raise ValueError(f'step.check is {step.check!r}; expected one of {CHECKS}')
