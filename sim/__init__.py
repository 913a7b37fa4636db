"""MuJoCo side of the stack: scenes, the memory-task suite, scripted experts, sim bridge.

Nothing here needs ROS except the sim bridge node module.
"""
