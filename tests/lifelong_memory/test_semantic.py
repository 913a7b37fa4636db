"""Semantic bank: reconsolidation of contradicting facts, told locations, and text search
with the real all-MiniLM-L6-v2 encoder (loaded once per test process)."""

from memory_nodes.lifelong_memory import (
    Bank,
    Fact,
    LifelongMemory,
    MemoryConfig,
    MemoryEvent,
    Query,
    QueryKind,
)


def test_contradicting_fact_supersedes_and_the_change_is_logged(mem):
    first = mem.tell(Fact('keys', 'in', 'drawer', stamp=10.0, confidence=0.6)).result()
    again = mem.tell(Fact('Keys', 'in', 'the drawer', stamp=12.0, confidence=0.5)).result()
    assert again == first                      # confirmed, not duplicated
    [fact] = mem.facts('keys', 'in')
    assert fact.object == 'drawer' and abs(fact.confidence - 0.8) < 1e-9
    assert fact.last_confirmed == 12.0
    moved = mem.tell(Fact('keys', 'in', 'coat pocket', stamp=20.0)).result()
    [now] = mem.facts('keys', 'in')
    assert now.object == 'coat pocket' and now.row_id == moved
    old = [f for f in mem.facts('keys', 'in', current_only=False) if f.object == 'drawer'][0]
    assert old.superseded_by == moved and old.superseded_at == 20.0
    assert mem.fact_history('keys', 'in') == [
        {'t': 20.0, 'old_object': 'drawer', 'new_object': 'coat pocket', 'old_fact': first,
         'new_fact': moved}]
    # late news: an older contradicting report does not win
    mem.tell(Fact('keys', 'in', 'car', stamp=15.0)).result()
    assert [f.object for f in mem.facts('keys', 'in')] == ['coat pocket']
    assert len(mem.fact_history('keys', 'in')) == 2


def test_multi_valued_predicates_keep_every_object(mem):
    mem.tell(Fact('kitchen', 'has', 'sink', 1.0))
    mem.tell(Fact('kitchen', 'has', 'fridge', 2.0))
    mem.flush()
    assert sorted(f.object for f in mem.facts('kitchen', 'has')) == ['fridge', 'sink']
    assert mem.fact_history('kitchen', 'has') == []


def test_where_falls_back_to_told_locations(mem):
    mem.tell(Fact('screwdriver', 'left_in', 'toolbox', 5.0, source='human')).result()
    res = mem.query(Query(kind=QueryKind.WHERE, text='where is the screwdriver'))
    assert [(e.bank, e.subject, e.object) for e in res.results] == [
        (Bank.SEMANTIC, 'screwdriver', 'toolbox')]


def test_text_search_over_facts_events_and_episodes():
    with LifelongMemory(':memory:', MemoryConfig(embedding='lazy')) as mem:
        mem.tell(Fact('keys', 'in', 'drawer', 1.0))
        mem.tell(Fact('keys', 'in', 'coat pocket', 2.0))
        mem.tell(Fact('mug', 'color', 'blue', 1.0))
        mem.log_event(MemoryEvent(3.0, 'grasped', 'red cube', episode_id='e1'))
        mem.log_event(MemoryEvent(4.0, 'became_lit', 'green led', episode_id='e1'))
        mem.start_episode('e2', 'water the plants', 5.0)
        mem.flush()
        res = mem.query(Query(kind=QueryKind.SIMILAR_TO_TEXT, text='where are my keys', k=3))
        top = res.results[0]
        assert (top.bank, top.subject, top.object) == (Bank.SEMANTIC, 'keys', 'coat pocket')
        assert 'superseded' in next(e.text for e in res.results if e.object == 'drawer')
        light = mem.query(Query(kind=QueryKind.SIMILAR_TO_TEXT, text='a light turned on',
                                k=1)).results[0]
        assert (light.bank, light.subject) == (Bank.TEMPORAL, 'green led')
        plant = mem.query(Query(kind=QueryKind.SIMILAR_TO_TEXT, text='watering flowers',
                                k=1)).results[0]
        assert (plant.bank, plant.episode_id) == (Bank.EPISODIC, 'e2')
        only_e1 = mem.query(Query(kind=QueryKind.SIMILAR_TO_TEXT, text='picked up a cube',
                                  episode_id='e1', k=5)).results
        assert only_e1 and {e.episode_id for e in only_e1} == {'e1'}
        assert only_e1[0].kind == 'grasped'
        # new sentences are embedded on the next search (lazy mode)
        mem.tell(Fact('umbrella', 'in', 'hallway stand', 6.0)).result()
        hits = mem.query(Query(kind=QueryKind.SIMILAR_TO_TEXT, text='umbrella', k=1)).results
        assert hits[0].subject == 'umbrella'
        assert mem.stats()['vectors'] == mem.stats()['texts']
        # the parallel four-bank recall answers from every bank that knows something
        recall = mem.recall('keys', k=3)
        assert Bank.SEMANTIC in {e.bank for e in recall.results}
