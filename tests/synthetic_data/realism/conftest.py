"""The dataset the realism tests judge: the default classroom dataset, opened once."""

from __future__ import annotations

from pathlib import Path

import pytest

from synthetic_data.realism.frames import Dataset


@pytest.fixture(scope="session")
def classroom(classroom_dataset: Path) -> Path:
    """The default classroom dataset (default scale and seed), shared with the other tests."""
    return classroom_dataset


@pytest.fixture(scope="session")
def dataset(classroom: Path) -> Dataset:
    """One Dataset for every check, so each table is read once."""
    return Dataset.open(classroom)
