"""Question sets about a bag, their generation from sim ground truth, and scoring.

A question set (JSON, or YAML) is ``{"format": "memory-eval-questions/1", "questions":
[...]}`` with optional ``"time_origin"``: ``"bag_start"`` (default: every time is seconds
after the bag's first message) or ``"absolute"`` (times are the bag's own stamps), and
optional ``"episode_id"`` (questions without one are not restricted to an episode).
Each question has ``id``, ``type``, the human ``question`` and, by type:

- ``where``: ``object`` (the name memory is asked about, e.g. "red cube"), ``position``
  [x, y, z] (world frame, m), optional ``at_s`` (where was it at that time; default: now),
  ``axes`` ("xyz" default, "xy" when the truth's height is not comparable) and
  ``tolerance_m`` (0.05): scored by the position error of the best track;
- ``when``: ``object``, ``event`` (a word memory knows: moved, lit, appeared, pressed ...),
  ``time_s`` or ``window_s`` [start, end] (the true time, or the interval during which the
  event happened), ``tolerance_s`` (0.5): scored by the time error of the latest matching
  event (zero inside the window);
- ``count``: ``object`` and/or ``event``, ``count``: exact match of HOW_MANY's count (no
  event: how many such objects memory tracks);
- ``order``: ``event`` and ``objects`` in their true order: exact match of the order in
  which those objects' first matching events come in memory's log;
- ``episodic`` / ``descriptive``: ``ask`` {``kind``: where | when | what_happened |
  how_many | similar_to_text, ``text``, optional ``episode_id``, ``k``}, ``field`` of the
  results compared (text, subject, kind or object; default text), ``top_k`` results looked
  at (1) and ``accepted`` answers: right when an accepted answer's words occur in order in
  the field of one of those results.

``generate_from_sim`` writes such a set from a sim bag's ground truth; ``score_questions``
asks each question through an ``ask`` callable (``ReplayGraph.query``: the real service).
"""

from __future__ import annotations

import json
from pathlib import Path
import re
import time

import numpy as np

from memory_nodes.file_safety import write_private_text

FORMAT = 'memory-eval-questions/1'
TYPES = ('where', 'when', 'count', 'order', 'episodic', 'descriptive')
KINDS = {'where': 0, 'when': 1, 'what_happened': 2, 'how_many': 3, 'similar_to_text': 4}
FIELDS = ('text', 'subject', 'kind', 'object')
TEMPORAL_BANK = 1  # MemoryEntry.BANK_TEMPORAL
# sim classes that are not things on the table (not asked about)
NOT_OBJECTS = ('goal', 'hand')
PARKED_BELOW_Z = -0.1  # m: the sim parks unused objects below the table


class QuestionError(ValueError):
    """A malformed question set: the message names the question and the field."""


# ------------------------------------------------------------------------------ loading
def load_questions(path) -> dict:
    """Read and validate a question set (.json, .yaml or .yml)."""
    path = Path(path)
    if not path.exists():
        raise QuestionError(f'question set {str(path)!r} does not exist')
    text = path.read_text()
    try:
        if path.suffix in ('.yaml', '.yml'):
            import yaml
            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except Exception as error:
        raise QuestionError(f'question set {str(path)!r} is not valid '
                            f'{"YAML" if path.suffix != ".json" else "JSON"}: {error}') \
            from error
    return validate_questions(data, str(path))


def _need(q, key, where, kinds, check=None):
    if key not in q:
        raise QuestionError(f'{where}: field {key!r} is missing')
    value = q[key]
    allowed = kinds if isinstance(kinds, tuple) else (kinds,)
    if not isinstance(value, allowed) or (isinstance(value, bool) and bool not in allowed):
        names = '/'.join(k.__name__ for k in allowed)
        raise QuestionError(f'{where}: field {key!r} is {value!r}; expected {names}')
    if check is not None and not check(value):
        raise QuestionError(f'{where}: field {key!r} has a bad value {value!r}')
    return value


def _numbers(n):
    return lambda v: len(v) == n and all(isinstance(x, (int, float)) and not isinstance(
        x, bool) and np.isfinite(x) for x in v)


def validate_questions(data, source: str = 'question set') -> dict:
    """Check a question set's structure; return it with defaults filled in."""
    if not isinstance(data, dict) or not isinstance(data.get('questions'), list):
        raise QuestionError(f'{source}: expected a mapping with a "questions" list')
    if data.get('format', FORMAT) != FORMAT:
        raise QuestionError(f'{source}: format is {data.get("format")!r}; expected {FORMAT!r}')
    origin = data.setdefault('time_origin', 'bag_start')
    if origin not in ('bag_start', 'absolute'):
        raise QuestionError(f'{source}: time_origin is {origin!r}; expected bag_start or '
                            'absolute')
    seen = set()
    number = (int, float)
    for i, q in enumerate(data['questions']):
        if not isinstance(q, dict):
            raise QuestionError(f'{source}: question {i} is {q!r}; expected a mapping')
        where = f'{source}: question {i} ({q.get("id", "no id")})'
        qid = _need(q, 'id', where, str, bool)
        if qid in seen:
            raise QuestionError(f'{where}: id {qid!r} is used twice')
        seen.add(qid)
        kind = _need(q, 'type', where, str)
        if kind not in TYPES:
            raise QuestionError(f'{where}: type {kind!r} is not one of {list(TYPES)}')
        q.setdefault('question', '')
        if kind == 'where':
            _need(q, 'object', where, str, bool)
            _need(q, 'position', where, list, _numbers(3))
            if q.setdefault('axes', 'xyz') not in ('xyz', 'xy'):
                raise QuestionError(f'{where}: axes is {q["axes"]!r}; expected xyz or xy')
            _need(q, 'tolerance_m', where, number, lambda v: v > 0) \
                if 'tolerance_m' in q else q.setdefault('tolerance_m', 0.05)
            if q.get('at_s') is not None:
                _need(q, 'at_s', where, number, np.isfinite)
        elif kind == 'when':
            _need(q, 'event', where, str, bool)
            q.setdefault('object', '')
            if 'window_s' in q:
                _need(q, 'window_s', where, list, lambda v: _numbers(2)(v) and v[0] <= v[1])
            else:
                _need(q, 'time_s', where, number, np.isfinite)
            _need(q, 'tolerance_s', where, number, lambda v: v > 0) \
                if 'tolerance_s' in q else q.setdefault('tolerance_s', 0.5)
        elif kind == 'count':
            q.setdefault('object', '')
            q.setdefault('event', '')
            if not (q['object'] or q['event']):
                raise QuestionError(f'{where}: a count needs an object or an event')
            _need(q, 'count', where, int, lambda v: v >= 0)
        elif kind == 'order':
            _need(q, 'event', where, str, bool)
            _need(q, 'objects', where, list,
                  lambda v: len(v) >= 2 and all(isinstance(x, str) and x for x in v))
        else:
            ask = _need(q, 'ask', where, dict)
            if ask.get('kind') not in KINDS:
                raise QuestionError(f'{where}: ask.kind is {ask.get("kind")!r}; expected '
                                    f'one of {list(KINDS)}')
            ask.setdefault('text', '')
            ask.setdefault('episode_id', '')
            ask.setdefault('k', 10)
            if q.setdefault('field', 'text') not in FIELDS:
                raise QuestionError(f'{where}: field is {q["field"]!r}; expected one of '
                                    f'{list(FIELDS)}')
            q.setdefault('top_k', 1)
            _need(q, 'accepted', where, list,
                  lambda v: v and all(isinstance(x, str) and x.strip() for x in v))
    return data


# ------------------------------------------------------------------------------ scoring
def _sec(stamp) -> float:
    return stamp.sec + stamp.nanosec * 1e-9


def _norm_words(text: str) -> list[str]:
    return re.findall(r'[a-z0-9]+', text.lower())


def _contains(haystack: str, needle: str) -> bool:
    h, n = _norm_words(haystack), _norm_words(needle)
    return any(h[i:i + len(n)] == n for i in range(len(h) - len(n) + 1)) if n else False


def score_questions(qset: dict, ask, time_origin_s: float = 0.0,
                    episode_id: str = '') -> list[dict]:
    """Ask every question with ``ask(kind, text, k, episode_id, time_start, time_end)``
    (returning a QueryMemory response) and score it; one result dict per question.

    ``time_origin_s`` is the bag's start in memory's time (added to the set's times when
    its time_origin is bag_start); ``episode_id`` restricts questions to the replayed
    episode unless the set names its own."""
    origin = time_origin_s if qset.get('time_origin', 'bag_start') == 'bag_start' else 0.0
    episode = qset.get('episode_id', episode_id)
    return [_score(q, ask, origin, episode) for q in qset['questions']]


def _score(q, ask, origin, episode) -> dict:
    out = {'id': q['id'], 'type': q['type'], 'question': q['question'], 'correct': False,
           'error': None, 'answer': None, 'truth': None, 'message': ''}
    started = time.perf_counter()
    kind = q['type']
    if kind == 'where':
        at = q.get('at_s')
        reply = ask(KINDS['where'], q['object'], 5, episode if at is None else '', 0.0,
                    0.0 if at is None else origin + at)
        truth = np.asarray(q['position'], dtype=float)
        out['truth'] = truth.tolist()
        located = [e for e in reply.results if e.has_position] if reply.success else []
        if located:
            best = located[0]
            p = np.array([best.position.x, best.position.y, best.position.z])
            axes = 2 if q['axes'] == 'xy' else 3
            out['answer'] = [round(float(v), 4) for v in p]
            out['error'] = float(np.linalg.norm(p[:axes] - truth[:axes]))
            out['correct'] = out['error'] <= q['tolerance_m']
    elif kind == 'when':
        reply = ask(KINDS['when'], f"{q['object']} {q['event']}".strip(), 5, episode, 0.0,
                    0.0)
        window = q.get('window_s') or [q['time_s'], q['time_s']]
        out['truth'] = window if 'window_s' in q else q['time_s']
        # events only: with an event word memory does not know, WHEN answers 'last seen'
        events = [e for e in reply.results if e.bank == TEMPORAL_BANK] if reply.success else []
        if events:
            t = _sec(events[0].stamp) - origin
            out['answer'] = round(t, 3)
            out['error'] = float(max(window[0] - t, t - window[1], 0.0))
            out['correct'] = out['error'] <= q['tolerance_s']
    elif kind == 'count':
        text = f"{q['object']} {q['event']}".strip()
        reply = ask(KINDS['how_many'], text, 10, episode, 0.0, 0.0)
        out['truth'] = q['count']
        if reply.success:
            out['answer'] = int(reply.count)
            out['error'] = float(abs(out['answer'] - q['count']))
            out['correct'] = out['answer'] == q['count']
    elif kind == 'order':
        reply = ask(KINDS['what_happened'], q['event'], 100, episode, 0.0, 0.0)
        out['truth'] = list(q['objects'])
        if reply.success:
            order = []
            for entry in reply.results:   # oldest first
                name = next((o for o in q['objects'] if _contains(entry.subject, o)), None)
                if name is not None and name not in order:
                    order.append(name)
            out['answer'] = order
            out['correct'] = order == list(q['objects'])
    else:
        a = q['ask']
        reply = ask(KINDS[a['kind']], a['text'], int(a['k']), a['episode_id'] or episode,
                    0.0, 0.0)
        out['truth'] = list(q['accepted'])
        if reply.success and reply.results:
            fields = [getattr(e, q['field']) for e in reply.results[:q['top_k']]]
            out['answer'] = fields[0] if len(fields) == 1 else fields
            out['correct'] = any(_contains(f, acc) for f in fields for acc in q['accepted'])
    out['message'] = reply.message
    out['latency_ms'] = round((time.perf_counter() - started) * 1e3, 3)
    if not reply.success:
        out['message'] = f'refused: {reply.message}'
    elif out['answer'] is None or out['answer'] == []:
        out['message'] = f'no answer: {reply.message}'
    return out


def summarize(results: list[dict]) -> dict:
    """Per question type: n, accuracy, and error figures (m for where, s for when)."""
    out = {}
    for kind in TYPES:
        rows = [r for r in results if r['type'] == kind]
        if not rows:
            continue
        errors = [r['error'] for r in rows if r['error'] is not None]
        entry = {'n': len(rows), 'correct': sum(r['correct'] for r in rows),
                 'accuracy': round(sum(r['correct'] for r in rows) / len(rows), 4),
                 'answered': sum(r['answer'] not in (None, []) for r in rows)}
        if kind in ('where', 'when', 'count') and errors:
            a = np.asarray(errors)
            entry['error_unit'] = {'where': 'm', 'when': 's', 'count': 'count'}[kind]
            entry['error_mean'] = round(float(a.mean()), 4)
            entry['error_median'] = round(float(np.median(a)), 4)
            entry['error_p90'] = round(float(np.percentile(a, 90)), 4)
        out[kind] = entry
    total = len(results)
    out['all'] = {'n': total, 'correct': sum(r['correct'] for r in results),
                  'accuracy': round(sum(r['correct'] for r in results) / total, 4)
                  if total else 0.0}
    return out


# ------------------------------------------------------------------------- generation
def sim_object_names(env) -> dict[str, str]:
    """{slot: name memory should use} for a sim env: '<colour> <class>' with the colour
    named from the object's paint by the perception's colour bins."""
    from memory_nodes.perception.colors import color_name
    return {name: f'{color_name(np.clip(o.rgba[:3], 0, 1))} {o.kind}'
            for name, o in env.objects.items() if o.kind not in NOT_OBJECTS}


def generate_from_sim(truth: dict, names: dict[str, str], tolerance_m: float = 0.05,
                      tolerance_s: float = 0.5) -> dict:
    """A question set from a sim bag's ground truth (sim.recording.write_bag) and the
    objects' names (``sim_object_names``). Positions are the sim's object origins, whose
    height differs from a perceived centroid, so where-questions score x and y only."""
    dt = float(truth.get('dt', 0.1))
    positions = {n: np.asarray(p) for n, p in truth['positions'].items() if n in names}
    # objects parked under the table (sim.scene.PARK_Z) are not in the scene at the end
    names = {n: label for n, label in names.items()
             if n in positions and positions[n][-1][2] > PARKED_BELOW_Z}
    steps = len(next(iter(positions.values()))) if positions else 0
    kinds = {}
    for n, label in names.items():
        kinds.setdefault(label.split()[-1], []).append(n)
    unique = {n: label for n, label in names.items()
              if list(names.values()).count(label) == 1}
    events = truth.get('events', [])
    qs = []

    def add(q):
        qs.append(q)

    for n, label in unique.items():
        add({'id': f'where-now-{n}', 'type': 'where', 'question': f'Where is the {label}?',
             'object': label, 'position': positions[n][-1].round(4).tolist(), 'axes': 'xy',
             'tolerance_m': tolerance_m})
    grasps = [e for e in events if e['kind'] == 'grasped' and e['subject'] in names]
    releases = [e for e in events if e['kind'] == 'released' and e['subject'] in names]
    for n in dict.fromkeys(e['subject'] for e in grasps):
        first = next(e for e in grasps if e['subject'] == n)
        step = max(1, min(steps - 1, int(first['step']) - 5))
        label = names[n]
        if n in unique:
            add({'id': f'where-before-move-{n}', 'type': 'where',
                 'question': f'Where was the {label} before it was moved?', 'object': label,
                 'position': positions[n][step].round(4).tolist(), 'axes': 'xy',
                 'at_s': round(step * dt, 3), 'tolerance_m': tolerance_m})
            last = [e for e in grasps if e['subject'] == n][-1]
            end = next((e['time'] for e in releases if e['subject'] == n
                        and e['time'] >= last['time']), steps * dt)
            add({'id': f'when-moved-{n}', 'type': 'when',
                 'question': f'When did the {label} last move?', 'object': label,
                 'event': 'moved', 'window_s': [last['time'], end],
                 'tolerance_s': tolerance_s})
            add({'id': f'count-moved-{n}', 'type': 'count',
                 'question': f'How many times did the {label} move?', 'object': label,
                 'event': 'moved', 'count': sum(e['subject'] == n for e in grasps)})
    blinks = [e for e in events if e['kind'] == 'blink' and e['subject'] in unique]
    for n in dict.fromkeys(e['subject'] for e in blinks):
        label, times = names[n], [e['time'] for e in blinks if e['subject'] == n]
        add({'id': f'count-lit-{n}', 'type': 'count',
             'question': f'How many times did the {label} light up?', 'object': label,
             'event': 'lit', 'count': len(times)})
        add({'id': f'when-lit-{n}', 'type': 'when',
             'question': f'When did the {label} last light up?', 'object': label,
             'event': 'lit', 'time_s': times[-1], 'tolerance_s': tolerance_s})
    presses = {e['subject']: e for e in events  # the last press of each button
               if e['kind'] == 'pressed' and e['subject'] in unique}
    for n, e in presses.items():
        add({'id': f'when-pressed-{n}', 'type': 'when',
             'question': f'When was the {names[n]} last pressed?', 'object': names[n],
             'event': 'pressed', 'time_s': e['time'], 'tolerance_s': tolerance_s})
    for kind, slots in sorted(kinds.items()):
        add({'id': f'count-objects-{kind}', 'type': 'count',
             'question': f'How many {kind}s are there?', 'object': kind, 'count': len(slots)})
        if len(slots) == 1 and slots[0] in unique:
            colour = names[slots[0]].split()[0]
            add({'id': f'descriptive-colour-{kind}', 'type': 'descriptive',
                 'question': f'What colour is the {kind}?',
                 'ask': {'kind': 'where', 'text': kind, 'k': 1}, 'field': 'subject',
                 'accepted': [colour]})
    sequence = (truth.get('hidden') or {}).get('sequence')
    if sequence and all(n in unique for n in sequence):
        add({'id': 'order-lit', 'type': 'order',
             'question': 'In which order did the buttons light up?', 'event': 'lit',
             'objects': [names[n] for n in sequence]})
    moved_order = list(dict.fromkeys(e['subject'] for e in grasps))
    if len(moved_order) >= 2 and all(n in unique for n in moved_order):
        add({'id': 'order-moved', 'type': 'order',
             'question': 'In which order were the objects moved?', 'event': 'moved',
             'objects': [names[n] for n in moved_order]})
    if truth.get('instruction'):
        add({'id': 'episodic-instruction', 'type': 'episodic',
             'question': 'What was I asked to do in this episode?',
             'ask': {'kind': 'when', 'text': 'episode started', 'k': 1}, 'field': 'text',
             'accepted': [truth['instruction']]})
    return validate_questions({'format': FORMAT, 'time_origin': 'bag_start',
                               'source': f"sim {truth.get('task')} seed {truth.get('seed')}",
                               'questions': qs})


def write_questions(qset: dict, path) -> Path:
    path = Path(path)
    if path.suffix in ('.yaml', '.yml'):
        import yaml
        return write_private_text(path, yaml.safe_dump(qset, sort_keys=False))
    return write_private_text(path, json.dumps(qset, indent=1))
