"""Which proxy a call goes through: the connection's ``proxy``, else the environment's, as curl reads it."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from urllib.parse import SplitResult, urlsplit

from airflow_provider_ofs.protocol.settings import ConnectionSettings


def proxy_for(settings: ConnectionSettings, url: str, environ: Mapping[str, str]) -> str | None:
    """The proxy a call to ``url`` goes through, the same rule for both transports; ``None`` for none.

    The connection's ``proxy`` when set, for every call. Otherwise the environment's, as curl and Python's
    ``urllib`` read it: ``https_proxy``/``http_proxy`` by the URL's scheme, then ``all_proxy`` (a lower-case
    name wins over its upper-case one), unless ``no_proxy`` names the host (``_bypassed``: names, domain
    suffixes, ``*``, IP networks such as ``10.0.0.0/8``, ``host:port``). Nothing is bypassed by default,
    loopback included.
    """
    if settings.proxy:
        return settings.proxy
    found = _proxy_environment(environ)
    parts = urlsplit(url)
    proxy = found.get(parts.scheme) or found.get("all")
    if not proxy or _bypassed(parts, found.get("no", "")):
        return None
    return proxy if "://" in proxy else "http://" + proxy


def _proxy_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """``urllib.request.getproxies_environment`` over any mapping: scheme (or ``no``) -> value."""
    found: dict[str, str] = {}
    for name, value in environ.items():  # upper-case and mixed names first ...
        if value and name.lower().endswith("_proxy"):
            found[name.lower()[:-6]] = value.strip()
    for name, value in environ.items():  # ... then lower-case names win, and an empty one unsets
        if name.endswith("_proxy") and name.islower():
            if value:
                found[name[:-6]] = value.strip()
            else:
                found.pop(name[:-6], None)
    return found


def _bypassed(url: SplitResult, no_proxy: str) -> bool:
    """Whether ``no_proxy`` names the URL's host, as curl reads it, but for ports.

    Entries are separated by commas or blanks; ``*`` alone bypasses everything. A name matches itself and
    its subdomains (a leading dot, and a trailing one on either side, are ignored; case does not count); an
    IP address or network (``10.0.0.0/8``, ``[::1]``) matches the addresses in it. An entry with a port
    (``host:8443``, ``[::1]:8080``) matches that port only, the URL's default port when it gives none: so
    ``requests`` and ``urllib`` read it, and with them every other hook of the Airflow the provider runs in,
    where curl ignores such an entry.
    """
    if no_proxy.strip() == "*":
        return True
    host = (url.hostname or "").rstrip(".")  # lower-cased, IPv6 brackets removed
    port = url.port or (443 if url.scheme == "https" else 80)  # the settings checked the URL: a valid port
    try:
        address: ipaddress.IPv4Address | ipaddress.IPv6Address | None = ipaddress.ip_address(host)
    except ValueError:
        address = None
    for entry in filter(None, re.split(r"[\s,]+", no_proxy)):
        name, entry_port = _no_proxy_entry(entry)
        if entry_port is not None and entry_port != port:
            continue
        if address is not None:
            try:
                if address in ipaddress.ip_network(name, strict=False):
                    return True
            except ValueError:
                continue
        name = name.strip(".").lower()
        if name and (host == name or host.endswith("." + name)):
            return True
    return False


def _no_proxy_entry(entry: str) -> tuple[str, int | None]:
    """A ``NO_PROXY`` entry's host (or network) and port, if it names one: ``[::1]:8080`` -> (``::1``, 8080)."""
    if entry.startswith("["):
        host, _, rest = entry[1:].partition("]")
        return host, int(rest[1:]) if rest[1:].isdigit() else None
    if entry.count(":") == 1:
        host, _, port = entry.partition(":")
        return host, int(port) if port.isdigit() else None
    return entry, None  # a name, an IPv4 address or network, or a bare IPv6 address
