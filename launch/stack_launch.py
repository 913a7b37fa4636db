"""Launch the embodied memory stack on a robot: ``ros2 launch memory_nodes stack_launch.py``.

Reads the same description as the pip-only runner (``memory-stack``): config/stack.yaml for
the nodes and config/params.yaml for their parameters, through
memory_nodes.stack_description, so the two cannot drift apart.

Arguments:
  profile:=robot|sim      robot (default) runs without the MuJoCo bridge
  params_file:=<path>     parameters YAML (default: the installed config/params.yaml)
  autostart:=true|false   configure and activate every lifecycle node on start
  enclave_root:=<name>    SROS2: run each node in the enclave <name>/<node> (e.g.
                          /memory_stack -> /memory_stack/memory); '' (default) = none.
                          See docs/security.md.
"""

from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import LifecycleNode

from launch import LaunchDescription
from memory_nodes.stack_description import PACKAGE, load_stack, node_enclave


def node_actions(profile, params_file, autostart, enclave_root=''):
    """The launch_ros actions for every node of ``profile``; also used by the tests."""
    description = load_stack(profile, params_file=params_file or None)
    actions = []
    for spec in description.nodes:
        extra = {}
        if enclave_root:
            extra['ros_arguments'] = ['--enclave', node_enclave(enclave_root, spec.name)]
        actions.append(LifecycleNode(
            package=PACKAGE,
            executable=spec.executable,
            name=spec.name,
            namespace='',
            output='screen',
            parameters=[str(description.params_file), {'autostart': autostart}],
            **extra,
        ))
    return actions


def _launch_setup(context):
    profile = LaunchConfiguration('profile').perform(context)
    params_file = LaunchConfiguration('params_file').perform(context)
    autostart = LaunchConfiguration('autostart').perform(context).lower() == 'true'
    enclave_root = LaunchConfiguration('enclave_root').perform(context)
    return node_actions(profile, params_file, autostart, enclave_root)


def generate_launch_description():
    return LaunchDescription([
        DeclareLaunchArgument('profile', default_value='robot',
                              description='robot: sensors from drivers; sim: MuJoCo bridge'),
        DeclareLaunchArgument('params_file', default_value='',
                              description='parameters YAML; empty: config/params.yaml'),
        DeclareLaunchArgument('autostart', default_value='true',
                              description='configure and activate all lifecycle nodes'),
        DeclareLaunchArgument('enclave_root', default_value='',
                              description="SROS2 enclave root: node X runs in <root>/X; "
                              "'' = no enclaves"),
        OpaqueFunction(function=_launch_setup),
    ])
