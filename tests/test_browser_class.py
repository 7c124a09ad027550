"""Class mode in real Chromium: a teacher and three students follow page, model and layer; one
leaves and rejoins; a quick check gets three answers; a student cannot lead. Then the same
with the teacher and the students on two app servers that share one real Redis."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from tests.browser_pages import settle
from tests.live_server import CHROMIUM, running_app

pytestmark = pytest.mark.browser

if CHROMIUM is None:
    if os.environ.get("REQUIRE_BROWSER"):
        raise RuntimeError("REQUIRE_BROWSER is set but no chromium is installed (apt-get install chromium)")
    pytest.skip("Debian's chromium is not installed (.ci/run installs it)", allow_module_level=True)

WAIT_MS = 120_000
START = "feature-maps?model=cifar_resnet20&model_input=32"  # small: four sessions share two cores


def expect():
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect


def new_session(browser, url: str):
    """A page in a browser context of its own: its own Streamlit session, as on a student's laptop."""
    page = browser.new_context(viewport={"width": 1400, "height": 1200}).new_page()
    page.goto(url, wait_until="domcontentloaded")
    return page


def click(page, key: str) -> None:
    """Click the button keyed ``key`` (its help icon, when it has one, is a button too)."""
    page.locator(f".st-key-{key} button").first.click()


def start_class(page) -> str:
    """The teacher starts a class from the sidebar; the code the projector shows."""
    page.get_by_text("Class mode").click()
    click(page, "class_start")
    code = page.locator(".st-key-class-code .class-code")
    code.wait_for(state="visible", timeout=WAIT_MS)
    return code.inner_text().strip()


def chosen(page, key: str):
    """The selectbox keyed ``key``: its input holds the chosen entry's text (while a run redraws
    the page, Streamlit keeps the old element beside the new one, marked stale)."""
    return page.locator(f'.st-key-{key}[data-stale="false"] input')


def layer(page) -> str:
    """The layer the Feature maps page shows (the layer list's chosen entry)."""
    return chosen(page, "fm_layer").input_value()


def model(page) -> str:
    return chosen(page, "model_preset").input_value()


def follows(student, teacher) -> None:
    """Within the wait, the student shows the teacher's model and layer, with the following banner."""
    expect()(student.locator(".st-key-class-following")).to_be_visible(timeout=WAIT_MS)
    expect()(chosen(student, "fm_layer")).to_have_value(layer(teacher), timeout=WAIT_MS)
    expect()(chosen(student, "model_preset")).to_have_value(model(teacher), timeout=WAIT_MS)


def next_layer(page) -> None:
    """Click "next" and wait for the next layer: a page that has not yet heard of the click still
    reads as settled, with the layer it had before."""
    before = layer(page)
    click(page, "fm_next")
    expect()(chosen(page, "fm_layer")).not_to_have_value(before, timeout=WAIT_MS)
    settle(page)


def pick_model(page, name: str, tries: int = 3) -> None:
    """Choose a preset as a person would: open the list, type the name, take the match. The list has
    60 presets, and a rerun of the page's timed panel can redraw it under a click, so a pick that did
    not take is tried again (a person would click again too)."""
    for _ in range(tries):
        page.locator(".st-key-model_preset").click()
        page.keyboard.type(name)
        page.get_by_role("option", name=name, exact=True).click()
        try:
            expect()(chosen(page, "model_preset")).to_have_value(name, timeout=15_000)
            return
        except AssertionError:
            page.keyboard.press("Escape")
    expect()(chosen(page, "model_preset")).to_have_value(name, timeout=WAIT_MS)


def lead_a_class(browser, teacher_url: str, student_urls: list[str], artifacts_dir: Path, shots: str) -> None:
    teacher = new_session(browser, f"{teacher_url}/{START}")
    settle(teacher)
    code = start_class(teacher)
    assert len(code) >= 4 and not set(code) & set("O0I1")
    students = [new_session(browser, f"{url}/?room={code}") for url in student_urls]
    try:
        for student in students:  # they opened Home: each is taken to the teacher's page, model and layer
            follows(student, teacher)
        expect()(teacher.locator(".st-key-class-teacher")).to_contain_text("3 following", timeout=WAIT_MS)

        pick_model(teacher, "cifar_resnet32")
        settle(teacher)
        next_layer(teacher)
        for student in students:
            follows(student, teacher)
        assert model(students[0]) == "cifar_resnet32"

        # One student goes their own way, then comes back to where the teacher is by then.
        leaver, *others = students
        click(leaver, "class_leave")
        expect()(leaver.locator(".st-key-class-on-own")).to_be_visible(timeout=WAIT_MS)
        left_at = layer(leaver)
        next_layer(teacher)
        for student in others:
            follows(student, teacher)
        settle(leaver)
        assert layer(leaver) == left_at != layer(teacher)
        click(leaver, "class_follow")
        follows(leaver, teacher)

        # A quick check: three answers counted on the teacher's screen.
        click(teacher, "class_ask")
        for number, student in enumerate(students):
            question = student.locator(".st-key-class-question")
            question.wait_for(state="visible", timeout=WAIT_MS)
            question.locator('label:has(input[type="radio"])').nth(number % 2).click()
            click(student, "class_answer")
            expect()(question).to_contain_text("Your answer", timeout=WAIT_MS)
        expect()(teacher.locator(".st-key-class-answers")).to_contain_text("3 answers", timeout=WAIT_MS)
        settle(teacher)
        teacher.screenshot(path=str(artifacts_dir / f"{shots}-teacher.png"))
        students[1].screenshot(path=str(artifacts_dir / f"{shots}-student.png"))
        click(teacher, "class_reveal")
        expect()(students[2].locator(".st-key-class-question")).to_contain_text("Right:", timeout=WAIT_MS)

        # A student cannot lead: no controls, and a change of their own moves only them.
        student = students[2]
        assert student.locator(".st-key-class_ask").count() == 0 and student.locator(".st-key-class-code").count() == 0
        teacher_layer = layer(teacher)
        click(student, "fm_next")
        expect()(student.locator(".st-key-class-on-own")).to_be_visible(timeout=WAIT_MS)
        settle(teacher)
        assert layer(teacher) == teacher_layer and layer(student) != teacher_layer
        # Nor does a forged teacher link give control.
        forged = new_session(browser, f"{student_urls[0]}/?room={code}&key=not-the-key")
        expect()(forged.get_by_text("This teacher link does not fit")).to_be_visible(timeout=WAIT_MS)
        assert forged.locator(".st-key-class-code").count() == 0
        assert "key=" not in forged.url
        forged.context.close()
        for page in (teacher, *students):
            assert page.locator('[data-testid="stException"]').count() == 0
    finally:
        for page in (teacher, *students):
            page.context.close()


def test_a_teacher_leads_three_students_on_one_server(browser, app_url: str, artifacts_dir: Path) -> None:
    lead_a_class(browser, app_url, [app_url] * 3, artifacts_dir, "class")


def test_a_class_spans_two_servers_that_share_one_redis(browser, redis_url: str, artifacts_dir: Path) -> None:
    """As the Kubernetes deployment runs: teacher and students on different replicas."""
    env = {"EXPLORER_REDIS_URL": redis_url}
    with running_app(sys.executable, cwd=artifacts_dir.parent, log_path=artifacts_dir / "class-server-a.log",
                     env=env) as server_a, \
            running_app(sys.executable, cwd=artifacts_dir.parent, log_path=artifacts_dir / "class-server-b.log",
                        env=env) as server_b:
        lead_a_class(browser, server_a, [server_b, server_b, server_a], artifacts_dir, "class-redis")
