"""Speaking the Google Reader API in tests, as the apps do: ClientLogin with an app password,
then ``Authorization: GoogleLogin auth=<token>`` on every call."""

from __future__ import annotations

from dataclasses import dataclass

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from app.config import Settings
from app.services import app_passwords
from app.storage.db import Database
from app.storage.subscriptions import ensure_folder, update_subscription
from tests.conftest import add_user

PREFIXES = ("", "/api/greader.php")
API = "/reader/api/0"
READING_LIST = "user/-/state/com.google/reading-list"
READ = "user/-/state/com.google/read"
STARRED = "user/-/state/com.google/starred"
LONG = "tag:google.com,2005:reader/item/"


def app_password(db: Database, settings: Settings, username: str = "reader") -> str:
    """A new app password of ``username`` (created if needed)."""
    user = add_user(db, username)
    with db.session() as session:
        return app_passwords.create(session, settings, user, "NetNewsWire").password


@dataclass
class Reader:
    """An app signed in through ClientLogin under ``prefix``."""

    client: FlaskClient
    token: str
    prefix: str = ""

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"GoogleLogin auth={self.token}"}

    def get(self, path: str, **query: object) -> TestResponse:
        """GET ``/reader/api/0/<path>?<query>``."""
        return self.client.get(
            f"{self.prefix}{API}/{path}", query_string=query, headers=self.headers
        )

    def post(self, path: str, data: object = None, **query: object) -> TestResponse:
        """POST ``data`` (a form, or bytes) to ``/reader/api/0/<path>?<query>``."""
        return self.client.post(
            f"{self.prefix}{API}/{path}", query_string=query, data=data, headers=self.headers
        )


def client_login(
    client: FlaskClient, username: str, password: str, prefix: str = ""
) -> TestResponse:
    """ClientLogin as NetNewsWire posts it."""
    return client.post(
        f"{prefix}/accounts/ClientLogin",
        data={
            "Email": username,
            "Passwd": password,
            "service": "reader",
            "accountType": "HOSTED_OR_GOOGLE",
            "client": "NetNewsWire",
        },
    )


def sign_in(
    client: FlaskClient,
    db: Database,
    settings: Settings,
    username: str = "reader",
    prefix: str = "",
) -> Reader:
    """An app signed in as ``username`` with a new app password of theirs."""
    response = client_login(client, username, app_password(db, settings, username), prefix)
    assert response.status_code == 200, response.get_data(as_text=True)
    fields = dict(line.split("=", 1) for line in response.get_data(as_text=True).splitlines())
    return Reader(client, fields["Auth"], prefix)


def in_folder(db: Database, feed_id: int, name: str, username: str = "reader") -> int:
    """File the person's feed in their folder ``name`` (created if needed); its id."""
    user = add_user(db, username)
    with db.session() as session:
        folder_id = ensure_folder(session, user.id, name)
        update_subscription(session, user.id, feed_id, {"folder_id": folder_id})
        session.commit()
    return folder_id


def refs(response: TestResponse) -> list[int]:
    """The item ids of a ``stream/items/ids`` answer."""
    assert response.status_code == 200, response.get_data(as_text=True)
    return [int(ref["id"]) for ref in response.get_json()["itemRefs"]]


def long_ids(response: TestResponse) -> list[int]:
    """The item ids of a contents answer, checking they are in the long form."""
    assert response.status_code == 200, response.get_data(as_text=True)
    items = response.get_json()["items"]
    assert all(item["id"].startswith(LONG) and len(item["id"]) == len(LONG) + 16 for item in items)
    return [int(item["id"][len(LONG) :], 16) for item in items]
