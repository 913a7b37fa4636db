"""The launch file and the pip-only runner start the same nodes with the same parameters.

The `launch` and `launch_ros` packages have no wheels on pip-only machines, so this test
loads launch/stack_launch.py against a minimal recording stand-in for those two packages
(it records the keyword arguments that the real LifecycleNode action would receive) and
compares them with the process commands of memory_nodes.runner for every profile.
"""

import importlib.util
from pathlib import Path
import re
import sys
import types

import pytest

from memory_nodes.runner import StackProcesses
from memory_nodes.stack_description import PROFILES, load_params, load_stack

ROOT = Path(__file__).resolve().parents[2]


class _Recorded:
    def __init__(self, *args, **kwargs):
        self.args = args
        self.kwargs = kwargs


@pytest.fixture()
def launch_module(monkeypatch):
    fake = {}
    for name in ('launch', 'launch.actions', 'launch.substitutions', 'launch_ros',
                 'launch_ros.actions'):
        fake[name] = types.ModuleType(name)
        monkeypatch.setitem(sys.modules, name, fake[name])
    fake['launch'].LaunchDescription = _Recorded
    fake['launch.actions'].DeclareLaunchArgument = _Recorded
    fake['launch.actions'].OpaqueFunction = _Recorded
    fake['launch.substitutions'].LaunchConfiguration = _Recorded
    fake['launch_ros.actions'].LifecycleNode = _Recorded
    spec = importlib.util.spec_from_file_location('stack_launch',
                                                  ROOT / 'launch' / 'stack_launch.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _console_scripts():
    text = (ROOT / 'setup.py').read_text()
    return dict(re.findall(r"'([\w-]+) = ([\w.]+):main'", text))


@pytest.mark.parametrize('profile', PROFILES)
def test_launch_file_and_runner_agree(launch_module, profile):
    description = load_stack(profile)
    actions = launch_module.node_actions(profile, '', True)
    runner = StackProcesses(description, python='python')
    scripts = _console_scripts()

    assert [a.kwargs['name'] for a in actions] == [s.name for s in runner.specs]
    for action, spec in zip(actions, runner.specs):
        kw = action.kwargs
        assert kw['package'] == 'memory_nodes'
        # the launch file's executable is the console script whose target is the module
        # that the runner starts with python -m
        assert scripts[kw['executable']] == spec.module
        params_file, overrides = kw['parameters']
        assert Path(params_file) == description.params_file
        argv = spec.process_command('python', description.params_file, {'autostart': True})
        assert argv[argv.index('--params-file') + 1] == str(description.params_file)
        assert f'__node:={spec.name}' in argv
        assert overrides == {'autostart': True} and 'autostart:=true' in argv


def test_profiles_differ_only_by_the_bridge():
    sim = {s.name for s in load_stack('sim').nodes}
    robot = {s.name for s in load_stack('robot').nodes}
    assert sim - robot == {'sim_bridge'}
    assert robot <= sim


def test_every_node_has_a_parameter_block_and_a_console_script():
    description = load_stack('sim')
    params = load_params(description.params_file)
    scripts = _console_scripts()
    for spec in description.nodes:
        assert spec.name in params, f'config/params.yaml lacks a block for {spec.name}'
        assert spec.executable in scripts, f'setup.py lacks console script {spec.executable}'


def test_bad_description_is_refused(tmp_path):
    stack = tmp_path / 'stack.yaml'
    params = tmp_path / 'params.yaml'
    stack.write_text('nodes:\n  - {name: a, executable: a, module: m, node_class: A, '
                     'profiles: [sim]}\n')
    params.write_text('b:\n  ros__parameters: {}\n')
    with pytest.raises(ValueError, match=r"unknown nodes \['b'\]"):
        load_stack('sim', stack, params)
    params.write_text('a:\n  x: 1\n')
    with pytest.raises(ValueError, match='no ros__parameters'):
        load_stack('sim', stack, params)
    with pytest.raises(ValueError, match='profile must be one of'):
        load_stack('moon', stack, params)
