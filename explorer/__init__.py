"""ResNet Explorer's library: one public API over the layers in ``explorer/``'s folders.

    from explorer import ResNetSpec, build_model, layer_table, capture_activations, grad_cam

Each name is imported from its module on first use (PEP 562), so ``import explorer`` loads no
torch: the first page opens before torch has loaded. The layers, lowest first: ``runtime``
(language, private randomness, devices, memory, progress), ``data`` (pictures in), ``model``
(spec, presets, build, weights, checkpoints), ``analysis`` (the layer table and what is
measured on a model), ``studies`` (training experiments, class-shared runs), ``figures``
(plotly figures and rasters), then ``ui`` (Streamlit; not part of this API), ``app.py``,
``cli.py`` and the pages. Modules inside the package import each other, never this facade.
"""

from __future__ import annotations

import importlib
from typing import Any

# Public name -> the module under explorer/ that defines it.
_API: dict[str, str] = {
    # runtime.devices
    "describe_device": "runtime.devices", "DeviceKind": "runtime.devices", "DoesNotFit": "runtime.memory",
    "pick_device": "runtime.devices",
    # runtime.i18n
    "_": "runtime.i18n", "N_": "runtime.i18n", "language": "runtime.i18n",
    # runtime.threads
    "cpu_budget": "runtime.threads", "use_cpu_threads": "runtime.threads",
    # runtime.progress
    "shown": "runtime.progress", "Text": "runtime.progress",
    # data.images
    "AUGMENT_POLICIES": "data.images", "augmentation_samples": "data.images", "decode_image": "data.images",
    "denormalize": "data.images", "ImageError": "data.images", "preprocess": "data.images",
    "sample_images": "data.images",
    # data.shapes
    "task_classes": "data.shapes",
    # model.build
    "build_model": "model.build", "is_block": "model.build", "residual_branch_end": "model.build",
    "zero_init_target": "model.build",
    # model.checkpoint
    "read_checkpoint": "model.checkpoint",
    # model.families
    "CIFAR": "model.families", "IMAGENET": "model.families",
    # model.fields
    "FieldInfo": "model.fields", "Widget": "model.fields",
    # model.fitting
    "fit_head": "model.fitting", "guess_spec": "model.fitting",
    # model.kinds
    "Attention": "model.kinds", "Block": "model.kinds", "MiddleConv": "model.kinds", "Shortcut": "model.kinds",
    # model.presets
    "cifar_resnet": "model.presets", "get_preset": "model.presets", "PRESETS": "model.presets",
    # model.pretrained
    "available_weights": "model.pretrained", "default_weights": "model.pretrained",
    "download_weights": "model.pretrained", "torchvision_name": "model.pretrained",
    "WeightsUnavailable": "model.pretrained",
    # model.sources
    "class_names_for": "model.sources", "load_model": "model.sources", "preprocessing_for": "model.sources",
    "SourceKind": "model.sources", "UNTRAINED_NOTE": "model.sources", "weights_source": "model.sources",
    # model.spec
    "MAX_BLOCKS": "model.bounds", "ResNetSpec": "model.spec", "SPEC_FIELDS": "model.spec",
    "spec_for_depth": "model.spec",
    # model.token
    "spec_from_token": "model.token", "spec_to_token": "model.token",
    # analysis.activations
    "capture_activations": "analysis.activations", "capture_budget": "analysis.activations",
    "capture_bytes": "analysis.activations", "capture_points": "analysis.activations",
    "CaptureKey": "analysis.activations", "CaptureTooLarge": "analysis.activations",
    "CHANNELS_PER_PAGE": "analysis.activations", "ColourScale": "analysis.colour_scale",
    "file_stem": "analysis.activations", "first_conv_filters": "analysis.activations",
    "residual_parts": "analysis.activations", "TOP_K_DEFAULT": "analysis.activations",
    "value_range": "analysis.colour_scale",
    # analysis.anatomy
    "layer_table": "analysis.anatomy", "LayerTable": "analysis.anatomy", "Level": "analysis.anatomy",
    "RowKind": "analysis.anatomy",
    # analysis.compare
    "accuracy_lines": "analysis.compare", "accuracy_table": "analysis.compare",
    "aligned_stages": "analysis.compare", "anatomy_table": "analysis.compare", "block_words": "analysis.compare",
    "chart_highlights": "analysis.compare",
    "explain_difference": "analysis.compare", "stages_table_of": "analysis.compare",
    "family_lines": "analysis.family_diff", "image_through": "analysis.compare",
    "latency_lines": "analysis.compare", "speed_table": "analysis.compare", "stages_table": "analysis.compare",
    "totals_table": "analysis.compare",
    # analysis.gates, analysis.table_notes
    "gate_cost_lines": "analysis.gates", "gate_costs": "analysis.gates", "table_notes": "analysis.table_notes",
    # analysis.conventions
    "counts_table": "analysis.conventions", "layer_type_text": "analysis.conventions",
    "TOOLS": "analysis.conventions",
    # analysis.paper_table
    "paper_table1_rows": "analysis.paper_table",
    # analysis.predict
    "grad_cam": "analysis.predict", "GradCamKey": "analysis.predict", "predict": "analysis.predict",
    "PredictionKey": "analysis.predict",
    # analysis.profiling
    "cost_method_text": "analysis.profiling", "cost_notes": "analysis.profiling",
    "cost_table": "analysis.profiling", "CostReport": "analysis.profiling", "costs_of": "analysis.profiling",
    "LAYER_REPEATS": "analysis.profiling", "LAYER_WARMUPS": "analysis.profiling",
    "measure_layer_costs": "analysis.profiling", "measure_throughput": "analysis.profiling",
    "measure_throughputs": "analysis.profiling", "throughput_batches": "analysis.profiling",
    "THROUGHPUT_REPEATS": "analysis.profiling", "THROUGHPUT_WARMUPS": "analysis.profiling",
    # analysis.quick_checks
    "available_kinds": "analysis.quick_checks", "explanation_text": "analysis.quick_checks",
    "kind_label": "analysis.quick_checks", "make_question": "analysis.quick_checks",
    "Question": "analysis.quick_checks", "question_from_dict": "analysis.quick_checks",
    "question_text": "analysis.quick_checks", "question_to_dict": "analysis.quick_checks",
    "QuestionKind": "analysis.quick_checks",
    # analysis.receptive_field
    "effective_receptive_field": "analysis.receptive_field", "head_field_note": "analysis.receptive_field",
    "receptive_fields": "analysis.receptive_field",
    "theoretical_receptive_field": "analysis.receptive_field",
    # analysis.shortcuts
    "line_key": "analysis.shortcuts",
    # analysis.table_format
    "Column": "analysis.table_format", "format_shape": "analysis.table_format",
    "human_bytes": "analysis.table_format", "human_count": "analysis.table_format",
    "LEVEL_COLUMNS": "analysis.table_format", "page_count": "analysis.table_format",
    "PAGE_ROWS": "analysis.table_format", "records": "analysis.table_format",
    "screen_columns": "analysis.table_format", "screen_records": "analysis.table_format",
    "table_json": "analysis.table_format", "to_csv": "analysis.table_format",
    # analysis.text_table
    "layer_text": "analysis.text_table", "LayerText": "analysis.text_table", "TERMINAL_WIDTH": "analysis.text_table",
    "text_table": "analysis.text_table", "totals_text": "analysis.text_table",
    # analysis.timing
    "format_ms": "analysis.timing", "format_rate": "analysis.timing", "NOISY_SPREAD": "analysis.timing",
    "Timing": "analysis.timing", "timing_text": "analysis.timing",
    # analysis.training_cost
    "measure_speeds": "analysis.training_cost", "measure_training_step": "analysis.training_cost",
    "MeasuredSpeeds": "analysis.training_cost", "TRAINING_BATCH": "analysis.training_cost",
    "TRAINING_REPEATS": "analysis.training_cost", "TRAINING_WARMUPS": "analysis.training_cost",
    "training_lines": "analysis.training_cost", "training_memory": "analysis.training_cost",
    "training_memory_table": "analysis.training_cost", "training_memory_text": "analysis.training_cost",
    "training_speed_table": "analysis.training_cost", "training_step_batch": "analysis.training_cost",
    # analysis.zoo
    "convention_text": "analysis.zoo", "ops_convention": "analysis.zoo", "published_weights": "analysis.zoo",
    "Recipe": "analysis.zoo", "weights_of": "analysis.zoo",
    # studies.degradation
    "DEFAULT_DEEP": "studies.degradation", "DEFAULT_SHALLOW": "studies.degradation",
    "degradation_models": "studies.degradation", "PAPER_DEPTHS": "studies.degradation",
    "PLAIN_LABEL": "studies.degradation", "twin_of": "studies.degradation",
    # studies.training
    "MIN_TRAIN_BATCH": "studies.training", "MOMENTUM": "studies.training", "summarize": "studies.training",
    "summary_text": "studies.training", "SUMMARY_WINDOW": "studies.training", "TASK_EXAMPLES": "studies.training", "train_models": "studies.training",
    "TrainingRun": "studies.training", "WARMUP_STEPS": "studies.training", "WEIGHT_DECAY": "studies.training",
    # studies.class_time
    "CLASS_SECONDS": "studies.class_time", "estimate_text": "studies.class_time",
    "fitting_settings": "studies.class_time", "measure_step_cost": "studies.class_time",
    "run_seconds": "studies.class_time", "StepCost": "studies.class_time",
    "TrainingSettings": "studies.class_time", "training_sizes": "studies.class_time",
    # studies.preactivation
    "activation_twins": "studies.preactivation", "aligned_gradients": "studies.preactivation",
    "DEFAULT_PREACT_DEPTH": "studies.preactivation", "gradient_text": "studies.preactivation",
    "POST_LABEL": "studies.preactivation", "PRE_LABEL": "studies.preactivation",
    "PREACT_DEPTHS": "studies.preactivation", "preact_spec": "studies.preactivation",
    "signal_series": "studies.preactivation", "signal_styles": "studies.preactivation",
    "signal_text": "studies.preactivation",
    # studies.zero_init
    "FLAG_OFF": "studies.zero_init", "FLAG_ON": "studies.zero_init", "identity_rows": "studies.zero_init",
    "INIT_BATCH": "studies.zero_init",
    "twin_init": "studies.zero_init", "twins": "studies.zero_init",
    "silenced_gradients_text": "studies.zero_init", "zero_init_targets": "studies.zero_init",
    "zero_target_text": "studies.zero_init", "ZeroTarget": "studies.zero_init",
    # figures.architecture
    "architecture_diagram": "figures.architecture", "heat_css": "figures.architecture",
    "latency_chart": "figures.architecture", "shape_flow_chart": "figures.architecture",
    "stage_bars": "figures.architecture", "stage_bars_of": "figures.compare_bars",
    # figures.class_answers
    "answers_histogram": "figures.class_answers",
    # figures.curves
    "lines": "figures.curves", "series_colours": "figures.curves", "training_curves": "figures.curves",
    # figures.handout
    "comparison_html": "figures.handout", "handout_name": "figures.handout",
    # figures.maps
    "channel_grid": "figures.maps", "channel_values": "figures.maps", "channel_zoom": "figures.maps", "depth_statistics": "figures.maps",
    "side_by_side": "figures.maps", "stage_outputs": "figures.maps",
    # figures.paper.arrange
    "FOLD_AFTER": "figures.paper.arrange", "FOLD_HEAD": "figures.paper.arrange",
    "paper_figure": "figures.paper.arrange",
    # figures.paper.steps
    "figure_notes": "figures.paper.steps",
    # figures.paper.png
    "png_size": "figures.paper.png", "to_png": "figures.paper.png",
    # figures.paper.svg
    "to_svg": "figures.paper.svg",
    # figures.predictions
    "topk_bars": "figures.predictions",
    # figures.rasters
    "filter_tiles": "figures.rasters", "overlay": "figures.rasters", "viridis_png": "figures.rasters",
    # figures.zoo
    "accuracy_vs_cost": "figures.zoo", "ZooAxis": "figures.zoo",
}
__all__ = sorted(_API)


def __getattr__(name: str) -> Any:
    try:
        module = _API[name]
    except KeyError:
        raise AttributeError(f"module 'explorer' has no attribute {name!r}") from None
    # Looked up in its module every time, not kept here: the module stays the one place a name is
    # bound, so what tests patch there is what the pages get.
    return getattr(importlib.import_module(f"explorer.{module}"), name)


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
