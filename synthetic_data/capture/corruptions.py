"""The corruptions by name, in the one order a capture applies them.

``capture.yaml`` gives each source a rate per name; the names here are the only ones it may use,
and ``Captured.applied`` reports them, so graders can say which corruption made a record differ.
The functions live by what they change: ``name_errors``, ``date_errors``, ``identifier_errors``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from synthetic_data.capture import date_errors, identifier_errors, name_errors
from synthetic_data.capture.record import Record
from synthetic_data.capture.text import present
from synthetic_data.core.dates import NO_DATE

Apply = Callable[[Record, np.ndarray, np.random.Generator], np.ndarray]


@dataclass(frozen=True)
class Corruption:
    """A named corruption: the fields it may change, and the function that changes them.

    ``apply(record, rows, rng)`` receives the rows drawn at the source's rate, changes those it
    can apply to (a day/month swap needs a day of 12 or less, say) and returns them; rows it
    cannot apply to are left alone and not reported.
    """

    fields: tuple[str, ...]
    apply: Apply

    def __call__(self, record: Record, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return self.apply(record, rows, rng)


def blank(field: str) -> Apply:
    """A corruption that leaves a recorded value blank."""

    def leave_blank(record: Record, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        values = record.values[field]
        if field == "date_of_birth":
            rows = rows[values[rows] != NO_DATE]
            values[rows] = NO_DATE
        else:
            rows = rows[present(values[rows])]
            values[rows] = None
        return rows

    leave_blank.__doc__ = f"Leave {field} blank, as a source that did not ask or was not told."
    return leave_blank


# The registry, in the order corruptions are applied. The order matters:
# - blanks come first, so that every later corruption acts only on values still recorded;
# - whole-value replacements (baby name, twin, household member, partner's surname, swapped
#   names) come before spelling errors, which can then fall on the replaced value too;
# - postcode_invalid comes last among postcodes, so an out-of-date postcode can also be mistyped.
CORRUPTIONS: dict[str, Corruption] = {
    "dob_missing": Corruption(("date_of_birth",), blank("date_of_birth")),
    "nhs_missing": Corruption(("nhs_number",), blank("nhs_number")),
    "postcode_missing": Corruption(("postcode",), blank("postcode")),
    "baby_name": Corruption(("forename",), name_errors.baby_name),
    "twin_confusion": Corruption(("forename",), name_errors.twin_confusion),
    "household_copy": Corruption(("forename", "date_of_birth"), name_errors.household_copy),
    "surname_change": Corruption(("surname",), name_errors.surname_change),
    "name_swap": Corruption(("forename", "surname"), name_errors.name_swap),
    "nickname": Corruption(("forename",), name_errors.nickname),
    "phonetic": Corruption(("forename", "surname"), name_errors.phonetic),
    "keyboard": Corruption(("forename", "surname"), name_errors.keyboard),
    "typo": Corruption(("forename", "surname"), name_errors.typo),
    "dob_day_month_swap": Corruption(("date_of_birth",), date_errors.dob_day_month_swap),
    "dob_digit": Corruption(("date_of_birth",), date_errors.dob_digit),
    "dob_default_jan1": Corruption(("date_of_birth",), date_errors.dob_default_jan1),
    "sex_error": Corruption(("sex",), identifier_errors.sex_error),
    "nhs_wrong_person": Corruption(("nhs_number",), identifier_errors.nhs_wrong_person),
    "nhs_invalid": Corruption(("nhs_number",), identifier_errors.nhs_invalid),
    "postcode_out_of_date": Corruption(("postcode",), identifier_errors.postcode_out_of_date),
    "postcode_invalid": Corruption(("postcode",), identifier_errors.postcode_invalid),
}
