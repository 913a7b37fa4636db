"""The executor's ROS-free parts: action-chunk queue, safety limits, stale-input watchdog."""

from memory_nodes.execution.action_queue import ActionQueue, Chunk, validate_chunk
from memory_nodes.execution.safety import InputWatchdog, SafetyLimits

__all__ = ['ActionQueue', 'Chunk', 'validate_chunk', 'InputWatchdog', 'SafetyLimits']
