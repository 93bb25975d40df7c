"""One write for many saves (`EventStore.append_streams`, the transfer engine's rounds), on
every store: the order of the saves is the order of the positions, a stream's later save
continues its chain, and a stream that moved writes nothing of the whole batch."""

from __future__ import annotations

import pytest

from backend.application.errors import ConcurrencyError
from backend.application.event_hash import GENESIS, stored_event_hash
from backend.application.ports.event_store import StoredEvent, StreamAppend
from tests.adapters.conftest import StoreBackend
from tests.adapters.test_event_store_contract import Factory, append, read_all, read_stream


@pytest.fixture
def new() -> Factory:
    return Factory()


def write(backend: StoreBackend, saves: list[StreamAppend]) -> list[StoredEvent]:
    with backend.uow() as uow:
        stored = uow.events.append_streams(saves)
        uow.commit()
    return stored


def test_saves_of_several_streams_are_written_in_their_order(
    store_backend: StoreBackend, new: Factory
) -> None:
    append(store_backend, "a", 0, new(1))
    saves = [
        StreamAppend("a", "thing", 1, new(1, kind="A2")),
        StreamAppend("b", "thing", 0, new(1, kind="B1")),
        StreamAppend("a", "thing", 2, new(2, kind="A3")),
    ]
    stored = write(store_backend, saves)
    assert [(e.stream_id, e.version, e.type) for e in stored] == [
        ("a", 2, "A2"), ("b", 1, "B1"), ("a", 3, "A3"), ("a", 4, "A3"),
    ]  # fmt: skip
    assert [e.position for e in stored] == sorted(e.position for e in stored)
    assert [e.event_id for e in read_all(store_backend)[1:]] == [e.event_id for e in stored]


def test_a_streams_later_save_continues_its_hash_chain(
    store_backend: StoreBackend, new: Factory
) -> None:
    append(store_backend, "a", 0, new(1))
    write(
        store_backend,
        [StreamAppend("a", "thing", 1, new(1)), StreamAppend("a", "thing", 2, new(1))],
    )
    previous = GENESIS
    for event in read_stream(store_backend, "a"):
        assert event.hash == stored_event_hash(previous, event)
        previous = event.hash


def test_a_stream_that_moved_writes_nothing_of_the_batch(
    store_backend: StoreBackend, new: Factory
) -> None:
    append(store_backend, "a", 0, new(1))
    append(store_backend, "b", 0, new(1))
    head = len(read_all(store_backend))
    stale = [StreamAppend("a", "thing", 1, new(1)), StreamAppend("b", "thing", 0, new(1))]
    with pytest.raises(ConcurrencyError) as raised:
        write(store_backend, stale)
    assert len(read_all(store_backend)) == head
    if store_backend.name != "sqlite":  # SQLite's message does not name the stream
        assert raised.value.stream_id == "b"
