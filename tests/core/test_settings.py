"""``ConnectionSettings``: what an ``ofs_scheduler`` connection must hold, its defaults and its normalisation."""

from __future__ import annotations

import pytest

from airflow_provider_ofs.exceptions import OFSConnectionConfigError
from airflow_provider_ofs.protocol import MAX_MONITOR_URL, ConnectionSettings, monitor_url_for
from tests.core.factory import CONN_ID, LOGIN, PASSWORD, make_settings


def test_complete_connection_gets_the_documented_defaults():
    settings = make_settings()

    assert settings.conn_id == CONN_ID
    assert settings.base_url == "https://tenant.example.com/app"
    assert settings.workspace_id == "WS001"
    assert settings.locale == "en-US"
    assert settings.remote_user == LOGIN
    assert settings.scope == "urn:opc:idm:__myscopes__ offline_access"
    assert settings.verify is True
    assert settings.timeout == 60.0
    assert settings.retry_attempts == 5
    assert settings.retry_wait == 1.0


def test_optional_extras_override_the_defaults():
    settings = make_settings(
        workspace_id="WS777",
        locale="fr-FR",
        remote_user="exec_user",
        scope="custom-scope",
        timeout="12.5",
        retry_attempts="3",
        retry_wait=0.02,
    )

    assert (settings.workspace_id, settings.locale, settings.remote_user) == ("WS777", "fr-FR", "exec_user")
    assert settings.scope == "custom-scope"
    assert settings.timeout == 12.5
    assert settings.retry_attempts == 3
    assert settings.retry_wait == 0.02


@pytest.mark.parametrize("extra_field", ["tenant_id", "service_id", "iam_url", "client_id", "client_secret"])
def test_missing_required_extra_names_the_field_and_the_connection(extra_field):
    with pytest.raises(OFSConnectionConfigError) as raised:
        make_settings(drop=(extra_field,))

    assert repr(extra_field) in str(raised.value)
    assert repr(CONN_ID) in str(raised.value)


@pytest.mark.parametrize("extra_field", ["tenant_id", "service_id", "iam_url", "client_id", "client_secret"])
def test_blank_required_extra_counts_as_missing(extra_field):
    with pytest.raises(OFSConnectionConfigError, match=repr(extra_field)):
        make_settings(**{extra_field: "   "})


@pytest.mark.parametrize(
    ("field", "overrides"),
    [("host", {"host": None}), ("host", {"host": "  "}), ("login", {"login": None}), ("password", {"password": ""})],
)
def test_missing_connection_field_names_the_field_and_the_connection(field, overrides):
    with pytest.raises(OFSConnectionConfigError) as raised:
        make_settings(**overrides)

    assert repr(field) in str(raised.value)
    assert repr(CONN_ID) in str(raised.value)


def test_pre_issued_access_token_needs_no_iam_fields():
    settings = make_settings(
        login=None,
        password=None,
        drop=("iam_url", "client_id", "client_secret"),
        access_token="pre-issued-token",
        remote_user="exec_user",
    )

    assert settings.access_token == "pre-issued-token"
    assert settings.iam_url == ""


def test_pre_issued_access_token_without_login_still_needs_a_remote_user():
    with pytest.raises(OFSConnectionConfigError, match="'remote_user'") as raised:
        make_settings(login=None, password=None, access_token="pre-issued-token")

    assert repr(CONN_ID) in str(raised.value)


@pytest.mark.parametrize(
    ("host", "base_url"),
    [
        ("tenant.example.com/app", "https://tenant.example.com/app"),
        ("tenant.example.com", "https://tenant.example.com"),
        ("https://tenant.example.com/app/", "https://tenant.example.com/app"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        (" https://tenant.example.com/app ", "https://tenant.example.com/app"),
        ("https://tenant.example.com/app/SchedulerService/rest-api/v1/external/", "https://tenant.example.com/app"),
    ],
)
def test_host_is_normalised_to_the_application_base_url(host, base_url):
    assert make_settings(host=host).base_url == base_url


def test_iam_url_without_scheme_means_https():
    assert make_settings(iam_url="iam.example.com/oauth2/v1/token").iam_url == "https://iam.example.com/oauth2/v1/token"


@pytest.mark.parametrize(
    ("value", "verify"),
    [
        (True, True),
        (False, False),
        ("true", True),
        ("True", True),
        ("", True),
        ("false", False),
        ("FALSE", False),
        ("0", False),
        ("/etc/ssl/ofs-ca.pem", "/etc/ssl/ofs-ca.pem"),
    ],
)
def test_verify_is_true_false_or_a_ca_bundle_path(value, verify):
    assert make_settings(verify=value).verify == verify


def test_verify_defaults_to_true_when_absent():
    assert make_settings(drop=("verify",)).verify is True


@pytest.mark.parametrize("name", ["timeout", "retry_attempts", "retry_wait"])
@pytest.mark.parametrize("value", ["abc", 0, -1, "-0.5"])
def test_number_extras_must_be_positive_and_the_error_names_them(name, value):
    with pytest.raises(OFSConnectionConfigError) as raised:
        make_settings(**{name: value})

    assert repr(name) in str(raised.value)
    assert repr(CONN_ID) in str(raised.value)


def test_repr_shows_no_secret():
    settings = make_settings(access_token="pre-issued-token-XYZ")

    text = repr(settings)

    assert PASSWORD not in text
    assert "client-secret-1" not in text
    assert "pre-issued-token-XYZ" not in text


def test_secrets_lists_password_client_secret_and_access_token():
    settings = make_settings(access_token="pre-issued-token-XYZ")

    assert set(settings.secrets) == {PASSWORD, "client-secret-1", "pre-issued-token-XYZ"}


def test_cache_key_is_a_digest_that_holds_no_secret():
    key = make_settings().cache_key

    assert len(key) == 64
    assert PASSWORD not in key
    assert "client-secret-1" not in key


def test_same_identity_under_two_connection_ids_shares_a_cache_key():
    assert make_settings(conn_id="a").cache_key == make_settings(conn_id="b").cache_key


@pytest.mark.parametrize(
    "overrides",
    [
        {"login": "other_user"},
        {"password": "other-password"},
        {"client_id": "other-client"},
        {"client_secret": "other-secret"},
        {"iam_url": "https://other-iam.example.com/oauth2/v1/token"},
        {"access_token": "pre-issued"},
    ],
)
def test_a_different_identity_gets_a_different_cache_key(overrides):
    assert make_settings(**overrides).cache_key != make_settings().cache_key


def test_settings_are_immutable():
    settings = make_settings()

    with pytest.raises(AttributeError):
        settings.tenant_id = "OTHER"  # type: ignore[misc]


def test_from_connection_accepts_an_empty_extra_only_to_report_what_is_missing():
    with pytest.raises(OFSConnectionConfigError, match="'iam_url'"):
        ConnectionSettings.from_connection("bare", host="h", login="u", password="p", extra={})


def test_monitor_url_fills_run_id_batch_name_and_host_url_quoted():
    settings = make_settings(monitor_url="{host}/monitor?batch={batch_name}&run={run_id}")

    url = monitor_url_for(settings, "EOD RUN/1", "OFS_EOD")

    assert url == "https://tenant.example.com/app/monitor?batch=OFS_EOD&run=EOD%20RUN%2F1"


def test_no_monitor_url_means_no_link():
    assert monitor_url_for(make_settings(), "R1", "B") is None


@pytest.mark.parametrize(
    ("template", "complaint"),
    [
        ("https://ofs.example.com/monitor", "must contain {run_id}"),
        ("https://ofs.example.com/{run}", "is not a URL template"),
        ("https://ofs.example.com/{0}", "is not a URL template"),
        ("https://ofs.example.com/{run_id", "is not a URL template"),
    ],
)
def test_a_monitor_url_that_cannot_name_a_run_is_refused_naming_the_field(template, complaint):
    with pytest.raises(OFSConnectionConfigError, match="'monitor_url'") as raised:
        make_settings(monitor_url=template)

    assert complaint in str(raised.value)


@pytest.mark.parametrize(("value", "expected"), [(None, "string"), ("", "string"), ("Object", "object")])
def test_dynamic_params_format_defaults_to_the_guides_string(value, expected):
    assert make_settings(dynamic_params_format=value).dynamic_params_format == expected


def test_an_unknown_dynamic_params_format_names_the_field_and_the_connection():
    with pytest.raises(OFSConnectionConfigError, match=r"'ofs_test'.*'dynamic_params_format' must be .*not 'json'"):
        make_settings(conn_id="ofs_test", dynamic_params_format="json")


@pytest.mark.parametrize(
    "host",
    [
        "https://batch_user:s3cret-pw@tenant.example.com/app",
        "batch_user:s3cret-pw@tenant.example.com/app",
        "https://s3cret-pw@tenant.example.com",
        "https://:s3cret-pw@tenant.example.com",
    ],
)
def test_a_host_with_a_user_or_password_is_refused_by_field_without_showing_them(host):
    with pytest.raises(OFSConnectionConfigError, match="field 'host'") as raised:
        make_settings(host=host)

    assert "s3cret-pw" not in str(raised.value)
    assert "tenant.example.com" in str(raised.value)


@pytest.mark.parametrize("field", ["iam_url", "token_url"])
def test_an_iam_url_with_a_user_or_password_is_refused_by_field_without_showing_them(field):
    url = "https://client:s3cret-pw@iam.example.com/oauth2/v1/token"
    extra = {"iam_url": url} if field == "iam_url" else {"token_url": url, "drop": ("iam_url",)}

    with pytest.raises(OFSConnectionConfigError, match=f"'{field}'") as raised:
        make_settings(**extra)

    assert "s3cret-pw" not in str(raised.value)


@pytest.mark.parametrize(
    "host",
    [
        "https://tenant example.com/app",
        "https://tenant.example.com/my app",
        "https://tenant.example.com\t/app",
        "\x00h",
    ],
)
def test_a_host_with_whitespace_or_control_characters_is_refused_naming_the_field(host):
    with pytest.raises(OFSConnectionConfigError, match="field 'host'"):
        make_settings(host=host)


@pytest.mark.parametrize(
    "host", ["ftp://tenant.example.com/app", "https:///app", "file:///etc/passwd", "https://tenant.example.com:x/app"]
)
def test_a_host_that_is_not_an_http_url_with_a_host_name_is_refused(host):
    with pytest.raises(OFSConnectionConfigError, match="field 'host'"):
        make_settings(host=host)


@pytest.mark.parametrize(
    "template",
    [
        "https://ofs.example.com/{host.__class__}/{run_id}",
        "https://ofs.example.com/{run_id.__class__.__mro__}",
        "https://ofs.example.com/{run_id[0]}",
        "https://ofs.example.com/{run_id!r}",
        "https://ofs.example.com/{run_id:>100000000}",
        "https://ofs.example.com/{run_id:{batch_name}}",
        "https://ofs.example.com/{run_id}/{}",
    ],
)
def test_a_monitor_url_may_use_the_three_fields_only_as_they_are(template):
    with pytest.raises(OFSConnectionConfigError, match="'monitor_url'"):
        make_settings(monitor_url=template)


@pytest.mark.parametrize(
    "template",
    ["javascript:alert(1)//{run_id}", "ftp://ofs.example.com/{run_id}", "/monitor/{run_id}", "{run_id}"],
)
def test_a_monitor_url_must_be_an_http_or_https_url(template):
    with pytest.raises(OFSConnectionConfigError, match=r"'monitor_url'.*http"):
        make_settings(monitor_url=template)


def test_a_monitor_url_with_a_user_or_password_is_refused_without_showing_them():
    with pytest.raises(OFSConnectionConfigError, match="'monitor_url'") as raised:
        make_settings(monitor_url="https://viewer:s3cret-pw@ofs.example.com/{run_id}")

    assert "s3cret-pw" not in str(raised.value)


def test_a_monitor_url_template_longer_than_the_limit_is_refused_naming_it():
    template = "https://ofs.example.com/" + "a" * MAX_MONITOR_URL + "/{run_id}"

    with pytest.raises(OFSConnectionConfigError, match=f"'monitor_url'.*{MAX_MONITOR_URL}"):
        make_settings(monitor_url=template)


def test_a_built_monitor_url_longer_than_the_limit_is_not_published():
    settings = make_settings(monitor_url="{host}/monitor?run={run_id}&batch={batch_name}")

    assert monitor_url_for(settings, "R1", "B" * MAX_MONITOR_URL) is None
    assert monitor_url_for(settings, "R1", "B") == "https://tenant.example.com/app/monitor?run=R1&batch=B"


def test_escaped_braces_in_a_monitor_url_stay_literal():
    settings = make_settings(monitor_url="https://ofs.example.com/m?q={{x}}&run={run_id}")

    assert monitor_url_for(settings, "R1", "B") == "https://ofs.example.com/m?q={x}&run=R1"
