"""What Airflow's forms, URIs and JSON hand the provider: each gives the same settings as the JSON form.

The extras below are what each supported Airflow stores when a user fills only the fields a user fills:
Airflow 3.3's form stores every field of ``conn-fields``, its default or ``null`` when empty (read back by
the browser test, ``make test-ui``); 2.11's form drops empty fields and stores what is typed as text.
Airflow 3.0's UI shows no provider's extra fields without FAB: its users write the extra JSON.
"""

from __future__ import annotations

import contextlib
import importlib
import json

import pytest
from airflow.models.connection import Connection

from airflow_provider_ofs.connection_form import CONNECTION_FIELDS
from airflow_provider_ofs.exceptions import OFSConnectionConfigError
from airflow_provider_ofs.transport import settings_from_connection
from tests.core.factory import make_settings

HOST = "https://tenant.example.com/app"
FILLED = {
    "iam_url": "https://iam.example.com/oauth2/v1/token",
    "client_id": "client-id-1",
    "client_secret": "client-secret-1",
    "tenant_id": "TENANT_1",
    "service_id": "SERVICE_1",
}

#: Airflow 3.3.2's form, as ``make test-ui`` read it back after saving (only the user's fields typed).
FORM_3X = {
    **FILLED,
    "workspace_id": "WS001",
    "remote_user": None,
    "locale": "en-US",
    "scope": "urn:opc:idm:__myscopes__ offline_access",
    "verify": "true",
    "proxy": None,
    "monitor_url": None,
    "access_token": None,
    "timeout": 60,
    "dynamic_params_format": "string",
}
#: Airflow 3.x with the defaults cleared by the user: blank text or null.
FORM_3X_CLEARED = dict.fromkeys(CONNECTION_FIELDS, None) | {"locale": "", "verify": "", "timeout": None} | FILLED
#: Airflow 2.11: only what was typed, as text.
FORM_2_11 = dict(FILLED)


def settings_of(extra, **fields):
    conn = Connection(conn_id="ofs_form", conn_type="ofs_scheduler", host=HOST, login="u", password="p", **fields)
    conn.set_extra(json.dumps(extra))
    return settings_from_connection("ofs_form", conn, conn.extra_dejson)


@pytest.mark.parametrize("extra", [FORM_3X, FORM_3X_CLEARED, FORM_2_11], ids=["3.x", "3.x-cleared", "2.11"])
def test_a_form_made_connection_gives_the_settings_of_the_json_form(extra):
    assert settings_of(extra) == settings_of(FILLED)


@pytest.mark.parametrize("name", sorted(set(CONNECTION_FIELDS) - set(FILLED)))
@pytest.mark.parametrize("empty", [None, "", "  "])
def test_an_empty_optional_extra_takes_its_default(name, empty):
    assert make_settings(**{name: empty}) == make_settings()


def test_verify_null_is_verification_on_not_a_ca_bundle_named_none():
    assert make_settings(verify=None).verify is True


@pytest.mark.parametrize("name", sorted(FILLED))
def test_a_required_extra_left_null_names_the_field(name):
    with pytest.raises(OFSConnectionConfigError, match=repr(name)):
        make_settings(**{name: None})


def test_the_old_token_url_extra_is_still_read_and_iam_url_wins():
    assert (
        make_settings(drop=("iam_url",), token_url="https://old.example.com/t").iam_url == "https://old.example.com/t"
    )
    assert make_settings(token_url="https://old.example.com/t").iam_url == FILLED["iam_url"]


def test_no_form_field_name_is_one_airflow_masks():
    should_hide_value_for_key = None
    for module in ("airflow.sdk._shared", "airflow.sdk.execution_time", "airflow.utils.log"):  # 3.3, 3.0, 2.11
        with contextlib.suppress(ImportError):
            should_hide_value_for_key = importlib.import_module(f"{module}.secrets_masker").should_hide_value_for_key
            break
    assert should_hide_value_for_key is not None

    shown = {name for name, spec in CONNECTION_FIELDS.items() if spec["schema"].get("format") != "password"}
    assert not [name for name in shown if should_hide_value_for_key(name)]
    assert should_hide_value_for_key("token_url")  # why the field was renamed


@pytest.mark.parametrize(
    ("uri", "base_url"),
    [
        ("ofs-scheduler://u:p@127.0.0.1:8089/?iam_url=x", "https://127.0.0.1:8089"),
        ("ofs-scheduler://u:p@127.0.0.1:8089/http?iam_url=x", "http://127.0.0.1:8089"),
        ("ofs-scheduler://http://u:p@127.0.0.1:8089/?iam_url=x", "http://127.0.0.1:8089"),
        ("ofs-scheduler://u:p@tenant.example.com?iam_url=x", "https://tenant.example.com"),
        ("ofs-scheduler://u:p@https%3A%2F%2Ftenant.example.com%2Fapp?iam_url=x", "https://tenant.example.com/app"),
    ],
)
def test_a_uri_keeps_its_port_and_scheme(uri, base_url):
    conn = Connection(conn_id="ofs_uri", uri=uri)
    extra = conn.extra_dejson | {name: value for name, value in FILLED.items() if name != "iam_url"}

    assert settings_from_connection("ofs_uri", conn, extra).base_url == base_url


def test_a_port_in_the_host_wins_over_the_port_field():
    assert make_settings(host="http://127.0.0.1:8089", port=9999).base_url == "http://127.0.0.1:8089"
    assert make_settings(host="127.0.0.1", port=8089, schema="http").base_url == "http://127.0.0.1:8089"
    assert make_settings(host="tenant.example.com/app", port=8443).base_url == "https://tenant.example.com:8443/app"


@pytest.mark.parametrize(("fields", "named"), [({"schema": "ftp"}, "'schema'"), ({"port": 70000}, "'port'")])
def test_a_bad_schema_or_port_is_named(fields, named):
    with pytest.raises(OFSConnectionConfigError, match=named):
        make_settings(host="127.0.0.1", **fields)
