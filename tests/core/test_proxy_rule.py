"""The proxy rule both transports share (``protocol.proxy_for``): the connection's ``proxy``, else the environment."""

from __future__ import annotations

import pytest

from airflow_provider_ofs.exceptions import OFSConnectionConfigError
from airflow_provider_ofs.protocol import proxy_for
from tests.core.factory import make_settings

HTTP_URL = "http://127.0.0.1:8080/SchedulerService/rest-api/v1/external/status"
HTTPS_URL = "https://tenant.example.com/app/SchedulerService/rest-api/v1/external/status"


def test_the_connection_proxy_is_used_for_every_call():
    settings = make_settings(proxy="http://proxy.example.com:3128")

    assert proxy_for(settings, HTTPS_URL, {"NO_PROXY": "*"}) == "http://proxy.example.com:3128"
    assert proxy_for(settings, HTTP_URL, {}) == "http://proxy.example.com:3128"


def test_a_proxy_without_a_scheme_means_http():
    assert make_settings(proxy="proxy.example.com:3128").proxy == "http://proxy.example.com:3128"


@pytest.mark.parametrize("proxy", ["ftp://proxy:21", "http://", "http://proxy:3128/path?x#y"])
def test_a_proxy_that_is_not_an_http_url_is_refused_naming_the_field(proxy):
    with pytest.raises(OFSConnectionConfigError, match="'proxy'"):
        make_settings(proxy=proxy)


def test_without_a_connection_proxy_the_environment_chooses_by_scheme():
    environ = {"HTTPS_PROXY": "http://secure-proxy:3128", "HTTP_PROXY": "http://plain-proxy:3128"}

    assert proxy_for(make_settings(), HTTPS_URL, environ) == "http://secure-proxy:3128"
    assert proxy_for(make_settings(), HTTP_URL, environ) == "http://plain-proxy:3128"
    assert proxy_for(make_settings(), HTTP_URL, {}) is None


def test_lower_case_variables_win_and_all_proxy_is_the_fallback():
    assert (
        proxy_for(make_settings(), HTTP_URL, {"HTTP_PROXY": "http://a:1", "http_proxy": "http://b:2"}) == "http://b:2"
    )
    assert proxy_for(make_settings(), HTTPS_URL, {"ALL_PROXY": "http://c:3"}) == "http://c:3"
    assert proxy_for(make_settings(), HTTPS_URL, {"HTTPS_PROXY": "d:4"}) == "http://d:4"


def test_loopback_goes_through_the_proxy_unless_no_proxy_says_otherwise():
    environ = {"HTTP_PROXY": "http://proxy:3128", "NO_PROXY": ""}

    assert proxy_for(make_settings(), HTTP_URL, environ) == "http://proxy:3128"


@pytest.mark.parametrize(
    "no_proxy",
    ["127.0.0.1", "localhost,127.0.0.1", "*", " 127.0.0.1 ", "127.0.0.0/8", "127.0.0.1:8080"],
)
def test_no_proxy_bypasses_the_environment_proxy(no_proxy):
    environ = {"HTTP_PROXY": "http://proxy:3128", "NO_PROXY": no_proxy}

    assert proxy_for(make_settings(), HTTP_URL, environ) is None


@pytest.mark.parametrize("no_proxy", ["example.com", ".example.com", "tenant.example.com"])
def test_no_proxy_matches_domain_suffixes(no_proxy):
    environ = {"HTTPS_PROXY": "http://proxy:3128", "no_proxy": no_proxy}

    assert proxy_for(make_settings(), HTTPS_URL, environ) is None
    assert proxy_for(make_settings(), "https://other.org/x", environ) == "http://proxy:3128"


PROXY = {"HTTPS_PROXY": "http://proxy:3128", "HTTP_PROXY": "http://proxy:3128"}


@pytest.mark.parametrize(
    ("url", "no_proxy"),
    [
        ("https://tenant.example.com./app/x", "tenant.example.com"),  # a trailing-dot host (fully qualified)
        ("https://tenant.example.com/app/x", "tenant.example.com."),  # a trailing-dot entry
        ("https://tenant.example.com./app/x", ".example.com."),
        ("https://TENANT.Example.com/app/x", "tenant.EXAMPLE.com"),
        ("https://tenant.example.com/app/x", "tenant.example.com:443"),  # the URL's default port
        ("http://tenant.example.com/app/x", "tenant.example.com:80"),
        ("https://tenant.example.com:8443/app/x", "example.com:8443"),
        ("http://127.0.0.1:8080/x", "127.0.0.1:8080"),
        ("http://[::1]:8080/x", "[::1]:8080"),
        ("http://[::1]:8080/x", "::1"),
        ("https://tenant.example.com/app/x", "other.org tenant.example.com"),  # blanks separate, as commas do
    ],
)
def test_no_proxy_is_read_as_curl_reads_it(url, no_proxy):
    assert proxy_for(make_settings(), url, {**PROXY, "NO_PROXY": no_proxy}) is None


@pytest.mark.parametrize(
    ("url", "no_proxy"),
    [
        ("https://tenant.example.com/app/x", "tenant.example.com:8443"),  # another port
        ("https://tenant.example.com:8443/app/x", "tenant.example.com:443"),
        ("https://notexample.com/x", "example.com"),
        ("https://tenant.example.com/app/x", "tenant.example.co"),
        ("http://127.0.0.1:8080/x", "127.0.0.1:9090"),
        ("https://tenant.example.com/app/x", "*.example.com"),  # no wildcards but a lone *
    ],
)
def test_no_proxy_entries_for_other_hosts_or_ports_do_not_bypass(url, no_proxy):
    assert proxy_for(make_settings(), url, {**PROXY, "NO_PROXY": no_proxy}) == "http://proxy:3128"
