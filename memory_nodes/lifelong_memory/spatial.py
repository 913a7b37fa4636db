"""Spatial bank: object-centric world state built from object observations.

Each physical object is a track: label, colour, a fused 3-D position with per-axis variance,
size, last seen, and a state (visible / occluded / gone). Observations are associated to tracks
by the tracker's id when it is known, else by label + colour + distance; an object that was out
of view and turns up somewhere else is the same track, moved, not a new one (object
permanence). Repeated observations of a static object update its row in place; a row of
position history is written only when a track appears or settles after a move, so a static
scene does not grow the store.

Writes run in the writer thread (``ingest`` is called from GroupCommitWriter operations) and
keep an in-memory copy of the tracks; queries read the database through a reader connection.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import math
import sqlite3
import struct

from .naming import NameRegistry, words
from .records import Bank, MemoryEntry, MemoryEvent, ObjectObservation
from .relations import relation, strongest_relation

_COV = struct.Struct('<9d')


@dataclass(frozen=True)
class SpatialConfig:
    """Association, motion and visibility thresholds of the spatial bank."""

    association_gate_m: float = 0.15   # same label + colour within this: the same object
    move_threshold_m: float = 0.05     # displacement from the fused position that is a move
    settle_s: float = 0.5              # a moving object is at rest after this long still
    settle_radius_m: float = 0.02      # ... within this radius
    visible_timeout_s: float = 0.5     # unseen longer: may be the object seen elsewhere
    gone_after_s: float = 3.0          # unreported longer: state 'gone', 'disappeared' logged
    min_variance_m2: float = 1.0e-5    # floor on an observation's variance (about 3 mm)
    process_noise_m2_s: float = 1.0e-7  # lets a static estimate follow slow drift
    near_radius_m: float = 0.25        # centre distance of the 'near' relation
    contact_tolerance_m: float = 0.03  # gap allowed by 'on', 'in' and 'under'
    sweep_interval_s: float = 0.1      # how often (stamp time) unseen tracks are checked
    rest_states: tuple = ('dark', 'off', 'closed', 'released')  # not logged on first sight

    def __post_init__(self):
        for name in ('association_gate_m', 'move_threshold_m', 'settle_s', 'settle_radius_m',
                     'visible_timeout_s', 'gone_after_s', 'min_variance_m2', 'near_radius_m',
                     'contact_tolerance_m', 'sweep_interval_s'):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ValueError(f'{name}={value!r}: must be a finite number > 0')


@dataclass
class Track:
    """The writer's in-memory copy of one track row."""

    id: int
    name: str
    label: str
    color: str
    position: list[float]
    variance: list[float]              # per-axis variance of the fused position, m^2
    extent: list[float]
    rgb: list[float]
    state: str                         # 'visible', 'occluded', 'gone'
    visual_state: str
    first_seen: float
    last_seen: float                   # last time actually visible
    last_report: float                 # last observation of any kind
    last_moved: float
    n_obs: int
    confidence: float
    frame_id: str
    source: str
    episode_id: str
    anchor: list[float]                # position when it last settled
    recorded: float
    seen_logged: bool = True           # False after 'disappeared' was logged
    cell: tuple | None = None          # key of its cell in the bank's planar grid
    moving: bool = False
    move_start: float = 0.0
    still_since: float = 0.0
    still_pos: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])

    def row(self) -> tuple:
        cov = _COV.pack(self.variance[0], 0, 0, 0, self.variance[1], 0, 0, 0, self.variance[2])
        return (self.name, self.label, self.color, *self.position, cov, *self.extent,
                *self.rgb, 'moving' if self.moving else self.state, self.visual_state,
                self.first_seen, self.last_seen, self.last_report, self.last_moved, self.n_obs,
                self.confidence, self.frame_id, self.source, self.episode_id, *self.anchor,
                self.recorded)


_TRACK_COLUMNS = ('name, label, color, x, y, z, cov, ex, ey, ez, r, g, b, state, visual_state, '
                  'first_seen, last_seen, last_report, last_moved, n_obs, confidence, frame_id, '
                  'source, episode_id, anchor_x, anchor_y, anchor_z, recorded')
_TRACK_UPDATE = ('UPDATE tracks SET ' + ', '.join(
    f'{c.strip()} = ?' for c in _TRACK_COLUMNS.split(',')) + ' WHERE id = ?')


def _fmt(p) -> str:
    return f'({p[0]:.2f}, {p[1]:.2f}, {p[2]:.2f})'


class SpatialBank:
    """Object tracks, their association, motion, visibility and relations."""

    def __init__(self, config: SpatialConfig, names: NameRegistry):
        self.config = config
        self.names = names
        self.tracks: dict[int, Track] = {}
        self.by_label: dict[str, list[Track]] = {}
        self.aliases: dict[str, int] = {}
        self.active: set[int] = set()   # tracks not gone (swept for disappearance)
        self.now = -math.inf            # latest observation stamp
        self.last_sweep = -math.inf
        self.observations = 0           # ingested since the bank was made
        self.max_half_extent = 0.0      # largest half box size of any track (relation reach)
        self.cell_m = config.near_radius_m + config.contact_tolerance_m + 0.1
        self.grid: dict[tuple, set[int]] = {}   # planar cell -> track ids (relations)

    # ------------------------------------------------------------------ writer side
    def load(self, conn: sqlite3.Connection) -> None:
        """(Re)build the in-memory tracks from the database (start, after a rollback)."""
        self.tracks.clear()
        self.by_label.clear()
        self.active.clear()
        self.grid.clear()
        self.now = -math.inf
        self.max_half_extent = 0.0
        rows = conn.execute(f'SELECT id, {_TRACK_COLUMNS} FROM tracks').fetchall()
        for r in rows:
            cov = _COV.unpack(r[7])
            state = 'visible' if r[14] == 'moving' else r[14]
            track = Track(
                id=r[0], name=r[1], label=r[2], color=r[3], position=list(r[4:7]),
                variance=[cov[0], cov[4], cov[8]], extent=list(r[8:11]), rgb=list(r[11:14]),
                state=state, visual_state=r[15],
                first_seen=r[16], last_seen=r[17], last_report=r[18], last_moved=r[19],
                n_obs=r[20], confidence=r[21], frame_id=r[22], source=r[23], episode_id=r[24],
                anchor=list(r[25:28]), recorded=r[28],
                seen_logged=r[17] >= r[18] and state == 'visible')
            self._index(track)
            self.now = max(self.now, track.last_report)
        self.aliases = dict(conn.execute('SELECT external_id, track_id FROM track_aliases'))
        self.names.add(t.name for t in self.tracks.values())

    def _place(self, track: Track) -> None:
        """Keep the track in the grid cell of its position (for relation lookups)."""
        key = (math.floor(track.position[0] / self.cell_m),
               math.floor(track.position[1] / self.cell_m))
        if key != track.cell:
            if track.cell is not None:
                self.grid[track.cell].discard(track.id)
            self.grid.setdefault(key, set()).add(track.id)
            track.cell = key

    def _index(self, track: Track) -> None:
        self.max_half_extent = max(self.max_half_extent, max(track.extent) / 2)
        self.tracks[track.id] = track
        self._place(track)
        self.by_label.setdefault(track.label, []).append(track)
        if track.state != 'gone':
            self.active.add(track.id)

    def forget(self, track_ids) -> None:
        """Drop tracks from the in-memory copy (after consolidation deleted their rows)."""
        for tid in track_ids:
            track = self.tracks.pop(tid, None)
            if track is None:
                continue
            self.by_label[track.label].remove(track)
            if track.cell is not None:
                self.grid[track.cell].discard(tid)
            self.active.discard(tid)
        self.aliases = {k: v for k, v in self.aliases.items() if v in self.tracks}

    def ingest(self, conn: sqlite3.Connection, observations: list[ObjectObservation],
               episode_id: str, recorded: float) -> list[tuple[MemoryEvent, int]]:
        """Apply validated observations; return the events they caused with their track ids."""
        events: list[tuple[MemoryEvent, int]] = []
        dirty: dict[int, Track] = {}
        history: list[tuple] = []
        taken: dict[float, set[int]] = {}   # tracks matched per frame stamp in this batch
        for obs in observations:
            self.now = max(self.now, obs.stamp)
            in_frame = taken.setdefault(obs.stamp, set())
            track = self._associate(obs, in_frame)
            if track is None:
                track = self._create(conn, obs, episode_id, recorded, events, history)
            else:
                self._update(track, obs, events, history)
                track.episode_id = episode_id or track.episode_id
                track.recorded = recorded
            if obs.track_id and self.aliases.get(obs.track_id) != track.id:
                self.aliases[obs.track_id] = track.id
                conn.execute('INSERT OR REPLACE INTO track_aliases VALUES (?, ?)',
                             (obs.track_id, track.id))
            in_frame.add(track.id)
            self._place(track)
            dirty[track.id] = track
        self.observations += len(observations)
        if self.now - self.last_sweep >= self.config.sweep_interval_s:
            self.sweep(events, history, dirty)
        if dirty:
            conn.executemany(_TRACK_UPDATE, [(*t.row(), t.id) for t in dirty.values()])
        if history:
            conn.executemany('INSERT INTO track_positions (track_id, t, x, y, z, var, reason, '
                             'episode_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)', history)
        for event, _ in events:
            event.episode_id = event.episode_id or episode_id
        return events

    def _associate(self, obs: ObjectObservation, in_frame: set[int]) -> Track | None:
        """The track ``obs`` is of: by tracker id, else the nearest of its label and colour
        within the gate, else (object permanence) the nearest one that was out of view;
        a track already matched in the same frame is not matched twice."""
        cfg = self.config
        if obs.track_id:
            tid = self.aliases.get(obs.track_id)
            track = self.tracks.get(tid) if tid is not None else None
            if track is not None and track.label == obs.label:
                return track
        candidates = [t for t in self.by_label.get(obs.label, ())
                      if (t.color == obs.color or not t.color or not obs.color)
                      and t.id not in in_frame]
        if not candidates:
            return None
        dist = {t.id: math.dist(t.position, obs.position) for t in candidates}
        nearest = min(candidates, key=lambda t: dist[t.id])
        if dist[nearest.id] <= cfg.association_gate_m:
            return nearest
        unseen = [t for t in candidates if t.state != 'visible'
                  or obs.stamp - t.last_seen > cfg.visible_timeout_s]
        if unseen:  # object permanence: it is the one that was out of view, moved
            return min(unseen, key=lambda t: dist[t.id])
        return None

    def _event(self, track: Track, stamp: float, kind: str, text: str, obj: str = '',
               position=None, confidence: float = 1.0) -> tuple[MemoryEvent, int]:
        return (MemoryEvent(
            stamp=stamp, kind=kind, subject=track.name, object=obj,
            position=tuple(track.position if position is None else position),
            frame_id=track.frame_id, source='spatial', confidence=confidence, text=text),
            track.id)

    def _create(self, conn, obs, episode_id, recorded, events, history) -> Track:
        name = f'{obs.color} {obs.label}'.strip()
        var = [max(obs.position_covariance[i], self.config.min_variance_m2) for i in (0, 4, 8)]
        track = Track(
            id=0, name=name, label=obs.label, color=obs.color, position=list(obs.position),
            variance=var, extent=list(obs.extent), rgb=list(obs.rgb),
            state='visible' if obs.visible else 'occluded', visual_state=obs.state,
            first_seen=obs.stamp, last_seen=obs.stamp,
            last_report=obs.stamp, last_moved=obs.stamp, n_obs=1, confidence=obs.confidence,
            frame_id=obs.frame_id, source=obs.source_name, episode_id=episode_id,
            anchor=list(obs.position), recorded=recorded, seen_logged=obs.visible)
        cur = conn.execute(f'INSERT INTO tracks ({_TRACK_COLUMNS}) VALUES '
                           f'({", ".join("?" * 28)})', track.row())
        track.id = cur.lastrowid
        self._index(track)
        self.names.add([name])
        history.append((track.id, obs.stamp, *obs.position, sum(var) / 3, 'appeared',
                        episode_id))
        events.append(self._event(track, obs.stamp, 'appeared', f'{name} appeared at '
                                  f'{_fmt(obs.position)}', confidence=obs.confidence))
        if obs.state and obs.state not in self.config.rest_states:
            events.append(self._event(track, obs.stamp, f'became_{obs.state}',
                                      f'{name} became {obs.state}'))
        return track

    def _update(self, track: Track, obs: ObjectObservation, events, history) -> None:
        cfg = self.config
        t = obs.stamp
        var_obs = [max(obs.position_covariance[i], cfg.min_variance_m2) for i in (0, 4, 8)]
        if track.state == 'gone':
            self.active.add(track.id)
        if obs.visible:
            self._update_position(track, obs, var_obs, events, history)
            if not track.seen_logged:
                events.append(self._event(track, t, 'reappeared',
                                          f'{track.name} reappeared at {_fmt(track.position)}',
                                          confidence=obs.confidence))
                track.seen_logged = True
            if obs.state and obs.state != track.visual_state:
                kind = ('button_pressed' if obs.state == 'pressed' and 'button' in track.label
                        else f'became_{obs.state}')
                events.append(self._event(track, t, kind, f'{track.name} became {obs.state}'))
                track.visual_state = obs.state
            track.last_seen = max(track.last_seen, t)
            track.state = 'visible'
        elif track.state != 'gone' or track.moving:
            # reported but hidden: the estimate stays where the object was last seen
            track.state = 'occluded'
        track.last_report = max(track.last_report, t)
        track.n_obs += 1
        track.confidence += 0.1 * (obs.confidence - track.confidence)
        if obs.visible:
            for i in range(3):
                track.extent[i] += 0.2 * (obs.extent[i] - track.extent[i])
                track.rgb[i] += 0.2 * (obs.rgb[i] - track.rgb[i])
            self.max_half_extent = max(self.max_half_extent, max(track.extent) / 2)
        track.frame_id = obs.frame_id
        track.source = obs.source_name or track.source

    def _update_position(self, track, obs, var_obs, events, history) -> None:
        cfg = self.config
        t = obs.stamp
        offset = math.dist(track.position, obs.position)
        if track.moving:
            if math.dist(track.still_pos, obs.position) > cfg.settle_radius_m:
                track.still_since, track.still_pos = t, list(obs.position)
            track.position, track.variance = list(obs.position), var_obs
            if t - track.still_since >= cfg.settle_s:
                self._settle(track, t, events, history, unseen=False)
        elif offset > max(cfg.move_threshold_m,
                          3 * math.sqrt(max(track.variance) + max(var_obs))):
            if not track.seen_logged or t - track.last_seen > cfg.visible_timeout_s:
                # it moved while nobody watched: log the move at once
                track.move_start = t
                track.position, track.variance = list(obs.position), var_obs
                self._settle(track, t, events, history, unseen=True)
            else:  # moving in view: follow it and log one move when it comes to rest
                track.moving = True
                track.move_start = track.last_seen
                track.still_since, track.still_pos = t, list(obs.position)
                track.position, track.variance = list(obs.position), var_obs
        else:  # static: fuse (a per-axis Kalman update with a little process noise)
            dt = max(0.0, t - track.last_report)
            for i in range(3):
                prior = track.variance[i] + cfg.process_noise_m2_s * dt
                gain = prior / (prior + var_obs[i])
                track.position[i] += gain * (obs.position[i] - track.position[i])
                track.variance[i] = max(prior * (1 - gain), 1e-9)

    def _settle(self, track: Track, t: float, events, history, unseen: bool) -> None:
        track.moving = False
        start = track.anchor
        if math.dist(start, track.position) >= self.config.move_threshold_m:
            track.last_moved = track.move_start
            where = self._relation_text(track)
            how = ' while out of view' if unseen else ''
            events.append(self._event(
                track, track.move_start, 'moved',
                f'{track.name} moved{how} from {_fmt(start)} to {_fmt(track.position)}'
                + (f', {where[0]} the {where[1]}' if where else ''),
                obj=where[1] if where else ''))
            # the history says where the object was when: it stood at its start until it
            # arrived here (came to rest in view; or, unseen, when it was found here), so
            # "where was X at t" during the move answers the start, not the destination
            arrived = t if unseen else min(t, track.still_since)
            history.append((track.id, arrived, *track.position,
                             sum(track.variance) / 3, 'moved', track.episode_id))
        track.anchor = list(track.position)

    def _relation_text(self, track: Track):
        others = [(o.name, o.position, o.extent) for o in self.tracks.values()
                  if o.id != track.id and o.state != 'gone'
                  and math.dist(o.position, track.position) <= 2 * self.config.near_radius_m
                  + max(o.extent)]
        rel = strongest_relation(track.position, track.extent, others,
                                 self.config.contact_tolerance_m, self.config.near_radius_m)
        return (rel[0], rel[1]) if rel else None

    def sweep(self, events, history, dirty) -> None:
        """Settle tracks that stopped being reported while moving, log 'disappeared' for
        tracks unseen longer than visible_timeout_s, mark unreported ones 'gone'."""
        cfg = self.config
        self.last_sweep = self.now
        for tid in list(self.active):
            track = self.tracks[tid]
            if track.moving and self.now - track.last_report >= cfg.settle_s:
                self._settle(track, track.last_report, events, history, unseen=False)
                dirty[tid] = track
            if track.seen_logged and self.now - track.last_seen > cfg.visible_timeout_s:
                track.seen_logged = False
                if track.state == 'visible':
                    track.state = 'occluded'
                dirty[tid] = track
                events.append(self._event(
                    track, track.last_seen, 'disappeared',
                    f'{track.name} went out of view at {_fmt(track.position)}'))
            if self.now - track.last_report > cfg.gone_after_s:
                track.state = 'gone'
                self.active.discard(tid)
                dirty[tid] = track

    # ------------------------------------------------------------------ reader side
    def resolve(self, subject: str) -> list[str]:
        """Track names matching a question's subject, best first."""
        names, _ = self.names.resolve(words(subject))
        return [n for n, _ in names]

    def where_is(self, conn: sqlite3.Connection, subject: str, k: int = 10,
                 now: float | None = None, names: list[str] | None = None
                 ) -> list[MemoryEntry]:
        """Current tracks matching ``subject``: position, state, strongest relation;
        the best-matching name first, then the most recently reported."""
        names = self.resolve(subject) if names is None else names
        if not names:
            return []
        order = {n: i for i, n in enumerate(names)}
        rows = conn.execute(
            f'SELECT id, {_TRACK_COLUMNS} FROM tracks WHERE name IN '
            f'({",".join("?" * len(names))}) ORDER BY last_report DESC LIMIT ?',
            (*names, k * 4)).fetchall()
        rows.sort(key=lambda r: order[r[1]])
        return [self._entry(conn, r, now, score=1.0 / (1 + order[r[1]])) for r in rows[:k]]

    def _entry(self, conn, r, now, score: float = 1.0) -> MemoryEntry:
        pos = r[4:7]
        ext = r[8:11]
        state = r[14]
        last_report = r[18]
        if now is not None and state in ('visible', 'occluded', 'moving') and \
                now - last_report > self.config.gone_after_s:
            state = 'gone'
        rel = self._relation_from_rows(conn, r[0], pos, ext)
        text = f'{r[1]} is at {_fmt(pos)}'
        if rel:
            text += f', {rel[0]} the {rel[1]}'
        seen = r[17]
        text += f'; {state}, last seen at t={seen:.2f} s'
        return MemoryEntry(
            bank=Bank.SPATIAL, entry_id=r[0], stamp=seen, recorded=r[28] or 0.0,
            episode_id=r[24] or '', confidence=r[21], score=score, kind=state, subject=r[1],
            object=rel[1] if rel else '', text=text, frame_id=r[22] or '', has_position=True,
            position=tuple(pos), position_covariance=_COV.unpack(r[7]), source='spatial')

    def _relation_from_rows(self, conn, tid, pos, ext):
        """Strongest relation of a track to the others near it, from the bank's in-memory
        copy of the tracks through its planar grid (positions as of the last batch)."""
        reach = self.config.near_radius_m + self.config.contact_tolerance_m + \
            max(self.max_half_extent, max(ext) / 2)
        c = self.cell_m
        ids = []
        for ix in range(math.floor((pos[0] - reach) / c), math.floor((pos[0] + reach) / c) + 1):
            for iy in range(math.floor((pos[1] - reach) / c),
                            math.floor((pos[1] + reach) / c) + 1):
                ids.extend(list(self.grid.get((ix, iy), ())))
        near, tol = self.config.near_radius_m, self.config.contact_tolerance_m
        half = max(ext) / 2
        others = []
        for i in ids:
            t = self.tracks.get(i)
            if t is None or i == tid or t.state == 'gone':
                continue
            r = max(near, max(t.extent) / 2 + tol, half + tol)   # no relation beyond this
            if abs(t.position[0] - pos[0]) <= r and abs(t.position[1] - pos[1]) <= r:
                others.append((t.name, t.position, t.extent))
        return strongest_relation(pos, ext, others, self.config.contact_tolerance_m,
                                  self.config.near_radius_m)

    def where_was(self, conn: sqlite3.Connection, subject: str, at: float,
                  k: int = 10, names: list[str] | None = None) -> list[MemoryEntry]:
        """Where tracks matching ``subject`` were at time ``at`` (from position history)."""
        out = []
        names = self.resolve(subject) if names is None else names
        for rank, name in enumerate(names):
            for tid, tname, frame, conf in conn.execute(
                    'SELECT id, name, frame_id, confidence FROM tracks WHERE name = ? '
                    'AND first_seen <= ?', (name, at)).fetchall():
                row = conn.execute(
                    'SELECT id, t, x, y, z, var, reason, episode_id FROM track_positions '
                    'WHERE track_id = ? AND t <= ? ORDER BY t DESC LIMIT 1',
                    (tid, at)).fetchone()
                if row is None:
                    continue
                var = row[5]
                out.append(MemoryEntry(
                    bank=Bank.SPATIAL, entry_id=tid, stamp=row[1], recorded=row[1],
                    episode_id=row[7] or '', confidence=conf, score=1.0 / (1 + rank),
                    kind='was_at', subject=tname,
                    text=f'at t={at:.2f} s {tname} was at {_fmt(row[2:5])} '
                    f'(there since t={row[1]:.2f} s, {row[6]})', frame_id=frame or '',
                    has_position=True, position=tuple(row[2:5]),
                    position_covariance=(var, 0, 0, 0, var, 0, 0, 0, var), source='spatial'))
                if len(out) >= k:
                    return out
        return out

    def near(self, conn: sqlite3.Connection, subject: str, radius: float | None = None,
             k: int = 10) -> list[MemoryEntry]:
        """Objects near the best match of ``subject``, closest first, with their relation."""
        anchors = self.where_is(conn, subject, k=1)
        if not anchors:
            return []
        anchor = anchors[0]
        radius = radius or self.config.near_radius_m
        a_ext = conn.execute('SELECT ex, ey, ez FROM tracks WHERE id = ?',
                             (anchor.entry_id,)).fetchone()
        p = anchor.position
        rows = conn.execute(
            f'SELECT id, {_TRACK_COLUMNS} FROM tracks WHERE id != ? AND state != ? AND '
            'x BETWEEN ? AND ? AND y BETWEEN ? AND ?',
            (anchor.entry_id, 'gone', p[0] - radius, p[0] + radius, p[1] - radius,
             p[1] + radius)).fetchall()
        out = []
        for r in rows:
            d = math.dist(r[4:7], p)
            if d > radius:
                continue
            rel = relation(r[4:7], r[8:11], p, a_ext, self.config.contact_tolerance_m,
                           radius) or 'near'
            entry = self._entry(conn, r, None)
            entry.kind, entry.object, entry.score = rel, anchor.subject, 1.0 / (1.0 + d)
            entry.text = f'{r[1]} is {rel} the {anchor.subject} ({d:.2f} m away)'
            out.append(entry)
        out.sort(key=lambda e: -e.score)
        return out[:k]

    def count_objects(self, conn: sqlite3.Connection, names: list[str],
                      include_gone: bool = True) -> int:
        """Tracks with one of ``names``."""
        if not names:
            return 0
        sql = f'SELECT COUNT(*) FROM tracks WHERE name IN ({",".join("?" * len(names))})'
        if not include_gone:
            sql += " AND state != 'gone'"
        return conn.execute(sql, names).fetchone()[0]
