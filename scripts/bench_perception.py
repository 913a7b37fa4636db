"""Per-frame latency of the preprocessor's work, per stage, beside baselines from the same run.

Frames are registered colour + depth + instance segmentation at the given resolutions, either
ray-cast (memory_nodes.perception.synthetic: four objects on a table, 2 mm depth noise, 1 %
flying pixels) or rendered by the MuJoCo simulator (--source mujoco: the shell game's scene
camera). Every frame goes through what the node does per frame set: decoding the three Image
payloads, the pipeline (objects, tracking, scene cloud, tokens) and PointCloud2 packing.

Configurations compared in one run:
- open3d: the default (open3d voxel grid + statistical outlier removal);
- numpy: the same filters in numpy + scipy (the fallback);
- open3d-no-voxel: outlier removal on every object pixel, no per-object voxel grid first.

Example:
    python scripts/bench_perception.py --sizes 320x240 640x480 --frames 200 [--json out.json]

--json also writes the figures (memory_nodes.benchmarks records): per size, the per-frame
total p50 / p95 of the first config (the default, open3d) against the second (the numpy
fallback) measured in the same run, and every further config against the first.
"""

import argparse
import os
import platform
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from memory_nodes.benchmarks import Figure, result_document, write_json  # noqa: E402
from memory_nodes.perception import synthetic  # noqa: E402
from memory_nodes.perception.cloud import pack_cloud  # noqa: E402
from memory_nodes.perception.images import (  # noqa: E402
    decode_color,
    decode_depth,
    decode_segmentation,
    encode_image,
)
from memory_nodes.perception.labels import DEFAULT_CLASS_NAMES, InstanceLabeler  # noqa: E402
from memory_nodes.perception.objects import ObjectConfig  # noqa: E402
from memory_nodes.perception.pipeline import (  # noqa: E402
    STAGES,
    CameraFrame,
    Preprocessor,
    SceneCloudConfig,
)

CONFIGS = {
    'open3d': dict(backend='open3d'),
    'numpy': dict(backend='numpy'),
    'open3d-no-voxel': dict(backend='open3d', voxel_size_m=0.0),
}


def synthetic_frames(width, height, count):
    """Ray-cast frames; objects drift a few millimetres per frame so the tracker works."""
    intrinsics, pose = synthetic.default_camera(width, height)
    frames = []
    for i in range(count):
        shapes = synthetic.tabletop_shapes()
        for shape in shapes:
            shape.center = (shape.center[0] + 0.002 * i, shape.center[1], shape.center[2])
        rgb, depth, seg = synthetic.render(shapes, intrinsics, pose, depth_noise_m=0.002,
                                           outlier_fraction=0.01, seed=i)
        frames.append((rgb, depth, seg, intrinsics, pose))
    return frames


def mujoco_frames(width, height, count):
    """Shell-game frames from the simulator's scene camera (cups moving in the cue)."""
    from memory_nodes.perception.camera import CameraIntrinsics, optical_pose_from_mujoco
    import sim
    env = sim.make_env('shell_game', seed=4, image_size=16, num_swaps=1)
    env.reset()
    camera = env.model.camera('scene').id
    intrinsics = CameraIntrinsics.from_fovy(float(env.model.cam_fovy[camera]), width, height)
    classes = np.array([DEFAULT_CLASS_NAMES.index(env.objects[n].kind)
                        for n in env.slot_names])
    frames = []
    for _ in range(count):
        slots = env.render('scene', width, height, 'segmentation')
        seg = np.where(slots >= 0, classes[np.clip(slots, 0, None)] * 1000 + slots + 1, 0)
        pose = optical_pose_from_mujoco(env.data.cam_xpos[camera], env.data.cam_xmat[camera])
        frames.append((env.render('scene', width, height),
                       env.render('scene', width, height, 'depth'), seg, intrinsics, pose))
        env.step(np.array([0.4, 0.0, 0.3, 0.0, 0.0]))
    env.close()
    return frames


def run(config_name, frames, n_frames):
    """Per-frame timings (ms) of decode, each pipeline stage, packing and the total."""
    labeler = InstanceLabeler(DEFAULT_CLASS_NAMES)
    settings = CONFIGS[config_name]
    objects = ObjectConfig(**settings)
    cloud = SceneCloudConfig(backend=settings['backend'])
    pre = Preprocessor(labeler, objects, cloud_config=cloud)
    encoded = [(encode_image(rgb, 'rgb8'), encode_image(depth, '32FC1'),
                encode_image(seg.astype(np.int32), '32SC1'), intrinsics, pose)
               for rgb, depth, seg, intrinsics, pose in frames]
    rows = []
    for i in range(n_frames):
        color_msg, depth_msg, seg_msg, intrinsics, pose = encoded[i % len(encoded)]
        start = time.perf_counter()
        rgb, depth, seg = (decode_color(color_msg), decode_depth(depth_msg),
                           decode_segmentation(seg_msg))
        decoded = time.perf_counter()
        result = pre.process(CameraFrame(0.1 * i, rgb, depth, seg, intrinsics, pose))
        processed = time.perf_counter()
        pack_cloud(result.cloud_points, result.cloud_colors)
        end = time.perf_counter()
        row = {'decode': (decoded - start) * 1e3}
        row.update({stage: result.timings_ms[stage] for stage in STAGES})
        row['pack'] = (end - processed) * 1e3
        row['total'] = (end - start) * 1e3
        row['objects_found'] = len(result.measurements)
        row['cloud_points'] = len(result.cloud_points)
        rows.append(row)
    return rows[min(5, n_frames // 10):]  # drop warm-up frames


def summarise(rows):
    keys = ['decode', *STAGES, 'pack', 'total']
    table = {k: np.array([r[k] for r in rows]) for k in keys}
    return {k: (float(np.median(v)), float(np.percentile(v, 95))) for k, v in table.items()}, \
        int(np.median([r['objects_found'] for r in rows])), \
        int(np.median([r['cloud_points'] for r in rows]))


def figures(raw: dict) -> list[Figure]:
    """Per size: the first config's total p50 (headline) and p95 against the second config,
    and each further config's p50 against the first (all measured in this run)."""
    figs = []
    for size, results in raw['sizes'].items():
        names = list(results)
        first = names[0]
        base = names[1] if len(names) > 1 else None
        for pct, index in (('p50', 0), ('p95', 1)):
            value = results[first]['stages_ms']['total'][index]
            extra = ({} if base is None else
                     dict(baseline_name=f'{base} config, total {pct}',
                          baseline_value=results[base]['stages_ms']['total'][index]))
            figs.append(Figure(f'{size} preprocessor frame total {pct}, {first} config',
                               value, 'ms', headline=pct == 'p50', **extra))
        for name in names[2:]:
            figs.append(Figure(f'{size} preprocessor frame total p50, {name} config',
                               results[name]['stages_ms']['total'][0], 'ms',
                               f'{first} config, total p50',
                               results[first]['stages_ms']['total'][0], headline=False))
    return figs


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--sizes', nargs='+', default=['320x240', '640x480'],
                        help='WIDTHxHEIGHT resolutions')
    parser.add_argument('--frames', type=int, default=100, help='frames timed per config')
    parser.add_argument('--source', choices=['synthetic', 'mujoco'], default='synthetic')
    parser.add_argument('--configs', nargs='+', default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument('--json', help='also write the figures here')
    args = parser.parse_args(argv)
    if args.frames < 10:
        parser.error(f'--frames is {args.frames}; use at least 10')
    raw = {'source': args.source, 'frames': args.frames, 'unit': 'ms, [p50, p95]',
           'sizes': {}}
    import open3d
    print(f'# {platform.processor() or platform.machine()}, {os.cpu_count()} cpus, '
          f'python {platform.python_version()}, numpy {np.__version__}, '
          f'open3d {open3d.__version__}; source {args.source}; {args.frames} frames per row; '
          'p50 / p95 in ms')
    for size in args.sizes:
        try:
            width, height = (int(v) for v in size.lower().split('x'))
        except ValueError:
            parser.error(f'--sizes entry {size!r}; expected WIDTHxHEIGHT, e.g. 320x240')
        make = synthetic_frames if args.source == 'synthetic' else mujoco_frames
        frames = make(width, height, 20)
        results = {}
        for name in args.configs:
            results[name] = summarise(run(name, frames, args.frames))
        raw['sizes'][f'{width}x{height}'] = {
            name: {'stages_ms': {k: list(v) for k, v in stats.items()}, 'objects': objects,
                   'cloud_points': points}
            for name, (stats, objects, points) in results.items()}
        header = ['decode', *STAGES, 'pack', 'total']
        print(f'\n## {width}x{height}')
        print(f"| config | {' | '.join(header)} | objects | cloud pts |")
        print('|' + '---|' * (len(header) + 3))
        for name, (stats, objects, points) in results.items():
            cells = ' | '.join(f'{stats[k][0]:.2f} / {stats[k][1]:.2f}' for k in header)
            print(f'| {name} | {cells} | {objects} | {points} |')
        base = results[args.configs[0]][0]['total'][0]
        for name in args.configs[1:]:
            other = results[name][0]['total'][0]
            print(f'{args.configs[0]} total p50 is {other / base:.2f}x faster than {name} '
                  f'({base:.2f} ms vs {other:.2f} ms)' if other >= base else
                  f'{args.configs[0]} total p50 is {base / other:.2f}x slower than {name} '
                  f'({base:.2f} ms vs {other:.2f} ms)')
    if args.json:
        write_json(args.json, result_document('perception', figures(raw), raw))
    return 0


if __name__ == '__main__':
    sys.exit(main())
