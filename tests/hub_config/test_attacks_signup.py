"""A hostile learner at the real workshop hub's sign-up page: signing up first under a trainer's
name, or under a roster learner's name, or with a guessed or reused code, must get them nothing.

Each test uses names of its own (fresh random ones, or the spare trainer name nobody else signs
up), so the tests do not depend on their order or on the other modules sharing the hub.
"""

from __future__ import annotations

import html
import secrets

import pytest
import requests
from hub_helpers import Hub, ensure_accounts

from hub_config.hubclient import HubClient
from hub_config.signup_codes import SignupCodes

pytestmark = pytest.mark.integration


def fresh_name() -> str:
    return "fjx" + secrets.token_hex(4)


def password() -> str:
    return "pw-" + secrets.token_urlsafe(12)


def trainer_session(hub: Hub) -> HubClient:
    return ensure_accounts(hub, [])[hub.trainer]


def api(client: HubClient, path: str, method: str = "GET") -> requests.Response:
    """The hub's REST API as the logged-in user of `client`, with a token of theirs."""
    return requests.request(method, f"{client.url}/hub/api/{path}", timeout=30,
                            headers={"Authorization": f"token {client.token()}"})


def waiting_names(trainer: HubClient) -> str:
    return trainer.session.get(f"{trainer.url}/hub/authorize", timeout=30).text


def test_a_trainer_name_needs_its_own_code_and_then_is_admin(hub: Hub) -> None:
    name, attacker_pw = hub.spare_trainer, password()
    message = HubClient(hub.url).signup(name, attacker_pw)
    assert "reserved for a trainer" in message
    assert not HubClient(hub.url).login(name, attacker_pw), "no admin account from a sign-up form"
    assert f"/authorize/{name}?_xsrf=" not in waiting_names(trainer_session(hub)), \
        "not even a waiting sign-up a trainer could approve by mistake"

    message = HubClient(hub.url).signup(name, attacker_pw, code="ABCD-EFGH-JKMN-PQRS")
    assert "not valid" in message
    other = fresh_name()
    others_code = SignupCodes(hub.codes_file).issue([other])[other]
    assert "not valid" in HubClient(hub.url).signup(name, attacker_pw, code=others_code), \
        "a learner's code opens no trainer name"
    assert not HubClient(hub.url).login(name, attacker_pw)

    owner_pw = password()
    message = HubClient(hub.url).signup(name, owner_pw, code=hub.codes[name])
    assert "account is ready" in message
    owner = HubClient(hub.url)
    assert owner.login(name, owner_pw)
    assert api(owner, "user").json()["admin"] is True, "the trainer signed up by code is the hub's admin"

    # The code is spent and the name is taken: nobody gets in with it afterwards.
    assert "already in use" in HubClient(hub.url).signup(name, attacker_pw, code=hub.codes[name])
    assert not HubClient(hub.url).login(name, attacker_pw)


def test_a_roster_name_squatter_waits_and_its_owner_gets_in_with_the_code(hub: Hub) -> None:
    name, squatter_pw, owner_pw = fresh_name(), password(), password()
    code = SignupCodes(hub.codes_file).issue([name])[name]  # as the installer does for the roster

    message = HubClient(hub.url).signup(name, squatter_pw)
    assert "waits for a trainer" in message
    assert not HubClient(hub.url).login(name, squatter_pw), "a roster name alone approves nobody"

    message = HubClient(hub.url).signup(name, owner_pw, code=code)
    assert "account is ready" in message, "the squatter's waiting sign-up keeps the owner out"
    owner = HubClient(hub.url)
    assert owner.login(name, owner_pw)
    assert api(owner, "user").json()["admin"] is False
    assert not HubClient(hub.url).login(name, squatter_pw), "the squatter's password is gone"
    assert "already in use" in HubClient(hub.url).signup(name, squatter_pw)


def test_a_trainer_can_discard_a_squatters_waiting_sign_up(hub: Hub) -> None:
    name, squatter_pw = fresh_name(), password()
    HubClient(hub.url).signup(name, squatter_pw)
    trainer = trainer_session(hub)
    assert f"/authorize/{name}?_xsrf=" in waiting_names(trainer)
    page = waiting_names(trainer)
    start = page.rindex('href="', 0, page.index(f"/discard/{name}?")) + len('href="')
    link = page[start:page.index('"', start)]
    assert trainer.session.get(f"{hub.url}{html.unescape(link)}", timeout=30).status_code == 200
    assert f"/authorize/{name}?_xsrf=" not in waiting_names(trainer)
    assert not HubClient(hub.url).login(name, squatter_pw)


def test_an_unknown_name_waits_for_a_trainers_approval(hub: Hub) -> None:
    page = requests.get(f"{hub.url}/hub/signup", timeout=30).text
    assert 'name="signup_code"' in page, "the sign-up page asks for the optional code"
    name, pw = fresh_name(), password()
    assert "waits for a trainer" in HubClient(hub.url).signup(name, pw)
    assert not HubClient(hub.url).login(name, pw)
    trainer = trainer_session(hub)
    assert not trainer.is_approved(name)
    trainer.approve(name)
    learner = HubClient(hub.url)
    assert learner.login(name, pw)
    assert api(learner, "user").json()["admin"] is False


def test_a_code_works_once_for_its_own_name(hub: Hub) -> None:
    name, other, pw = fresh_name(), fresh_name(), password()
    code = SignupCodes(hub.codes_file).issue([name, other])[name]
    assert "not valid" in HubClient(hub.url).signup(other, pw, code=code), "bound to its name"
    assert not HubClient(hub.url).login(other, pw)

    assert "account is ready" in HubClient(hub.url).signup(name, pw, code=code)
    learner = HubClient(hub.url)
    assert learner.login(name, pw)
    # Even once the account is gone (a trainer deleted it), its code does not work again.
    trainer = trainer_session(hub)
    assert api(trainer, f"users/{name}", "DELETE").status_code == 204
    assert not HubClient(hub.url).login(name, pw)
    new_pw = password()
    assert "not valid" in HubClient(hub.url).signup(name, new_pw, code=code)
    assert not HubClient(hub.url).login(name, new_pw)


def test_a_page_cannot_make_a_trainers_browser_approve_or_discard(hub: Hub) -> None:
    """An image in a learner's written answer, opened by a trainer in the formgrader (same origin
    as the hub), requests /hub/authorize/NAME or /hub/discard/NAME with the trainer's cookies."""
    squatter, victim = fresh_name(), fresh_name()
    HubClient(hub.url).signup(squatter, password())
    HubClient(hub.url).signup(victim, password())
    trainer = trainer_session(hub)
    for path in (f"authorize/{squatter}", f"discard/{victim}",
                 f"authorize/{squatter}?_xsrf=guessed"):
        r = trainer.session.get(f"{hub.url}/hub/{path}", timeout=30, allow_redirects=False,
                                headers={"Sec-Fetch-Mode": "no-cors", "Sec-Fetch-Site": "same-origin",
                                         "Sec-Fetch-Dest": "image"})
        assert r.status_code == 403, (path, r.status_code)
    assert not trainer.is_approved(squatter)
    assert f"/authorize/{victim}?_xsrf=" in waiting_names(trainer), "the victim's sign-up stays"


def test_a_name_with_markup_is_shown_as_text_on_the_sign_up_page(hub: Hub) -> None:
    """The sign-up page repeats the name typed; it must never become markup in the page."""
    name = '"><script>window.fjPwned=1</script>'
    client = HubClient(hub.url)
    xsrf = client._xsrf("/hub/signup")
    r = client.session.post(f"{hub.url}/hub/signup", timeout=30, data={
        "username": name, "signup_password": password(), "signup_password_confirmation": "x",
        "_xsrf": xsrf})
    assert r.status_code == 200
    assert "<script>window.fjPwned" not in r.text
    assert "&lt;script&gt;window.fjPwned" in r.text or "&#34;&gt;&lt;script" in r.text
