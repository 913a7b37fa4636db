"""Start the node graph without the launch package: ``memory-stack``.

Reads the same description as ``launch/stack_launch.py`` (config/stack.yaml and
config/params.yaml, through ``memory_nodes.stack_description``) and starts it in one of two
ways, with the same node code:

- ``processes``: one OS process per node, as on a robot (each ``python -m <module>`` with the
  node's name and the parameters file), talking over DDS;
- ``composed``: all nodes in this process on one multi-threaded executor (lowest latency,
  simplest for simulation runs).

Examples::

    memory-stack --profile sim --mode processes
    memory-stack --profile robot --mode composed --only preprocessor memory
"""

import argparse
import importlib
import os
import signal
import subprocess
import sys
import threading
import time

from memory_nodes.file_safety import open_private, private_dir
from memory_nodes.stack_description import PROFILES, load_stack, node_enclave


class StackProcesses:
    """One OS process per node; a context manager that stops them all on exit."""

    def __init__(self, description, only=None, extra_parameters=None, log_dir=None,
                 python=None, env=None, enclave_root=None):
        self.description = description
        self.specs = [s for s in description.nodes if not only or s.name in only]
        unknown = set(only or ()) - {s.name for s in description.nodes}
        if unknown:
            raise ValueError(f'--only names unknown nodes {sorted(unknown)}; the '
                             f'{description.profile} profile has '
                             f'{[s.name for s in description.nodes]}')
        self.extra_parameters = extra_parameters or {}
        self.log_dir = log_dir
        self.python = python or sys.executable
        self.env = dict(os.environ if env is None else env)
        self.enclave_root = enclave_root or None   # SROS2: each node in <root>/<name>
        if self.enclave_root:
            node_enclave(self.enclave_root, 'check')   # ValueError now, not in a node
        self.processes = {}

    def start(self, name=None):
        """Start every node (or the one called ``name``), autostarted."""
        for spec in self.specs:
            if name is not None and spec.name != name:
                continue
            extra = {'autostart': True, **self.extra_parameters.get(spec.name, {})}
            argv = spec.process_command(self.python, self.description.params_file, extra,
                                        self.enclave_root)
            out = subprocess.DEVNULL
            if self.log_dir is not None:   # owner-only folder (0o700) and logs (0o600)
                out = open_private(os.path.join(private_dir(self.log_dir),
                                                f'{spec.name}.log'), 'ab')
            self.processes[spec.name] = subprocess.Popen(argv, env=self.env, stdout=out,
                                                         stderr=subprocess.STDOUT)
        return self

    def kill(self, name, sig=signal.SIGKILL):
        """Send ``sig`` to one node's process and wait for it to end."""
        proc = self.processes[name]
        proc.send_signal(sig)
        proc.wait(timeout=30)
        return proc.returncode

    def poll(self):
        """{name: return code or None while running}."""
        return {name: proc.poll() for name, proc in self.processes.items()}

    def stop(self, timeout=15.0):
        for proc in self.processes.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        deadline = time.monotonic() + timeout
        for proc in self.processes.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False


def node_class(spec):
    """Import the LifecycleNode subclass a spec names."""
    module = importlib.import_module(spec.module)
    try:
        return getattr(module, spec.node_class)
    except AttributeError as error:
        raise ValueError(f'{spec.module} has no class {spec.node_class!r} '
                         f'(config/stack.yaml, node {spec.name!r})') from error


class ComposedStack:
    """All nodes in this process on one WorkerThreadExecutor, spinning in a thread.

    rclpy must be initialised with the parameters file as global arguments, so that every
    node reads its own block: ``rclpy.init(args=composed_ros_args(description))``.
    """

    def __init__(self, description, only=None, context=None, num_threads=4):
        from memory_nodes.worker_executor import WorkerThreadExecutor
        self.description = description
        self.specs = [s for s in description.nodes if not only or s.name in only]
        self.context = context
        self.executor = WorkerThreadExecutor(num_threads=num_threads, context=context)
        self.nodes = {}
        self._thread = None

    def start(self):
        from memory_nodes.ros_common import autostart
        for spec in self.specs:
            cls = node_class(spec)
            node = cls(context=self.context) if self.context is not None else cls()
            if node.get_name() != spec.name:
                raise ValueError(f'{cls.__name__} is named {node.get_name()!r}, but '
                                 f'config/stack.yaml calls it {spec.name!r}')
            self.nodes[spec.name] = node
            self.executor.add_node(node)
        for node in self.nodes.values():
            autostart(node)
        self._thread = threading.Thread(target=self.executor.spin, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self.executor.shutdown(timeout_sec=5.0)
        for node in self.nodes.values():
            node.destroy_node()
        if self._thread is not None:
            self._thread.join(timeout=5.0)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False


def composed_ros_args(description, enclave=None):
    """Global ROS arguments for a composed process: the parameters file (and, for SROS2,
    the one enclave the whole process runs in)."""
    args = ['--ros-args', '--params-file', str(description.params_file)]
    if enclave:   # a full enclave name, e.g. node_enclave('/memory_stack', 'composed')
        args += ['--enclave', enclave]
    return args


def main(argv=None):
    parser = argparse.ArgumentParser(prog='memory-stack', description=__doc__.splitlines()[0])
    parser.add_argument('--profile', choices=PROFILES, default='sim',
                        help='sim: with the MuJoCo bridge; robot: without it')
    parser.add_argument('--mode', choices=['processes', 'composed'], default='processes')
    parser.add_argument('--only', nargs='+', metavar='NODE', help='start only these nodes')
    parser.add_argument('--params', help='parameters YAML (default: config/params.yaml)')
    parser.add_argument('--log-dir', help='processes mode: one log file per node here')
    parser.add_argument('--enclave-root', metavar='ROOT',
                        help='SROS2: run each node in the enclave ROOT/<node> (processes '
                        'mode), or the whole process in the enclave ROOT/composed (composed '
                        'mode); see docs/security.md')
    args = parser.parse_args(argv)
    description = load_stack(args.profile, params_file=args.params)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    if args.mode == 'processes':
        with StackProcesses(description, only=args.only, log_dir=args.log_dir,
                            enclave_root=args.enclave_root) as stack:
            print(f'started {sorted(stack.processes)}; Ctrl-C stops', flush=True)
            try:
                while not stop.is_set():
                    for name, code in stack.poll().items():
                        if code is not None:
                            print(f'node {name} exited with {code}', file=sys.stderr)
                            stop.set()
                    time.sleep(0.5)
            except KeyboardInterrupt:
                pass
        return 0
    import rclpy
    rclpy.init(args=composed_ros_args(
        description, args.enclave_root and node_enclave(args.enclave_root, 'composed')))
    try:
        with ComposedStack(description, only=args.only) as stack:
            print(f'composed {sorted(stack.nodes)}; Ctrl-C stops', flush=True)
            try:
                while not stop.is_set():
                    time.sleep(0.5)
            except KeyboardInterrupt:
                pass
    finally:
        rclpy.try_shutdown()
    return 0


if __name__ == '__main__':
    sys.exit(main())
