"""The README documents what the code does."""

from __future__ import annotations

from pathlib import Path

from orderlens.contracts import GENERIC_FIELDS, REFERENCE_INPUTS

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def test_two_commands_come_first() -> None:
    assert README.index("make demo") < README.index("## Using it")
    assert "make test" in README


def test_every_generic_column_is_documented() -> None:
    missing = [f.name for f in GENERIC_FIELDS if f.name not in README]
    assert missing == []
    for field in GENERIC_FIELDS:
        if field.required:
            assert f"{field.name} ✱" in README, field.name


def test_every_reference_input_is_documented() -> None:
    for ref in REFERENCE_INPUTS:
        assert f"{ref.file_stem}.csv" in README
        for field in ref.fields:
            assert field.name in README
