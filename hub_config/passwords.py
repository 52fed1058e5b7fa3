"""How the hub stores and checks learners' passwords: Argon2id, and bcrypt for older accounts.

A workshop begins with everyone logging in in the same minute, on a 2-core server. bcrypt at
NativeAuthenticator's cost (12) takes a quarter of a CPU-second per login, so fifty logins queue
for about six seconds before anyone sees a page. Argon2id with the first of OWASP's recommended
settings (46 MiB of memory, one pass, one lane; OWASP Password Storage Cheat Sheet) costs a
fifth of that in CPU, and its memory cost is what makes guessing on graphics cards expensive,
so logins get faster without weakening what a stolen hub database gives away.

Accounts made before, or on a hub without argon2-cffi (the Kubernetes chart's stock hub image),
hold bcrypt hashes: they keep working, and the authenticator rewrites a bcrypt hash as Argon2id
at the account's next successful login when the hub hashes with Argon2id.
"""

from __future__ import annotations

import hmac
from functools import cache
from typing import Any

import bcrypt

ARGON2ID = "argon2id"
BCRYPT = "bcrypt"
SCHEMES = (ARGON2ID, BCRYPT)
# OWASP's first Argon2id setting: m=47104 KiB (46 MiB), t=1, p=1.
ARGON2_MEMORY_KIB = 47104
ARGON2_PASSES = 1
ARGON2_LANES = 1
BCRYPT_ROUNDS = 12


@cache
def _argon2() -> Any:
    """argon2-cffi's hasher, imported only where Argon2id is used: the Kubernetes hub image
    runs this module with bcrypt alone."""
    from argon2 import PasswordHasher

    return PasswordHasher(time_cost=ARGON2_PASSES, memory_cost=ARGON2_MEMORY_KIB,
                          parallelism=ARGON2_LANES)


def scheme_of(stored: bytes) -> str | None:
    """Which scheme made ``stored`` (by its prefix), or None for anything else."""
    if stored.startswith(b"$argon2id$"):
        return ARGON2ID
    if stored[:4] in (b"$2a$", b"$2b$", b"$2y$"):
        return BCRYPT
    return None


def hash_password(password: str, scheme: str = ARGON2ID) -> bytes:
    """The stored form of ``password`` (salt and parameters included), as bytes for UserInfo."""
    if scheme == ARGON2ID:
        return _argon2().hash(password).encode()
    if scheme == BCRYPT:
        return bcrypt.hashpw(password.encode(), bcrypt.gensalt(BCRYPT_ROUNDS))
    raise ValueError(f"unknown password scheme {scheme!r} (known: {', '.join(SCHEMES)})")


def password_matches(password: str, stored: bytes | bytearray | None) -> bool:
    """Whether ``password`` is the one ``stored`` was made from. Both schemes release the GIL
    while they work, so the hub runs this in a thread. Anything that is not a hash of a known
    scheme never matches."""
    if not isinstance(stored, bytes | bytearray) or not stored:
        return False
    stored = bytes(stored)
    scheme = scheme_of(stored)
    if scheme == ARGON2ID:
        from argon2.exceptions import InvalidHashError, VerificationError

        try:
            return _argon2().verify(stored.decode("ascii"), password)
        except (VerificationError, InvalidHashError, UnicodeDecodeError):
            return False
    if scheme == BCRYPT:
        try:
            return hmac.compare_digest(bcrypt.hashpw(password.encode(), stored), stored)
        except ValueError:  # a damaged bcrypt hash
            return False
    return False


def needs_rehash(stored: bytes, scheme: str) -> bool:
    """Whether ``stored`` should be rewritten (after a successful login) to the hub's scheme and
    settings: a bcrypt hash on an Argon2id hub, or Argon2id made with other settings."""
    if scheme == ARGON2ID:
        if scheme_of(stored) != ARGON2ID:
            return True
        return _argon2().check_needs_rehash(stored.decode("ascii"))
    return False
