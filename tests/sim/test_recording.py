"""Recording: a dataset episode loads back under the contract; an MCAP bag opens with
rosbags and holds the expected topics, counts, image contents and ground truth; the CLI runs."""

import json

import numpy as np
from rosbags.rosbag2 import Reader
from rosbags.typesys import Stores, get_typestore

import sim
from sim.cli import main
from sim.dataset import list_episodes, load_episode
from sim.experts import make_expert
from sim.recording import BAG_TOPICS, record_dataset, write_bag
from sim.scene import CLASSES


def test_recorded_dataset_follows_the_contract(tmp_path):
    paths = record_dataset(tmp_path, ['remember_color'], 1, modes=('memory', 'oracle'),
                           image_size=24, knobs={'delay_s': 2.0})
    assert list_episodes(tmp_path, 'remember_color') == sorted(paths)
    ep = load_episode(paths[0])
    assert ep.success and ep.rgb.shape[1:] == (24, 24, 3) and ep.mode == 'memory'
    assert set(np.unique(ep.phase)) == {0, 1, 2}
    assert ep.hidden['target_color'] in ep.hidden['candidates']
    truth = json.loads(paths[0].with_suffix('.truth.json').read_text())
    assert truth['questions'][0]['answer'] == ep.hidden['target_color']
    meta = json.loads((tmp_path / 'meta.json').read_text())
    assert meta['success_rate'] == {'remember_color/memory': 1.0, 'remember_color/oracle': 1.0}


def test_bag_opens_with_rosbags_and_holds_topics_and_truth(tmp_path):
    env = sim.make_env('count', 2, render=False, delay_s=2.0)
    truth = write_bag(env, make_expert(env), tmp_path / 'bag', image_size=32)
    steps = env.step_count
    ts = get_typestore(Stores.ROS2_KILTED)
    with Reader(tmp_path / 'bag') as reader:
        counts = {c.topic: c.msgcount for c in reader.connections}
        assert set(counts) == set(BAG_TOPICS)
        assert counts['/instruction'] == 1
        for topic in BAG_TOPICS:
            if topic != '/instruction':
                assert counts[topic] == steps + 1, topic
        wanted = ('/camera/scene/segmentation/image_raw', '/camera/scene/depth/image_raw',
                  '/camera/scene/camera_info', '/camera/scene/pose')
        conns = [c for c in reader.connections if c.topic in wanted]
        first = {}
        for conn, _, raw in reader.messages(connections=conns):
            first.setdefault(conn.topic, ts.deserialize_cdr(raw, conn.msgtype))
    seg = first['/camera/scene/segmentation/image_raw']
    ids = np.frombuffer(bytes(seg.data), np.int32).reshape(seg.height, seg.width)
    button = env.slot_names.index('count_button')
    button_id = CLASSES.index('button') * 1000 + button + 1  # sim.instance_ids' encoding
    assert {button_id, 0} <= set(np.unique(ids).tolist())
    assert truth['segmentation_ids'][str(button_id)] == 'count_button'
    info, pose = first['/camera/scene/camera_info'], first['/camera/scene/pose']
    assert info.k[2] == info.p[2] == 15.5 and info.k[5] == 15.5  # (32 - 1) / 2
    assert pose.header.frame_id == 'world' and pose.pose.position.z > 0.5  # above the table
    depth = first['/camera/scene/depth/image_raw']
    d = np.frombuffer(bytes(depth.data), np.float32)
    assert depth.encoding == '32FC1' and 0.3 < float(d.min()) < float(d.max()) < 3.0
    saved = json.loads((tmp_path / 'bag' / 'ground_truth.json').read_text())
    assert saved['hidden']['blinks'] == truth['hidden']['blinks']
    blinks = [e for e in saved['events'] if e['kind'] == 'blink']
    presses = [e for e in saved['events'] if e['subject'] == 'count_button']
    assert len(blinks) == len(presses) == saved['hidden']['blinks']
    assert saved['questions'][0]['answer_value'] == saved['hidden']['blinks']


def test_cli_runs_every_task_and_writes_a_strip(tmp_path, capsys):
    for task in sim.TASKS:
        assert main(['run', task, '--seed', '1', '--mode', 'oracle']) == 0
        assert json.loads(capsys.readouterr().out)['success'] is True
    strip = tmp_path / 'strip.png'
    assert main(['run', 'shell_game', '--strip', str(strip), '--width', '64',
                 '--height', '48']) == 0
    assert strip.stat().st_size > 1000
    assert main(['run', 'count', '--knob', 'blinks=3']) == 2
    assert 'blinks' in capsys.readouterr().err
