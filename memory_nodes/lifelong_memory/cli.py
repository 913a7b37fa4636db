"""The ``memory`` command: ask a memory file questions, show its size, export it.

    memory query "where is the red cube" --db robot.db
    memory query "led lit" --kind how_many --episode ep-3 --db robot.db
    memory stats --db robot.db
    memory export --db robot.db --out robot.jsonl

The file is opened read-only, so the command is safe beside a running memory node. The kind
of a question is guessed from its first words (where / when / how many / what happened; any
other question is a text search) unless ``--kind`` names it.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import struct
import sys

from memory_nodes.file_safety import check_path, open_private
from memory_nodes.query_limits import QUERY_KINDS

from .memory import LifelongMemory
from .records import Query, QueryKind

EXPORT_TABLES = ('tracks', 'track_aliases', 'track_positions', 'events', 'episodes', 'facts',
                 'fact_changes', 'texts')


def guess_kind(question: str) -> QueryKind:
    """WHERE / WHEN / HOW_MANY / WHAT_HAPPENED from the opening words, else text search."""
    q = ' '.join(question.lower().split())
    if q.startswith(('where', 'what is near', "what's near")):
        return QueryKind.WHERE
    if q.startswith(('when', 'what time')):
        return QueryKind.WHEN
    if q.startswith(('how many', 'how often', 'count')):
        return QueryKind.HOW_MANY
    if q.startswith(('what happened', 'what did', 'in what order', 'list events')):
        return QueryKind.WHAT_HAPPENED
    return QueryKind.SIMILAR_TO_TEXT


def _entry_dict(e) -> dict:
    d = {'bank': e.bank.name.lower(), 'id': e.entry_id, 'stamp': e.stamp, 'kind': e.kind,
         'subject': e.subject, 'object': e.object, 'text': e.text, 'score': round(e.score, 4),
         'confidence': round(e.confidence, 4), 'episode_id': e.episode_id}
    if e.has_position:
        d['position'] = [round(v, 4) for v in e.position]
    return d


def cmd_query(args) -> int:
    kind = QueryKind(QUERY_KINDS.index(args.kind)) if args.kind else guess_kind(args.question)
    with LifelongMemory(args.db, read_only=True) as mem:
        res = mem.query(Query(kind=kind, text=args.question, episode_id=args.episode,
                              k=args.k, time_start=args.start, time_end=args.end))
    if args.json:
        print(json.dumps({'kind': kind.name.lower(), 'count': res.count,
                          'message': res.message, 'latency_ms': round(res.latency_ms, 3),
                          'results': [_entry_dict(e) for e in res.results]}, indent=2))
        return 0
    print(f'{kind.name.lower()}: {res.message} ({res.latency_ms:.1f} ms)')
    if kind == QueryKind.HOW_MANY:
        print(f'count: {res.count}')
    for e in res.results:
        print(f'  [{e.bank.name.lower()} t={e.stamp:.2f}] {e.text}')
    if not res.results:
        print('  (nothing)')
    return 0


def cmd_stats(args) -> int:
    with LifelongMemory(args.db, read_only=True) as mem:
        stats = mem.stats()
    if args.json:
        print(json.dumps(stats, indent=2))
    else:
        for key, value in stats.items():
            print(f'{key:24s} {value:.3f}' if isinstance(value, float) else
                  f'{key:24s} {value}')
    return 0


def _row_value(table: str, column: str, value):
    if isinstance(value, bytes):
        if table == 'tracks' and column == 'cov':
            return list(struct.unpack('<9d', value))
        return None   # embeddings stay in the database; the export is for people and tools
    return value


def export_rows(path: str):
    """Yield one dict per row of every bank table, with a 'table' key (read-only)."""
    conn = sqlite3.connect(f'file:{path}?mode=ro', uri=True)
    try:
        for table in EXPORT_TABLES:
            cur = conn.execute(f'SELECT * FROM {table}')
            cols = [c[0] for c in cur.description]
            for row in cur:
                d = {'table': table}
                for c, v in zip(cols, row):
                    if c == 'vec':
                        d['embedded'] = v is not None
                        continue
                    d[c] = _row_value(table, c, v)
                yield d
    finally:
        conn.close()


def cmd_export(args) -> int:
    with LifelongMemory(args.db, read_only=True):
        pass    # checks the file exists and has this library's schema
    out = sys.stdout
    if args.out:
        target = check_path(args.out, '--out')
        if target == check_path(args.db, '--db'):
            raise ValueError(f'--out={args.out!r} is the memory file itself')
        out = open_private(target, 'w')   # owner-only: the export holds the whole memory
    n = 0
    try:
        for row in export_rows(args.db):
            out.write(json.dumps(row) + '\n')
            n += 1
    finally:
        if args.out:
            out.close()
    print(f'exported {n} rows', file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog='memory', description=__doc__.split('\n\n')[0])
    sub = parser.add_subparsers(dest='command', required=True)
    q = sub.add_parser('query', help='ask a question')
    q.add_argument('question')
    q.add_argument('--db', required=True, help='memory file')
    q.add_argument('--kind', choices=QUERY_KINDS, help='question kind (default: guessed)')
    q.add_argument('--episode', default='', help='restrict to one episode')
    q.add_argument('--k', type=int, default=10, help='most results')
    q.add_argument('--start', type=float, default=0.0, help='window start, s (0: open)')
    q.add_argument('--end', type=float, default=0.0,
                   help='window end, s (0: open; for where: "where was it at END")')
    q.add_argument('--json', action='store_true', help='machine-readable output')
    q.set_defaults(fn=cmd_query)
    s = sub.add_parser('stats', help='sizes, rows per bank, vectors')
    s.add_argument('--db', required=True)
    s.add_argument('--json', action='store_true')
    s.set_defaults(fn=cmd_stats)
    e = sub.add_parser('export', help='every row as JSON lines')
    e.add_argument('--db', required=True)
    e.add_argument('--out', help='output file (default: stdout)')
    e.set_defaults(fn=cmd_export)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.fn(args)
    except ValueError as err:
        print(f'memory: error: {err}', file=sys.stderr)
        return 2


if __name__ == '__main__':
    sys.exit(main())
