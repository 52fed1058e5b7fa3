"""The course hub's authenticator: NativeAuthenticator with sign-up rules a learner cannot game.

Anyone can reach /hub/signup, so a chosen name must never grant anything by itself.
NativeAuthenticator approves a sign-up at once when the name is an admin's or an allowed user's;
whoever got there first under a trainer's name would then be a hub admin, and under a roster
name would take that learner's place. Here:

- a trainer name (an admin) can be signed up only with its one-time sign-up code: without one
  the sign-up is refused and no account is created, so the name cannot even be squatted;
- any other name is approved at sign-up only with its code, and otherwise waits for a trainer's
  approval at /hub/authorize like everyone else (the roster gives names codes, not approval);
- a valid code also replaces a sign-up still waiting under its name, so a learner who got there
  before the name's owner keeps nobody out, and never gets in.

Password rules, /hub/authorize, discarding sign-ups and changing passwords are
NativeAuthenticator's; how passwords are stored is hub_config.passwords (Argon2id, bcrypt for
older accounts). Codes come from hub_config.signup_codes. This module, passwords.py,
signup_codes.py and templates/ are also shipped, alone, into the Kubernetes hub pod
(k8s/values-signup.yaml).
"""

from __future__ import annotations

import asyncio
import hmac
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import ChoiceLoader, FileSystemLoader
from nativeauthenticator import NativeAuthenticator
from nativeauthenticator.handlers import (
    AuthorizationAreaHandler,
    DiscardHandler,
    EmailAuthorizationHandler,
    SignUpHandler,
    ToggleAuthorizationHandler,
    admin_users_scope,
)
from nativeauthenticator.orm import UserInfo
from tornado import web
from traitlets import Enum, Unicode

from hub_config.passwords import ARGON2ID, SCHEMES, hash_password, needs_rehash, password_matches
from hub_config.signup_codes import SignupCodes

TEMPLATES = Path(__file__).resolve().parent / "templates"
SIGNUP_TEMPLATE = "course-signup.html"
AUTHORIZATION_TEMPLATE = "course-authorization-area.html"


@dataclass
class SignupResult:
    """What a sign-up did, and what to tell the person who tried."""

    user: UserInfo | None
    approved: bool
    alert: str
    message: str


def _refused(message: str) -> SignupResult:
    return SignupResult(None, False, "alert-danger", message)


class CourseAuthenticator(NativeAuthenticator):
    """NativeAuthenticator whose sign-ups are approved only by a one-time code or a trainer."""

    signup_codes_file = Unicode(
        "", config=True,
        help="The hub's sign-up codes (hashes; see hub_config.signup_codes). Empty: no code is valid.",
    )
    signup_codes_seed_file = Unicode(
        "", config=True,
        help="Read-only codes file merged into signup_codes_file at each sign-up (Kubernetes secret).",
    )
    password_scheme = Enum(
        SCHEMES, ARGON2ID, config=True,
        help="How new passwords are stored (hub_config.passwords). bcrypt only where argon2-cffi "
             "cannot be installed; both are always accepted at login.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Each of these would approve sign-ups without a code or a trainer.
        if self.open_signup:
            raise ValueError("CourseAuthenticator: open_signup would approve every sign-up; leave it off")
        if self.allow_self_approval_for:
            raise ValueError("CourseAuthenticator: self-approval by email bypasses the trainers; leave "
                             "allow_self_approval_for unset")
        if self.recaptcha_key:
            raise ValueError("CourseAuthenticator: reCAPTCHA is not supported by the course sign-up page")

    @property
    def signup_codes(self) -> SignupCodes:
        """The codes store, read afresh at each sign-up so codes issued meanwhile count."""
        return SignupCodes(self.signup_codes_file or "/nonexistent/signup_codes.json",
                           seed=self.signup_codes_seed_file or None)

    def is_reserved(self, username: str) -> bool:
        """Trainer (admin) names: signed up only with their code, never approved by a form alone."""
        return self.normalize_username(username) in {self.normalize_username(n) for n in self.admin_users}

    def get_user(self, username: str) -> UserInfo | None:
        """The account's record, whose password check knows both schemes: NativeAuthenticator's
        own pages (a failed login, changing a password) call it and assume bcrypt."""
        user = super().get_user(username)
        if user is not None:
            user.is_valid_password = lambda password: password_matches(password, user.password)
        return user

    def change_password(self, username: str, new_password: str) -> bool | None:
        """NativeAuthenticator's rules, storing the new password in the hub's scheme."""
        user = self.get_user(username)
        if user is None or not self.is_password_strong(new_password):
            return None
        user.password = hash_password(new_password, self.password_scheme)
        self.db.commit()
        return True

    def get_authed_users(self) -> set[str]:
        """Only accounts actually approved: admin and allowed names approve nobody in advance."""
        return {info.username for info in UserInfo.all_users(self.db) if info.is_authorized}

    def create_user(self, username: str, password: str, **kwargs: Any) -> UserInfo | None:
        """NativeAuthenticator's entry point (also used by its imports), under the course's rules."""
        code = kwargs.pop("code", "") or ""
        return self.sign_up(username, password, code=code, **kwargs).user

    def sign_up(self, username: str, password: str, *, code: str = "",
                confirmation: str | None = None, **extra: Any) -> SignupResult:
        """Create an account under the course's rules and say what happened."""
        name = self.normalize_username((username or "").strip())
        code = (code or "").strip()
        if confirmation is not None and password != confirmation:
            return _refused("Your password did not match the confirmation. Please try again.")
        if not name or not self.validate_username(name):
            return _refused("That name cannot be used: use lower-case letters, digits, - and _, "
                            "starting with a letter (2 to 31 characters).")
        if not self.is_password_strong(password or ""):
            return _refused(f"Choose a password of at least {self.minimum_password_length} "
                            "characters that is not a common one.")
        if not self.enable_signup:
            return _refused("Sign-up is closed on this hub.")
        reserved = self.is_reserved(name)
        existing = self.get_user(name)
        if existing is not None and existing.is_authorized:
            return _refused(f"The name {name} is already in use. Choose another, or ask a trainer.")

        if not code:
            if reserved:
                self.log.warning("Refused a sign-up without a code under the trainer name %s", name)
                return _refused(f"The name {name} is reserved for a trainer. Trainers sign up with "
                                "the one-time sign-up code the installer gave them.")
            if existing is not None:
                return _refused(f"The name {name} is already waiting for approval. If it is yours "
                                "and a trainer gave you a sign-up code, sign up with the code.")
            user = self._add_user(name, password, authorized=False, **extra)
            if user is None:
                return _refused("The sign-up could not be saved; check the form and try again.")
            self.log.info("Sign-up of %s waits for a trainer's approval", name)
            return SignupResult(user, False, "alert-info",
                                f"Thank you: {name} now waits for a trainer's approval. You can log "
                                "in once a trainer has approved you (if a trainer gave you a sign-up "
                                "code, sign up again with it to get in at once).")

        # A code: check the account could be saved before spending it.
        try:
            user = self._user_info(name, password, authorized=True, **extra)
        except AssertionError:
            return _refused("The sign-up could not be saved; check the form and try again.")
        if not self.signup_codes.consume(name, code):
            self.log.warning("Refused a sign-up of %s with a wrong or used code", name)
            hint = "" if reserved else " Check it, or leave it empty to wait for a trainer's approval."
            return _refused(f"That sign-up code is not valid for {name}: a code works once, for the "
                            f"name it was issued to.{hint}")
        if existing is not None:
            # Someone signed up under this name before its owner: their waiting sign-up goes.
            self.log.warning("Replaced a sign-up of %s waiting for approval by its owner's code", name)
            self.db.delete(existing)
        self.db.add(user)
        self.db.commit()
        self.log.info("Sign-up of %s approved by its one-time code%s", name, " (trainer)" if reserved else "")
        return SignupResult(user, True, "alert-success",
                            f"Welcome, {name}: your account is ready. Log in with your password.")

    async def authenticate(self, handler: Any, data: dict[str, Any]) -> str | None:
        """NativeAuthenticator's login check, with the password comparison in a thread.

        Password hashes are slow on purpose; on the hub's event loop, a workshop's "everyone log
        in now" queued every login, server start and proxy call behind each other's password
        checks. Same rules and order as NativeAuthenticator's own. A bcrypt hash is rewritten in
        the hub's scheme once its password has been shown to be right.
        """
        username = self.normalize_username(data["username"])
        user = self.get_user(username)
        if not user:
            return None
        if self.allowed_failed_logins and self.is_blocked(username):
            return None
        stored = user.password
        loop = asyncio.get_running_loop()
        valid = await loop.run_in_executor(None, password_matches, data["password"], stored)
        validations = [user.is_authorized, valid]
        if user.has_2fa:
            validations.append(user.is_valid_token(data.get("2fa")))
        if all(validations):
            self.successful_login(username)
            if needs_rehash(bytes(stored), self.password_scheme):
                user.password = await loop.run_in_executor(
                    None, hash_password, data["password"], self.password_scheme)
                self.db.commit()
                self.log.info("Stored the password of %s as %s", username, self.password_scheme)
            return username
        self.add_login_attempt(username)
        return None

    def _user_info(self, name: str, password: str, *, authorized: bool, **extra: Any) -> UserInfo:
        infos = {key: value for key, value in extra.items() if key in ("email", "has_2fa")}
        return UserInfo(username=name, password=hash_password(password, self.password_scheme),
                        is_authorized=authorized, **infos)

    def _add_user(self, name: str, password: str, *, authorized: bool, **extra: Any) -> UserInfo | None:
        try:
            user = self._user_info(name, password, authorized=authorized, **extra)
        except AssertionError:
            return None
        self.db.add(user)
        self.db.commit()
        return user

    def get_handlers(self, app: Any) -> list[tuple[str, type]]:
        """NativeAuthenticator's pages with the course's sign-up page, approval and discard
        links that need the trainer's xsrf token, and without email self-approval (which would
        approve sign-ups without a trainer)."""
        replaced = {SignUpHandler: CourseSignUpHandler,
                    AuthorizationAreaHandler: CourseAuthorizationAreaHandler,
                    ToggleAuthorizationHandler: CourseToggleAuthorizationHandler,
                    DiscardHandler: CourseDiscardHandler}
        return [(path, replaced.get(handler, handler)) for path, handler in super().get_handlers(app)
                if handler is not EmailAuthorizationHandler]


class CourseTemplates:
    """Adds hub_config/templates to the hub's template loader, once.

    Appended like NativeAuthenticator's own templates: each page has a name of its own, so
    neither the hub's template_paths nor NativeAuthenticator's pages hide it."""

    _templates_registered = False

    def register_templates(self, settings: dict[str, Any]) -> None:
        if not CourseTemplates._templates_registered:
            env = settings["jinja2_env"]
            env.loader = ChoiceLoader([env.loader, FileSystemLoader([str(TEMPLATES)])])
            CourseTemplates._templates_registered = True


def require_xsrf_argument(handler: Any) -> None:
    """Refuse a state-changing GET that does not carry the trainer's own xsrf token.

    NativeAuthenticator approves (/hub/authorize/NAME) and discards (/hub/discard/NAME) with
    plain GET links, which JupyterHub never checks for xsrf. An image in a learner's written
    answer, opened by a trainer in the formgrader (same origin as the hub), would otherwise
    approve the learner's second account or discard someone's sign-up."""
    token = handler.get_argument("_xsrf", "")
    if not token or not hmac.compare_digest(token.encode("utf-8", "replace"), handler.xsrf_token):
        raise web.HTTPError(403, "approve and discard only from the authorization page's links")


class CourseAuthorizationAreaHandler(CourseTemplates, AuthorizationAreaHandler):
    """/hub/authorize, whose links carry the trainer's xsrf token."""

    @admin_users_scope
    async def get(self) -> None:
        self.register_templates(self.settings)
        self.finish(await self.render_template(
            AUTHORIZATION_TEMPLATE, ask_email=self.authenticator.ask_email_on_signup,
            users=self.db.query(UserInfo).all()))


class CourseToggleAuthorizationHandler(ToggleAuthorizationHandler):
    """Approve or withdraw approval, only from the authorization page."""

    async def get(self, slug: str) -> None:
        require_xsrf_argument(self)
        await super().get(slug)


class CourseDiscardHandler(DiscardHandler):
    """Discard a waiting sign-up, only from the authorization page."""

    async def get(self, user_name: str) -> None:
        require_xsrf_argument(self)
        await super().get(user_name)


class CourseSignUpHandler(CourseTemplates, SignUpHandler):
    """/hub/signup with an optional "Sign-up code" field and the course's result messages."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.register_templates(self.settings)

    async def _page(self, **values: Any) -> str:
        return await self.render_template(
            SIGNUP_TEMPLATE,
            ask_email=self.authenticator.ask_email_on_signup,
            two_factor_auth=self.authenticator.allow_2fa,
            **values,
        )

    async def get(self) -> None:
        if not self.authenticator.enable_signup:
            raise web.HTTPError(404)
        self.finish(await self._page())

    async def post(self) -> None:
        if not self.authenticator.enable_signup:
            raise web.HTTPError(404)
        username = self.get_body_argument("username", "", strip=True)
        result = self.authenticator.sign_up(
            username,
            self.get_body_argument("signup_password", "", strip=False),
            code=self.get_body_argument("signup_code", "", strip=True),
            confirmation=self.get_body_argument("signup_password_confirmation", "", strip=False),
            email=self.get_body_argument("email", "", strip=False) or None,
            has_2fa=bool(self.get_body_argument("2fa", "", strip=False)),
        )
        user = result.user
        self.finish(await self._page(
            alert=result.alert, result_message=result.message, approved=result.approved,
            username=username if user is None else user.username,
            two_factor_auth_user=bool(user and user.has_2fa),
            two_factor_auth_value=user.otp_secret if user is not None else "",
        ))
