"""Misspellings one at a time: the keyboard layout, and what each edit may change."""

from __future__ import annotations

import numpy as np

from synthetic_data.capture.spelling import (
    keyboard_applicable,
    keyboard_neighbours,
    keyboard_strings,
    phonetic_matches,
    phonetic_strings,
    typo_strings,
)

NAMES = np.array(["William", "Jo", "Anne-Marie", "O'Neil", "MacDonald", "Li"] * 50, dtype=object)


def neighbours_of(letter: str) -> set[str]:
    table, counts = keyboard_neighbours()
    index = ord(letter) - ord("a")
    return {chr(c) for c in table[index, : counts[index]]}


def test_keyboard_neighbours_on_uk_qwerty() -> None:
    assert neighbours_of("a") == {"q", "w", "s", "z"}
    assert neighbours_of("g") == {"f", "h", "t", "y", "v", "b"}
    assert neighbours_of("p") == {"o", "l"}
    for letter in "abcdefghijklmnopqrstuvwxyz":
        assert all(letter in neighbours_of(other) for other in neighbours_of(letter)), letter


def test_keyboard_slips_change_one_letter_after_the_first_to_a_neighbour() -> None:
    out = keyboard_strings(NAMES, np.random.default_rng(1))
    for old, new in zip(NAMES, out, strict=True):
        diff = [i for i in range(len(old)) if old[i] != new[i]]
        assert len(new) == len(old) and len(diff) == 1 and diff[0] > 0
        a, b = old[diff[0]], new[diff[0]]
        assert a.isupper() == b.isupper() and b.lower() in neighbours_of(a.lower())


def test_keyboard_needs_a_letter_after_the_first() -> None:
    values = np.array(["A", "A-", "Al", None], dtype=object)
    assert keyboard_applicable(values).tolist() == [False, False, True, False]


def test_typos_keep_the_first_letter_and_change_the_name() -> None:
    out = typo_strings(NAMES, np.random.default_rng(2))
    assert all(new[0] == old[0] and new != old for old, new in zip(NAMES, out, strict=True))
    assert all(abs(len(new) - len(old)) <= 1 for old, new in zip(NAMES, out, strict=True))


def test_phonetic_rules_rewrite_one_matching_part() -> None:
    rules = (("ph", "f"), ("^C", "K"), ("ll", "l"))
    names = np.array(["Stephen", "Catherine", "Phillip", "Jo"], dtype=object)
    assert phonetic_matches(names, rules).tolist() == [
        [True, False, False], [False, True, False], [False, False, True], [False, False, False]]
    out = phonetic_strings(names[:3], rules, np.random.default_rng(0))
    assert out.tolist() == ["Stefen", "Katherine", "Philip"]
