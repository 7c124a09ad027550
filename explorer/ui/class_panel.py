"""Class mode's live parts at the top of every page.

A student's page polls the room twice a second from a fragment that draws nothing while
nothing happens (the poll is one cheap store call, so an idle class costs the server little):
a newer teacher's view reruns the page, which takes it; an open quick check is drawn in the
fragment. The banner that says whether the
student follows is drawn with the page. The teacher's panel counts who is here, asks
questions and draws the answers as they come; the teacher's views are published after each
run (`classroom.after_page`, `classroom.page_fragment`).
"""

from __future__ import annotations

import random
import secrets

import streamlit as st

from explorer.analysis.anatomy import layer_table
from explorer.analysis.quick_checks import (
    Question, available_kinds, explanation_text, kind_label, make_question, question_from_dict, question_text,
    question_to_dict,
)
from explorer.figures.class_answers import LETTERS, answers_histogram
from explorer.model.token import spec_from_token
from explorer.runtime.i18n import _
from explorer.runtime.rooms import QuestionState, RoomError, RoomNotFound, room_store
from explorer.ui import classroom, picker
from explorer.ui.choices import valid_choice
from explorer.ui.classroom import NOTICE, PAGE, membership
from explorer.ui.text import inert

STUDENT_POLL_S = 0.5  # a student's page asks the room this often: the teacher's change shows within ~1 s
TEACHER_PANEL_S = 1.0  # presence and answers, redrawn
ANY_KIND = "any"


def class_panel() -> None:
    """The class's live panel for this session's role (nothing outside a class)."""
    member = membership()
    if member is None:
        return
    _notice()
    if member.teaching:
        st.fragment(_teacher_panel, run_every=TEACHER_PANEL_S)()
    else:
        st.fragment(_student_panel, run_every=STUDENT_POLL_S)()


def _notice() -> None:
    said = st.session_state.pop(NOTICE, None)
    if said:
        st.info(said)


# ---- a student's panel -------------------------------------------------------------------


def _student_panel() -> None:
    """Ask the room what changed: a newer view reruns the page, which takes it (a change of the
    student's own is noticed by the runs the student starts, `classroom.notice_own_change`)."""
    member = membership()
    if member is None or member.teaching:
        return
    store = room_store()
    try:
        poll = store.poll(member.code)
        classroom.heartbeat()
        if member.following and poll.view_version > member.view_version:
            version, view = store.view(member.code)
            if view is not None:
                classroom.take_view(version, view)
                st.rerun(scope="app")
        question = _cached_question(member.code, poll.question_id) if poll.question_id else None
    except RoomError as error:
        _room_failed(error, _("The class has ended."))
        return
    _student_banner()
    if question is not None:
        _student_question(member.code, poll.question_id, question, poll.revealed)


def _room_failed(error: RoomError, ended: str) -> None:
    """A store call of a class panel failed: a room that is gone ends this session's class (said
    with ``ended``); a store that cannot be reached is said, and the next poll tries again."""
    if isinstance(error, RoomNotFound):
        classroom.leave_class()
        classroom.say(ended)
        st.rerun(scope="app")
    st.warning(_(error.message))


def _student_banner() -> None:
    member = membership()
    if member.following:
        with st.container(key="class-following", horizontal=True, vertical_alignment="center"):
            st.markdown(_(":material/cast_for_education: Following the teacher · class **{code}** · a click of your own ends it").format(
                code=member.code), width="stretch")
            st.button(_("Stop following"), key="class_leave", on_click=classroom.stop_following, width="content")
        if any(key.endswith("_image_source") for key in member.teacher_own):
            st.caption(_("The teacher is using their own picture: yours stays as it is."))
        if any(key.endswith("_weights_kind") for key in member.teacher_own):
            st.caption(_("The teacher is using their own checkpoint: your weights stay as they are."))
        return
    with st.container(key="class-on-own", horizontal=True, vertical_alignment="center"):
        st.markdown(_("In class **{code}**, on your own").format(code=member.code), width="stretch")
        # The callback runs before this fragment's next run, whose poll then takes the teacher's view.
        st.button(_("Follow the teacher"), key="class_follow", type="primary", on_click=classroom.follow_again,
                  width="content")


def _question_of(state: QuestionState) -> Question | None:
    """The room's question, or None when there is none or it does not read as one (a shared store)."""
    try:
        return question_from_dict(state.question) if state.question else None
    except ValueError:
        return None


def _cached_question(code: str, question_id: int) -> Question | None:
    """The question ``question_id`` of the room, fetched once per question (not on every poll)."""
    cached = st.session_state.get("class_question")
    if cached is None or cached[0] != question_id:
        state = room_store().question(code)
        cached = (state.question_id, _question_of(state))
        st.session_state["class_question"] = cached
    return cached[1]


def _choice_label(question, index: int) -> str:
    return f"{LETTERS[index]}   {question.choices[index]}"


def _student_question(code: str, question_id: int, question: Question, revealed: bool) -> None:
    member = membership()
    answers: dict = st.session_state.setdefault("class_answers_given", {})
    with st.container(key="class-question", border=True):
        st.markdown(f"**{_('Quick check')}:** {inert(question_text(question))}")
        choice = st.radio(_("Your answer"), range(len(question.choices)), index=None, key=f"class_choice_{question_id}",
                          format_func=lambda index: _choice_label(question, index), disabled=revealed)
        if not revealed:
            if st.button(_("Answer"), key="class_answer", disabled=choice is None, type="primary"):
                try:
                    if room_store().answer(code, question_id, member.student_id, int(choice)):
                        answers[question_id] = int(choice)
                except RoomError as error:
                    st.warning(_(error.message))
        given = answers.get(question_id)
        if given is not None:
            st.caption(_("Your answer: {letter}. Anonymous: the teacher sees only how many chose each.").format(
                letter=LETTERS[given]))
        if revealed:
            right = _("Right: {letter}   {choice}").format(letter=LETTERS[question.answer],
                                                        choice=question.choices[question.answer])
            (st.success if given == question.answer else st.info)(f"{inert(right)}. {inert(explanation_text(question))}")


# ---- the teacher's panel -----------------------------------------------------------------


def _tables():
    """The layer table(s) the teacher's page shows now: the Compare pair there, the sidebar's model elsewhere."""
    if st.session_state.get(PAGE) == "compare":
        size = int(st.session_state.get("cmp_input", 224))
        try:
            specs = [spec_from_token(st.session_state[f"cmp_model_{side}_token"]) for side in "ab"]
            return layer_table(specs[0], size), layer_table(specs[1], size)
        except (KeyError, ValueError):
            return None, None
    choice = picker.sidebar_model()
    if choice is None:
        return None, None
    try:
        return layer_table(choice.spec, choice.input_size), None
    except ValueError:
        return None, None


def ask() -> None:
    """The ask button's callback: a question of the chosen kind on the teacher's model, its answer computed."""
    kind_name = st.session_state.get("class_ask_kind", ANY_KIND)
    member = membership()
    table, other = _tables()
    if member is None or not member.teaching or table is None:
        return
    kinds = available_kinds(table, other)
    if not kinds:
        return
    rng = random.Random(secrets.randbits(64))  # this question's own generator, nothing shared
    kind = next((k for k in kinds if k.value == kind_name), None) or rng.choice(kinds)
    question = make_question(kind, table, rng, other)
    classroom.safely(lambda: room_store().ask(member.code, member.presenter_key, question_to_dict(question)))


def reveal() -> None:
    member = membership()
    if member is not None and member.teaching:
        classroom.safely(lambda: room_store().reveal(member.code, member.presenter_key))


def _teacher_panel() -> None:
    member = membership()
    if member is None or not member.teaching:
        return
    if st.session_state.get(PAGE) is not None:
        classroom.publish(st.session_state[PAGE])  # a view whose page run ended in st.stop
    store = room_store()
    try:
        presence = store.presence(member.code)
        state = store.question(member.code)
        counts = store.answer_counts(member.code, state.question_id)
    except RoomError as error:
        _room_failed(error, _("The class has ended: it was idle too long. Start a new one."))
        return
    with st.container(key="class-teacher", horizontal=True, vertical_alignment="bottom"):
        st.markdown(_("Class **{code}** · {connected} connected · {following} following").format(
            code=member.code, connected=presence.connected, following=presence.following), width="stretch")
        table, other = _tables()
        kinds = available_kinds(table, other) if table is not None else ()
        labels = {ANY_KIND: _("any question"), **{kind.value: kind_label(kind) for kind in kinds}}
        valid_choice("class_ask_kind", list(labels), ANY_KIND, label=labels.get)  # kinds change with the model
        st.selectbox(_("Quick check"), list(labels), key="class_ask_kind", format_func=labels.get, width=260)
        st.button(_("Ask the class"), key="class_ask", on_click=ask, disabled=not kinds, width="content")
    if presence.nicknames:
        st.caption(_("Here: {names}").format(names=inert(", ".join(presence.nicknames), limit=600)))
    asked = _question_of(state)
    if asked is None:
        return
    with st.container(key="class-answers", border=True):
        st.markdown(f"**{_('Quick check')}:** {inert(question_text(asked))}")
        st.plotly_chart(answers_histogram(asked.choices, counts, asked.answer if state.revealed else None),
                        key="class_histogram",
                        width="stretch", config={"displayModeBar": False})
        if state.revealed:
            st.success(f"{inert(_choice_label(asked, asked.answer))}. {inert(explanation_text(asked))}")
        else:
            st.button(_("Reveal the answer"), key="class_reveal", on_click=reveal)
