"""Write the golden layer tables in tests/golden/ after an intended change: ``python -m tests.update_golden``.

A separate step, never part of a test run: `test_golden_tables` only compares, so a run
cannot pass by writing what it then reads. Review the diff of tests/golden/ before committing.
"""

from __future__ import annotations

from pathlib import Path

from explorer.analysis.anatomy import Level, layer_table
from explorer.analysis.table_format import LEVEL_COLUMNS, to_csv
from explorer.model.presets import PRESETS

GOLDEN = Path(__file__).resolve().parent / "golden"
GOLDEN_MODELS = ("resnet18", "resnet50")


def golden_table(name: str, level: Level) -> tuple[Path, str]:
    """Where the golden table of ``name`` at 224 px and ``level`` lives, and its text as made now."""
    text = to_csv(layer_table(PRESETS[name], 224).rows_at(level), LEVEL_COLUMNS[level])
    return GOLDEN / (f"{name}_224.csv" if level is Level.LAYERS else f"{name}_224_{level.value}.csv"), text


def main() -> None:
    for name in GOLDEN_MODELS:
        for level in Level:
            path, text = golden_table(name, level)
            changed = not path.exists() or path.read_text(encoding="utf-8") != text
            path.write_text(text, encoding="utf-8")
            print(f"{'updated' if changed else 'unchanged'}: {path.relative_to(GOLDEN.parent.parent)}")


if __name__ == "__main__":
    main()
