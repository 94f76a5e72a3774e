"""The resolved environment is the one the product was built and measured against."""

from importlib.metadata import version


def _major(package: str) -> int:
    return int(version(package).split(".")[0])


def test_pandas_is_3_or_newer() -> None:
    # great-expectations is 6-15x slower on pandas 2; statsforecast or dagster-duckdb-pandas
    # would silently pull pandas 2 back in.
    assert _major("pandas") >= 3


def test_duckdb_is_2() -> None:
    assert _major("duckdb") == 2


def test_great_expectations_is_1() -> None:
    assert _major("great-expectations") == 1
