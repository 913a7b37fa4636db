"""The memory node under adversarial input, in-process: every subscription (object
observations, memory events, episode status, scene cloud) and the QueryMemory service get
hypothesis-drawn messages through their real callbacks. Nothing escapes a callback, every
rejection is a counted ValueError that names the field, certainly-bad input is rejected,
and the SQLite file (row counts and a digest of every table, read with sqlite3) is unchanged
by whatever was rejected."""

import hashlib
import sqlite3

from hypothesis import strategies as st
import pytest

pytest.importorskip('rclpy')
pytestmark = pytest.mark.ros

from rclpy.parameter import Parameter  # noqa: E402

from memory_interfaces.msg import EpisodeStatus  # noqa: E402
from memory_interfaces.srv import QueryMemory  # noqa: E402
from memory_nodes.memory_node import MemoryNode  # noqa: E402
from memory_nodes.ros_common import autostart  # noqa: E402
from tests.bad_input import strategies as S  # noqa: E402
from tests.bad_input.harness import hammer, judge, names_a_field, service  # noqa: E402


def store_digest(path):
    """{table: (rows, sha256 of the sorted rows)} of the SQLite file, read with sqlite3."""
    conn = sqlite3.connect(f'file:{path}?mode=ro', uri=True)
    try:
        tables = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        digest = {}
        for table in tables:
            rows = sorted(repr(row) for row in conn.execute(f'SELECT * FROM "{table}"'))
            digest[table] = (len(rows), hashlib.sha256('\n'.join(rows).encode()).hexdigest())
        return digest
    finally:
        conn.close()


def diff(before, after):
    return {t: (before.get(t), after.get(t)) for t in set(before) | set(after)
            if before.get(t) != after.get(t)}


@pytest.fixture()
def memory(context, tmp_path):
    store = tmp_path / 'memory.db'
    node = MemoryNode(context=context, parameter_overrides=[
        Parameter('store_path', value=str(store)), Parameter('synchronous', value='NORMAL'),
        Parameter('stats_period_s', value=0.0), Parameter('cloud_period_s', value=0.0)])
    autostart(node)
    # something in every bank, so that a digest would show a change
    node.on_episode_status(S.wire(EpisodeStatus(
        header=S._header(1.0), episode_id='seed-episode', task='shell_game', state=1,
        instruction='lift the cup that hides the red ball')))
    node.on_observations(S.wire(S.observation_array([S.observation()], 1.5)))
    node.on_event(S.wire(S.memory_event()))
    node.on_cloud(S.wire(S.cloud_message([[0.4, 0.0, 0.05], [0.5, 0.1, 0.05]])))
    node.memory.flush()
    assert node.guard.total_rejected == 0, node.guard.last_error
    node.store = store
    yield node
    node.destroy_node()


class StoreWatch:
    """Delivers cases to the memory node and checks the file after each one."""

    def __init__(self, node):
        self.node = node
        self.digest = store_digest(node.store)
        self.rejected = self.accepted = 0

    def send(self, callback, case, must_reject=None):
        guard = self.node.guard
        before = guard.total_rejected
        callback(case.msg)
        self.node.memory.flush()
        if guard.total_rejected == before:  # accepted: the store may change, legitimately
            self.accepted += 1
            self.digest = store_digest(self.node.store)
        if judge(guard, before, case, must_reject):
            self.rejected += 1
            now = store_digest(self.node.store)
            assert now == self.digest, (
                f'{case}: a rejected message changed {diff(self.digest, now)}')


def test_observations(memory, scale):
    watch = StoreWatch(memory)
    callback = memory.on_observations
    bad = hammer(S.observations_one_bad(), lambda c: watch.send(callback, c), 40 * scale)
    hammer(S.observations_any(), lambda c: watch.send(callback, c), 40 * scale)
    assert bad > 0 and watch.rejected >= bad
    assert memory.guard.rejected['observations'] == watch.rejected


def test_huge_observation_array_with_one_bad_object(memory):
    objects = [S.observation(track_id=f'cube_{i}', position=(0.3 + 1e-4 * i, 0.0, 0.02))
               for i in range(5000)]
    objects[-1].position.z = float('nan')
    watch = StoreWatch(memory)
    watch.send(memory.on_observations, S.case(S.observation_array(objects), ['position'],
                                              True, '5000 objects, the last NaN'))
    assert 'observations[4999]' in memory.guard.last_error['observations']


def test_events(memory, scale):
    watch = StoreWatch(memory)
    bad = hammer(S.event_one_bad(), lambda c: watch.send(memory.on_event, c), 40 * scale)
    hammer(S.event_any(), lambda c: watch.send(memory.on_event, c), 40 * scale)
    assert bad > 0 and watch.rejected >= bad


def test_episode_status(memory, scale):
    watch = StoreWatch(memory)
    hammer(S.episode_status_any(), lambda c: watch.send(memory.on_episode_status, c),
           40 * scale)


def test_scene_cloud(memory, scale):
    watch = StoreWatch(memory)
    bad = hammer(S.cloud_one_bad(), lambda c: watch.send(memory.on_cloud, c), 30 * scale)
    hammer(S.cloud_any(), lambda c: watch.send(memory.on_cloud, c), 40 * scale)
    assert bad > 0 and watch.rejected >= bad


ODD_TEXTS = ['', '   ', '\u202e\u200f', 'e\u0301' * 3, '\U0001f600 cube', 'x' * 513,
             'red\x00cube', 'cube\n1']


def test_odd_query_texts_get_an_answer_or_a_named_refusal(memory):
    srv = service(memory, '/memory/query')
    for text in ODD_TEXTS:
        for kind in range(5):
            req = S.wire(QueryMemory.Request(kind=kind, text=text, k=5))
            res = srv.callback(req, QueryMemory.Response())
            assert res.success or 'text' in res.message, (kind, text, res.message)


def test_query_service(memory, scale):
    srv = service(memory, '/memory/query')
    watch = StoreWatch(memory)

    def ask(case):
        before = memory.guard.total_rejected
        res = srv.callback(case.msg, QueryMemory.Response())
        assert isinstance(res, QueryMemory.Response)
        if not res.success:
            assert memory.guard.total_rejected == before + 1, case
            assert names_a_field(res.message, case.fields), f'{case}: {res.message}'
        memory.memory.flush()
        now = store_digest(memory.store)
        if res.success:  # an answered similar_to_text query embeds pending sentences
            assert res.count >= 0 and len(res.results) <= max(case.msg.k, 100)
            watch.digest = now
        assert now == watch.digest, f'{case} changed {diff(watch.digest, now)}'

    hammer(S.query_any(), ask, 60 * scale)
    hammer(st.builds(lambda k: S.case(QueryMemory.Request(kind=0, text='cube', k=k),
                                      ['k'], True, f'k {k}'), st.integers(101, 2**32 - 1)),
           ask, 5 * scale)
