"""Rosbag replay evaluation of the memory stack (issue 7).

- ``bagio``: reading rosbag2 files (MCAP or sqlite3) with rosbags, topic mappings, and
  writing bags (the ``record`` command);
- ``replay``: feeding a bag in stamp order through the preprocessor and memory nodes
  (composed in one process, real rclpy and DDS), publishing /clock from the bag;
- ``questions``: question sets (JSON / YAML), their generation from the sim recording's
  ground truth, and scoring the memory's answers given over the real QueryMemory service;
- ``report``: markdown + PNG plots + JSON of one evaluation, and the side-by-side compare;
- ``cli``: ``memory-eval-bag record | replay | questions | report | compare``.

docs/evaluation.md describes the commands and the question-set format.
"""
