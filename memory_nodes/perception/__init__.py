"""The preprocessor's ROS-free perception library.

Registered colour + depth + instance segmentation -> object measurements in the world frame
(open3d / numpy point-cloud filters), short-term tracks with stable ids, a downsampled scene
cloud and perceptual / cognitive tokens for the action expert. memory_nodes/preprocessor_node.py
is the thin rclpy adapter over ``pipeline.Preprocessor``; docs/perception.md documents both.

Modules: images (Image payloads <-> arrays), camera (intrinsics, poses, depth -> points),
cloud (voxel grid, outlier removal, PointCloud2 packing), colors (colour names), labels
(instance id -> class), objects (per-object measurement), tracking (track ids, occlusion),
sync (approximate-time pairing), tokens (pluggable token stage), pipeline (all of it).
"""
