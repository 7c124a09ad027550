"""Model weights: torchvision weights offline and cached, safe checkpoints, misfit messages, sources."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import torch

from explorer.cli import build_parser
from explorer.model import pretrained
from explorer.model.build import build_model
from explorer.model.presets import PRESETS, cifar_resnet
from explorer.model.spec import ResNetSpec
from explorer.runtime.i18n import in_language
from explorer.runtime.progress import shown
from explorer.model.checkpoint import CheckpointError, read_checkpoint
from explorer.model.fitting import guess_spec, load_checkpoint_model, state_mismatch
from explorer.model.pretrained import (
    WeightsUnavailable, available_weights, default_weights, fetch_weights_command, load_pretrained, torchvision_name,
    weights_file,
)
from explorer.model.sources import ModelSource, SourceKind, class_names_for, class_names_from_file, load_model, weights_source
from tests.checkpoints import CreatesAFile, saved


def test_available_weights_follow_torchvisions_enums() -> None:
    assert set(available_weights(PRESETS["resnet50"])) == {"IMAGENET1K_V1", "IMAGENET1K_V2"}
    assert set(available_weights(PRESETS["resnet18"])) == {"IMAGENET1K_V1"}
    assert torchvision_name(PRESETS["resnet50"].with_changes(zero_init_residual=True)) == "resnet50"
    assert available_weights(PRESETS["resnet50_caffe"]) == {}
    assert available_weights(PRESETS["resnet50"].with_changes(num_classes=10)) == {}


def test_offline_names_the_file_and_the_folder(offline: Path) -> None:
    with pytest.raises(WeightsUnavailable) as error:
        load_pretrained(PRESETS["resnet18"], "IMAGENET1K_V1")
    message = str(error.value)
    assert "resnet18-f37072fd.pth" in message and str(offline / "checkpoints") in message and "offline test" in message


def test_weights_in_the_cache_load_without_network(offline: Path) -> None:
    reference = build_model(PRESETS["resnet18"], seed=5)
    target = weights_file(available_weights(PRESETS["resnet18"])["IMAGENET1K_V1"])
    assert target == offline / "checkpoints" / "resnet18-f37072fd.pth"
    target.parent.mkdir(parents=True)
    torch.save(reference.state_dict(), target)
    model = load_model(PRESETS["resnet18"], ModelSource(SourceKind.IMAGENET, weights="IMAGENET1K_V1"))
    assert torch.equal(model.fc.weight, reference.fc.weight) and not model.training


def test_a_corrupted_download_is_refused(hub_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    class Response(io.BytesIO):
        headers = {"Content-Length": "3000000"}

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    progress: list[tuple[float, str]] = []
    monkeypatch.setattr(pretrained.urllib.request, "urlopen", lambda *a, **k: Response(b"x" * 3_000_000))
    with pytest.raises(WeightsUnavailable, match="hash mismatch"):
        load_pretrained(PRESETS["resnet18"], "IMAGENET1K_V1",
                        progress=lambda fraction, text, partial=None: progress.append((fraction, shown(text))))
    assert [fraction for fraction, _text in progress] == [2**20 / 3_000_000, 2**21 / 3_000_000, 1.0]
    assert progress[-1][1] == "Downloading IMAGENET1K_V1 weights… 3 MB"
    assert not list((hub_dir / "checkpoints").iterdir())  # no partial file left behind


def test_unknown_weights_name_is_explained() -> None:
    with pytest.raises(WeightsUnavailable, match="available: IMAGENET1K_V1"):
        load_pretrained(PRESETS["resnet18"], "IMAGENET1K_V9")
    with pytest.raises(WeightsUnavailable, match="only the ten torchvision ResNets"):
        load_pretrained(PRESETS["cifar_resnet20"], "IMAGENET1K_V1")


@pytest.mark.parametrize("wrap", [
    lambda sd: sd,
    lambda sd: {"model_state_dict": sd, "classes": ["cat", "dog"], "epoch": 3},
    lambda sd: {"state_dict": {f"module.{k}": v for k, v in sd.items()}, "class_names": ("cat", "dog")},
])
def test_checkpoint_formats_are_read(wrap) -> None:
    spec = PRESETS["resnet18"].with_changes(num_classes=2)
    model = build_model(spec, seed=1)
    checkpoint = read_checkpoint(saved(wrap(model.state_dict())))
    assert checkpoint.num_classes == 2
    assert checkpoint.class_names in (("cat", "dog"), None)
    loaded = load_checkpoint_model(spec, checkpoint)
    assert torch.equal(loaded.layer4[1].conv2.weight, model.layer4[1].conv2.weight)


def test_a_pickle_that_runs_code_is_refused_and_never_runs(tmp_path: Path) -> None:
    marker = tmp_path / "pwned.txt"
    data = saved({"model_state_dict": build_model(PRESETS["cifar_resnet20"]).state_dict(), "extra": CreatesAFile(marker)})
    with pytest.raises(CheckpointError, match="could run code"):
        read_checkpoint(data)
    assert not marker.exists()


@pytest.mark.parametrize(("data", "message"), [
    (b"", "empty"), (b"not a checkpoint at all", "not a PyTorch checkpoint"),
    (saved([1, 2, 3]), "holds a list"), (saved({"epoch": 3}), "no tensors"),
])
def test_unusable_files_are_explained(data: bytes, message: str) -> None:
    with pytest.raises(CheckpointError, match=message):
        read_checkpoint(data)


def test_a_misfit_names_keys_and_shapes_and_suggests_the_spec() -> None:
    state = build_model(PRESETS["resnet50"].with_changes(num_classes=2), "meta").state_dict()
    message = state_mismatch(PRESETS["resnet50"], state)
    assert "fc.weight: checkpoint (2, 2048) vs model (1000, 2048)" in message
    assert message.endswith("It looks like a resnet50 with 2 classes.")
    other = state_mismatch(PRESETS["resnet18"], state)
    assert "unexpected key(s): layer1.0.conv3.weight" in other
    with pytest.raises(CheckpointError, match="does not fit resnet18"):
        load_checkpoint_model(PRESETS["resnet18"], read_checkpoint(saved(build_model(PRESETS["cifar_resnet20"]).state_dict())))


@pytest.mark.parametrize("spec", [
    PRESETS["resnet34"], PRESETS["resnet152"].with_changes(num_classes=7), PRESETS["resnext101_32x8d"],
    PRESETS["wide_resnet50_2"], PRESETS["resnet50d"], PRESETS["resnet50c"], cifar_resnet(56), cifar_resnet(20, shortcut="C"),
    ResNetSpec(stages=(1, 1, 1), block="basic", in_channels=1, num_classes=3),
])
def test_the_spec_is_guessed_from_a_state_dict(spec: ResNetSpec) -> None:
    assert guess_spec(build_model(spec, "meta").state_dict()) == spec


def test_nonsense_state_dicts_have_no_guess() -> None:
    assert guess_spec({"weight": torch.zeros(3)}) is None


def test_one_rule_picks_the_weights() -> None:
    resnet50, cifar = PRESETS["resnet50"], PRESETS["cifar_resnet20"]
    checkpoint = read_checkpoint(saved(build_model(cifar).state_dict()))
    assert default_weights(resnet50) == "IMAGENET1K_V2" and default_weights(cifar) is None
    assert weights_source(resnet50) == ModelSource(SourceKind.IMAGENET, weights="IMAGENET1K_V2")
    assert weights_source(resnet50, "IMAGENET1K_V1") == ModelSource(SourceKind.IMAGENET, weights="IMAGENET1K_V1")
    assert weights_source(cifar, "random", seed=7) == ModelSource(SourceKind.RANDOM, seed=7)
    for weights in (None, "random"):
        assert weights_source(cifar, weights, checkpoint) == ModelSource(SourceKind.CHECKPOINT, checkpoint_digest=checkpoint.digest)
    for spec, weights, given, message in [
        (cifar, None, None, "cifar_resnet20 has no torchvision ImageNet weights"),
        (resnet50, "IMAGENET1K_V9", None, "Unknown weights 'IMAGENET1K_V9' for resnet50; available: IMAGENET1K_V1, "),
        (cifar, "IMAGENET1K_V1", checkpoint, "either ImageNet weights or a checkpoint"),
    ]:
        with pytest.raises(ValueError, match=message):
            weights_source(spec, weights, given)


def test_class_names_follow_one_precedence() -> None:
    spec = PRESETS["cifar_resnet20"].with_changes(num_classes=2)
    named = read_checkpoint(saved({"model_state_dict": build_model(spec).state_dict(), "classes": ["cat", "dog"]}))
    bare = read_checkpoint(saved(build_model(spec).state_dict()))
    mine = ModelSource(SourceKind.CHECKPOINT, checkpoint_digest=named.digest)
    two, three = "\ufeffdisc\n\n  square \n".encode(), b"a\nb\nc\n"
    assert class_names_from_file(two) == ("disc", "square")
    cases = [
        (mine, named, two, ("disc", "square"), "the names file", 0),
        (mine, named, None, ("cat", "dog"), "the checkpoint's class names", 0),
        (mine, named, three, ("cat", "dog"), "the checkpoint's class names", 1),
        (mine, bare, three, ("class 0", "class 1"), "numbered names", 1),
        (ModelSource(SourceKind.RANDOM), None, two, ("disc", "square"), "the names file", 0),
        (ModelSource(SourceKind.RANDOM), None, None, ("class 0", "class 1"), "numbered names", 0),
    ]
    for source, checkpoint, names_file, names, origin, skipped in cases:
        classes = class_names_for(spec, source, checkpoint, names_file)
        assert (classes.names, classes.origin, len(classes.skipped)) == (names, origin, skipped)
    assert class_names_for(spec, mine, named, three).skipped == (
        "3 names in the names file for the model's 2 classes: one name per class is needed.",)
    imagenet = ModelSource(SourceKind.IMAGENET, weights="IMAGENET1K_V1")
    categories = class_names_for(PRESETS["resnet18"], imagenet)
    assert categories.origin == "ImageNet's categories" and categories.names[:2] == ("tench", "goldfish")
    translated = "\n".join(f"类别 {i}" for i in range(1000)).encode()
    assert class_names_for(PRESETS["resnet18"], imagenet, None, translated).names[0] == "类别 0"


def test_a_source_says_what_it_is() -> None:
    assert ModelSource("imagenet", weights="IMAGENET1K_V2").kind is SourceKind.IMAGENET  # text becomes the enum
    assert ModelSource(SourceKind.RANDOM, seed=3).short_label == "random weights, seed 3"
    assert ModelSource(SourceKind.RANDOM, seed=3).label == "random weights, seed 3 — untrained, so its outputs mean nothing yet"
    assert [ModelSource(kind).untrained for kind in SourceKind] == [True, False, False]
    assert ModelSource(SourceKind.IMAGENET, weights="IMAGENET1K_V2").label == "ImageNet weights IMAGENET1K_V2 (torchvision)"
    assert ModelSource(SourceKind.CHECKPOINT, checkpoint_digest="ab" * 32).label == "uploaded checkpoint abababababab"


def nesting(text: str) -> int:
    """How deep brackets go in ``text``, ASCII and full-width alike: 2 for "a（b（c））"."""
    depth = deepest = 0
    for character in text:
        depth += character in "(（"
        deepest = max(deepest, depth)
        depth -= character in ")）"
    return deepest


def test_a_source_in_a_bracketed_title_nests_no_brackets() -> None:
    """"top-5（随机权重（种子 0））" read badly: the label carries no brackets of its own, in either language."""
    for language in ("en", "zh"):
        with in_language(language):
            labels = [ModelSource(SourceKind.RANDOM, seed=3).short_label, ModelSource(SourceKind.RANDOM).label,
                      ModelSource(SourceKind.IMAGENET, weights="IMAGENET1K_V2").short_label,
                      ModelSource(SourceKind.CHECKPOINT, checkpoint_digest="ab" * 32).short_label]
        assert all(nesting(f"({label})") == 1 for label in labels), labels
    with in_language("zh"):
        assert ModelSource(SourceKind.RANDOM).short_label == "随机权重，种子 0"


def test_a_torchvision_checkpoint_with_1000_outputs_gets_imagenets_class_names() -> None:
    spec = PRESETS["resnet18"]
    bare = read_checkpoint(saved(build_model(spec, seed=1).state_dict()))  # torch.save(model.state_dict(), f)
    mine = ModelSource(SourceKind.CHECKPOINT, checkpoint_digest=bare.digest)
    classes = class_names_for(spec, mine, bare)
    assert classes.names[:2] == ("tench", "goldfish") and len(classes.names) == 1000 and not classes.skipped
    assert classes.names == tuple(available_weights(spec)["IMAGENET1K_V1"].meta["categories"])
    assert classes.origin == "ImageNet's categories, as the checkpoint has ImageNet's 1,000 outputs"
    # Names of its own, or a names file, still come first; random weights keep numbered names.
    own = tuple(f"thing {i}" for i in range(1000))
    named = read_checkpoint(saved({"model_state_dict": build_model(spec, seed=1).state_dict(), "classes": list(own)}))
    assert class_names_for(spec, mine, named).names == own
    assert class_names_for(spec, mine, bare, b"\n".join(b"x%d" % i for i in range(1000))).names[0] == "x0"
    assert class_names_for(spec, ModelSource(SourceKind.RANDOM)).names[713] == "class 713"
    # Another number of outputs is not ImageNet's.
    ten = spec.with_changes(num_classes=10)
    assert class_names_for(ten, mine, read_checkpoint(saved(build_model(ten).state_dict()))).names[0] == "class 0"


def test_the_fetch_command_names_each_model_once_and_other_weights_by_name() -> None:
    resnet18, resnet50 = PRESETS["resnet18"], PRESETS["resnet50"]
    assert fetch_weights_command([(resnet18, "IMAGENET1K_V1"), (resnet50, "IMAGENET1K_V2"),
                                  (resnet18, "IMAGENET1K_V1")]) == "python -m explorer fetch-weights resnet18 resnet50"
    command = fetch_weights_command([(resnet50, "IMAGENET1K_V1"), (PRESETS["cifar_resnet20"], "IMAGENET1K_V1")])
    assert command == "python -m explorer fetch-weights resnet50 --weights IMAGENET1K_V1"
    args = build_parser().parse_args(command.removeprefix("python -m explorer ").split())  # the CLI takes it
    assert (args.command, args.models, args.weights) == ("fetch-weights", ["resnet50"], "IMAGENET1K_V1")
