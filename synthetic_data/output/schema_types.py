"""The two building blocks of every table definition: a column and a table."""

from __future__ import annotations

from dataclasses import dataclass

DTYPES = ("int", "float", "string", "date", "bool")


@dataclass(frozen=True)
class Column:
    name: str
    dtype: str
    description: str
    real_field: str = ""  # the Cafcass / Data First / ONS field it stands in for, where known
    nullable: bool = False


@dataclass(frozen=True)
class Table:
    name: str
    view: str
    description: str
    columns: tuple[Column, ...]
    unit: str  # what one row is

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]
