"""Class mode's room store: every call and limit, the same on both backends (in this process, and
in a real redis-server that the `redis_url` fixture starts)."""

from __future__ import annotations

import functools
import hashlib
import socket
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from explorer.runtime import rooms
from explorer.runtime.rooms import (
    CODE_ALPHABET,
    CODE_LENGTH,
    GUESSES_PER_MINUTE,
    GUESSES_PER_MINUTE_ALL,
    MAX_VIEW_BYTES,
    NICKNAME_LENGTH,
    BadView,
    MemoryRoomStore,
    NotPresenter,
    Presence,
    QuestionState,
    RoomFull,
    RoomNotFound,
    RoomPoll,
    RoomsFull,
    RoomStore,
    RoomStoreDown,
    TooManyGuesses,
    clean_nickname,
    normalize_code,
)
from tests.conftest import run_together

QUESTION = {"text": "Which block does ResNet-50 use?", "choices": ["basic", "bottleneck", "both"]}


class FakeClock:
    """A clock the test moves: windows of seconds and minutes pass at once."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class StoreFactory:
    """Fresh stores of one backend on one fake clock; Redis ones under a prefix of this test's own."""

    backend: str
    clock: FakeClock
    make_store: Callable[..., RoomStore]
    redis_url: str | None = None
    prefix: str = ""

    def make(self, **limits) -> RoomStore:
        return self.make_store(clock=self.clock, **limits)

    def let_expire(self, seconds: float) -> None:
        """Let ``seconds`` pass for a room's TTL: Redis expires keys on its own clock, so it really waits."""
        self.clock.advance(seconds)
        if self.backend == "redis":
            time.sleep(seconds)

    def keys(self) -> list[str]:
        import redis

        return sorted(redis.Redis.from_url(self.redis_url, decode_responses=True).keys(f"{self.prefix}*"))


@pytest.fixture(params=["memory", "redis"])
def room_store_factory(request: pytest.FixtureRequest):
    clock = FakeClock()
    if request.param == "memory":
        yield StoreFactory("memory", clock, MemoryRoomStore)
        return
    from explorer.runtime.room_redis import RedisRoomStore

    url, prefix = request.getfixturevalue("redis_url"), f"test:{uuid.uuid4().hex}:"
    factory = StoreFactory("redis", clock, lambda **kw: RedisRoomStore(url, prefix=prefix, **kw), url, prefix)
    yield factory
    import redis

    client = redis.Redis.from_url(url)
    for key in client.keys(f"{prefix}*"):
        client.delete(key)


@pytest.fixture
def store(room_store_factory: StoreFactory) -> RoomStore:
    return room_store_factory.make()


def test_codes_are_short_and_unambiguous(store: RoomStore) -> None:
    codes = {store.create_room()[0] for _ in range(20)}
    assert len(codes) == 20
    for code in codes:
        assert len(code) == CODE_LENGTH and set(code) <= set(CODE_ALPHABET)
    assert not set("O0I1") & set(CODE_ALPHABET)


@pytest.mark.parametrize(("typed", "code"), [
    ("ABCDE", "ABCDE"), ("abc-de", "ABCDE"), (" ab cde ", "ABCDE"), ("a-b-c-d-e", "ABCDE"), ("x2y3z", "X2Y3Z"),
    ("ABCD0", None), ("ABCDO", None), ("ABCD1", None), ("ABCDI", None), ("ABCD", None), ("ABCDEF", None),
    ("", None), ("A" * 10_000, None), ("ABCD?", None), ("ÄBCDE", None), (None, None), (12345, None),
])
def test_normalize_code_reads_what_a_student_types(typed, code) -> None:
    assert normalize_code(typed) == code


def test_the_presenter_key_opens_its_own_room_only(store: RoomStore) -> None:
    code, key = store.create_room()
    other_code, other_key = store.create_room()
    assert store.is_presenter(code, key) and store.is_presenter(other_code, other_key)
    assert store.publish(code, key, {"page": "anatomy"}) == 1
    for wrong in (other_key, key[:-1] + ("A" if key[-1] != "A" else "B"), "", "student-1", None, key * 3):
        assert not store.is_presenter(code, wrong)
        with pytest.raises(NotPresenter):
            store.publish(code, wrong, {"page": "hijacked"})
        with pytest.raises(NotPresenter):
            store.ask(code, wrong, QUESTION)
        with pytest.raises(NotPresenter):
            store.reveal(code, wrong)
        with pytest.raises(NotPresenter):
            store.close_room(code, wrong)
    assert store.view(code) == (1, {"page": "anatomy"}) and store.poll(code) == RoomPoll(1, 0, False)
    assert not store.is_presenter("ZZZZZ", key)
    with pytest.raises(NotPresenter):  # a gone room says no more than a wrong key: join alone tells codes
        store.publish("ZZZZZ", key, {})


def test_the_store_keeps_only_the_keys_digest(room_store_factory: StoreFactory) -> None:
    store = room_store_factory.make()
    code, key = store.create_room()
    assert len(key) >= 32
    if room_store_factory.backend == "memory":
        kept = repr(vars(store))
    else:
        import redis

        client = redis.Redis.from_url(room_store_factory.redis_url, decode_responses=True)
        kept = repr(client.hgetall(f"{room_store_factory.prefix}room:{code}"))
    assert key not in kept and hashlib.sha256(key.encode()).hexdigest() in kept


def test_student_calls_cannot_change_the_view(store: RoomStore) -> None:
    code, key = store.create_room()
    store.publish(code, key, {"page": "predict"})
    store.ask(code, key, QUESTION)
    store.join(code, "10.0.0.7")
    store.heartbeat(code, "student-1", following=False, nickname="Ada")
    assert store.answer(code, 1, "student-1", 0)
    store.leave(code, "student-1")
    assert store.view(code) == (1, {"page": "predict"}) and store.poll(code) == RoomPoll(1, 1, False)


def test_views_round_trip_and_versions_count_up(store: RoomStore) -> None:
    code, key = store.create_room()
    assert store.view(code) == (0, None) and store.poll(code) == RoomPoll(0, 0, False)
    view = {"page": "architecture", "model": "resnet50", "input": 224, "tabs": ["table", "fig3"], "zoom": 1.5,
            "note": "残差", "flag": None}
    assert store.publish(code, key, view) == 1
    assert store.view(code) == (1, view)
    view["model"] = "resnet18"  # the caller's dict, changed later, is not the room's
    assert store.view(code)[1]["model"] == "resnet50"
    assert [store.publish(code, key, {"step": step}) for step in range(3)] == [2, 3, 4]
    assert store.view(code) == (4, {"step": 2}) and store.poll(code).view_version == 4


@pytest.mark.parametrize("bad", [{"text": "x" * MAX_VIEW_BYTES}, {"set": {1, 2}}, {"nan": float("nan")},
                                 {"object": object()}, ["not", "a", "dict"]])
def test_bad_views_are_refused_and_change_nothing(store: RoomStore, bad) -> None:
    code, key = store.create_room()
    store.publish(code, key, {"page": "anatomy"})
    with pytest.raises(BadView):
        store.publish(code, key, bad)
    with pytest.raises(BadView):
        store.ask(code, key, {**bad, "choices": ["a", "b"]} if isinstance(bad, dict) else bad)
    assert store.view(code) == (1, {"page": "anatomy"}) and store.question(code) == QuestionState(0, None, False)


def test_a_question_needs_choices(store: RoomStore) -> None:
    code, key = store.create_room()
    for question in ({"text": "no choices"}, {"choices": []}, {"choices": "ab"}):
        with pytest.raises(BadView):
            store.ask(code, key, question)


def test_join_tells_a_live_code_from_an_unknown_one(store: RoomStore) -> None:
    code, _key = store.create_room()
    store.join(code, "10.0.0.1")
    with pytest.raises(RoomNotFound):
        store.join("ZZZZZ" if code != "ZZZZZ" else "YYYYY", "10.0.0.1")


def test_wrong_codes_are_limited_per_client(room_store_factory: StoreFactory) -> None:
    store = room_store_factory.make()
    code, _key = store.create_room()
    for _ in range(GUESSES_PER_MINUTE):
        with pytest.raises(RoomNotFound):
            store.join("ZZZZZ", "10.0.0.66")
    with pytest.raises(TooManyGuesses):
        store.join(code, "10.0.0.66")  # even the right code, for this client, this minute
    store.join(code, "10.0.0.67")  # another client is not held back
    room_store_factory.clock.advance(60)
    store.join(code, "10.0.0.66")


def test_wrong_codes_are_limited_for_the_whole_store(room_store_factory: StoreFactory) -> None:
    store = room_store_factory.make()
    code, _key = store.create_room()
    for client in range(GUESSES_PER_MINUTE_ALL):
        with pytest.raises(RoomNotFound):
            store.join("ZZZZZ", f"10.1.{client // 256}.{client % 256}")
    with pytest.raises(TooManyGuesses):
        store.join(code, "10.0.0.1")
    room_store_factory.clock.advance(60)
    store.join(code, "10.0.0.1")


def test_a_server_holds_at_most_max_rooms(room_store_factory: StoreFactory) -> None:
    store = room_store_factory.make(max_rooms=3)
    made = [store.create_room() for _ in range(3)]
    with pytest.raises(RoomsFull):
        store.create_room()
    store.close_room(*made[0])
    store.create_room()
    with pytest.raises(RoomsFull):
        store.create_room()


def test_expired_rooms_free_their_place(room_store_factory: StoreFactory) -> None:
    store = room_store_factory.make(max_rooms=2, ttl_s=1)
    store.create_room(), store.create_room()
    with pytest.raises(RoomsFull):
        store.create_room()
    room_store_factory.let_expire(1.5)
    store.create_room()


def test_a_class_holds_at_most_max_students(room_store_factory: StoreFactory) -> None:
    store = room_store_factory.make(max_students=3, ttl_s=100)
    code, _key = store.create_room()
    for student in ("s1", "s2", "s3"):
        store.heartbeat(code, student, following=True)
    with pytest.raises(RoomFull):
        store.heartbeat(code, "s4", following=True)
    store.heartbeat(code, "s3", following=False)  # one already in stays in
    room_store_factory.clock.advance(60)
    store.heartbeat(code, "s1", following=True)
    room_store_factory.clock.advance(41)  # s2 and s3 unseen for the room's TTL: they no longer count
    store.heartbeat(code, "s4", following=True)
    store.heartbeat(code, "s5", following=True)
    with pytest.raises(RoomFull):
        store.heartbeat(code, "s6", following=True)


def test_presence_counts_students_seen_lately(room_store_factory: StoreFactory) -> None:
    store = room_store_factory.make()
    code, _key = store.create_room()
    assert store.presence(code) == Presence(0, 0, ())
    store.heartbeat(code, "s1", following=True, nickname="Zoe")
    store.heartbeat(code, "s2", following=False, nickname="")
    store.heartbeat(code, "s3", following=True, nickname="Ada")
    assert store.presence(code) == Presence(3, 2, ("Ada", "Zoe"))
    store.heartbeat(code, "s1", following=False, nickname="Zoë")  # a heartbeat replaces what it said
    assert store.presence(code) == Presence(3, 1, ("Ada", "Zoë"))
    room_store_factory.clock.advance(15)
    store.heartbeat(code, "s2", following=True)
    room_store_factory.clock.advance(10)  # s1 and s3: 25 s without a heartbeat
    assert store.presence(code) == Presence(1, 1, ())


def test_leave_forgets_the_student(store: RoomStore) -> None:
    code, key = store.create_room()
    store.heartbeat(code, "s1", following=True, nickname="Ada")
    store.heartbeat(code, "s2", following=True, nickname="Bo")
    store.leave(code, "s1")
    assert store.presence(code) == Presence(1, 1, ("Bo",))
    store.leave(code, "s1")
    store.leave(code, "never-here")
    store.close_room(code, key)
    store.leave(code, "s2")  # the room is gone: nothing to forget, no error


def test_answers_one_per_student_for_the_open_question(store: RoomStore) -> None:
    code, key = store.create_room()
    assert not store.answer(code, 0, "s1", 0)  # no question yet
    assert store.ask(code, key, QUESTION) == 1
    assert store.question(code) == QuestionState(1, QUESTION, False) and store.poll(code) == RoomPoll(0, 1, False)
    assert store.answer_counts(code, 1) == (0, 0, 0)
    assert store.answer(code, 1, "s1", 0) and store.answer(code, 1, "s2", 1) and store.answer(code, 1, "s3", 1)
    assert store.answer(code, 1, "s1", 2)  # a second answer replaces the first
    assert store.answer_counts(code, 1) == (0, 2, 1)
    for choice in (3, -1, True, 1.0, "1", None):
        assert not store.answer(code, 1, "s4", choice)
    for question_id in (0, 2, "1", True):
        assert not store.answer(code, question_id, "s4", 0)
    assert store.answer_counts(code, 1) == (0, 2, 1)
    store.reveal(code, key)
    assert store.poll(code) == RoomPoll(0, 1, True) and store.question(code).revealed
    assert not store.answer(code, 1, "s4", 0) and not store.answer(code, 1, "s1", 0)
    assert store.answer_counts(code, 1) == (0, 2, 1)
    assert store.ask(code, key, {"choices": ["yes", "no"]}) == 2  # a new question: old answers dropped
    assert store.question(code) == QuestionState(2, {"choices": ["yes", "no"]}, False)
    assert store.answer_counts(code, 2) == (0, 0) and store.answer_counts(code, 1) == ()
    assert not store.answer(code, 1, "s1", 0) and store.answer(code, 2, "s1", 1)
    assert store.answer_counts(code, 2) == (0, 1)


def test_rooms_expire_after_their_ttl_unless_active(room_store_factory: StoreFactory) -> None:
    store = room_store_factory.make(ttl_s=1)
    code, key = store.create_room()
    idle_code, idle_key = store.create_room()
    store.ask(code, key, QUESTION)
    store.answer(code, 1, "s1", 0)
    for _ in range(2):
        room_store_factory.let_expire(0.6)
        store.heartbeat(code, "s1", following=True)  # a student's heartbeat keeps the room
    room_store_factory.let_expire(0.6)
    store.publish(code, key, {"page": "x"})  # and so does the teacher
    room_store_factory.let_expire(0.6)
    assert store.poll(code) == RoomPoll(1, 1, False) and store.answer_counts(code, 1) == (1, 0, 0)
    for call in (store.poll, store.view, store.presence, store.question, lambda c: store.answer_counts(c, 0),
                 lambda c: store.heartbeat(c, "s1", True), lambda c: store.join(c, "10.0.0.1")):
        with pytest.raises(RoomNotFound):
            call(idle_code)
    assert not store.is_presenter(idle_code, idle_key)
    room_store_factory.let_expire(1.5)
    with pytest.raises(RoomNotFound):
        store.poll(code)
    assert not store.answer(code, 1, "s1", 0)
    if room_store_factory.backend == "redis":
        assert [k for k in room_store_factory.keys() if ":room:" in k] == []


def test_closing_a_room_removes_everything_of_it(room_store_factory: StoreFactory) -> None:
    store = room_store_factory.make()
    code, key = store.create_room()
    store.publish(code, key, {"page": "x"})
    store.heartbeat(code, "s1", following=True, nickname="Ada")
    store.ask(code, key, QUESTION)
    store.answer(code, 1, "s1", 1)
    store.reveal(code, key)
    store.close_room(code, key)
    with pytest.raises(RoomNotFound):
        store.poll(code)
    assert not store.is_presenter(code, key)
    if room_store_factory.backend == "redis":
        assert room_store_factory.keys() == []
    else:
        assert vars(store)["_rooms"] == {}


@pytest.mark.parametrize(("typed", "kept"), [
    ("  Ada  Lovelace ", "Ada Lovelace"), ("Ada\tLove\nlace", "Ada Love lace"), ("A\x00d\x1ba\x7f", "Ada"),
    ("evil\u202eeman", "evileman"), ("zero\u200bwidth", "zerowidth"), ("x" * 100, "x" * NICKNAME_LENGTH),
    ("小明", "小明"), ("", ""), ("\x00\x01", ""), (None, ""),
])
def test_nicknames_are_cleaned(typed, kept) -> None:
    assert clean_nickname(typed) == kept


def test_nicknames_are_cleaned_when_stored(store: RoomStore) -> None:
    code, _key = store.create_room()
    store.heartbeat(code, "s1", following=True, nickname="\u202eAda\x00 " + "y" * 50)
    (nickname,) = store.presence(code).nicknames
    assert nickname == ("Ada " + "y" * 50)[:NICKNAME_LENGTH]


def test_room_store_is_redis_when_a_url_is_set(monkeypatch: pytest.MonkeyPatch, redis_url: str) -> None:
    from explorer.runtime.room_redis import RedisRoomStore

    rooms.room_store.cache_clear()
    monkeypatch.setenv("EXPLORER_REDIS_URL", redis_url)
    try:
        assert isinstance(rooms.room_store(), RedisRoomStore) and rooms.room_store() is rooms.room_store()
        rooms.room_store.cache_clear()
        monkeypatch.setenv("EXPLORER_REDIS_URL", "")
        assert isinstance(rooms.room_store(), MemoryRoomStore)
        rooms.room_store.cache_clear()
        monkeypatch.delenv("EXPLORER_REDIS_URL")
        assert isinstance(rooms.room_store(), MemoryRoomStore) and rooms.room_store() is rooms.room_store()
    finally:
        rooms.room_store.cache_clear()


def test_a_redis_that_cannot_be_reached_raises_room_store_down() -> None:
    from explorer.runtime.room_redis import RedisRoomStore

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    store = RedisRoomStore(f"redis://127.0.0.1:{port}/0")
    for call in (store.create_room, lambda: store.poll("ABCDE"), lambda: store.join("ABCDE", "10.0.0.1"),
                 lambda: store.heartbeat("ABCDE", "s1", True), lambda: store.presence("ABCDE")):
        with pytest.raises(RoomStoreDown) as raised:
            call()
        assert raised.value.message == RoomStoreDown.message


def test_two_replicas_share_their_rooms(redis_url: str) -> None:
    """Two stores on one URL and prefix, as two app replicas behind a load balancer."""
    from explorer.runtime.room_redis import RedisRoomStore

    prefix = f"test:{uuid.uuid4().hex}:"
    teacher_side, student_side = RedisRoomStore(redis_url, prefix=prefix), RedisRoomStore(redis_url, prefix=prefix)
    code, key = teacher_side.create_room()
    student_side.join(code, "10.0.0.5")
    assert student_side.is_presenter(code, key)
    teacher_side.publish(code, key, {"page": "predict"})
    assert student_side.poll(code) == RoomPoll(1, 0, False) and student_side.view(code) == (1, {"page": "predict"})
    student_side.heartbeat(code, "s1", following=True, nickname="Ada")
    assert teacher_side.presence(code) == Presence(1, 1, ("Ada",))
    question_id = teacher_side.ask(code, key, QUESTION)
    assert student_side.poll(code).question_id == question_id
    assert student_side.answer(code, question_id, "s1", 2)
    assert teacher_side.answer_counts(code, question_id) == (0, 0, 1)
    student_side.publish(code, key, {"page": "anatomy"})  # the teacher's key works on any replica
    assert teacher_side.view(code) == (2, {"page": "anatomy"})
    student_side.close_room(code, key)
    with pytest.raises(RoomNotFound):
        teacher_side.poll(code)


@pytest.mark.parametrize("attempt", range(5))  # a lost update shows in most runs, not all: five runs
def test_the_memory_store_counts_exactly_under_threads(attempt: int) -> None:
    """8 threads × 50 heartbeats, answers and publishes at once, threads switching as often as
    Python lets them: nothing is lost, and the class's student limit holds exactly."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    store = MemoryRoomStore(max_students=300)
    code, key = store.create_room()
    question_id = store.ask(code, key, QUESTION)

    def student_thread(thread: int) -> int:
        refused = 0
        for index in range(50):
            student = f"t{thread}-{index}"
            try:
                store.heartbeat(code, student, following=index % 2 == 0, nickname=f"n{student}")
            except RoomFull:
                refused += 1
            store.answer(code, question_id, student, index % 3)
            store.publish(code, key, {"thread": thread, "index": index})
        return refused

    try:
        refused = run_together(*(functools.partial(student_thread, thread) for thread in range(8)))
    finally:
        sys.setswitchinterval(interval)
    presence = store.presence(code)
    assert sum(refused) == 100 and (presence.connected, len(presence.nicknames)) == (300, 300)
    assert store.answer_counts(code, question_id) == (8 * 17, 8 * 17, 8 * 16)
    assert store.poll(code).view_version == 400
