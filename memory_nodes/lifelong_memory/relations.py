"""Spatial relations between objects from their boxes: in, on, under, near.

Boxes are axis-aligned: a centre and a size (extent) in metres, z up. An object with no
extent is a point. The relation names are those people use in questions ("the cube on the
plate", "what is near the bin").
"""

from __future__ import annotations

import math


def relation(a_pos, a_ext, b_pos, b_ext, contact_tol: float = 0.03,
             near_radius: float = 0.25) -> str:
    """The strongest relation of A to B: 'in', 'on', 'under', 'near' or '' (none)."""
    ax, ay, az = a_pos
    bx, by, bz = b_pos
    half_b = [e / 2 for e in b_ext]
    half_a = [e / 2 for e in a_ext]
    over_b = abs(ax - bx) <= half_b[0] + contact_tol and abs(ay - by) <= half_b[1] + contact_tol
    b_is_box = min(b_ext) > 0
    if b_is_box and over_b and abs(az - bz) <= half_b[2] and \
            all(a <= b for a, b in zip(a_ext, b_ext)) and \
            all(abs(p - q) + h <= hb + contact_tol for p, q, h, hb in
                zip(a_pos, b_pos, half_a, half_b)):
        return 'in'
    a_bottom, a_top = az - half_a[2], az + half_a[2]
    b_bottom, b_top = bz - half_b[2], bz + half_b[2]
    if b_is_box and over_b and abs(a_bottom - b_top) <= contact_tol:
        return 'on'
    over_a = abs(ax - bx) <= half_a[0] + contact_tol and abs(ay - by) <= half_a[1] + contact_tol
    if (over_b or over_a) and a_top <= b_bottom + contact_tol and az < bz:
        return 'under'
    if math.dist(a_pos, b_pos) <= near_radius:
        return 'near'
    return ''


RELATION_RANK = {'in': 0, 'on': 1, 'under': 2, 'near': 3}


def strongest_relation(a_pos, a_ext, others, contact_tol: float = 0.03,
                       near_radius: float = 0.25):
    """(relation, other name, distance) of A's strongest relation among ``others``
    [(name, pos, ext)], preferring in > on > under > near, then the closer; None if none."""
    best = None
    for name, pos, ext in others:
        rel = relation(a_pos, a_ext, pos, ext, contact_tol, near_radius)
        if not rel:
            continue
        key = (RELATION_RANK[rel], math.dist(a_pos, pos))
        if best is None or key < best[0]:
            best = (key, rel, name)
    if best is None:
        return None
    return best[1], best[2], best[0][1]
