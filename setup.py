"""Install the embodied memory stack: an ament_python package that pip installs too.

colcon (robots with ROS 2 from apt) and pip (machines without ROS) both run this file.
ROS 2 itself is never listed in install_requires: apt provides it on a robot and
requirements-ros.txt provides it on pip-only machines.
"""

from glob import glob

from setuptools import find_packages, setup

PACKAGE = 'memory_nodes'
VERSION = '0.1.0'  # keep equal to package.xml's <version>; tests/test_packaging.py checks

setup(
    name=PACKAGE,
    version=VERSION,
    description='Embodied memory stack for robots: ROS 2 nodes, lifelong memory, '
                'memory-conditioned diffusion action expert, MuJoCo memory tasks.',
    license='Apache-2.0',
    python_requires='>=3.10',
    packages=find_packages(include=['memory_nodes', 'memory_nodes.*', 'models', 'models.*',
                                    'sim', 'sim.*']),
    package_data={
        'models': ['checkpoints/*/*.json', 'checkpoints/*/*.safetensors'],
        'sim': ['assets/*.xml'],
        'memory_nodes': ['lifelong_memory/migrations/*.sql'],
    },
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + PACKAGE]),
        ('share/' + PACKAGE, ['package.xml']),
        ('share/' + PACKAGE + '/launch', glob('launch/*_launch.py')),
        ('share/' + PACKAGE + '/config', glob('config/*.yaml')),
    ],
    install_requires=[
        'numpy', 'scipy', 'PyYAML', 'torch', 'mujoco', 'open3d', 'diffusers',
        'transformers', 'safetensors', 'rosbags', 'faiss-cpu', 'tqdm', 'matplotlib',
        'imageio', 'pillow',
    ],
    extras_require={'test': ['pytest', 'pytest-timeout', 'hypothesis', 'ruff']},
    zip_safe=True,
    entry_points={
        'console_scripts': [
            # lifelong memory CLI: memory query "where is the red cube" | stats | export
            'memory = memory_nodes.lifelong_memory.cli:main',
            # MuJoCo memory-task suite: run a task, render, record demonstrations
            'memory-sim = sim.cli:main',
            # action expert: train and evaluate
            'memory-train = models.train:main',
            'memory-eval = models.evaluate:main',
            # the node graph without the launch package (one process per node or composed)
            'memory-stack = memory_nodes.runner:main',
            # rosbag replay evaluation: record | replay | questions | report | compare
            'memory-eval-bag = memory_nodes.evaluation.cli:main',
            # nodes (ros2 run memory_nodes <name>); config/stack.yaml lists them
            'sim_bridge = sim.bridge_node:main',
            'preprocessor = memory_nodes.preprocessor_node:main',
            'memory_node = memory_nodes.memory_node:main',
            'planner = memory_nodes.planner_node:main',
            'executor = memory_nodes.executor_node:main',
            'action_expert = memory_nodes.action_expert_node:main',
        ],
    },
)
