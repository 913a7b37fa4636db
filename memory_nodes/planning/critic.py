"""The critic: did a subgoal do what it was for? Checked from perception, not from the
executor's say-so (no ROS imports).

The executor reports that a motion finished; the critic looks at the scene afterwards. A
``lifted`` step succeeded when an object of the step's label is seen at least
``min_rise_m`` above the point it was grasped at, near that point in the plane. Steps with
no check (a button press, whose travel a camera cannot measure) pass on completion.
"""

import math

from memory_nodes.planning.recipes import Step

LIFT_RADIUS_M = 0.08  # the lifted object is within this distance of the grasp point (xy)


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
    raise ValueError(f'step.check is {step.check!r}; expected "" or "lifted"')
