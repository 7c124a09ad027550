"""Class mode's rooms: a teacher's view that students follow by a short code, and quick checks.

One interface (`RoomStore`), two backends with the same behaviour: `MemoryRoomStore` here, in
this process (the default: ``make run`` needs nothing else started), and
`explorer.runtime.room_redis.RedisRoomStore` when ``EXPLORER_REDIS_URL`` is set, so that the
replicas behind a load balancer share their rooms. `room_store` picks one per process. The
interface, codes, keys, errors and limits live in `explorer.runtime.room_interface` and are
re-exported here: the UI imports everything of class mode from this module.

What a room keeps: its code, the SHA-256 of its teacher's (presenter's) key, the view and the
question the teacher published, and per student only a random id the UI made, a nickname, when
it was last seen, whether it follows the teacher, and its answer. A room that sees no teacher
action, student heartbeat nor answer for ``ttl_s`` is gone. Calls on a gone room raise
`RoomNotFound`, except `leave` (nothing to forget) and `answer` (an answer to nothing is
ignored). A wrong key raises `NotPresenter` whether the room exists or not: only `join` tells
that a code exists, and it limits how often a client may guess.
"""

from __future__ import annotations

import functools
import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from explorer.runtime.room_interface import (
    BadView,
    clean_nickname,
    client_tag,
    CODE_ALPHABET,
    CODE_LENGTH,
    CODE_TRIES,
    guess_window,
    is_whole_number,
    GUESSES_PER_MINUTE,
    GUESSES_PER_MINUTE_ALL,
    key_fits,
    MAX_ROOMS,
    MAX_STUDENTS,
    MAX_VIEW_BYTES,
    new_code,
    new_presenter_key,
    NICKNAME_LENGTH,
    normalize_code,
    NotPresenter,
    Presence,
    PRESENCE_WINDOW_S,
    question_json,
    QuestionState,
    ROOM_TTL_S,
    RoomError,
    RoomFull,
    RoomNotFound,
    RoomPoll,
    RoomsFull,
    RoomStore,
    RoomStoreDown,
    TooManyGuesses,
    view_json,
)

__all__ = [  # what the UI uses; the rest of room_interface is for the backends
    "BadView",
    "clean_nickname",
    "CODE_ALPHABET",
    "CODE_LENGTH",
    "GUESSES_PER_MINUTE",
    "GUESSES_PER_MINUTE_ALL",
    "MAX_ROOMS",
    "MAX_STUDENTS",
    "MAX_VIEW_BYTES",
    "MemoryRoomStore",
    "NICKNAME_LENGTH",
    "normalize_code",
    "NotPresenter",
    "Presence",
    "PRESENCE_WINDOW_S",
    "QuestionState",
    "room_store",
    "ROOM_TTL_S",
    "RoomError",
    "RoomFull",
    "RoomNotFound",
    "RoomPoll",
    "RoomsFull",
    "RoomStore",
    "RoomStoreDown",
    "TooManyGuesses",
]


@dataclass
class _Room:
    """One room's state; mutable because only `MemoryRoomStore` changes it, under its lock."""

    key_digest: str
    last_active: float
    view_version: int = 0
    view: str | None = None  # JSON: a caller changing its dict later does not change the room
    question_id: int = 0
    question: str | None = None
    choice_count: int = 0
    revealed: bool = False
    students: dict[str, tuple[float, bool, str]] = field(default_factory=dict)  # id -> (seen, following, nickname)
    answers: dict[str, int] = field(default_factory=dict)  # student id -> choice


class MemoryRoomStore(RoomStore):
    """Rooms in this process's memory, for one server; expired rooms go when next looked at."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, ttl_s: float = ROOM_TTL_S,
                 max_rooms: int = MAX_ROOMS, max_students: int = MAX_STUDENTS) -> None:
        self._clock, self._ttl_s = clock, ttl_s
        self._max_rooms, self._max_students = max_rooms, max_students
        self._rooms: dict[str, _Room] = {}
        self._guesses: dict[tuple[int, str], int] = {}  # (minute, client tag or "") -> failed joins
        self._lock = threading.Lock()

    def _live(self, code: str, now: float) -> _Room | None:
        room = self._rooms.get(code)
        if room is not None and room.last_active + self._ttl_s <= now:
            del self._rooms[code]
            return None
        return room

    def _room(self, code: str, now: float) -> _Room:
        room = self._live(code, now)
        if room is None:
            raise RoomNotFound(code)
        return room

    def _presenter_room(self, code: str, key: str, now: float) -> _Room:
        room = self._live(code, now)
        if room is None or not key_fits(key, room.key_digest):
            raise NotPresenter(code)
        room.last_active = now
        return room

    def create_room(self) -> tuple[str, str]:
        key, digest = new_presenter_key()
        with self._lock:
            now = self._clock()
            for code in list(self._rooms):
                self._live(code, now)
            if len(self._rooms) >= self._max_rooms:
                raise RoomsFull(f"{len(self._rooms)} rooms")
            for _ in range(CODE_TRIES):
                code = new_code()
                if code not in self._rooms:
                    self._rooms[code] = _Room(digest, now)
                    return code, key
        raise RuntimeError(f"no free room code in {CODE_TRIES} tries")

    def is_presenter(self, code: str, key: str) -> bool:
        with self._lock:
            room = self._live(code, self._clock())
            return room is not None and key_fits(key, room.key_digest)

    def join(self, code: str, client: str) -> None:
        with self._lock:
            now = self._clock()
            window, tag = guess_window(now), client_tag(client)
            self._guesses = {k: n for k, n in self._guesses.items() if k[0] == window}
            if (self._guesses.get((window, tag), 0) >= GUESSES_PER_MINUTE
                    or self._guesses.get((window, ""), 0) >= GUESSES_PER_MINUTE_ALL):
                raise TooManyGuesses(code)
            if self._live(code, now) is None:
                for counted in ((window, tag), (window, "")):
                    self._guesses[counted] = self._guesses.get(counted, 0) + 1
                raise RoomNotFound(code)

    def publish(self, code: str, key: str, view: dict) -> int:
        text = view_json(view)
        with self._lock:
            room = self._presenter_room(code, key, self._clock())
            room.view, room.view_version = text, room.view_version + 1
            return room.view_version

    def view(self, code: str) -> tuple[int, dict | None]:
        with self._lock:
            room = self._room(code, self._clock())
            return room.view_version, None if room.view is None else json.loads(room.view)

    def poll(self, code: str) -> RoomPoll:
        with self._lock:
            room = self._room(code, self._clock())
            return RoomPoll(room.view_version, room.question_id, room.revealed)

    def heartbeat(self, code: str, student_id: str, following: bool, nickname: str = "") -> None:
        with self._lock:
            now = self._clock()
            room = self._room(code, now)
            if student_id not in room.students and len(room.students) >= self._max_students:
                room.students = {s: seen for s, seen in room.students.items() if seen[0] > now - self._ttl_s}
                if len(room.students) >= self._max_students:
                    raise RoomFull(code)
            room.students[student_id] = (now, bool(following), clean_nickname(nickname))
            room.last_active = now

    def leave(self, code: str, student_id: str) -> None:
        with self._lock:
            room = self._live(code, self._clock())
            if room is not None:
                room.students.pop(student_id, None)

    def presence(self, code: str) -> Presence:
        with self._lock:
            now = self._clock()
            seen = [s for s in self._room(code, now).students.values() if s[0] > now - PRESENCE_WINDOW_S]
        return Presence(len(seen), sum(following for _, following, _ in seen),
                        tuple(sorted(nickname for _, _, nickname in seen if nickname)))

    def ask(self, code: str, key: str, question: dict) -> int:
        text, choice_count = question_json(question)
        with self._lock:
            room = self._presenter_room(code, key, self._clock())
            room.question, room.choice_count, room.revealed = text, choice_count, False
            room.question_id += 1
            room.answers = {}
            return room.question_id

    def question(self, code: str) -> QuestionState:
        with self._lock:
            room = self._room(code, self._clock())
            return QuestionState(room.question_id, None if room.question is None else json.loads(room.question),
                                 room.revealed)

    def answer(self, code: str, question_id: int, student_id: str, choice: int) -> bool:
        with self._lock:
            now = self._clock()
            room = self._live(code, now)
            if (room is None or not is_whole_number(question_id) or question_id != room.question_id
                    or room.revealed or not is_whole_number(choice) or choice >= room.choice_count):
                return False
            room.answers[student_id] = choice
            room.last_active = now
            return True

    def answer_counts(self, code: str, question_id: int) -> tuple[int, ...]:
        with self._lock:
            room = self._room(code, self._clock())
            if question_id != room.question_id:
                return ()
            counts = [0] * room.choice_count
            for choice in room.answers.values():
                counts[choice] += 1
            return tuple(counts)

    def reveal(self, code: str, key: str) -> None:
        with self._lock:
            self._presenter_room(code, key, self._clock()).revealed = True

    def close_room(self, code: str, key: str) -> None:
        with self._lock:
            self._presenter_room(code, key, self._clock())
            del self._rooms[code]


@functools.cache
def room_store() -> RoomStore:
    """The process's one store: every session of this server must see the same rooms (and, with
    ``EXPLORER_REDIS_URL``, every replica's sessions, through Redis)."""
    url = os.environ.get("EXPLORER_REDIS_URL", "")
    if url:
        from explorer.runtime.room_redis import RedisRoomStore

        return RedisRoomStore(url)
    return MemoryRoomStore()
