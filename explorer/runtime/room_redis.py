"""The class-room store in Redis, so that the app's replicas behind a load balancer share rooms.

Keys under ``prefix`` (default ``explorer:``), all of a room's with its TTL, refreshed together on
activity, so an idle room goes by itself:

* ``room:CODE`` hash: ``key`` (the presenter key's SHA-256), ``view_version``, ``view`` (JSON),
  ``question_id``, ``question`` (JSON), ``choice_count``, ``revealed`` (0/1);
* ``room:CODE:seen`` zset: student id -> last heartbeat; ``room:CODE:students`` hash: student id
  -> JSON ``[following, nickname]``; ``room:CODE:answers`` hash: student id -> choice;
* ``rooms`` zset: code -> last activity, which bounds how many rooms live;
* ``guesses:MINUTE:CLIENT`` and ``guesses:MINUTE:all``: failed joins, gone after two minutes.

What must not interleave with another replica's call (a room created within the limit, a
version's increment, a new student within the limit, an answer to the current question) is a
Lua script, which Redis runs alone. Times come from ``clock`` (every replica's ``time.time``).
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable

import redis

from explorer.runtime.room_interface import (
    CODE_TRIES,
    GUESS_WINDOW_S,
    GUESSES_PER_MINUTE,
    GUESSES_PER_MINUTE_ALL,
    MAX_ROOMS,
    MAX_STUDENTS,
    PRESENCE_WINDOW_S,
    ROOM_TTL_S,
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
    client_tag,
    guess_window,
    is_whole_number,
    key_fits,
    new_code,
    new_presenter_key,
    question_json,
    view_json,
)

# Every room script gets KEYS = (room, seen, students, answers, rooms) and ARGV[1..3] = (now, TTL in
# ms, code); this ends each change: the room's keys live another TTL, the room counts as active.
_TOUCH = """
for i = 1, 4 do redis.call('PEXPIRE', KEYS[i], ARGV[2]) end
redis.call('ZADD', KEYS[5], ARGV[1], ARGV[3])
"""
# ARGV[4..6]: the key's digest, the room limit, the last activity of a room that has expired.
_CREATE = """
redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', ARGV[6])
if redis.call('ZCARD', KEYS[5]) >= tonumber(ARGV[5]) then return -1 end
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'key', ARGV[4], 'view_version', 0, 'question_id', 0, 'choice_count', 0, 'revealed', 0)
""" + _TOUCH + "return 1"
# ARGV[4]: the counter to increment ('' for none), ARGV[5]: '1' to drop the answers, then field/value pairs.
_UPDATE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if ARGV[5] == '1' then redis.call('DEL', KEYS[4]) end
if #ARGV > 5 then redis.call('HSET', KEYS[1], unpack(ARGV, 6)) end
local counted = 0
if ARGV[4] ~= '' then counted = redis.call('HINCRBY', KEYS[1], ARGV[4], 1) end
""" + _TOUCH + "return counted"
# ARGV[4..7]: student id, its JSON [following, nickname], the student limit, the last heartbeat of a
# student who no longer counts against it.
_HEARTBEAT = """
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if not redis.call('ZSCORE', KEYS[2], ARGV[4]) and redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[6]) then
  local gone = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[7])
  if #gone > 0 then
    redis.call('ZREM', KEYS[2], unpack(gone))
    redis.call('HDEL', KEYS[3], unpack(gone))
  end
  if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[6]) then return 0 end
end
redis.call('ZADD', KEYS[2], ARGV[1], ARGV[4])
redis.call('HSET', KEYS[3], ARGV[4], ARGV[5])
""" + _TOUCH + "return 1"
# ARGV[4..6]: the question id answered, student id, choice (checked >= 0 before).
_ANSWER = """
local state = redis.call('HMGET', KEYS[1], 'question_id', 'revealed', 'choice_count')
if not state[1] or state[1] ~= ARGV[4] or state[2] ~= '0' or tonumber(ARGV[6]) >= tonumber(state[3]) then
  return 0
end
redis.call('HSET', KEYS[4], ARGV[5], ARGV[6])
""" + _TOUCH + "return 1"
# KEYS = (room, the client's failed joins, everyone's); ARGV = (limit per client, limit for all, TTL in s).
_JOIN = """
if tonumber(redis.call('GET', KEYS[2]) or '0') >= tonumber(ARGV[1])
   or tonumber(redis.call('GET', KEYS[3]) or '0') >= tonumber(ARGV[2]) then return -1 end
if redis.call('EXISTS', KEYS[1]) == 1 then return 1 end
for i = 2, 3 do
  redis.call('INCR', KEYS[i])
  redis.call('EXPIRE', KEYS[i], ARGV[3])
end
return 0
"""


def _reachable(method):
    """Redis failures leave the store as `RoomStoreDown`, which the UI shows like any RoomError."""
    @functools.wraps(method)
    def call(*args, **kwargs):
        try:
            return method(*args, **kwargs)
        except redis.exceptions.RedisError as error:
            raise RoomStoreDown(str(error)) from error
    return call


class RedisRoomStore(RoomStore):
    """Rooms in Redis at ``url``, shared by every store made with the same URL and ``prefix``."""

    def __init__(self, url: str, clock: Callable[[], float] = time.time, prefix: str = "explorer:",
                 ttl_s: float = ROOM_TTL_S, max_rooms: int = MAX_ROOMS, max_students: int = MAX_STUDENTS) -> None:
        # Short timeouts: a page that polls twice a second must not hang on a lost server.
        self._redis = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2,
                                           health_check_interval=30, decode_responses=True)
        self._clock, self._prefix, self._ttl_s = clock, prefix, ttl_s
        self._max_rooms, self._max_students = max_rooms, max_students
        self._create, self._update, self._heartbeat, self._answer, self._join = (
            self._redis.register_script(s) for s in (_CREATE, _UPDATE, _HEARTBEAT, _ANSWER, _JOIN))

    def _room_key(self, code: str) -> str:
        return f"{self._prefix}room:{code}"

    def _keys(self, code: str) -> list[str]:
        room = self._room_key(code)
        return [room, f"{room}:seen", f"{room}:students", f"{room}:answers", f"{self._prefix}rooms"]

    def _args(self, code: str, now: float, *rest: object) -> list[object]:
        return [repr(now), int(self._ttl_s * 1000), code, *rest]

    def _check_presenter(self, code: str, key: str) -> None:
        if not self.is_presenter(code, key):
            raise NotPresenter(code)

    def _change(self, code: str, counter: str = "", drop_answers: bool = False, **fields: object) -> int:
        """Set ``fields`` of the room, and increment ``counter`` (its new value), in one step."""
        pairs = [item for pair in fields.items() for item in pair]
        counted = self._update(keys=self._keys(code),
                               args=self._args(code, self._clock(), counter, int(drop_answers), *pairs))
        if counted == -1:
            raise RoomNotFound(code)
        return counted

    @_reachable
    def create_room(self) -> tuple[str, str]:
        key, digest = new_presenter_key()
        for _ in range(CODE_TRIES):
            code, now = new_code(), self._clock()
            created = self._create(keys=self._keys(code),
                                   args=self._args(code, now, digest, self._max_rooms, repr(now - self._ttl_s)))
            if created == -1:
                raise RoomsFull(f"{self._max_rooms} rooms")
            if created == 1:
                return code, key
        raise RuntimeError(f"no free room code in {CODE_TRIES} tries")

    @_reachable
    def is_presenter(self, code: str, key: str) -> bool:
        return key_fits(key, self._redis.hget(self._room_key(code), "key"))

    @_reachable
    def join(self, code: str, client: str) -> None:
        window = f"{self._prefix}guesses:{guess_window(self._clock())}"
        found = self._join(keys=[self._room_key(code), f"{window}:{client_tag(client)}", f"{window}:all"],
                           args=[GUESSES_PER_MINUTE, GUESSES_PER_MINUTE_ALL, 2 * GUESS_WINDOW_S])
        if found == -1:
            raise TooManyGuesses(code)
        if found == 0:
            raise RoomNotFound(code)

    @_reachable
    def publish(self, code: str, key: str, view: dict) -> int:
        text = view_json(view)
        self._check_presenter(code, key)
        return self._change(code, counter="view_version", view=text)

    @_reachable
    def view(self, code: str) -> tuple[int, dict | None]:
        version, text = self._redis.hmget(self._room_key(code), ["view_version", "view"])
        if version is None:
            raise RoomNotFound(code)
        return int(version), None if text is None else json.loads(text)

    @_reachable
    def poll(self, code: str) -> RoomPoll:
        version, question_id, revealed = self._redis.hmget(self._room_key(code),
                                                           ["view_version", "question_id", "revealed"])
        if version is None:
            raise RoomNotFound(code)
        return RoomPoll(int(version), int(question_id), revealed == "1")

    @_reachable
    def heartbeat(self, code: str, student_id: str, following: bool, nickname: str = "") -> None:
        now = self._clock()
        details = json.dumps([bool(following), clean_nickname(nickname)])
        counted = self._heartbeat(keys=self._keys(code), args=self._args(
            code, now, student_id, details, self._max_students, repr(now - self._ttl_s)))
        if counted == -1:
            raise RoomNotFound(code)
        if counted == 0:
            raise RoomFull(code)

    @_reachable
    def leave(self, code: str, student_id: str) -> None:
        _room, seen, students, _answers, _rooms = self._keys(code)
        with self._redis.pipeline() as pipe:
            pipe.zrem(seen, student_id).hdel(students, student_id).execute()

    @_reachable
    def presence(self, code: str) -> Presence:
        room, seen, students, _answers, _rooms = self._keys(code)
        with self._redis.pipeline() as pipe:
            exists, recent, details = (pipe.exists(room).zrangebyscore(seen, f"({self._clock() - PRESENCE_WINDOW_S!r}",
                                                                       "+inf").hgetall(students).execute())
        if not exists:
            raise RoomNotFound(code)
        shown = [json.loads(details[s]) for s in recent if s in details]
        return Presence(len(shown), sum(following for following, _ in shown),
                        tuple(sorted(nickname for _, nickname in shown if nickname)))

    @_reachable
    def ask(self, code: str, key: str, question: dict) -> int:
        text, choice_count = question_json(question)
        self._check_presenter(code, key)
        return self._change(code, counter="question_id", drop_answers=True, question=text,
                            choice_count=choice_count, revealed=0)

    @_reachable
    def question(self, code: str) -> QuestionState:
        question_id, text, revealed = self._redis.hmget(self._room_key(code), ["question_id", "question", "revealed"])
        if question_id is None:
            raise RoomNotFound(code)
        return QuestionState(int(question_id), None if text is None else json.loads(text), revealed == "1")

    @_reachable
    def answer(self, code: str, question_id: int, student_id: str, choice: int) -> bool:
        if not (is_whole_number(choice) and is_whole_number(question_id)):
            return False
        return self._answer(keys=self._keys(code),
                            args=self._args(code, self._clock(), question_id, student_id, choice)) == 1

    @_reachable
    def answer_counts(self, code: str, question_id: int) -> tuple[int, ...]:
        room, _seen, _students, answers, _rooms = self._keys(code)
        with self._redis.pipeline() as pipe:  # a transaction: the answers of the question read
            (current, choice_count), choices = pipe.hmget(room, ["question_id", "choice_count"]).hvals(answers).execute()
        if current is None:
            raise RoomNotFound(code)
        if int(current) != question_id:
            return ()
        counts = [0] * int(choice_count)
        for choice in choices:
            counts[int(choice)] += 1
        return tuple(counts)

    @_reachable
    def reveal(self, code: str, key: str) -> None:
        self._check_presenter(code, key)
        self._change(code, revealed=1)

    @_reachable
    def close_room(self, code: str, key: str) -> None:
        self._check_presenter(code, key)
        *room_keys, rooms = self._keys(code)
        with self._redis.pipeline() as pipe:
            pipe.delete(*room_keys).zrem(rooms, code).execute()
