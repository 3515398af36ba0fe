"""The fold in C (models/_state.c) is models/state.py's fold, faster: folding the same events
into the same states gives the same states (every object's type, floats bit for bit, dicts
in their order) and the same answers, checked on simulated populations of both generators
(in time order and shuffled, so late events and duplicates occur), on bursts that make the
state prune its recent ids, on states decoded from bytes, and on odd events (no or unknown
sub, unknown types, fields of other types).

Fails when the extension was not built (no C compiler at install), as test_treeshap does:
the worker's CPU budget counts on it."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from models import state as S
from models.journey import run as journey
from models.simulate import run as simulate
from models.snapshots import read_events
from models.state import DAY, LeadState, Obs, StateConfig, state_from_bytes, state_to_bytes
from tests.unit.test_record_native import canon


def test_the_extension_is_built_and_matches_the_layout() -> None:
    assert S.native is not None, (
        "models._state is not built, or its layout differs from models/state.py's: "
        "run ./dev setup")
    assert S.native.layout() == S._layout()
    assert S.NATIVE


@pytest.fixture(autouse=True)
def _restore() -> Iterator[None]:
    yield
    S.use_native(S.native is not None)


def fold_both(states: dict[str, tuple[LeadState, LeadState]], lead: str, o: Obs,
              config: StateConfig = S.DEFAULT_STATE_CONFIG) -> None:
    """Fold o into the lead's C state and its Python state; their answers must agree."""
    if lead not in states:
        states[lead] = (LeadState.new(config, key=lead), LeadState.new(config, key=lead))
    c, p = states[lead]
    S.use_native(True)
    got = S.fold_into(c, o, config)
    S.use_native(False)
    want = S.fold_into(p, o, config)
    assert got == want, (lead, o)


def assert_same(states: dict[str, tuple[LeadState, LeadState]]) -> None:
    for lead, (c, p) in states.items():
        assert canon(c) == canon(p), lead
        assert state_to_bytes(c) == state_to_bytes(p), lead


@pytest.fixture(scope="module", params=["intent", "journey"])
def population(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
               ) -> dict[str, list[Obs]]:
    path = tmp_path_factory.mktemp("fold") / "events.jsonl"
    if request.param == "intent":
        simulate(300, 90, seed=41, out=str(path), progress=False)
    else:
        journey(300, 90, seed=42, out=str(path), progress=False)
    log = read_events(str(path))
    return {**log.leads, **{f"anon:{k}": v for k, v in log.anon.items()}}


@pytest.mark.parametrize("order", ["time", "shuffled"])
def test_a_population_folds_to_the_same_states(population: dict[str, list[Obs]],
                                               order: str) -> None:
    rng = random.Random(7)
    states: dict[str, tuple[LeadState, LeadState]] = {}
    answers = 0
    for lead, obs in population.items():
        seq = sorted(obs, key=lambda o: o.ts) if order == "time" else rng.sample(obs, len(obs))
        if order == "shuffled":
            seq += rng.sample(obs, min(len(obs), 20))  # duplicates
        for o in seq:
            fold_both(states, lead, o)
            answers += 1
    assert answers > 5000
    assert_same(states)
    late = sum(c.misc[S.M["late"]] for c, _ in states.values())
    dups = sum(c.misc[S.M["duplicates"]] for c, _ in states.values())
    if order == "shuffled":
        assert late > 0 and dups > 0  # the two refusals were exercised


def test_decoded_states_keep_folding_the_same(population: dict[str, list[Obs]]) -> None:
    """States read back from bytes (floats where fresh states have ints, and the reverse)."""
    states: dict[str, tuple[LeadState, LeadState]] = {}
    for lead, obs in list(population.items())[:60]:
        seq = sorted(obs, key=lambda o: o.ts)
        half = len(seq) // 2
        for o in seq[:half]:
            fold_both(states, lead, o)
        c, p = states[lead]
        states[lead] = (state_from_bytes(state_to_bytes(c)), state_from_bytes(state_to_bytes(p)))
        for o in seq[half:]:
            fold_both(states, lead, o)
    assert_same(states)


def test_a_burst_prunes_the_recent_ids_the_same_way() -> None:
    """Over 256 ids within the lateness window: the C fold hands the prune to Python."""
    states: dict[str, tuple[LeadState, LeadState]] = {}
    t0 = 1_780_000_000.0
    rng = random.Random(3)
    for i in range(900):
        ts = t0 + i * 60.0 + rng.random()
        fold_both(states, "burst", Obs(f"e{i}", ts, "page_view", "pricing"))
        if i % 7 == 0:  # a duplicate of a recent one, and one of an evicted one
            j = max(0, i - rng.randint(0, 400))
            fold_both(states, "burst", Obs(f"e{j}", t0 + j * 60.0, "page_view", "pricing"))
    c, _ = states["burst"]
    assert len(c.recent) <= S.MAX_RECENT_IDS
    assert_same(states)


def test_odd_events_fold_the_same() -> None:
    """Every activity type with no sub, an empty or unknown sub, unknown types, the types
    Python keeps, fields of other types than observe() gives, days across the ring's end."""
    types = ["page_view", "content_download", "email_click", "form_submit", "demo_request",
             "session_start", "session_end", "site_search", "email_open", "email_reply",
             "login", "feature_used", "integration_connected", "teammate_invited",
             "support_ticket", "identify", "email_delivered", "email_bounce",
             "email_unsubscribe", "signup", "trial_started", "something_new", "rep_feedback",
             "converted", "disqualified", "lost", "profile_update"]
    subs = [None, "", "pricing", "case_study", "competitor_comparison", "docs", "whitepaper",
            "hard", "soft", "high", "urgent", "low", "feature-a", "é"]
    rng = random.Random(11)
    states: dict[str, tuple[LeadState, LeadState]] = {}
    t = 1_780_000_000.0
    for i in range(6000):
        lead = f"L{i % 13}"
        t += rng.choice([1.0, 600.0, DAY, 10 * DAY, -3 * DAY])
        kind = rng.choice(types)
        sub = rng.choice(subs)
        num = rng.choice([0.0, 1.0, 3.0, 125.5, 2, 0])  # ints: Python folds those
        prof = {"industry": "saas", "employee_count": 40} if kind == "profile_update" else None
        ts = t if rng.random() > 0.02 else int(t)
        o = Obs(f"o{i}" if rng.random() > 0.1 else f"o{i - 5}", ts, kind, sub, num, prof)
        fold_both(states, lead, o)
    assert_same(states)


def test_the_fold_in_c_refuses_what_is_not_a_state() -> None:
    o = Obs("e1", 1_780_000_000.0, "page_view", "pricing")
    s = LeadState.new()
    s.ts = tuple(s.ts)  # type: ignore[assignment]
    with pytest.raises(TypeError):
        S.native.fold(s, o, 2 * DAY)
    with pytest.raises(TypeError):
        S.native.fold(s, ("e1",), 2 * DAY)
    with pytest.raises(TypeError):
        S.native.id_hash(b"bytes")


def test_id_hash_is_hashlib_blake2b(tmp_path: Path) -> None:
    rng = random.Random(5)
    alphabet = "abcXYZ019-_:@. éü日本\U0001f600"
    texts = ["", "a", "lead-1"] + ["".join(rng.choice(alphabet) for _ in range(n))
                                   for n in (1, 7, 8, 63, 64, 65, 127, 128, 129, 255, 256,
                                             257, 1000) for _ in range(20)]
    for t in texts:
        assert S.native.id_hash(t) == S.id_hash_py(t), t
