"""ROS 2 side of the embodied memory stack.

The lifelong memory library (no ROS imports) lives in ``memory_nodes.lifelong_memory``;
node modules are thin rclpy adapters over it and over ``models`` and ``sim``.
"""

__version__ = '0.1.0'
