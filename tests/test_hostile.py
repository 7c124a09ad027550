"""Hostile links and files: each gets its own sentence, no exception, and nothing a user typed,
named or saved is shown as a link, an image or HTML.

`live_markup` walks every element AppTest holds and returns the text that a browser would
turn into a link or an image: Streamlit renders messages, titles, captions, labels and image
captions as markdown, and plotly draws a subset of HTML in labels, titles and hover text.
"""

from __future__ import annotations

import json
import re
import string

import pytest
import torch
from google.protobuf.json_format import MessageToDict

from explorer.model.build import build_model
from explorer.model.presets import cifar_resnet
from tests import images_corpus as corpus
from tests.checkpoints import saved
from tests.conftest import APP, APPTEST_TIMEOUT, shown

pytestmark = pytest.mark.usefixtures("offline")  # no test here may download weights

HOST = "e.com"
LINK = f"[Session expired: log in again](http://{HOST}/login)"
IMAGE = f"![x](http://{HOST}/i.png)"
ANCHOR = f'<a href="http://{HOST}">click</a>'
# A link, an image, HTML, a bare autolink, a colour directive, an icon, math, an e-mail autolink.
PAYLOAD = f"{LINK}{IMAGE} {ANCHOR} www.{HOST} :red[alarm] :material/home: $x^2$ a@{HOST}"
FILE_NAME = f"[x](http://{HOST}){IMAGE}"
ESCAPED_ONLY = r"escaped, still linked: http\:\/\/e\.com and a\@e\.com"  # the frontend links both

# The app's own links (Home cites the paper, an offline message names torchvision's download);
# anything else that would render as a link is a finding.
OWN_HOSTS = r"(?:arxiv\.org|download\.pytorch\.org)/"
MARKDOWN_LIVE = [
    re.compile(rf"(?<!\\)\]\((?!https://{OWN_HOSTS})"),  # [text](…) and ![alt](…)
    re.compile(r"(?<!\\)<(?:a|img)\b", re.IGNORECASE),  # raw HTML
    re.compile(r"(?<!\\):(?:red|blue|green|orange|violet|gray|grey|rainbow|primary)\[|(?<!\\):material/"),
]
# GFM's autolinks are found after the escapes are read (Streamlit's frontend links "http\:\/\/e\.com"),
# so they are looked for in the text with its escapes read: a scheme, "www." or an address.
AUTOLINKS = re.compile(rf"(?:https?://|\bwww\.)(?!{OWN_HOSTS})|[-.\w+]@[-\w]+\.", re.IGNORECASE)


def live_in_markdown(text: str) -> bool:
    return any(p.search(text) for p in MARKDOWN_LIVE) or bool(AUTOLINKS.search(shown_escapes(text)))


def shown_escapes(text: str) -> str:
    """``text`` with its backslash escapes read, joiners kept (they break an autolink in the browser)."""
    return re.sub("\\\\([" + re.escape(string.punctuation) + "])", r"\1", text)


PLOTLY_LIVE = re.compile(r"<(?:a|img)\b", re.IGNORECASE)  # plotly shows entities (&lt;a) as text
PLAIN_FIELDS = {"options", "default", "rawValue", "rawValues", "setValue", "value", "id", "formId"}
PLAIN_TEXT_WIDGETS = {"selectbox", "multiselect", "text_input", "number_input"}  # options and values are plain text


def _strings(value: object, skip: set[str]):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            if key not in skip:
                yield from _strings(item, skip)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item, skip)


def _elements(node):
    children = getattr(node, "children", None)
    if children:
        for child in children.values():
            yield from _elements(child)
    elif getattr(node, "proto", None) is not None:
        yield node


def live_markup(at) -> list[str]:
    """Every text in ``at``'s element tree that a browser would show as a link, an image or HTML."""
    found = []
    for element in _elements(at._tree):
        kind = element.type
        if kind == "plotly_chart":
            figure = json.loads(element.proto.spec)
            found += [text for text in _strings(figure, set()) if PLOTLY_LIVE.search(text)]
        elif kind in ("dataframe", "table"):
            frame = element.value
            cells = [str(name) for name in frame.columns] + [str(v) for v in frame.to_numpy().ravel() if isinstance(v, str)]
            found += [text for text in cells if live_in_markdown(text)]
        else:
            fields = MessageToDict(element.proto)
            skip = PLAIN_FIELDS if kind in PLAIN_TEXT_WIDGETS else {"id", "formId", "icon"}  # icons: the app's own
            found += [text for text in _strings(fields, skip) if live_in_markdown(text)]
    return found


def open_on(page: str | None, **query: str):
    """The app's ``pages/<page>.py`` (Home when None) opened from a link holding ``query``.

    The session opens on Home first (AppTest finds pages with their own url_path only after a
    run), then follows the link: the picker treats what it did not write itself as a link's.
    """
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(APP), default_timeout=APPTEST_TIMEOUT).run()
    for key, value in query.items():
        at.query_params[key] = value
    if page:
        at.switch_page(f"../pages/{page}.py")
    return at.run()


def assert_inert(at) -> None:
    assert not at.exception, at.exception
    assert live_markup(at) == []


# ---- the checker itself -----------------------------------------------------------------------

def test_the_checker_finds_live_links_images_html_and_directives() -> None:
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_string(f"""
import numpy as np
import plotly.graph_objects as go
import streamlit as st
st.markdown({LINK!r})
st.info("[log out](/logout)")
st.warning({ESCAPED_ONLY!r})
st.sidebar.warning({IMAGE!r})
st.caption("see www.{HOST}")
st.error(":red[alarm]")
st.image(np.zeros((4, 4, 3)), caption={ANCHOR!r})
st.plotly_chart(go.Figure(go.Bar(x=[1], y=[{ANCHOR!r}])))
st.dataframe({{{LINK!r}: [1]}})
st.selectbox("class", [{LINK!r}])  # plain text: not a finding
""")
    at.run()
    assert not at.exception
    found = live_markup(at)
    assert LINK in found and IMAGE in found and "[log out](/logout)" in found
    assert ESCAPED_ONLY in found and f"see www.{HOST}" in found and ":red[alarm]" in found
    assert found.count(ANCHOR) == 2  # the image's caption and the chart's label
    assert found.count(LINK) == 2  # the markdown and the dataframe's header, not the selectbox


def test_the_checker_passes_escaped_text_that_reads_the_same() -> None:
    from streamlit.testing.v1 import AppTest

    from explorer.figures.layout import plotly_text
    from explorer.ui.text import inert

    at = AppTest.from_string(f"""
import plotly.graph_objects as go
import streamlit as st
from explorer.figures.layout import plotly_text
from explorer.ui.text import inert
st.markdown("**Bold** " + inert({PAYLOAD!r}))
st.warning(inert({PAYLOAD!r}))
st.plotly_chart(go.Figure(go.Bar(x=[1], y=[plotly_text({ANCHOR!r})])))
st.markdown("[arXiv:1512.03385](https://arxiv.org/abs/1512.03385)")
""")
    at.run()
    assert not at.exception and live_markup(at) == []
    assert at.markdown[0].value == "**Bold** " + inert(PAYLOAD) and shown(inert(PAYLOAD)) == PAYLOAD
    assert plotly_text(ANCHOR) == '&lt;a href="http://e.com"&gt;click&lt;/a&gt;'


def test_inert_cuts_long_values_and_drops_line_breaks_and_direction_overrides() -> None:
    from explorer.ui.text import inert

    assert shown(inert("x" * 500)) == "x" * 199 + "…"
    assert shown(inert("a\n# heading\u202egpj.exe", limit=50)) == "a # heading gpj.exe"
    assert inert("résumé_1.png") == r"résumé\_1\.png"
    # GFM autolinks are found after the escapes are read: a word joiner breaks each pattern.
    assert inert("http://e.com www.e.com a@e.com") == "http\u2060\\:\\/\\/e\\.com www\u2060\\.e\\.com a\u2060\\@e\\.com"


# ---- hostile links ------------------------------------------------------------------------------

TOKEN = f"resnet50;{PAYLOAD}"


@pytest.mark.parametrize("page", [None, "architecture", "zero_init", "feature_maps", "predict"])
def test_a_hostile_model_link_is_named_as_text_on_every_page(page: str | None) -> None:
    at = open_on(page, model=TOKEN, model_input="32")
    assert_inert(at)
    warning = " ".join(shown(w.value) for w in at.sidebar.warning)
    assert f"Ignoring the model in the link: Cannot read '{LINK}{IMAGE}" in warning  # the library cuts the rest


def test_hostile_compare_links_are_named_as_text() -> None:
    at = open_on("compare", a=TOKEN, b=f"{IMAGE}{ANCHOR}")
    assert_inert(at)
    warnings = [shown(w.value) for w in at.warning]
    assert any(f"Cannot read '{LINK}{IMAGE}" in w for w in warnings) and any(f"'{IMAGE}" in w for w in warnings)


def test_a_hostile_second_predict_model_link_is_named_as_text() -> None:
    at = open_on("predict", model="cifar_resnet20", model_input="32", pr_b=TOKEN)
    at.multiselect(key="pr_samples").set_value([]).run()
    at.toggle(key="pr_compare").set_value(True).run()
    assert_inert(at)
    assert any(f"Cannot read '{LINK}{IMAGE}" in shown(w.value) for w in at.warning)


@pytest.mark.parametrize("size", ["²", "٣", "9" * 5000, "-1", "1e9", "0x20", FILE_NAME])
def test_a_junk_input_size_in_the_link_is_ignored(size: str) -> None:
    at = open_on("architecture", model="resnet18", model_input=size)
    assert_inert(at)
    assert at.number_input(key="model_input").value == 224


@pytest.mark.parametrize("page", [None, "architecture"])
def test_a_junk_language_in_the_link_is_ignored(page: str | None) -> None:
    at = open_on(page, lang=PAYLOAD)
    assert_inert(at)
    assert at.radio(key="lang").value == "en"


# ---- hostile files ------------------------------------------------------------------------------

def eps() -> bytes:
    return corpus.encode(corpus.photo(), "EPS")


@pytest.mark.parametrize(("data", "says"), [
    (corpus.encode(corpus.photo(), "PNG"), None),
    (eps(), "EPS files are not accepted"),
    (corpus.png_bomb(30_000, 10), "30000×10"),
])
def test_a_hostile_file_name_on_feature_maps_is_text(data: bytes, says: str | None) -> None:
    at = open_on("feature_maps", model="cifar_resnet20", model_input="32")
    at.radio(key="fm_weights_kind").set_value("random").run()
    at.radio(key="fm_image_source").set_value("upload").run()
    at.file_uploader(key="fm_upload").upload(FILE_NAME, data, "image/png").run()
    assert_inert(at)
    if says is None:
        assert not at.error
        assert any(shown(c.value).startswith(f"{FILE_NAME}: PNG, 120×80 px") for c in at.caption)
    else:
        assert len(at.error) == 1 and shown(at.error[0].value).startswith(f"{FILE_NAME}: ")
        assert says in shown(at.error[0].value)


def test_hostile_file_names_on_predict_are_text() -> None:
    at = open_on("predict", model="cifar_resnet20", model_input="32")
    at.radio(key="pr_weights_kind").set_value("random").run()
    at.multiselect(key="pr_samples").set_value([]).run()
    at.file_uploader(key="pr_uploads").set_value([
        (FILE_NAME, corpus.encode(corpus.photo(), "PNG"), "image/png"), (f"1{FILE_NAME}", eps(), "image/png"),
        (f"2{FILE_NAME}", corpus.png_bomb(30_000, 10), "image/png"),
    ]).run()
    assert_inert(at)
    assert [shown(m.value) for m in at.markdown if FILE_NAME in shown(m.value)] == [f"**{FILE_NAME}** · PNG, 120×80"]
    errors = [shown(e.value) for e in at.error]
    assert len(errors) == 2 and errors[0].startswith(f"1{FILE_NAME}: ") and errors[1].startswith(f"2{FILE_NAME}: ")


CLASSES = (ANCHOR, LINK)


def hostile_checkpoint() -> bytes:
    """cifar_resnet20 with two classes whose saved names are HTML and a markdown link."""
    model = build_model(cifar_resnet(20, num_classes=2), seed=0)
    return saved({"model_state_dict": model.state_dict(), "classes": list(CLASSES)})


def predict_with_checkpoint(data: bytes, name: str = FILE_NAME):
    at = open_on("predict", model="cifar_resnet20;num_classes=2", model_input="32")
    at.multiselect(key="pr_samples").set_value(["chelsea"]).run()
    at.radio(key="pr_weights_kind").set_value("checkpoint").run()
    at.file_uploader(key="pr_checkpoint").upload(name, data).run()
    return at


def test_hostile_class_names_from_a_checkpoint_are_text_in_the_chart_and_captions() -> None:
    at = predict_with_checkpoint(hostile_checkpoint())
    assert_inert(at)
    assert not at.error
    (chart,) = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    assert sorted(chart["data"][0]["y"]) == sorted(
        ['&lt;a href="http://e.com"&gt;click&lt;/a&gt;', LINK])  # plotly shows the entities as < and >
    captions = [shown(image.proto.imgs[0].caption) for image in at.get("image")]
    labels = [re.fullmatch("Grad-CAM for “(.*)” from .*", caption) for caption in captions]
    assert [label.group(1) for label in labels if label] in ([ANCHOR], [LINK])  # the top class, as it was saved


def test_hostile_class_names_from_a_names_file_are_text() -> None:
    at = predict_with_checkpoint(hostile_checkpoint())
    at.file_uploader(key="pr_names").upload(FILE_NAME, f"{IMAGE}\n{ANCHOR} {LINK}\n".encode(), "text/plain").run()
    assert_inert(at)
    (chart,) = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    assert IMAGE in chart["data"][0]["y"]


@pytest.mark.parametrize("key", [f"{LINK}.weight", f"layer1.{ANCHOR}"])
def test_a_checkpoint_whose_keys_are_hostile_is_refused_in_text(key: str) -> None:
    at = predict_with_checkpoint(saved({key: torch.zeros(1)}))
    assert_inert(at)
    errors = " ".join(shown(e.value) for e in at.error)
    assert "does not fit cifar_resnet20" in errors and f"1 unexpected key(s): {key}." in errors


def test_a_checkpoint_with_a_hostile_name_that_is_a_picture_is_refused_in_text() -> None:
    at = predict_with_checkpoint(eps())
    assert_inert(at)
    assert any(shown(e.value).startswith(f"{FILE_NAME}: ") for e in at.error)


def test_a_checkpoint_whose_fc_no_spec_can_take_is_refused_with_a_sentence() -> None:
    state = build_model(cifar_resnet(20, num_classes=2), seed=0).state_dict()
    state["fc.weight"], state["fc.bias"] = torch.zeros(0, 64), torch.zeros(0)  # an fc with no outputs
    at = predict_with_checkpoint(saved(state))
    assert_inert(at)
    assert [shown(e.value) for e in at.error] == [f"{FILE_NAME}: The checkpoint's fc has 0 outputs, which cifar_resnet20 "
                                                  "2cls cannot take: num_classes must be a positive whole number, got 0."]
    assert any("random weights" in w.value for w in at.warning)
