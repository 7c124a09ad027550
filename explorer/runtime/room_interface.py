"""What both class-room stores share: the `RoomStore` interface, codes, presenter keys, errors,
limits and the checks of what goes in. `explorer.runtime.rooms` re-exports all of it with the
in-process store and `room_store`; the UI imports from there. This module is apart so that the
Redis backend can import it without an import circle through the factory."""

from __future__ import annotations

import abc
import hashlib
import hmac
import json
import secrets
import unicodedata
from dataclasses import dataclass

from explorer.runtime.i18n import N_

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no O/0, no I/1: read aloud or off a board
CODE_LENGTH = 5  # 32**5 ≈ 33 million codes against at most MAX_ROOMS live ones
ROOM_TTL_S = 4 * 3600  # a room expires after this much inactivity (a long lesson and a break)
MAX_ROOMS = 100  # live rooms per server (per Redis prefix with replicas)
MAX_STUDENTS = 200  # students seen within ROOM_TTL_S per room
MAX_VIEW_BYTES = 16_384  # JSON of a view or a question: settings, not pictures
NICKNAME_LENGTH = 24
PRESENCE_WINDOW_S = 20  # a student's page heartbeats more often than this while it is open
GUESSES_PER_MINUTE = 10  # failed joins per client: a mistyped code or two, not a search
GUESSES_PER_MINUTE_ALL = 300  # failed joins per store: a search from many addresses
MAX_KEY_LENGTH = 64  # a presenter key is 32 characters; longer text is not worth hashing
GUESS_WINDOW_S = 60  # the limits above count per minute
CODE_TRIES = 20  # collisions are rare (see CODE_LENGTH); this many in a row means a bug


class RoomError(Exception):
    """A class-mode call that could not be done; `message` is an English sentence marked for the
    catalog, which the UI shows through ``_()`` in the reader's language."""

    message = N_("The class could not do that just now: try again.")


class RoomNotFound(RoomError):
    message = N_("No class has that code. Check it with your teacher.")


class TooManyGuesses(RoomError):
    message = N_("Too many wrong codes: wait a minute and try again.")


class RoomsFull(RoomError):
    message = N_("This server already has as many classes as it can hold: try again later.")


class RoomFull(RoomError):
    message = N_("This class is full.")


class NotPresenter(RoomError):
    message = N_("Only the teacher of this class can do that.")


class BadView(RoomError):
    message = N_("This cannot be shared with the class: it is too large.")


class RoomStoreDown(RoomError):
    message = N_("The class server cannot be reached right now; try again in a moment.")


@dataclass(frozen=True)
class RoomPoll:
    """What a student's page asks for twice a second: one cheap call tells it what changed."""

    view_version: int  # 0: nothing published yet
    question_id: int  # 0: no question asked yet
    revealed: bool  # the current question's answer is shown


@dataclass(frozen=True)
class Presence:
    """Students whose heartbeat came within PRESENCE_WINDOW_S."""

    connected: int
    following: int  # of those, how many follow the teacher's view
    nicknames: tuple[str, ...]  # the non-empty ones, sorted


@dataclass(frozen=True)
class QuestionState:
    question_id: int
    question: dict | None  # as the teacher asked it; None before the first
    revealed: bool


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalize_code(text: str) -> str | None:
    """The code a student typed ("abc-de", " ABCDE ") in its stored form, or None if it cannot be one."""
    if not isinstance(text, str) or len(text) > 4 * CODE_LENGTH:
        return None
    code = text.strip().replace(" ", "").replace("-", "").upper()
    if len(code) != CODE_LENGTH or any(c not in CODE_ALPHABET for c in code):
        return None
    return code


def new_presenter_key() -> tuple[str, str]:
    """(key, its digest): the teacher's browser keeps the key, the store only the digest."""
    key = secrets.token_urlsafe(24)
    return key, key_digest(key)


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def key_fits(key: object, stored_digest: str | None) -> bool:
    """Whether ``key`` is the one whose digest is stored, compared in constant time."""
    if stored_digest is None or not isinstance(key, str) or len(key) > MAX_KEY_LENGTH:
        return False
    return hmac.compare_digest(key_digest(key), stored_digest)


def clean_nickname(text: str) -> str:
    """A nickname safe to show to the class: no control or format characters (which can hide or
    reorder text), whitespace collapsed, at most NICKNAME_LENGTH characters; may be empty."""
    if not isinstance(text, str):
        return ""
    kept = "".join(" " if c.isspace() else c for c in text[: 16 * NICKNAME_LENGTH]
                   if c.isspace() or not unicodedata.category(c).startswith("C"))
    return " ".join(kept.split())[:NICKNAME_LENGTH].strip()


def client_tag(client: str) -> str:
    """What the guess limit keeps of a client (an IP address): a digest, not the address."""
    return hashlib.sha256(str(client).encode()).hexdigest()[:32]


def guess_window(now: float) -> int:
    """The minute a failed join counts in: the limits reset when it passes."""
    return int(now // GUESS_WINDOW_S)


def view_json(view: object) -> str:
    """``view`` as the JSON stored and sent to students; BadView when it is not plain data or too large."""
    if not isinstance(view, dict):
        raise BadView(f"a view is a dict, not {type(view).__name__}")
    try:
        text = json.dumps(view, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as error:
        raise BadView(f"the view is not JSON data: {error}") from error
    if len(text.encode()) > MAX_VIEW_BYTES:
        raise BadView(f"the view's JSON is {len(text.encode())} bytes, over {MAX_VIEW_BYTES}")
    return text


def question_json(question: object) -> tuple[str, int]:
    """(the question's JSON, its number of choices); BadView unless it has a list of ``choices``."""
    text = view_json(question)
    choices = question.get("choices")  # type: ignore[union-attr] - a dict, checked above
    if not isinstance(choices, (list, tuple)) or not choices:
        raise BadView("a question needs a non-empty list of choices")
    return text, len(choices)


def is_whole_number(value: object) -> bool:
    """An int >= 0 but not a bool: a choice or question id as the UI sends it, and nothing else."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


class RoomStore(abc.ABC):
    """Rooms of a class: the teacher's calls take the presenter key, students' calls their own id."""

    @abc.abstractmethod
    def create_room(self) -> tuple[str, str]:
        """(code, presenter key) of a new room; RoomsFull when the server holds its limit."""

    @abc.abstractmethod
    def is_presenter(self, code: str, key: str) -> bool: ...

    @abc.abstractmethod
    def join(self, code: str, client: str) -> None:
        """Nothing if the room exists; RoomNotFound (a failed guess for ``client`` and the store) or
        TooManyGuesses (even for a right code, until the minute passes)."""

    @abc.abstractmethod
    def publish(self, code: str, key: str, view: dict) -> int:
        """Store the teacher's view; its new version (1 for the first)."""

    @abc.abstractmethod
    def view(self, code: str) -> tuple[int, dict | None]: ...

    @abc.abstractmethod
    def poll(self, code: str) -> RoomPoll: ...

    @abc.abstractmethod
    def heartbeat(self, code: str, student_id: str, following: bool, nickname: str = "") -> None:
        """The student's page is open; RoomFull when a new student would be one over the limit."""

    @abc.abstractmethod
    def leave(self, code: str, student_id: str) -> None:
        """Forget the student (its answer to the current question still counts)."""

    @abc.abstractmethod
    def presence(self, code: str) -> Presence: ...

    @abc.abstractmethod
    def ask(self, code: str, key: str, question: dict) -> int:
        """Ask ``question`` (a dict with a list of ``choices``), dropping the old one's answers; its id."""

    @abc.abstractmethod
    def question(self, code: str) -> QuestionState: ...

    @abc.abstractmethod
    def answer(self, code: str, question_id: int, student_id: str, choice: int) -> bool:
        """Record (or replace) the student's answer; False, ignored, for another question than the
        current one, a revealed one, or a choice out of range."""

    @abc.abstractmethod
    def answer_counts(self, code: str, question_id: int) -> tuple[int, ...]:
        """Answers per choice of the current question; () for another question id."""

    @abc.abstractmethod
    def reveal(self, code: str, key: str) -> None: ...

    @abc.abstractmethod
    def close_room(self, code: str, key: str) -> None: ...
