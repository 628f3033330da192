"""The async path's CA bundle contexts: rebuilt when the file's bytes change, read at most once per interval."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from airflow_provider_ofs.hooks.ca_bundles import CaBundles
from airflow_provider_ofs.simulator.tls import make_self_signed_cert


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def two_pems(tmp_path_factory):
    """Two self-signed certificates padded to the same length (text outside the PEM block is ignored)."""
    old = Path(make_self_signed_cert(tmp_path_factory.mktemp("old"))[0]).read_bytes()
    new = Path(make_self_signed_cert(tmp_path_factory.mktemp("new"))[0]).read_bytes()
    width = max(len(old), len(new)) + 1
    return old.ljust(width - 1) + b"\n", new.ljust(width - 1) + b"\n"


def serials(context):
    return {cert["serialNumber"] for cert in context.get_ca_certs()}


def renew_in_place(bundle, content: bytes) -> None:
    """Overwrite the bundle keeping its size and modification time."""
    stat = os.stat(bundle)
    bundle.write_bytes(content)
    os.utime(bundle, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert (os.stat(bundle).st_size, os.stat(bundle).st_mtime_ns) == (stat.st_size, stat.st_mtime_ns)


def test_a_same_size_same_mtime_renewal_is_loaded_once_the_interval_has_passed(tmp_path, two_pems):
    old, new = two_pems
    bundle = tmp_path / "ca.pem"
    bundle.write_bytes(old)
    clock = FakeClock()
    bundles = CaBundles(recheck_seconds=5.0, clock=clock)
    first = bundles.context(str(bundle))

    renew_in_place(bundle, new)
    clock.now += 4.9
    unchanged = bundles.context(str(bundle))
    clock.now += 0.2
    renewed = bundles.context(str(bundle))

    assert unchanged is first  # within the interval the file is not read
    assert renewed is not first
    assert serials(renewed) != serials(first)
    assert serials(renewed) == serials(CaBundles().context(str(bundle)))


def test_reread_loads_a_renewal_at_once(tmp_path, two_pems):
    old, new = two_pems
    bundle = tmp_path / "ca.pem"
    bundle.write_bytes(old)
    bundles = CaBundles(recheck_seconds=3600.0, clock=FakeClock())
    first = bundles.context(str(bundle))

    renew_in_place(bundle, new)

    assert serials(bundles.context(str(bundle), reread=True)) != serials(first)


def test_unchanged_content_keeps_the_context(tmp_path, two_pems):
    bundle = tmp_path / "ca.pem"
    bundle.write_bytes(two_pems[0])
    clock = FakeClock()
    bundles = CaBundles(recheck_seconds=5.0, clock=clock)
    first = bundles.context(str(bundle))

    os.utime(bundle, ns=(0, 0))  # touched, same bytes
    clock.now += 60
    again = bundles.context(str(bundle), reread=True)

    assert again is first


def test_no_file_read_between_checks_and_a_missing_file_raises_at_the_next(tmp_path, two_pems):
    bundle = tmp_path / "ca.pem"
    bundle.write_bytes(two_pems[0])
    clock = FakeClock()
    bundles = CaBundles(recheck_seconds=5.0, clock=clock)
    first = bundles.context(str(bundle))

    bundle.unlink()
    clock.now += 1

    assert bundles.context(str(bundle)) is first
    clock.now += 5
    with pytest.raises(FileNotFoundError):
        bundles.context(str(bundle))
