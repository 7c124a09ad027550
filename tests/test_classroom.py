"""Class mode in the app (AppTest, each session its own AppTest on one in-process room store):
start, join, follow, leave and rejoin, quick checks, and what a student cannot do."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from explorer.runtime import rooms
from explorer.runtime.rooms import MemoryRoomStore, room_store
from tests.conftest import APP, APPTEST_TIMEOUT, shown

pytestmark = pytest.mark.usefixtures("offline", "fresh_rooms")


@pytest.fixture
def fresh_rooms(monkeypatch: pytest.MonkeyPatch):
    """A room store of this test's own: the app's sessions in this process all use it."""
    monkeypatch.delenv("EXPLORER_REDIS_URL", raising=False)
    room_store.cache_clear()
    yield room_store()
    room_store.cache_clear()


def session(**query: str) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=APPTEST_TIMEOUT)
    for key, value in query.items():
        at.query_params[key] = value
    return at


def run(at: AppTest, page: str | None = None) -> AppTest:
    if page:
        at.switch_page(f"../pages/{page}.py")
    at.run()
    assert not at.exception, at.exception
    return at


def teacher_on(page: str | None = None, **query: str) -> tuple[AppTest, str]:
    teacher = run(session(**query))
    if page:
        run(teacher, page)
    teacher.button(key="class_start").click()
    run(teacher)
    member = teacher.session_state["class_membership"]
    return teacher, member.code


def texts(at: AppTest) -> str:
    return "\n".join(shown(str(element.value)) for kind in ("markdown", "caption", "info", "warning", "success", "error")
                     for element in at.get(kind))


def test_a_teacher_starts_a_class_and_the_projector_shows_its_code_and_qr(fresh_rooms) -> None:
    teacher, code = teacher_on()
    assert len(code) == rooms.CODE_LENGTH and set(code) <= set(rooms.CODE_ALPHABET)
    assert code in texts(teacher)
    assert teacher.get("imgs") or teacher.get("image")  # the QR code
    key = teacher.session_state["class_membership"].presenter_key
    assert fresh_rooms.is_presenter(code, key)
    assert key not in str(dict(teacher.query_params)) and "room" not in teacher.query_params


def test_a_student_joins_by_link_and_lands_on_the_teachers_page_model_and_layer() -> None:
    teacher, code = teacher_on("architecture", model="resnet34", model_input="160")
    teacher.radio(key="arch_level").set_value(teacher.radio(key="arch_level").options[1])
    run(teacher)
    student = run(session(room=code))
    member = student.session_state["class_membership"]
    assert not member.teaching and member.following and member.teacher_page == "architecture"
    assert student.session_state["model_token"] == "resnet34" and student.session_state["model_input"] == 160
    assert student.session_state["arch_level"] == teacher.session_state["arch_level"]
    assert "Following the teacher" in texts(student)
    assert student.button(key="class_leave") is not None
    # The student's widgets are the teacher's, not merely the state under them.
    assert student.selectbox(key="model_preset").value == "resnet34"


def test_a_custom_model_and_a_layer_travel_and_an_own_change_stops_following() -> None:
    teacher, code = teacher_on("feature_maps", model="cifar_resnet20;stages=2,2,2", model_input="32")
    for _ in range(3):
        teacher.button(key="fm_next").click()
        run(teacher)
    chosen = teacher.session_state["fm_layer"]
    channel = 5 if teacher.selectbox(key="fm_channel").value != 5 else 6  # not the layer's first channel
    teacher.selectbox(key="fm_channel").set_value(channel)
    run(teacher)
    student = run(session(room=code))
    assert student.session_state["model_token"] == teacher.session_state["model_token"]
    assert student.selectbox(key="fm_layer").value == teacher.selectbox(key="fm_layer").value
    assert student.selectbox(key="fm_channel").value == channel
    # The next layer and its channel arrive together: the channel is kept for a layer new to the student.
    teacher.button(key="fm_next").click()
    run(teacher)
    teacher.selectbox(key="fm_channel").set_value(channel + 2)
    run(teacher)
    run(student)
    chosen = teacher.session_state["fm_layer"]
    assert student.session_state["fm_layer"] == chosen
    assert student.selectbox(key="fm_channel").value == channel + 2
    # A change of the student's own: no longer following, and the teacher's page is untouched.
    student.button(key="fm_prev").click()
    run(student)
    assert not student.session_state["class_membership"].following
    assert "on your own" in texts(student)
    assert teacher.session_state["fm_layer"] == chosen
    # The teacher moves on; the student stays where they went until they follow again.
    teacher.button(key="fm_next").click()
    run(teacher)
    moved_on = teacher.session_state["fm_layer"]
    run(student)
    assert student.session_state["fm_layer"] != moved_on
    student.button(key="class_follow").click()
    run(student)
    assert student.session_state["class_membership"].following
    assert student.session_state["fm_layer"] == moved_on


def test_a_teachers_upload_stays_with_the_teacher() -> None:
    teacher, code = teacher_on("feature_maps", model="cifar_resnet20", model_input="32")
    teacher.radio(key="fm_image_source").set_value("upload")
    run(teacher)
    student = run(session(room=code))
    assert student.session_state["fm_image_source"] == "sample"
    assert "using their own picture" in texts(student)


def test_a_quick_check_is_answered_anonymously_and_counted_then_revealed(fresh_rooms) -> None:
    teacher, code = teacher_on("architecture", model="resnet18")
    students = [run(session(room=code)) for _ in range(3)]
    teacher.selectbox(key="class_ask_kind").set_value("output_shape")
    teacher.button(key="class_ask").click()
    run(teacher)
    state = fresh_rooms.question(code)
    assert state.question["kind"] == "output_shape"
    for number, student in enumerate(students):
        run(student)
        radio = student.radio(key=f"class_choice_{state.question_id}")
        radio.set_value(number % 2)
        run(student)  # a choice enables the answer button, as in the browser
        student.button(key="class_answer").click()
        run(student)
    assert fresh_rooms.answer_counts(code, state.question_id)[:2] == (2, 1)
    run(teacher)
    assert teacher.get("plotly_chart")
    teacher.button(key="class_reveal").click()
    run(teacher)
    run(students[0])
    assert "Right:" in texts(students[0])


def test_a_student_cannot_lead_and_a_forged_teacher_link_gives_no_control(fresh_rooms) -> None:
    teacher, code = teacher_on("architecture", model="resnet18")
    student = run(session(room=code))
    keys = {getattr(element, "key", None) for element in student.get("button")}
    assert not {"class_start", "class_ask", "class_reveal", "class_end"} & keys
    version = fresh_rooms.poll(code).view_version
    student.selectbox(key="model_preset").set_value("resnet152")
    run(student)
    assert fresh_rooms.poll(code).view_version == version  # nothing the student does reaches the room's view
    forged = run(session(room=code, key="x" * 32))
    assert "class_membership" not in forged.session_state
    assert "key" not in forged.query_params
    assert "This teacher link does not fit" in texts(forged)


def test_the_teacher_link_resumes_control_on_another_device_and_leaves_the_address(fresh_rooms) -> None:
    teacher, code = teacher_on()
    key = teacher.session_state["class_membership"].presenter_key
    other_device = run(session(room=code, key=key))
    assert other_device.session_state["class_membership"].teaching
    assert "key" not in other_device.query_params and "room" not in other_device.query_params


def test_wrong_codes_are_rate_limited_and_said_in_the_readers_language() -> None:
    for _ in range(rooms.GUESSES_PER_MINUTE):
        run(session(room="ZZZZZ"))
    blocked = run(session(room="ZZZZZ", lang="zh"))
    assert "class_membership" not in blocked.session_state
    assert "等一分钟" in texts(blocked) or "一分钟" in texts(blocked)


def test_a_nickname_is_shown_to_the_teacher_as_text() -> None:
    teacher, code = teacher_on("architecture", model="resnet18")
    student = run(session(room=code))
    student.text_input(key="class_nickname").input("[win](http://e.co) **b**")
    run(student)
    run(teacher)
    here = next(str(c.value) for c in teacher.caption if "Here:" in str(c.value))
    assert "](http" not in here and "\\[win\\]" in here  # escaped: no link, no bold


def test_a_student_who_leaves_the_class_is_forgotten(fresh_rooms) -> None:
    teacher, code = teacher_on("architecture", model="resnet18")
    student = run(session(room=code))
    assert fresh_rooms.presence(code).connected == 1
    student.button(key="class_exit").click()
    run(student)
    assert "class_membership" not in student.session_state and "room" not in student.query_params
    assert fresh_rooms.presence(code).connected == 0
    teacher.button(key="class_end").click()
    run(teacher)
    with pytest.raises(rooms.RoomNotFound):
        fresh_rooms.poll(code)
    assert isinstance(fresh_rooms, MemoryRoomStore)


def test_compares_pair_and_the_zero_init_settings_follow_the_teacher() -> None:
    teacher, code = teacher_on("compare", a="resnet34", b="wide_resnet50_2")
    teacher.number_input(key="cmp_input").set_value(160)
    run(teacher)
    student = run(session(room=code))
    assert student.session_state["class_membership"].teacher_page == "compare"
    assert (student.session_state["cmp_model_a_token"], student.session_state["cmp_model_b_token"]) == (
        "resnet34", "wide_resnet50_2")
    assert student.number_input(key="cmp_input").value == 160
    run(teacher, "zero_init")
    teacher.number_input(key="zi_steps").set_value(7)
    teacher.selectbox(key="zi_deep").set_value(110)
    run(teacher)
    run(student)  # the poll finds the new view and the page follows
    assert student.session_state["class_membership"].teacher_page == "zero_init"
    assert student.number_input(key="zi_steps").value == 7 and student.selectbox(key="zi_deep").value == 110


def test_a_store_that_cannot_be_reached_is_a_sentence_for_teacher_and_student(fresh_rooms, monkeypatch) -> None:
    teacher, code = teacher_on("architecture", model="resnet18")
    student = run(session(room=code))
    teacher.button(key="class_ask").click()
    run(teacher)

    def down(*args, **kwargs):
        raise rooms.RoomStoreDown("unreachable")

    # The poll still answers; what the panels read after it does not.
    for name in ("question", "answer_counts"):
        monkeypatch.setattr(fresh_rooms, name, down)
    student.session_state["class_question"] = None  # the question is fetched again
    run(student)
    run(teacher)
    for at in (student, teacher):
        assert any("cannot be reached" in str(w.value) for w in at.warning)
        assert "class_membership" in at.session_state  # the class goes on when the store is back
