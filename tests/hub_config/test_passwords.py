"""How passwords are stored: Argon2id for new ones, bcrypt still accepted, nothing else ever
matching."""

from __future__ import annotations

import subprocess
import sys

import bcrypt
import pytest

from hub_config import passwords
from hub_config.passwords import ARGON2ID, BCRYPT, hash_password, needs_rehash, password_matches, scheme_of

PASSWORD = "a-long-password-1"


def test_argon2id_uses_owasps_first_setting_and_a_fresh_salt_each_time() -> None:
    stored = hash_password(PASSWORD)
    assert stored.startswith(b"$argon2id$v=19$m=47104,t=1,p=1$")
    assert hash_password(PASSWORD) != stored, "a new salt per hash"
    assert password_matches(PASSWORD, stored)
    assert not password_matches(PASSWORD + "x", stored)
    assert not needs_rehash(stored, ARGON2ID)


def test_bcrypt_hashes_still_match_and_are_marked_for_rewriting() -> None:
    stored = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4))
    assert scheme_of(stored) == BCRYPT
    assert password_matches(PASSWORD, stored) and not password_matches("wrong-password", stored)
    assert needs_rehash(stored, ARGON2ID) and not needs_rehash(stored, BCRYPT)
    assert hash_password(PASSWORD, BCRYPT).startswith(b"$2b$12$")


def test_argon2id_made_with_weaker_settings_is_marked_for_rewriting() -> None:
    from argon2 import PasswordHasher

    weak = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(PASSWORD).encode()
    assert password_matches(PASSWORD, weak), "still accepted at login"
    assert needs_rehash(weak, ARGON2ID)


@pytest.mark.parametrize("stored", [b"", None, "text", b"not-a-hash", b"$2b$12$broken",
                                    b"$argon2id$v=19$m=47104,t=1,p=1$broken", b"$argon2i$v=19$x",
                                    b"$argon2id$\xff\xfe", bytearray(b"$2b$")])
def test_anything_that_is_not_a_known_hash_never_matches(stored: object) -> None:
    assert password_matches(PASSWORD, stored) is False  # type: ignore[arg-type]


def test_an_unknown_scheme_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="unknown password scheme 'md5'"):
        hash_password(PASSWORD, "md5")


def test_bcrypt_alone_needs_no_argon2() -> None:
    # The Kubernetes chart's stock hub image has bcrypt but not argon2-cffi.
    code = ("import sys; sys.modules['argon2'] = None\n"
            "from hub_config.passwords import hash_password, password_matches, needs_rehash\n"
            "h = hash_password('pw-long-enough', 'bcrypt')\n"
            "assert password_matches('pw-long-enough', h) and not needs_rehash(h, 'bcrypt')\n"
            "print('ok')")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "ok", result.stderr
    assert passwords.BCRYPT_ROUNDS == 12, "NativeAuthenticator's own cost, not lower"
