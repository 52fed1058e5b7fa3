"""The course authenticator's sign-up rules, without a hub: a name alone never approves an
account; a trainer name needs its one-time code; a code approves its own name once and
replaces a squatter's waiting sign-up."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import bcrypt
import pytest
from jupyterhub import orm
from nativeauthenticator.handlers import EmailAuthorizationHandler, SignUpHandler
from nativeauthenticator.orm import UserInfo

from hub_config.authenticator import TEMPLATES, CourseAuthenticator, CourseSignUpHandler
from hub_config.passwords import password_matches
from hub_config.signup_codes import SignupCodes

PASSWORD = "a-long-password-1"


@pytest.fixture
def db() -> Iterator[object]:
    session = orm.new_session_factory("sqlite:///:memory:")()
    yield session
    session.close()


@pytest.fixture
def codes(tmp_path: Path) -> SignupCodes:
    return SignupCodes(tmp_path / "hub" / "signup_codes.json")


@pytest.fixture
def auth(db: object, codes: SignupCodes) -> CourseAuthenticator:
    return CourseAuthenticator(
        db=db, admin_users={"trainer"}, allowed_users={"ann"}, allow_all=True,
        signup_codes_file=str(codes.path), minimum_password_length=8, check_common_password=True,
        username_pattern=r"^[a-z][a-z0-9_-]{1,30}$")


def logs_in(auth: CourseAuthenticator, name: str, password: str = PASSWORD) -> bool:
    # In a thread of its own: the browser tests' Playwright keeps an event loop running in this one.
    coroutine = auth.authenticate(None, {"username": name, "password": password})
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result() == name


def test_a_trainer_name_without_its_code_is_refused_outright(auth: CourseAuthenticator) -> None:
    for name in ("trainer", "Trainer", " trainer "):
        result = auth.sign_up(name, PASSWORD)
        assert result.user is None and not result.approved
        assert "reserved for a trainer" in result.message
    assert auth.get_user("trainer") is None, "nothing is left to approve by mistake"
    assert not logs_in(auth, "trainer")
    assert auth.create_user("trainer", PASSWORD) is None, "NativeAuthenticator's own entry point too"


def test_a_trainer_signs_up_with_its_code_once(auth: CourseAuthenticator, codes: SignupCodes) -> None:
    code = codes.issue(["trainer"])["trainer"]
    wrong = auth.sign_up("trainer", PASSWORD, code="ABCD-EFGH-JKMN-PQRS")
    assert wrong.user is None and "not valid for trainer" in wrong.message
    learner_code = codes.issue(["ann"])["ann"]
    assert auth.sign_up("trainer", PASSWORD, code=learner_code).user is None, "codes are bound to names"
    result = auth.sign_up("trainer", PASSWORD, code=code)
    assert result.approved and result.user.is_authorized
    assert logs_in(auth, "trainer")
    again = auth.sign_up("trainer", "another-password-2", code=code)
    assert again.user is None and "already in use" in again.message
    assert logs_in(auth, "trainer") and not logs_in(auth, "trainer", "another-password-2")


def test_allowed_and_unknown_names_wait_for_a_trainer(auth: CourseAuthenticator) -> None:
    # `allowed_users` and `admin_users` pre-approve nobody (NativeAuthenticator's would).
    for name in ("ann", "zed"):
        result = auth.sign_up(name, PASSWORD)
        assert result.user is not None and not result.approved and "waits for a trainer" in result.message
        assert not logs_in(auth, name)
    assert auth.get_authed_users() == set()
    UserInfo.change_authorization(auth.db, "zed")
    assert logs_in(auth, "zed")


def test_a_code_replaces_a_squatters_waiting_sign_up(auth: CourseAuthenticator,
                                                           codes: SignupCodes) -> None:
    code = codes.issue(["ann"])["ann"]
    assert not auth.sign_up("ann", "squatter-password-9").approved
    again = auth.sign_up("ann", "squatter-password-9")
    assert again.user is None and "already waiting" in again.message
    result = auth.sign_up("ann", PASSWORD, code=code)
    assert result.approved
    assert logs_in(auth, "ann") and not logs_in(auth, "ann", "squatter-password-9")
    assert len([u for u in UserInfo.all_users(auth.db) if u.username == "ann"]) == 1
    # An approved account is never replaced, even with a valid code.
    other = codes.issue(["ann"], reissue=True)["ann"]
    assert auth.sign_up("ann", "squatter-password-9", code=other).user is None
    assert logs_in(auth, "ann")


def test_password_rules_and_bad_codes_do_not_spend_the_code(auth: CourseAuthenticator,
                                                             codes: SignupCodes) -> None:
    code = codes.issue(["bob"])["bob"]
    assert "password" in auth.sign_up("bob", "short", code=code).message
    assert "did not match" in auth.sign_up("bob", PASSWORD, code=code, confirmation="other").message
    assert "cannot be used" in auth.sign_up("Bob Smith", PASSWORD, code=code).message
    assert auth.sign_up("bob", PASSWORD, code=code).approved, "the code survived the mistakes"


def test_no_codes_file_means_no_code_is_valid(db: object, tmp_path: Path) -> None:
    auth = CourseAuthenticator(db=db, admin_users={"trainer"}, allow_all=True)
    assert auth.sign_up("trainer", PASSWORD, code="ABCD-EFGH-JKMN-PQRS").user is None


@pytest.mark.parametrize("setting", [{"open_signup": True}, {"allow_self_approval_for": ".*",
                                                               "secret_key": "x" * 20}])
def test_settings_that_would_bypass_approval_are_refused(db: object, setting: dict) -> None:
    with pytest.raises(ValueError, match="CourseAuthenticator"):
        CourseAuthenticator(db=db, **setting)


def test_handlers_use_the_course_signup_page_and_drop_email_self_approval(auth: CourseAuthenticator) -> None:
    handlers = dict(auth.get_handlers(None))
    assert handlers[r"/signup"] is CourseSignUpHandler and issubclass(CourseSignUpHandler, SignUpHandler)
    assert EmailAuthorizationHandler not in handlers.values()
    assert r"/authorize/([^/]*)" in handlers and r"/change-password" in handlers
    page = (TEMPLATES / "course-signup.html").read_text()
    assert 'name="signup_code"' in page and 'name="_xsrf"' in page


def test_password_checks_leave_the_hub_event_loop_free(auth: CourseAuthenticator, codes: SignupCodes) -> None:
    # A workshop's logins arrive together: bcrypt on the event loop stalled the hub (and its proxy
    # calls) for a quarter of a second per login. bcrypt (the slower scheme) makes a stall visible.
    auth.password_scheme = "bcrypt"
    code = codes.issue(["ann"])["ann"]
    assert auth.sign_up("ann", PASSWORD, code=code).approved
    stored = auth.get_user("ann").password
    assert stored.startswith(b"$2b$")
    started = time.perf_counter()
    bcrypt.hashpw(PASSWORD.encode(), stored)
    one_check = time.perf_counter() - started

    async def logins() -> tuple[list[str | None], float]:
        loop = asyncio.get_running_loop()
        gaps: list[float] = []
        done = asyncio.Event()

        async def ticker() -> None:
            last = loop.time()
            while not done.is_set():
                await asyncio.sleep(0.005)
                gaps.append(loop.time() - last)
                last = loop.time()

        ticking = asyncio.create_task(ticker())
        await asyncio.sleep(0.02)
        tries = [{"username": "ann", "password": password} for password in [PASSWORD] * 3 + ["wrong-one-1"]]
        names = await asyncio.gather(*(auth.authenticate(None, data) for data in tries))
        done.set()
        await ticking
        return names, max(gaps)

    with ThreadPoolExecutor(1) as pool:
        names, longest_stall = pool.submit(asyncio.run, logins()).result()
    assert names == ["ann", "ann", "ann", None]
    assert longest_stall < one_check / 2, (longest_stall, one_check)


def test_a_stored_value_that_is_not_a_bcrypt_hash_never_matches() -> None:
    assert not password_matches(PASSWORD, b"")
    assert not password_matches(PASSWORD, b"not-a-hash")
    assert password_matches(PASSWORD, bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4)))


def test_new_accounts_store_argon2id_and_old_bcrypt_accounts_move_to_it_at_login(
        auth: CourseAuthenticator, db: object, codes: SignupCodes) -> None:
    assert auth.sign_up("ann", PASSWORD, code=codes.issue(["ann"])["ann"]).approved
    assert auth.get_user("ann").password.startswith(b"$argon2id$")
    assert logs_in(auth, "ann") and not logs_in(auth, "ann", "wrong-password-9")
    # An account from before: NativeAuthenticator's own bcrypt hash.
    db.add(UserInfo(username="bob", password=bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4)),
                    is_authorized=True))
    db.commit()
    assert not logs_in(auth, "bob", "wrong-password-9")
    assert auth.get_user("bob").password.startswith(b"$2b$"), "a wrong password rewrites nothing"
    assert logs_in(auth, "bob")
    assert auth.get_user("bob").password.startswith(b"$argon2id$")
    assert logs_in(auth, "bob") and not logs_in(auth, "bob", "wrong-password-9")


def test_nativeauthenticators_own_pages_check_both_schemes(auth: CourseAuthenticator, db: object,
                                                          codes: SignupCodes) -> None:
    # The login page's "not yet approved" message and the change-password page call
    # UserInfo.is_valid_password, which is bcrypt alone: on an Argon2id hash it raised (a 500 page).
    auth.sign_up("cat", PASSWORD)
    waiting = auth.get_user("cat")
    assert waiting.password.startswith(b"$argon2id$") and not waiting.is_authorized
    assert waiting.is_valid_password(PASSWORD) and not waiting.is_valid_password("wrong-password-9")
    assert auth.change_password("cat", "another-long-password-2")
    changed = auth.get_user("cat")
    assert changed.password.startswith(b"$argon2id$")
    assert changed.is_valid_password("another-long-password-2") and not changed.is_valid_password(PASSWORD)
    assert not auth.change_password("cat", "short"), "NativeAuthenticator's strength rule still holds"
    assert auth.change_password("nobody-here", "another-long-password-2") is None
