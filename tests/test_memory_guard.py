"""Every path that allocates with a user's choice takes a reservation first: refused before any forward
under a small limit, held while the work runs, and shared by the whole process."""

from __future__ import annotations

import threading

import pytest
import torch
from torch import nn

from explorer.analysis.activations import capture_activations, capture_points
from explorer.analysis.memory_needs import memory_need
from explorer.analysis.predict import grad_cam, predict
from explorer.analysis.receptive_field import receptive_fields
from explorer.model.build import build_model
from explorer.model.presets import PRESETS
from explorer.runtime import memory
from explorer.runtime.memory import RESERVATIONS, DoesNotFit, MemoryLimit
from explorer.studies.training import TrainingRun, train_models
from tests.conftest import open_app, run_together, shown

GIB = 2**30
SMALL = MemoryLimit(free=2 * GIB, total=2 * GIB, source="cgroup v2")


@pytest.fixture
def small_limit(monkeypatch: pytest.MonkeyPatch) -> MemoryLimit:
    """A 2 GiB memory limit, all of it free, on every device."""
    monkeypatch.setattr(memory, "device_memory", lambda device: SMALL)
    return SMALL


class Forwards:
    """Every convolution run on real tensors anywhere (on a model or a view of it; the layer
    table's meta-device pass does not count): none means no forward ran."""

    def __init__(self, calls: list[tuple]) -> None:
        self.calls = calls

    def __bool__(self) -> bool:
        return any(args[1].device.type != "meta" for args in self.calls)


@pytest.fixture
def forwards(spy) -> Forwards:
    return Forwards(spy(nn.Conv2d, "forward"))


@pytest.fixture(scope="module")
def resnet18() -> nn.Module:
    return build_model(PRESETS["resnet18"], seed=0)


def refused_with(error: pytest.ExceptionInfo, start: str, needed: int, lower: str) -> None:
    message = str(error.value)
    shown = f"{needed / GIB:.2f}" if needed < 10 * GIB else f"{needed / GIB:.1f}"
    assert message.startswith(f"{start} needs about {shown} GiB but only 2.00 GiB is free for it"), message
    assert "(cgroup v2 limit 2.00 GiB" in message and message.endswith(lower)


def test_predict_at_a_big_size_is_refused_before_the_forward(small_limit, forwards, resnet18) -> None:
    spec = PRESETS["resnet18"]
    images = torch.zeros(2, 3, 2048, 2048)  # (N, 3, H, W)
    with pytest.raises(DoesNotFit) as refused:
        predict(resnet18, spec, images, [str(i) for i in range(1000)])
    refused_with(refused, "Predicting 2 pictures with resnet18 at 2048×2048 px", memory_need(spec, 2048, batch=2),
                 "Use a smaller input size or model, or fewer pictures.")
    assert not forwards and RESERVATIONS.held("cpu") == 0
    # At 256 px one picture's forward fits in 2 GiB and runs.
    (prediction,) = predict(resnet18, spec, torch.zeros(3, 256, 256), [str(i) for i in range(1000)])
    assert len(prediction.labels) == 5 and forwards


def test_grad_cam_counts_its_backward(small_limit, forwards, resnet18) -> None:
    """A forward of one picture at 1536 px fits in 2 GiB; Grad-CAM's twice the activations does not."""
    spec = PRESETS["resnet18"]
    image = torch.zeros(3, 1536, 1536)
    assert 0.8 * 2 * GIB > memory_need(spec, 1536) and memory_need(spec, 1536, activations=2.0) > 0.8 * 2 * GIB
    with pytest.raises(DoesNotFit) as refused:
        grad_cam(resnet18, spec, image, class_index=3)
    refused_with(refused, "Grad-CAM of resnet18 at 1536×1536 px", memory_need(spec, 1536, activations=2.0),
                 "Use a smaller input size or model.")
    assert not forwards


def test_capture_and_receptive_fields_are_refused_before_the_forward(small_limit, forwards, resnet18) -> None:
    spec = PRESETS["resnet18"]
    image = torch.zeros(3, 2048, 2048)
    points = capture_points(spec, 2048, detail=False, residual_parts=False)
    with pytest.raises(DoesNotFit, match=r"^Capturing the activations of resnet18 at 2048×2048 px needs about"):
        capture_activations(resnet18, spec, image, points, budget_bytes=2**40)  # past its own budget check
    with pytest.raises(DoesNotFit) as refused:
        receptive_fields(resnet18, spec, image, [("layer2", None)])
    refused_with(refused, "The receptive field of resnet18's layer2 at 2048×2048 px",
                 memory_need(spec, 2048, activations=2.0, through="layer2"), "Use a smaller input size or model.")
    assert memory_need(spec, 2048, through="layer2") < memory_need(spec, 2048)  # only the stages it goes through
    assert not forwards


def test_training_at_a_big_size_is_refused_before_any_model_is_built(small_limit, spy) -> None:
    from explorer.studies import training
    from explorer.studies.training import task_specs

    builds = spy(training, "build_model")
    specs = {"a": PRESETS["cifar_resnet20"]}
    with pytest.raises(DoesNotFit, match=r"^Training cifar_resnet20 4cls at 512x512 with batch 64 needs about .* "
                                         r"Use a smaller input size, a smaller model or a smaller batch\.$"):
        TrainingRun.of(specs, steps=1, batch_size=64, lr=0.1, seed=0, input_size=512).check_memory()
    with pytest.raises(DoesNotFit):
        train_models(specs, steps=1, batch_size=64, input_size=512)
    assert builds == [] and RESERVATIONS.held("cpu") == 0
    # A run that fits holds its memory while it trains, and gives it back after.
    held: list[int] = []
    train_models(specs, steps=2, batch_size=32, input_size=32,
                 progress=lambda fraction, text="", partial=None: held.append(RESERVATIONS.held("cpu")))
    assert len(held) == 2 and min(held) >= memory_need(task_specs(specs)["a"], 32, batch=32, params=3.0, activations=2.0)
    assert RESERVATIONS.held("cpu") == 0


def test_two_predictions_that_fit_alone_but_not_together_get_one_refusal(monkeypatch, resnet18) -> None:
    """The ledger is the process's: while one session's forward runs, its memory is not another's."""
    spec = PRESETS["resnet18"]
    image = torch.zeros(3, 512, 512)
    need = memory_need(spec, 512)
    free = int(need / 0.8 * 1.5)  # one fits (80 % of it), two do not
    monkeypatch.setattr(memory, "device_memory", lambda device: MemoryLimit(free, free, "host"))
    refused = threading.Event()
    # The first forward to start waits (at most 20 s) until the other request has been answered.
    def wait_for_the_other(module: nn.Module, args: tuple) -> None:
        refused.wait(20)

    handle = resnet18.conv1.register_forward_pre_hook(wait_for_the_other)

    def request() -> str:
        try:
            predict(resnet18, spec, image, [str(i) for i in range(1000)])
        except DoesNotFit as error:
            refused.set()
            return str(error)
        return "ran"

    try:
        outcomes = run_together(request, request)
    finally:
        handle.remove()
    assert sorted(outcomes, key=len)[0] == "ran"
    assert sorted(outcomes, key=len)[1].startswith("Predicting one picture with resnet18 at 512×512 px needs about")
    assert RESERVATIONS.held("cpu") == 0


def test_the_class_caches_take_a_share_of_the_cgroup_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    from explorer.ui import class_runs

    monkeypatch.delenv("EXPLORER_MODEL_CACHE_MB", raising=False)
    monkeypatch.setattr(class_runs, "process_memory", lambda: MemoryLimit(3 * GIB, 8 * GIB, "cgroup v2"))
    assert class_runs.budget_bytes("EXPLORER_MODEL_CACHE_MB", 0.25) == 2 * GIB
    monkeypatch.setenv("EXPLORER_MODEL_CACHE_MB", "300")
    assert class_runs.budget_bytes("EXPLORER_MODEL_CACHE_MB", 0.25) == 300 * 2**20


@pytest.mark.usefixtures("offline")
def test_the_predict_page_at_4096_px_says_what_to_lower(small_limit) -> None:
    at = open_app("predict", model="resnet18", model_input="4096")
    # Random weights: ImageNet weights bring their own 224-px preprocessing (and another test may
    # have left resnet18's in the class's model store).
    at.radio(key="pr_weights_kind").set_value("random").run()
    errors = [e.value for e in at.error]
    assert not at.exception
    assert any(e.startswith("Predicting one picture with resnet18 at 4096×4096 px needs about") for e in errors), errors
    assert any("Grad-CAM" in e or "fewer pictures" in e for e in errors)


@pytest.mark.usefixtures("offline")
def test_the_feature_maps_page_at_4096_px_refuses_the_capture_in_words(small_limit, monkeypatch) -> None:
    from explorer.studies.shared_results import SharedResults
    from explorer.ui import class_runs

    store = SharedResults(2**30)  # this test's own class store: no other test's captures in it
    monkeypatch.setattr(class_runs, "class_results", lambda: store)
    monkeypatch.setenv("EXPLORER_CAPTURE_BUDGET_MB", "1000000")  # past the capture's own budget, to the reservation
    at = open_app("feature_maps", model="resnet18", model_input="4096")
    at.radio(key="fm_weights_kind").set_value("random").run()  # ImageNet weights come with their own 224 px
    errors = [e.value for e in at.error]
    assert not at.exception
    assert any(e.startswith("Capturing the activations of resnet18 at 4096×4096 px needs about") for e in errors), errors


@pytest.mark.usefixtures("offline")
def test_a_long_picture_at_a_big_input_size_is_an_error_on_the_page(small_limit) -> None:
    """1000×50 decodes (aspect 20), but its short side resized to 4681 px would be 438 megapixels."""
    from PIL import Image

    from tests import images_corpus as corpus

    at = open_app("predict", model="resnet18", model_input="4096")
    at.radio(key="pr_weights_kind").set_value("random").run()
    at.multiselect(key="pr_samples").set_value([]).run()
    at.file_uploader(key="pr_uploads").set_value([
        ("long.png", corpus.encode(Image.new("RGB", (1000, 50)), "PNG"), "image/png")]).run()
    assert not at.exception
    assert any(shown(e.value).startswith("long.png: Resizing this 1000×50 picture to 4681 px") for e in at.error), at.error
