"""Who exists in the rig and what each may do; shared by the htpasswd file and the token server.

Policy (token mode; htpasswd mode lets any listed user do anything):

- ``alice`` may pull, push and delete everywhere and list the catalog.
- ``bob`` may pull repositories outside ``private/``; private repositories grant him nothing,
  so the registry answers him 401 ``insufficient_scope``.
- anonymous callers may pull repositories outside ``private/`` and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class User:
    name: str
    password: str
    #: bcrypt (cost 4, the minimum, so basic-auth checks stay fast) of ``password``. Made once
    #: with ``crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16))``; baked in
    #: so the rig needs no bcrypt package. distribution's htpasswd accepts only bcrypt.
    bcrypt: str


ALICE = User(
    "alice", "secret-password", "$2b$04$7Lfn41fwVcdVgzH0wwJkAOpcrNZSWbsbuyEnIYMOUJnxgJha5knB6"
)
BOB = User("bob", "bob-password", "$2b$04$ZqeD2zbMSSB1X6r0yYBwLufPHjkLu0eOdwxVBExw1DeuddZicA5lq")
USERS: dict[str, User] = {u.name: u for u in (ALICE, BOB)}

ANONYMOUS = "anonymous"
PRIVATE_PREFIX = "private/"


def htpasswd() -> str:
    """The htpasswd file content for every rig user."""
    return "".join(f"{u.name}:{u.bcrypt}\n" for u in USERS.values())


def check_password(name: str, password: str) -> bool:
    """True when ``name`` is a rig user with this password."""
    user = USERS.get(name)
    return user is not None and user.password == password


def grant(identity: str, type_: str, name: str, actions: tuple[str, ...]) -> tuple[str, ...]:
    """The subset of ``actions`` that ``identity`` (a user name or ANONYMOUS) gets on a resource."""
    if type_ == "registry":
        allowed: set[str] = {"*"} if identity == ALICE.name and name == "catalog" else set()
    elif type_ != "repository":
        allowed = set()
    elif identity == ALICE.name:
        allowed = {"pull", "push", "delete", "*"}
    elif name.startswith(PRIVATE_PREFIX):
        allowed = set()
    else:
        allowed = {"pull"}
    return tuple(a for a in actions if a in allowed)
