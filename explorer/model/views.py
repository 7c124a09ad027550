"""Private, hookable views of a model that every session shares.

A model cached for all sessions must never carry hooks: another session's forward would
run them. A *view* is a module tree built on the meta device whose parameters and buffers
are the shared model's own tensors (``load_state_dict(assign=True)``: no copy). Hooks go on
the view, one thread uses it at a time, and idle views are pooled per model. (``torch.fx``
tracing, which ``create_feature_extractor`` uses, patches ``nn.Module.__call__`` for the
whole process while it traces, so it is avoided here.)
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager

from torch import nn

from explorer.model.build import build_model
from explorer.model.spec import ResNetSpec

MAX_IDLE_VIEWS = 4  # per model: enough for a class's concurrent captures, few module trees kept

_views: weakref.WeakKeyDictionary[nn.Module, list[nn.Module]] = weakref.WeakKeyDictionary()
_views_lock = threading.Lock()


@contextmanager
def leased_view(model: nn.Module, spec: ResNetSpec) -> Iterator[nn.Module]:
    """A hookable module tree sharing ``model``'s tensors, used by this thread alone."""
    with _views_lock:
        idle = _views.setdefault(model, [])
        view = idle.pop() if idle else None
    if view is None:
        view = build_model(spec, "meta")
        view.load_state_dict(model.state_dict(), assign=True)  # the same tensors, no copy
        view.eval()
    try:
        yield view
    finally:
        with _views_lock:
            idle = _views.setdefault(model, [])
            if len(idle) < MAX_IDLE_VIEWS:
                idle.append(view)
