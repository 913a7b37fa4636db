"""The planner's ROS-free parts: instruction grammar, task recipes, critic, loop guard."""
