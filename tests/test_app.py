"""The app's entry point imports from a plain checkout; no library module shadows another package; every
widget whose options depend on something else shows the value its page uses."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from explorer.analysis.anatomy import Level, layer_table
from explorer.figures.zoo import ZooAxis
from explorer.model.presets import PRESETS
from explorer.runtime.i18n import _, in_language
from tests.conftest import APP, REPO_ROOT, open_app, open_tab, sent_to_browser, shown


def test_plain_checkout_really_lacks_the_installed_package(plain_checkout_python: str, tmp_path: Path) -> None:
    probe = subprocess.run([plain_checkout_python, "-c", "import explorer"], cwd=tmp_path, capture_output=True, text=True)
    assert "No module named 'explorer'" in probe.stderr
    # Running the file puts explorer/ (not the root) first on sys.path, as `streamlit run` does.
    bare = subprocess.run([plain_checkout_python, str(APP)], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert bare.returncode == 0, bare.stderr


def test_no_module_in_explorer_shadows_a_standard_or_installed_one() -> None:
    import pkgutil
    import sys

    # `streamlit run explorer/app.py` puts explorer/ on sys.path: its modules and its layers' folders.
    folder = REPO_ROOT / "explorer"
    ours = {p.stem for p in folder.glob("*.py")} - {"__init__", "__main__"}
    ours |= {p.name for p in folder.iterdir() if (p / "__init__.py").exists()}
    others = {m.name for m in pkgutil.iter_modules() if m.name != "explorer"}
    assert not ours & (set(sys.stdlib_module_names) | others)


# ---- widgets whose options or labels depend on something else show what the page uses (issue 23) ----

def test_architecture_keeps_the_tab_and_the_granularity_through_a_language_switch() -> None:
    """In a browser a switch of language closed the open tab and left the Granularity radio
    with no option chosen while the table stayed at blocks: the browser keeps the label it
    showed until it is sent the new one."""
    at = open_app("architecture", model="resnet18", model_input="64")
    at.radio(key="arch_level").set_value("blocks").run()
    at.radio(key="lang").set_value("zh").run()
    assert not at.exception and at.radio(key="arch_level").value == Level.BLOCKS
    with in_language("zh"):
        assert sent_to_browser(at, "arch_level") == Level.BLOCKS.label
    assert len(at.dataframe[0].value) == len(layer_table(PRESETS["resnet18"], 64).blocks)
    open_tab(at, "Diagram")
    at.radio(key="arch_diagram_style").set_value("Paper style (Figure 3)").run()
    at.radio(key="lang").set_value("en").run()
    assert not at.exception and at.session_state["arch_tab"] == "Diagram"  # still open, now in English
    assert not at.dataframe and at.radio(key="arch_diagram_style").value == "Paper style (Figure 3)"
    assert sent_to_browser(at, "arch_diagram_style") == "Paper style (Figure 3)"
    assert any(i.proto.imgs[0].url for i in at.get("image"))  # the paper's figure, drawn


def test_architecture_stage_filter_and_page_follow_the_model() -> None:
    at = open_app("architecture", model="cifar_resnet1202", model_input="32")
    at.number_input(key="arch_page").set_value(8).run()
    at.multiselect(key="arch_stage_filter").set_value(["layer2"]).run()  # 1,201 rows: three pages
    assert at.number_input(key="arch_page").value == 3 and sent_to_browser(at, "arch_page") == 3
    assert any("(page 3 of 3)" in c.value for c in at.caption)
    at.selectbox(key="model_preset").set_value("resnet50").run()  # other stages: all of them again
    stages = [s.name for s in layer_table(PRESETS["resnet50"], 32).stages]
    assert not at.exception and at.multiselect(key="arch_stage_filter").value == stages
    assert sent_to_browser(at, "arch_stage_filter") == stages
    assert len(at.dataframe[0].value) == len(layer_table(PRESETS["resnet50"], 32).rows)


def test_the_model_pickers_per_stage_fields_follow_the_stage_count() -> None:
    """Planes typed for four stages used to stay in their box while the model took the default
    for three; the box is emptied now, and the later stages to dilate lose the one that went."""
    at = open_app("architecture", model="resnet50", model_input="64")
    at.selectbox(key="model_preset").select("custom…").run()
    at.text_input(key="model_planes").input("32,64,128,256").run()
    at.multiselect(key="model_dilate").set_value(["layer3", "layer4"]).run()
    at.text_input(key="model_stages").input("2,2,2").run()
    assert not at.exception and not at.error
    spec = at.session_state["sidebar_choice"].spec
    assert spec.stages == (2, 2, 2) and spec.stage_planes == (64, 128, 256) and spec.dilate == (False, True)
    assert at.text_input(key="model_planes").value == "" and sent_to_browser(at, "model_planes") == ""
    assert any(c.value == "Planes per stage: back to the default, to match the 3 stages." for c in at.sidebar.caption)
    assert at.multiselect(key="model_dilate").value == ["layer3"] and sent_to_browser(at, "model_dilate") == ["layer3"]
    at.radio(key="lang").set_value("zh").run()  # "custom…" is said anew, in Chinese
    with in_language("zh"):
        assert sent_to_browser(at, "model_preset") == _("custom…") != "custom…"


def test_a_bad_entry_in_the_custom_picker_leaves_every_other_box_drawn() -> None:
    """A box left out of one run comes back in the browser at its own default (the input size
    read 1, the planes were emptied) while the page went on with the session's value: under an
    error the picker still draws every box, holding what was typed."""
    at = open_app("architecture", model="resnet18", model_input="64")
    at.selectbox(key="model_preset").select("custom…").run()
    at.text_input(key="model_planes").input("32,64,128,256").run()
    at.text_input(key="model_stages").input("2,2,x").run()
    assert [shown(e.value) for e in at.error] == ["This combination cannot be built: Blocks per stage: '2,2,x' is not a "
                                                  "list of whole numbers separated by commas, like 3,4,6,3."]
    assert at.text_input(key="model_planes").value == "32,64,128,256"
    assert at.number_input(key="model_input").value == 64 and at.multiselect(key="model_dilate").value == []
    at.text_input(key="model_stages").input("2,2,2,2").run()
    assert not at.error
    choice = at.session_state["sidebar_choice"]
    assert choice.spec.stage_planes == (32, 64, 128, 256) and choice.input_size == 64
    # Sized by depth, a combination that cannot be built still draws the depth and the later boxes.
    at.radio(key="model_by").set_value("depth").run()
    at.checkbox(key="model_preact").check().run()
    at.radio(key="model_shortcut").set_value("none").run()
    assert len(at.error) == 1 and "shortcut" in shown(at.error[0].value)
    assert at.number_input(key="model_depth").value == 18 and at.number_input(key="model_input").value == 64
    assert at.text_input(key="model_planes").value == "32,64,128,256"


def test_zero_init_keeps_its_input_size_above_the_stride_and_the_deep_net_deeper() -> None:
    at = open_app("zero_init", timeout=300, model="cifar_resnet20")
    at.number_input(key="zi_batch").set_value(8).run()
    at.number_input(key="zi_size").set_value(16).run()
    at.selectbox(key="zi_deep").set_value(32).run()
    at.selectbox(key="zi_shallow").set_value(32).run()  # as deep as the deep net: it goes back to 56, not to 44
    assert not at.exception and at.selectbox(key="zi_deep").value == 56 and sent_to_browser(at, "zi_deep") == "56"
    assert at.selectbox(key="zi_deep").options == ["44", "56", "110"]
    (chart,) = [c for c in at.get("plotly_chart") if c.key == "zi_plain_gradients"]
    assert "depth 56" in json.loads(chart.proto.spec)["layout"]["title"]["text"]
    at.selectbox(key="model_preset").set_value("resnet18").run()  # an output stride of 32: 16 px is too small
    size = at.number_input(key="zi_size").value
    assert not at.exception and size >= 32 and sent_to_browser(at, "zi_size") == size
    assert any(f"as {size}×{size} training pictures" in c.value for c in at.caption)


@pytest.mark.usefixtures("offline")
def test_compare_keeps_each_models_widgets_in_its_stages_weights_and_language() -> None:
    at = open_app("compare", a="cifar_resnet20", b="resnet18")
    at.radio(key="cmp_zoo_x").set_value("params").run()
    at.number_input(key="cmp_input").set_value(32).run()
    at.session_state["cmp_image_open"] = True
    at.run()
    at.radio(key="cmp_a_weights_kind").set_value("random").run()
    assert at.radio(key="cmp_b_weights_kind").value == "imagenet"  # offline: random weights, said so
    at.toggle(key="cmp_rf").set_value(True).run()
    at.selectbox(key="cmp_b_rf_stage").set_value("layer4").run()
    at.selectbox(key="cmp_model_b_preset").set_value("cifar_resnet32").run()  # no layer4, no ImageNet weights
    assert not at.exception
    assert at.selectbox(key="cmp_b_rf_stage").value == "layer2" and sent_to_browser(at, "cmp_b_rf_stage") == "layer2"
    assert any(c.value.startswith("**layer2 (") for c in at.caption)  # B's box, from the stage shown
    assert at.radio(key="cmp_b_weights_kind").value == "random"
    assert sent_to_browser(at, "cmp_b_weights_kind") == "random init (seeded)"
    at.radio(key="lang").set_value("zh").run()
    with in_language("zh"):
        assert sent_to_browser(at, "cmp_zoo_x") == ZooAxis.PARAMS.label != "params"


def choices_script() -> None:
    """A page with one selectbox and one slider whose options, labels, context and range the test sets."""
    import streamlit as st

    from explorer.ui.choices import clamped_number, valid_choice

    options, labels, context = st.session_state["setup"]
    used = valid_choice("pick", options, options[-1], label=labels.get, context=context)
    shown = st.selectbox("Pick", options, key="pick", format_func=labels.get)
    low, high = st.session_state["range"]
    number = clamped_number("number", low, high, low)
    st.markdown(f"used {used} shown {shown} number {number} slider {st.slider('N', low, high, key='number')}")


def test_a_choice_is_valid_used_as_shown_and_sent_only_when_the_browser_shows_another() -> None:
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_function(choices_script)
    at.session_state["setup"] = ([1, 2, 3], {1: "one", 2: "two", 3: "three"}, "a")
    at.session_state["range"] = (0, 10)
    at.run()

    def shown() -> tuple[str, object, object]:
        assert not at.exception, at.exception
        return at.markdown[0].value, sent_to_browser(at, "pick"), sent_to_browser(at, "number")

    assert shown() == ("used 3 shown 3 number 0 slider 0", "three", 0)  # the default, sent
    at.selectbox(key="pick").set_value(1).run()
    at.run()
    assert shown() == ("used 1 shown 1 number 0 slider 0", None, None)  # what the browser shows: nothing sent
    at.session_state["setup"] = ([1, 2, 3], {1: "uno", 2: "dos", 3: "tres"}, "a")  # the same value, a new label
    at.run()
    assert shown() == ("used 1 shown 1 number 0 slider 0", "uno", None)
    at.session_state["setup"] = ([2, 3], {2: "dos", 3: "tres"}, "a")  # 1 is gone: the default
    at.run()
    assert shown() == ("used 3 shown 3 number 0 slider 0", "tres", None)
    at.selectbox(key="pick").set_value(2).run()
    at.session_state["setup"] = ([2, 3], {2: "dos", 3: "tres"}, "b")  # chosen for another context: the default
    at.run()
    assert shown() == ("used 3 shown 3 number 0 slider 0", "tres", None)
    at.slider(key="number").set_value(9).run()
    at.session_state["range"] = (0, 5)  # out of range: to its edge
    at.run()
    assert shown()[0] == "used 3 shown 3 number 5 slider 5" and shown()[2] == 5
    at.session_state["range"] = (0, 8)  # in range, but a slider with another range is drawn anew: sent
    at.run()
    assert shown()[0] == "used 3 shown 3 number 5 slider 5" and shown()[2] == 5
    at.run()
    assert shown()[2] is None


def test_the_cpu_budget_is_the_affinity_capped_by_a_cgroup_quota(tmp_path: Path) -> None:
    import os

    from explorer.runtime.threads import cpu_budget, thread_environment

    cpus = len(os.sched_getaffinity(0))
    quota = tmp_path / "cpu.max"
    assert cpu_budget(tmp_path / "absent") == cpus
    quota.write_text("max 100000\n")
    assert cpu_budget(quota) == cpus
    quota.write_text("50000 100000\n")  # half a CPU still runs one thread
    assert cpu_budget(quota) == 1
    quota.write_text(f"{(cpus + 8) * 100000} 100000\n")  # a quota above the affinity mask does not add CPUs
    assert cpu_budget(quota) == cpus
    assert thread_environment({}, quota) == {"OMP_NUM_THREADS": str(cpus), "OMP_WAIT_POLICY": "PASSIVE"}
    assert thread_environment({"OMP_NUM_THREADS": "3"}, quota) == {"OMP_WAIT_POLICY": "PASSIVE"}  # the operator's wins


def test_the_app_sets_torchs_threads_before_torch_loads() -> None:
    """Issue 23: training took 849 s instead of 75 s on a busy server. OpenMP reads its variables
    once, as torch loads, so app.py must set them before any page imports torch."""
    import os
    import sys

    from explorer.runtime.threads import cpu_budget

    env = {k: v for k, v in os.environ.items() if not k.startswith("OMP_")}
    probe = ("import os, runpy, sys; runpy.run_path(sys.argv[1], run_name='__main__'); "
             "assert 'torch' not in sys.modules, 'Home loaded torch'; import torch; "
             "print(os.environ['OMP_WAIT_POLICY'], os.environ['OMP_NUM_THREADS'], torch.get_num_threads())")
    result = subprocess.run([sys.executable, "-c", probe, str(APP)], cwd=REPO_ROOT, env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-3:] == ["PASSIVE", str(cpu_budget()), str(cpu_budget())]
