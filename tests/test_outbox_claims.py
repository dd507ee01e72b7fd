"""Randomized: outbox claims let several processes deliver without posting anything twice.

Processes claim items (:meth:`Store.claim_outbox`), post them to a model of the
dashboard's comments, and mark them sent; any of them may die at any point (its claim is
then left to expire), and time moves in random steps. What a deliverer does is what
:func:`watcher.notify.outbox.deliver` does: an item attempted before is looked for by its
marker before it is posted. The one assumption is the claim's reason to exist: a process
posts while its claim is still valid (the claim's TTL outlasts one write with all its
retries, see ``watcher.cli.main._actor``).

Invariants: no item is ever posted twice; once the processes stop dying and time passes
the TTL, one delivery pass leaves every item posted exactly once and marked sent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.test_state_store import FakeClock, verdict
from watcher.core.models import VerdictState
from watcher.state.store import Store

TTL = timedelta(seconds=60)
HOLDERS = ("host:1", "host:2", "host:3")
STATES = (VerdictState.WAITING, VerdictState.PENDING, VerdictState.READY, VerdictState.DONE)

step = st.one_of(
    st.tuples(st.just("claim"), st.sampled_from(HOLDERS), st.integers(0, len(STATES) - 1)),
    st.tuples(st.just("post"), st.sampled_from(HOLDERS), st.integers(0, len(STATES) - 1)),
    st.tuples(st.just("mark"), st.sampled_from(HOLDERS), st.integers(0, len(STATES) - 1)),
    st.tuples(st.just("die"), st.sampled_from(HOLDERS), st.just(0)),
    st.tuples(st.just("wait"), st.sampled_from(HOLDERS), st.integers(1, 90)),
)


@dataclass
class World:
    """The store, the model of posted comments, and what each live process holds."""

    store: Store
    clock: FakeClock
    board: list[int] = field(default_factory=list)  # outbox ids, in posting order
    # holder -> item -> (attempt, claimed at, posted yet)
    held: dict[str, dict[int, list[object]]] = field(default_factory=dict)
    generation: dict[str, int] = field(default_factory=dict)

    def name(self, holder: str) -> str:
        """A restarted process gets a new pid, so a new holder name."""
        return f"{holder}.{self.generation.get(holder, 0)}"

    def claim(self, holder: str, item: int) -> None:
        attempt = self.store.claim_outbox(item, self.name(holder), TTL)
        if attempt is not None:
            self.held.setdefault(holder, {})[item] = [attempt, self.clock(), False]

    def post(self, holder: str, item: int) -> None:
        claim = self.held.get(holder, {}).get(item)
        if claim is None or claim[2] or self.clock() - claim[1] >= TTL:  # type: ignore[operator]
            return  # nothing claimed, already posted, or the claim ran out (see docstring)
        if claim[0] == 1 or item not in self.board:  # attempt > 1: look for it first
            self.board.append(item)
        claim[2] = True

    def mark(self, holder: str, item: int) -> None:
        claim = self.held.get(holder, {}).pop(item, None)
        if claim is not None and claim[2]:
            self.store.mark_sent(item, f"comment-{item}", self.name(holder))

    def die(self, holder: str) -> None:
        self.held.pop(holder, None)
        self.generation[holder] = self.generation.get(holder, 0) + 1


@settings(max_examples=60, deadline=None)
@given(steps=st.lists(step, max_size=40))
def test_claims_never_post_twice_and_lose_nothing(
    steps: list[tuple[str, str, int]], tmp_path_factory: object
) -> None:
    path = Path(tmp_path_factory.mktemp("claims")) / "w.db"  # type: ignore[attr-defined]
    clock = FakeClock()
    with Store.open(f"sqlite:///{path}", clock=clock) as store:
        run = store.start_run()
        for index, state in enumerate(STATES):
            store.record_verdict(run, verdict(state, "v0.29.0" if index else None))
        items = [item.id for item in store.pending_outbox()]
        assert len(items) == len(STATES)
        world = World(store, clock)
        for action, holder, arg in steps:
            if action == "wait":
                clock.advance(timedelta(seconds=arg))
            elif action == "die":
                world.die(holder)
            else:
                getattr(world, action)(holder, items[arg])
            assert len(world.board) == len(set(world.board)), world.board
        # Faults stop: every process dies, claims expire, one survivor delivers.
        for holder in HOLDERS:
            world.die(holder)
        clock.advance(TTL + timedelta(seconds=1))
        for item in list(store.pending_outbox()):
            world.claim("survivor", item.id)
            world.post("survivor", item.id)
            world.mark("survivor", item.id)
        assert sorted(world.board) == sorted(items)
        assert store.pending_outbox() == []
