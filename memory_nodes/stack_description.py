"""Read the one description of the stack (config/stack.yaml + config/params.yaml).

Both ways of starting the graph use this module: ``launch/stack_launch.py`` for
``ros2 launch`` on a robot and ``memory_nodes.runner`` (``memory-stack``) where the launch
package is not installed. No ROS imports here, so the description can be checked anywhere.
"""

from dataclasses import dataclass, field
import os
from pathlib import Path
import re

import yaml

PACKAGE = 'memory_nodes'
PROFILES = ('sim', 'robot')
_ENCLAVE = re.compile(r'(/[A-Za-z_][A-Za-z0-9_]*)*/')


@dataclass(frozen=True)
class NodeSpec:
    """One node of the graph as the description gives it."""

    name: str                 # node name; key of its block in params.yaml
    executable: str           # console script in lib/memory_nodes
    module: str               # python module with main() and the node class
    node_class: str           # LifecycleNode subclass, for composition in one process
    profiles: tuple           # profiles this node runs in
    parameters: dict = field(default_factory=dict)  # from params.yaml, ros__parameters

    def process_command(self, python, params_file, extra_parameters=None, enclave_root=None):
        """argv that starts this node in its own OS process (as a launch file would);
        with ``enclave_root`` the node runs in the SROS2 enclave ``<enclave_root>/<name>``."""
        argv = [python, '-m', self.module, '--ros-args', '-r', f'__node:={self.name}',
                '--params-file', str(params_file)]
        for key, value in (extra_parameters or {}).items():
            argv += ['-p', f'{key}:={_ros_arg_value(value)}']
        if enclave_root:
            argv += ['--enclave', node_enclave(enclave_root, self.name)]
        return argv


@dataclass(frozen=True)
class StackDescription:
    """The nodes of one profile, with the files they were read from."""

    profile: str
    nodes: tuple
    stack_file: Path
    params_file: Path

    def node(self, name):
        for spec in self.nodes:
            if spec.name == name:
                return spec
        raise KeyError(f'no node named {name!r} in {self.stack_file} '
                       f'(nodes: {[n.name for n in self.nodes]})')


def node_enclave(enclave_root, node_name):
    """The SROS2 enclave of one node: ``<enclave_root>/<node_name>``, e.g.
    ``/memory_stack/memory``. ``enclave_root`` must be an absolute ROS name
    (``/`` then letters, digits, ``_`` and ``/``); ValueError names it otherwise."""
    root = str(enclave_root).rstrip('/')
    if not _ENCLAVE.fullmatch(root + '/'):
        raise ValueError(f'enclave_root={enclave_root!r}: expected an absolute ROS name such '
                         "as '/memory_stack' (letters, digits, '_' and '/')")
    return f'{root}/{node_name}'


def _ros_arg_value(value):
    if isinstance(value, bool):
        return 'true' if value else 'false'
    return str(value)


def config_dir():
    """The folder holding stack.yaml and params.yaml: the source tree, else the install."""
    override = os.environ.get('MEMORY_STACK_CONFIG')
    if override:
        return Path(override)
    source = Path(__file__).resolve().parents[1] / 'config'
    if (source / 'stack.yaml').is_file():
        return source
    try:
        from ament_index_python.packages import get_package_share_directory
        return Path(get_package_share_directory(PACKAGE)) / 'config'
    except Exception as error:  # ament_index missing or package not installed
        raise FileNotFoundError(
            f'cannot find config/stack.yaml beside the sources ({source}) nor in the '
            f'installed share folder of {PACKAGE}: {error}') from error


def load_params(params_file):
    """Parameters YAML in ROS form ``<node>: {ros__parameters: {...}}`` -> {node: dict}."""
    data = yaml.safe_load(Path(params_file).read_text()) or {}
    if not isinstance(data, dict):
        raise ValueError(f'{params_file}: expected a mapping of node names, got {type(data)}')
    params = {}
    for node_name, block in data.items():
        if not isinstance(block, dict) or 'ros__parameters' not in block:
            raise ValueError(f'{params_file}: block {node_name!r} has no ros__parameters')
        params[node_name] = dict(block['ros__parameters'] or {})
    return params


def load_stack(profile='sim', stack_file=None, params_file=None):
    """Read stack.yaml and params.yaml and return the nodes of ``profile``."""
    if profile not in PROFILES:
        raise ValueError(f'profile must be one of {PROFILES}, got {profile!r}')
    folder = config_dir()
    stack_file = Path(stack_file or folder / 'stack.yaml')
    params_file = Path(params_file or folder / 'params.yaml')
    data = yaml.safe_load(stack_file.read_text()) or {}
    params = load_params(params_file)
    entries = data.get('nodes')
    if not isinstance(entries, list) or not entries:
        raise ValueError(f'{stack_file}: `nodes` must be a non-empty list')
    names = [entry.get('name') for entry in entries]
    if len(set(names)) != len(names):
        raise ValueError(f'{stack_file}: node names repeat: {names}')
    orphans = sorted(set(params) - set(names))
    if orphans:
        raise ValueError(f'{params_file}: parameter blocks for unknown nodes {orphans}')
    nodes = []
    for entry in entries:
        missing = {'name', 'executable', 'module', 'node_class', 'profiles'} - set(entry)
        if missing:
            raise ValueError(f'{stack_file}: node {entry.get("name")!r} lacks {sorted(missing)}')
        if profile not in entry['profiles']:
            continue
        nodes.append(NodeSpec(name=entry['name'], executable=entry['executable'],
                              module=entry['module'], node_class=entry['node_class'],
                              profiles=tuple(entry['profiles']),
                              parameters=params.get(entry['name'], {})))
    return StackDescription(profile=profile, nodes=tuple(nodes), stack_file=stack_file,
                            params_file=params_file)
