"""A real headless Chromium against `streamlit run explorer/app.py` (Debian's chromium)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.browser_pages import SETTLED, settle
from tests.live_server import CHROMIUM, running_app

SAMPLES = Path(__file__).resolve().parents[1] / "assets" / "samples"

pytestmark = pytest.mark.browser

if CHROMIUM is None:
    if os.environ.get("REQUIRE_BROWSER"):
        raise RuntimeError("REQUIRE_BROWSER is set but no chromium is installed (apt-get install chromium)")
    pytest.skip("Debian's chromium is not installed (.ci/run installs it)", allow_module_level=True)


def visible(page, text: str, timeout: float = 120_000, exact: bool = False) -> bool:
    """Wait until ``text`` is shown: "notRunning" can be reported just before the first run."""
    page.get_by_text(text, exact=exact).first.wait_for(state="visible", timeout=timeout)
    return True


def open_page(browser, url: str, artifacts_dir: Path, shot: str, width: int = 1400):
    """Load ``url`` in a window ``width`` px wide, wait for the script to finish, fail on any Streamlit exception box."""
    page = browser.new_page(viewport={"width": width, "height": 1400})
    page.goto(url, wait_until="domcontentloaded")
    page.get_by_role("heading").first.wait_for(state="visible", timeout=240_000)
    settle(page)
    page.screenshot(path=str(artifacts_dir / f"{shot}.png"), full_page=True)
    assert page.locator('[data-testid="stException"]').count() == 0
    return page


def choose_custom(page) -> None:
    """Pick "custom…" in the sidebar's model list (it draws only the entries in view: typed, then taken)."""
    page.locator(".st-key-model_preset").click()
    page.keyboard.type("custom")
    page.get_by_role("option", name="custom…").click()


def type_blocks(page, text: str) -> None:
    """Type the custom model's blocks per stage and send them."""
    blocks = page.get_by_role("textbox", name="Blocks per stage")
    blocks.fill(text)
    blocks.press("Enter")


def test_a_plain_checkout_serves_a_real_session(browser, plain_checkout_python: str, tmp_path: Path) -> None:
    """`streamlit run` where the package is not installed: a real browser session runs the app's code."""
    log = tmp_path / "server.log"
    with running_app(plain_checkout_python, cwd=tmp_path, log_path=log) as url:
        page = open_page(browser, url, tmp_path, "plain-checkout")
        assert visible(page, "What each page teaches")
        page.close()
    assert "Traceback" not in log.read_text()


def test_home_page_loads_in_chromium(browser, app_url: str, artifacts_dir: Path) -> None:
    page = open_page(browser, app_url, artifacts_dir, "home")
    assert visible(page, "What each page teaches")
    assert visible(page, "Models run on the server's GPU")  # Home loads no torch: no device name there
    page.close()


def test_architecture_page_shows_table_and_diagram(browser, app_url: str, artifacts_dir: Path) -> None:
    page = open_page(browser, f"{app_url}/architecture?model=resnet50_caffe", artifacts_dir, "architecture")
    assert visible(page, "3.86 G")  # caffe-style ResNet-50 MACs
    assert page.locator('[data-testid="stDataFrame"]').first.is_visible()
    page.get_by_role("tab", name="Diagram").click()  # reruns the page: only the open tab is drawn
    page.locator(".js-plotly-plot").first.wait_for(state="visible")
    page.screenshot(path=str(artifacts_dir / "architecture-diagram.png"))
    page.close()


CUT_TEXT = """selector => [...document.querySelectorAll(selector)].filter(e => e.scrollWidth > e.clientWidth)
                                                          .map(e => e.textContent)"""


@pytest.mark.parametrize("width", [1400, 1024])
def test_architecture_controls_and_paper_table_fit_the_window(browser, app_url: str, artifacts_dir: Path,
                                                              width: int) -> None:
    """Nothing cut at a projector's 1024 px or a laptop's 1400 px: every stage chip inside its box, the
    granularity options on one line, whole metric labels; at 1400 px all of Paper Table 1."""
    page = open_page(browser, f"{app_url}/architecture?model=resnet50", artifacts_dir, f"architecture-{width}", width)
    box = page.locator('.st-key-arch_stage_filter [data-testid="stMultiSelectTagsContainer"]').bounding_box()
    chips = [chip.bounding_box() for chip in page.locator(".st-key-arch_stage_filter [data-tag]").all()]
    assert len(chips) == 6
    assert all(box["x"] <= c["x"] and c["x"] + c["width"] <= box["x"] + box["width"] for c in chips), (box, chips)
    options = page.locator('.st-key-arch_level [data-testid="stRadioOption"]').all()
    assert len(options) == 3 and len({round(o.bounding_box()["y"]) for o in options}) == 1
    assert page.evaluate(CUT_TEXT, '[data-testid="stMetricLabel"] .stMarkdownEllipsis') == []
    if width == 1400:
        page.get_by_role("tab", name="Paper Table 1").click()
        page.locator('[data-testid="stTable"]').wait_for(state="visible")
        page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]')
        page.screenshot(path=str(artifacts_dir / "architecture-paper-table.png"))
        header = page.get_by_role("columnheader", name="152-layer").bounding_box()
        assert header["x"] + header["width"] <= width
        assert page.evaluate(CUT_TEXT, '[data-testid="stTable"], [data-testid="stTable"] th, [data-testid="stTable"] td') == []
        assert page.get_by_text("[1x1,512, 3x3,512, 1x1,2048] × 3").first.is_visible()
    page.close()


def test_feature_maps_page_shows_maps_of_a_sample(browser, app_url: str, artifacts_dir: Path) -> None:
    page = open_page(browser, f"{app_url}/feature-maps?model=resnet18", artifacts_dir, "feature-maps")
    assert visible(page, "What the model sees")
    assert visible(page, "Browse the layers")
    page.locator(".js-plotly-plot").first.wait_for(state="visible", timeout=240_000)  # drawn, however long the run
    page.close()


def test_predict_page_classifies_the_samples(browser, app_url: str, artifacts_dir: Path) -> None:
    page = open_page(browser, f"{app_url}/predict?model=resnet18", artifacts_dir, "predict")
    assert visible(page, "chelsea")
    assert visible(page, "Grad-CAM from stage")
    page.locator(".js-plotly-plot").first.wait_for(state="visible", timeout=240_000)  # drawn, however long the run
    page.close()


def test_untrained_predictions_and_the_uploader_speak_chinese(browser, app_url: str, artifacts_dir: Path) -> None:
    """cifar_resnet20 has no ImageNet weights, so the page opens on random weights (no download):
    "未训练" lies across the chart; Streamlit's English size line is hidden, our caption shows."""
    page = open_page(browser, f"{app_url}/predict?model=cifar_resnet20&model_input=32&lang=zh", artifacts_dir,
                     "zh-predict-untrained")
    chart = page.locator(".js-plotly-plot").first
    chart.wait_for(state="visible")
    assert chart.get_by_text("未训练", exact=True).is_visible()  # the watermark, on the chart itself
    uploader = page.locator(".st-key-pr_uploads")
    assert uploader.locator('[data-testid="stFileUploaderDropzone"]').is_visible()
    instructions = uploader.locator('[data-testid="stFileUploaderDropzoneInstructions"]')
    assert instructions.count() == 1 and not instructions.is_visible()  # there, and hidden by our rule
    assert visible(page, "把文件拖到框里，或点击框里的按钮；每个文件最大")
    page.close()


def test_zero_init_page_shows_the_identity_check(browser, app_url: str, artifacts_dir: Path) -> None:
    page = open_page(browser, f"{app_url}/zero-init?model=cifar_resnet20", artifacts_dir, "zero-init")
    assert visible(page, "At initialisation", exact=True)
    assert visible(page, "The degradation problem: plain vs residual")
    page.locator(".js-plotly-plot").first.wait_for(state="visible", timeout=240_000)  # drawn, however long the run
    page.close()


def test_many_sessions_at_once_each_get_their_own_answer(browser, app_url: str, artifacts_dir: Path) -> None:
    """Twelve independent sessions (own browser contexts) load at the same time on one server."""
    from explorer.analysis.activations import capture_points
    from explorer.analysis.anatomy import layer_table
    from explorer.model.presets import PRESETS
    from explorer.analysis.table_format import human_count

    def params(name: str, size: int = 224) -> str:
        return human_count(layer_table(PRESETS[name], size).totals.params)

    def maps(name: str, size: int) -> str:
        return f"Capturing {len(capture_points(PRESETS[name], size, residual_parts=True))} maps"

    cases = [
        ("architecture?model=resnet18", params("resnet18")),
        ("architecture?model=resnet101", params("resnet101")),
        ("architecture?model=wide_resnet50_2", params("wide_resnet50_2")),
        ("architecture?model=resnext50_32x4d&model_input=320", params("resnext50_32x4d")),
        ("architecture?model=cifar_resnet56&model_input=32", params("cifar_resnet56", 32)),
        ("feature-maps?model=resnet18&model_input=224", maps("resnet18", 224)),
        ("feature-maps?model=cifar_resnet20&model_input=32", maps("cifar_resnet20", 32)),
        ("feature-maps?model=resnet50&model_input=160", maps("resnet50", 160)),
        ("predict?model=cifar_resnet20&model_input=32", "cifar_resnet20 · top-5"),
        ("predict?model=resnet18", "resnet18 · top-5"),
        ("compare", "2.19× the parameters"),
        ("zero-init?model=cifar_resnet20", "Training the twins"),
    ]
    contexts = [browser.new_context(viewport={"width": 1400, "height": 2400}) for _ in cases]
    pages = [context.new_page() for context in contexts]
    try:
        for page, (path, _) in zip(pages, cases):
            page.goto(f"{app_url}/{path}", wait_until="commit")
        for page, (path, expected) in zip(pages, cases):
            settle(page)
            assert visible(page, expected), (path, expected)
            assert page.locator('[data-testid="stException"]').count() == 0, path
    finally:
        for context in contexts:
            context.close()


def test_broken_links_and_absurd_specs_leave_the_server_serving(browser, app_url: str, artifacts_dir: Path) -> None:
    for path, message in [
        ("architecture?model=resnet50;stages=10000", "Ignoring the model in the link"),
        ("architecture?model=resnet50;stage_planes=0,0,0,0", "Ignoring the model in the link"),
        ("architecture?model=resnet50&model_input=8", "at least 32 pixels"),
        ("feature-maps?model=resnet50&model_input=8", "at least 32 pixels"),
        ("architecture?model=nonsense", "Ignoring the model in the link"),
    ]:
        page = open_page(browser, f"{app_url}/{path}", artifacts_dir, "robustness")
        assert visible(page, message), path
        page.close()
    page = open_page(browser, f"{app_url}/architecture?model=resnet34", artifacts_dir, "after-bad-input")
    assert visible(page, "21.80 M")
    page.close()


def test_a_custom_model_fixed_after_an_error_shows_what_the_page_uses(browser, app_url: str,
                                                                     artifacts_dir: Path) -> None:
    """A box that one run leaves out comes back in the browser at its own default: after a typo
    in the blocks was fixed, the input size read 1 and the typed planes were gone, while the
    page went on at 224 with those planes."""
    from playwright.sync_api import expect

    page = open_page(browser, f"{app_url}/architecture?model=resnet18", artifacts_dir, "custom-picker")
    choose_custom(page)
    planes = page.get_by_role("textbox", name="Planes per stage")
    planes.fill("32,64,128,256")
    planes.press("Enter")
    page.wait_for_url("**stage_planes*", timeout=120_000)  # the picker wrote the new model to the address
    type_blocks(page, "2,2,x")
    assert visible(page, "This combination cannot be built")
    type_blocks(page, "2,2,2,2")
    expect(page.get_by_text("This combination cannot be built")).to_have_count(0, timeout=120_000)
    settle(page)
    # What the browser shows is what the server computes with (the picker writes that to the address).
    assert page.locator(".st-key-model_input input").input_value() == "224" and "model_input=224" in page.url
    assert planes.input_value() == "32,64,128,256" and "stage_planes%3D32%2C64%2C128%2C256" in page.url
    page.close()


def test_after_a_run_that_stopped_early_the_layer_list_shows_the_layer_drawn(browser, app_url: str,
                                                                             artifacts_dir: Path) -> None:
    """Upload chosen and nothing uploaded: the page stops above the layer browser. Back on the
    sample, Streamlit drew the list anew at its first layer while the maps were still layer1.2's."""
    from playwright.sync_api import expect

    page = open_page(browser, f"{app_url}/feature-maps?model=cifar_resnet20&model_input=32", artifacts_dir,
                     "feature-maps-stop")
    layer = page.locator('.st-key-fm_layer[data-stale="false"] input')
    for _ in range(3):
        before = layer.input_value()
        page.locator(".st-key-fm_next button").click()
        expect(layer).not_to_have_value(before, timeout=120_000)
        settle(page)
    shown = layer.input_value()
    assert shown.startswith("layer1.2 ")
    page.locator(".st-key-fm_image_source").get_by_text("upload").click()
    expect(page.locator(".st-key-fm_layer")).to_have_count(0, timeout=120_000)
    page.locator(".st-key-fm_image_source").get_by_text("sample").click()
    page.locator(".st-key-fm_grid .main-svg").first.wait_for(timeout=120_000)
    settle(page)
    assert layer.input_value() == shown
    assert page.locator(".st-key-fm_grid .gtitle").first.text_content().startswith(shown)
    page.close()


def test_an_upload_the_page_stopped_above_is_gone_from_the_box_and_the_page(browser, app_url: str,
                                                                             artifacts_dir: Path) -> None:
    """A typo in the sidebar's model stops the page above the upload box; once fixed, the box came
    back empty while the page still drew the uploaded picture, until some later click dropped it."""
    from playwright.sync_api import expect

    page = open_page(browser, f"{app_url}/feature-maps?model=cifar_resnet20&model_input=32", artifacts_dir,
                     "feature-maps-upload-stop")
    page.locator(".st-key-fm_image_source").get_by_text("upload").click()
    page.locator('.st-key-fm_upload input[type="file"]').set_input_files(str(SAMPLES / "chelsea.jpg"))
    assert visible(page, "chelsea.jpg: JPEG")
    choose_custom(page)
    type_blocks(page, "3,3,x")
    assert visible(page, "Fix the model in the sidebar")
    type_blocks(page, "3,3,3")
    assert visible(page, "Choose an image file, or switch back to a sample.")
    settle(page)
    assert page.locator('.st-key-fm_upload [data-testid="stFileChip"]').count() == 0
    assert page.get_by_text("chelsea.jpg: JPEG").count() == 0
    page.close()


def test_the_lesson_path_opens_each_step_on_its_model(browser, app_url: str, artifacts_dir: Path) -> None:
    page = open_page(browser, f"{app_url}/?model=resnet34", artifacts_dir, "lesson-home")
    page.get_by_text("1. ResNet-18, layer by layer").click()  # client-side navigation, as a student clicks
    assert visible(page, "resnet18 · depth 18")  # the sidebar's model came from the link, not the session
    assert "model=resnet18" in page.url
    page.locator('[data-testid="stSidebarNav"] a').first.click()
    assert visible(page, "A lesson: ResNet-18 vs ResNet-50")
    page.get_by_text("2. ResNet-18 against ResNet-50").click()
    assert visible(page, "2.25× the MACs")
    page.close()


def to_top(locator) -> None:
    """Scroll the page so that ``locator`` stands at the top of the window (for a screenshot)."""
    locator.evaluate("element => element.scrollIntoView({block: 'start'})")
    settle(locator.page)


def test_compare_what_the_cost_buys_and_the_same_image_through_both(browser, app_url: str, artifacts_dir: Path) -> None:
    page = open_page(browser, f"{app_url}/compare", artifacts_dir, "compare")
    assert visible(page, "Where the difference goes")
    assert visible(page, "2.19× the parameters")
    to_top(page.get_by_text("What the cost buys", exact=True))
    assert visible(page, "hover a point for its model, weights and accuracy")  # the accuracy chart, drawn
    page.screenshot(path=str(artifacts_dir / "compare-what-it-buys.png"))
    page.get_by_text("The same image through both: stage outputs, top-5 and Grad-CAM").click()
    for prefix in ("cmp_a", "cmp_b"):  # offline: random weights, as the caption of the screenshot says
        page.locator(f".st-key-{prefix}_weights_kind").get_by_text("random init (seeded)").click()
        page.wait_for_selector(SETTLED, timeout=240_000)
    assert visible(page, "Top-5 and Grad-CAM", timeout=240_000)
    to_top(page.get_by_text("the mean over channels of the stem").first)
    settle(page)
    page.screenshot(path=str(artifacts_dir / "compare-same-image.png"))
    assert page.locator('[data-testid="stException"]').count() == 0
    page.close()


def test_compare_stage_bar_titles_stay_apart_at_1024_px(browser, app_url: str, artifacts_dir: Path) -> None:
    """A 1024 px window with the sidebar open leaves the chart about 520 px: the three subplot
    titles stay apart, and the accuracy chart names its points."""
    page = open_page(browser, f"{app_url}/compare", artifacts_dir, "compare-1024", width=1024)
    bars = page.locator(".st-key-cmp_bars")
    bars.locator("g.annotation").first.wait_for(state="visible", timeout=60_000)
    titles = bars.locator("g.annotation").evaluate_all(
        "elements => elements.map(e => { const r = e.getBoundingClientRect(); return [r.left, r.right]; })")
    chart = bars.bounding_box()
    assert len(titles) == 3 and chart["width"] < 600
    titles.sort()
    for (_left, right), (left, _right) in zip(titles, titles[1:]):
        assert right < left, titles  # apart, not overlapping
    bars.screenshot(path=str(artifacts_dir / "compare-stage-bars-1024.png"))
    zoo = page.locator(".st-key-cmp_zoo")
    assert zoo.locator("text", has_text="resnet34").count() == 1  # every point is named
    zoo.screenshot(path=str(artifacts_dir / "compare-accuracy-1024.png"))
    page.close()


def test_the_receptive_field_of_a_position_in_chromium(browser, app_url: str, artifacts_dir: Path) -> None:
    page = open_page(browser, f"{app_url}/feature-maps?model=resnet18", artifacts_dir, "feature-maps-rf")
    page.get_by_text("Show what one position of a stage's map sees in the picture").click()
    assert visible(page, "sees input rows", timeout=240_000)
    to_top(page.get_by_text("Receptive field", exact=True))
    settle(page)
    page.screenshot(path=str(artifacts_dir / "receptive-field.png"))
    assert page.locator('[data-testid="stException"]').count() == 0
    page.close()


def test_two_sessions_that_click_train_follow_one_run_with_its_own_bar(browser, app_url: str, artifacts_dir: Path) -> None:
    """Two students press *Train both twins* together: each page shows the class run's progress bar
    (Streamlit's running man not drawn meanwhile, its Stop kept, the bar without its easing:
    `class_runs.FOLLOWING_STYLE`), then both draw the same curves from the class's store. No other test
    trains this model; cifar_resnet56 trains long enough (~10 s here) to be seen following."""
    from explorer.ui.class_runs import FOLLOWING_KEY

    contexts = [browser.new_context(viewport={"width": 1400, "height": 1400}) for _ in range(2)]
    pages = [context.new_page() for context in contexts]
    following = f'[class*="st-key-{FOLLOWING_KEY}"]'
    try:
        for page in pages:
            page.goto(f"{app_url}/zero-init?model=cifar_resnet56&model_input=32", wait_until="commit")
        for page in pages:
            page.wait_for_selector(".st-key-zi_train button", timeout=240_000)
            page.wait_for_selector(SETTLED, timeout=240_000)
        for page in pages:
            page.locator(".st-key-zi_train button").click()
        for page in pages:  # both following before either is looked at
            page.wait_for_selector(f'{following} [data-testid="stProgress"]', timeout=60_000)
            page.wait_for_selector('[data-testid="stStatusWidgetRunningIcon"]', state="attached", timeout=10_000)
        for page in pages:
            state = page.evaluate("""(following) => ({
                running: document.querySelector('[data-testid="stApp"]').dataset.testScriptState,
                icon: [...document.querySelectorAll('[data-testid="stStatusWidgetRunningIcon"]')]
                    .map(icon => getComputedStyle(icon).display),
                widget: [...document.querySelectorAll('[data-testid="stStatusWidget"]')]
                    .map(widget => getComputedStyle(widget).display),
                eased: [...document.querySelectorAll(following + ' [data-testid="stProgress"] *')]
                    .filter(e => getComputedStyle(e).transitionDuration.split(',').some(d => parseFloat(d) > 0)).length,
            })""", following)
            assert state["running"] == "running" and state["icon"] == ["none"] and state["eased"] == 0, state
            assert state["widget"] and "none" not in state["widget"], state  # its Stop and connection state stay
        steps = int(pages[0].locator(".st-key-zi_steps input").input_value())  # fitted to this server's speed
        to_top(pages[0].get_by_text("Training the twins", exact=True))
        pages[0].screenshot(path=str(artifacts_dir / "zero-init-following.png"))
        curves = []
        for page in pages:
            page.wait_for_selector(".st-key-zi_curves .js-plotly-plot .main-svg", timeout=240_000)
            assert visible(page, "for this class")
            assert page.locator(following).count() == 0  # the bar and its style went with the wait
            curves.append(page.evaluate(
                "() => document.querySelector('.st-key-zi_curves .js-plotly-plot').data.map(t => [t.name, t.y])"))
        assert curves[0] == curves[1] and len(curves[0]) >= 2 and all(len(y) == steps for _, y in curves[0])
    finally:
        for context in contexts:
            context.close()
