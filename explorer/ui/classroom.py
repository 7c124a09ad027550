"""Class mode: a teacher starts a class, students join it with a code and follow the teacher's view.

Who is who lives in this session only (`Membership`); the room itself lives in the room store
(`explorer.runtime.rooms`: in this process, or in Redis shared by every replica). The teacher's
control is the presenter key in the teacher's session, never in the projected address; a
private teacher link (``?room=CODE&key=…``) resumes it on another device, and the key leaves
the address as soon as it is read. `app.py` calls `class_sidebar`, `before_page` and
`after_page` around every page; `explorer.ui.class_panel` draws the live parts.
"""

from __future__ import annotations

import functools
import io
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import ParamSpec
from urllib.parse import urlencode

import segno
import streamlit as st

from explorer.runtime.i18n import _
from explorer.runtime.rooms import RoomError, clean_nickname, normalize_code, room_store
from explorer.ui import picker
from explorer.ui.class_follow import adopt_view, current_view, followed_values, own_changes
from explorer.ui.text import inert

P = ParamSpec("P")
MEMBERSHIP = "class_membership"  # session state: this session's `Membership`, absent outside a class
PENDING = "class_pending"  # a student's: the teacher's view to take on the next full run
BASELINE = "class_baseline"  # a student's: the followed values as the last run left them
PUBLISHED = "class_published"  # the teacher's: the view last published
NOTICE = "class_notice"  # a sentence to show once in the class panel (why following stopped, a store error)
PAGE = "class_page"  # the page this session shows, for the class panel's fragment runs
ROOM_PARAM, KEY_PARAM = "room", "key"
CODE_PLACEHOLDER = "ABCDE"  # what a code looks like: no words to translate
CODE_HTML = '<div class="class-code">{code}</div>'  # the code is from the store's alphabet: no markup in it
CLASS_STYLE = """<style>
.st-key-class-code .class-code {font: 700 2.6rem/1.1 ui-monospace, monospace; letter-spacing: .12em; text-align: center}
.st-key-class-following, .st-key-class-on-own, .st-key-class-teacher {padding: .35rem .75rem; border-radius: .5rem}
.st-key-class-following, .st-key-class-teacher {background: #e8f1fb}
.st-key-class-on-own {background: #f3f3f3}
</style>"""


@dataclass(frozen=True)
class Membership:
    """This session's place in a class: the teacher's (with the presenter key) or a student's."""

    code: str
    student_id: str  # random, per session: the only thing the room knows of a student, with a nickname
    presenter_key: str | None = None
    following: bool = True
    nickname: str = ""
    view_version: int = 0  # a student's: the teacher's view last taken
    teacher_page: str | None = None  # a student's: the page of that view
    teacher_own: tuple[str, ...] = ()  # a student's: what the teacher shows from an upload

    @property
    def teaching(self) -> bool:
        return self.presenter_key is not None


def membership() -> Membership | None:
    return st.session_state.get(MEMBERSHIP)


def _set(member: Membership | None) -> None:
    if member is None:
        st.session_state.pop(MEMBERSHIP, None)
    else:
        st.session_state[MEMBERSHIP] = member


def say(sentence: str) -> None:
    """Keep ``sentence`` (already in the reader's language) for the class panel to show once."""
    st.session_state[NOTICE] = sentence


def _client() -> str:
    """Who guesses codes, for the store's rate limit: the browser's address, else this session."""
    address = getattr(st.context, "ip_address", None)
    return address or st.session_state.setdefault("class_client", secrets.token_hex(8))


def join_link(code: str, key: str | None = None) -> str:
    """The address that joins ``code`` (with ``key``: the teacher's private link), on this server."""
    base = (st.context.url or "").rstrip("/")
    params = {ROOM_PARAM: code, **({KEY_PARAM: key} if key else {})}
    return f"{base}?{urlencode(params)}"  # the page's own address: a student starts where the teacher is


def qr_png(link: str) -> bytes:
    """The join link as a QR code for the projector (segno writes PNG itself, no image library)."""
    out = io.BytesIO()
    segno.make(link, error="m").save(out, kind="png", scale=8, border=2)
    return out.getvalue()


def start_class() -> None:
    """The start button's callback: a new room, with this session as its teacher."""
    try:
        code, key = room_store().create_room()
    except RoomError as error:
        say(_(error.message))
        return
    _set(Membership(code, secrets.token_hex(8), presenter_key=key))
    st.session_state.pop(PUBLISHED, None)


def join_class(code_text: str) -> None:
    """Join the class ``code_text`` names as a student, following from the teacher's current view."""
    code = normalize_code(code_text)
    store = room_store()
    try:
        store.join(code or "?", _client())  # a code of the wrong shape counts as a wrong guess too
        member = Membership(code, secrets.token_hex(8))
        store.heartbeat(code, member.student_id, following=True)
    except RoomError as error:
        say(_(error.message))
        return
    _set(member)
    st.query_params[ROOM_PARAM] = code


def resume_teaching(code_text: str, key: str) -> None:
    """The teacher link: take the class back on this device, or say why not."""
    code = normalize_code(code_text)
    store = room_store()
    try:
        store.join(code or "?", _client())  # an unknown code counts as a wrong guess
    except RoomError as error:
        say(_(error.message))
        return
    if not store.is_presenter(code, key):
        say(_("This teacher link does not fit the class {code}: ask for it again.").format(code=code))
        return
    _set(Membership(code, secrets.token_hex(8), presenter_key=key))
    st.session_state.pop(PUBLISHED, None)


def leave_class() -> None:
    """A student leaves the class, or the teacher ends it for everyone."""
    member = membership()
    if member is None:
        return
    try:
        if member.teaching:
            room_store().close_room(member.code, member.presenter_key)
        else:
            room_store().leave(member.code, member.student_id)
    except RoomError:
        pass  # gone already, or unreachable: this session leaves all the same
    _set(None)
    st.query_params.pop(ROOM_PARAM, None)


def stop_following(reason: str | None = None) -> None:
    """This student goes their own way (a click of their own, or the leave button)."""
    member = membership()
    if member is not None and member.following:
        _set(replace(member, following=False))
        if reason:
            say(reason)
        safely(lambda: heartbeat(force=True))


def follow_again() -> None:
    """Follow the teacher again: the next run takes the teacher's current view."""
    member = membership()
    if member is None or member.teaching:
        return
    _set(replace(member, following=True, view_version=0))
    st.session_state.pop(BASELINE, None)  # the values the student left with are no change of theirs
    safely(lambda: heartbeat(force=True))


HEARTBEAT_S = 5.0  # how often a student says it is here; presence counts those seen in the store's window


def heartbeat(force: bool = False) -> None:
    """Tell the room this student is here (and whether following), at most every `HEARTBEAT_S`."""
    member = membership()
    if member is None or member.teaching:
        return
    now = time.monotonic()
    if not force and now - st.session_state.get("class_beat", 0.0) < HEARTBEAT_S:
        return
    st.session_state["class_beat"] = now
    room_store().heartbeat(member.code, member.student_id, member.following, member.nickname)


def _links_in_address() -> None:
    """Join from ``?room=CODE``, or resume teaching from the private teacher link; the key never stays."""
    code = st.query_params.get(ROOM_PARAM)
    key = st.query_params.pop(KEY_PARAM, None)
    member = membership()
    if code is None or (member is not None and member.code == normalize_code(code) and key is None):
        return
    if key is not None:
        st.query_params.pop(ROOM_PARAM, None)
        resume_teaching(code, key)
        return
    leave_class()
    st.query_params.pop(ROOM_PARAM, None)  # a wrong code is not tried again on every rerun
    join_class(code)


def class_sidebar() -> None:
    """The sidebar's class section: start or join; the projector's code and QR; nickname and leave."""
    _links_in_address()
    member = membership()
    box = st.sidebar
    if member is None:
        said = st.session_state.pop(NOTICE, None)  # why a join failed, or that the class ended
        if said:
            box.warning(said)
        with box.expander(_("Class mode"), expanded=False):
            st.button(_("Start a class"), key="class_start", on_click=start_class, width="stretch",
                      help=_("You lead: the class follows your page, model and layer, and answers quick checks."))
            st.text_input(_("Join code"), key="class_join_code", max_chars=12, placeholder=CODE_PLACEHOLDER)
            st.button(_("Join the class"), key="class_join", width="stretch",
                      on_click=lambda: join_class(st.session_state.get("class_join_code", "")))
        return
    st.html(CLASS_STYLE)  # style only: it takes no room
    if member.teaching:
        with box.container(key="class-code", border=True):
            st.caption(_("Join at this address, or scan:"))
            st.markdown(CODE_HTML.format(code=member.code), unsafe_allow_html=True)
            link = join_link(member.code)
            st.image(qr_png(link), width="stretch")
            st.caption(inert(link))
        with box.expander(_("Teacher link (private: resumes control on another device)")):
            st.code(join_link(member.code, member.presenter_key), language=None, wrap_lines=True)
        box.button(_("End the class"), key="class_end", on_click=leave_class, width="stretch")
        return
    with box.container(key="class-member", border=True):
        st.markdown(_("In class **{code}**").format(code=member.code))
        nickname = st.text_input(_("Nickname (optional)"), key="class_nickname", max_chars=24,
                                 help=_("Shown to the teacher beside your presence; nothing else about you is kept."))
        if clean_nickname(nickname) != member.nickname:
            _set(replace(member, nickname=clean_nickname(nickname)))
            safely(lambda: heartbeat(force=True))
        st.button(_("Leave the class"), key="class_exit", on_click=leave_class, width="stretch")


def safely(action) -> bool:
    """Run a store ``action``; a store error becomes the panel's notice. Whether it went through."""
    try:
        action()
        return True
    except RoomError as error:
        say(_(error.message))
        return False


def before_page(page_name: str) -> None:
    """A student's page before it runs: go to the teacher's page and take the teacher's view, or
    notice a change of the student's own (another page, another value) and stop following."""
    st.session_state[PAGE] = page_name
    member = membership()
    if member is None or member.teaching:
        return
    pending = st.session_state.pop(PENDING, None)
    if pending is not None and member.following and pending.get("page") in picker.pages():
        if pending["page"] != page_name:
            st.session_state[PENDING] = pending
            st.switch_page(picker.pages()[pending["page"]], query_params={ROOM_PARAM: member.code})  # a reload rejoins
        adopt_view(pending)
        picker.claim_address()
        st.session_state.pop(BASELINE, None)
        return
    if member.following and member.teacher_page is not None and member.teacher_page != page_name:
        stop_following(_("You opened another page: you are on your own now."))
        return
    notice_own_change(page_name)


def notice_own_change(page_name: str) -> bool:
    """Stop following when a followed value differs from what the last run left; whether it did.

    Called only where the request is the student's own (a whole run they started, a page
    fragment's run): a poll's timer may carry the browser's values from before the teacher's
    view reached it, so polls never judge.
    """
    member = membership()
    baseline = st.session_state.get(BASELINE)
    if member is None or member.teaching or not member.following or baseline is None:
        return False
    if not own_changes(baseline, followed_values(page_name, st.session_state)):
        return False
    stop_following(_("You changed a setting: you are on your own now."))
    return True


def page_fragment(function: Callable[P, None]) -> Callable[P, None]:
    """`st.fragment` for the pages' parts: a run of its own (a layer click) is the reader's doing,
    so a student's own change is noticed there, and a teacher's view is published right after
    it, as `before_page` and `after_page` do around a whole run."""
    @functools.wraps(function)
    def run_then_publish(*args: P.args, **kwargs: P.kwargs) -> None:
        page = st.session_state.get(PAGE)
        if page is not None:
            notice_own_change(page)  # the class panel says so at its next poll
        function(*args, **kwargs)
        member = membership()
        if member is not None and member.teaching and page is not None:
            publish(page)

    return st.fragment(run_then_publish)


def after_page(page_name: str) -> None:
    """After a page's whole run: the teacher's view is published if it changed; a follower's values
    are remembered, so that a change of the student's own is noticed next time.

    A run that ends in st.stop never gets here (Streamlit then stops at any st call): the
    teacher's panel publishes such a view within a second, and a follower keeps no baseline.
    """
    member = membership()
    if member is None:
        return
    if member.teaching:
        publish(page_name)
    elif member.following:
        st.session_state[BASELINE] = followed_values(page_name, st.session_state)



def publish(page_name: str) -> None:
    """The teacher's view to the room, when it differs from the one published last."""
    member = membership()
    view = current_view(page_name, st.session_state)
    if member is None or not member.teaching or view == st.session_state.get(PUBLISHED):
        return
    if safely(lambda: room_store().publish(member.code, member.presenter_key, view)):
        st.session_state[PUBLISHED] = view


def take_view(view_version: int, view: dict) -> None:
    """A follower's poll found a newer view: keep it for the next full run, which takes it."""
    member = membership()
    if member is None or member.teaching:
        return
    own = tuple(key for key in view.get("own", ()) if isinstance(key, str))
    _set(replace(member, view_version=view_version, teacher_page=view.get("page"), teacher_own=own))
    st.session_state[PENDING] = view
