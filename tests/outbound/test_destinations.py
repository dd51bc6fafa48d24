"""The destination check on its own: every refused address class, the allow-list, the URL
forms refused before any lookup. No database, no network (the resolver is replaced)."""

import pytest

from outbound import destinations
from tests.outbound.conftest import PUBLIC

REFUSED_ADDRESSES = {
    "loopback": "127.0.0.1",
    "loopback, elsewhere in 127/8": "127.3.2.1",
    "unspecified": "0.0.0.0",  # noqa: S104 (an address refused, not bound)
    "this network": "0.1.2.3",
    "private 10/8": "10.0.0.5",
    "private 172.16/12": "172.16.4.1",
    "private 192.168/16": "192.168.1.1",
    "shared address space (CGNAT)": "100.64.0.1",
    "link-local (cloud metadata)": "169.254.169.254",
    "multicast": "224.0.0.1",
    "reserved": "240.0.0.1",
    "broadcast": "255.255.255.255",
    "benchmarking": "198.18.0.1",
    "IPv6 loopback": "::1",
    "IPv6 unspecified": "::",
    "IPv6 unique local": "fd00::1",
    "IPv6 link-local": "fe80::1",
    "IPv6 site-local": "fec0::1",
    "IPv6 multicast": "ff02::1",
    "IPv4-mapped loopback": "::ffff:127.0.0.1",
    "IPv4-mapped metadata": "::ffff:169.254.169.254",
    "IPv4-mapped private": "::ffff:10.0.0.1",
    "6to4 of loopback": "2002:7f00:1::1",
    "NAT64 of loopback": "64:ff9b::7f00:1",
}


@pytest.mark.parametrize("address", REFUSED_ADDRESSES.values(), ids=REFUSED_ADDRESSES.keys())
def test_every_non_public_address_class_is_refused(address, fake_dns, no_allowed_networks):
    fake_dns.answers["hooks.example.com"] = [address]
    with pytest.raises(destinations.Refused, match="public address"):
        destinations.check("https://hooks.example.com/in")
    literal = f"[{address}]" if ":" in address else address
    with pytest.raises(destinations.Refused, match="public address"):
        destinations.check(f"http://{literal}:8080/in")


def test_a_public_address_is_accepted_and_pinned(fake_dns, no_allowed_networks):
    fake_dns.answers["hooks.example.com"] = [PUBLIC, "2606:4700::6810:1"]
    destination = destinations.check("https://hooks.example.com:8443/in?x=1")
    assert str(destination.address) == PUBLIC
    assert str(destination.pinned_url) == f"https://{PUBLIC}:8443/in?x=1"
    assert destination.host_header == "hooks.example.com:8443"


def test_one_private_answer_among_public_ones_is_refused(fake_dns, no_allowed_networks):
    fake_dns.answers["hooks.example.com"] = [PUBLIC, "10.0.0.7"]
    with pytest.raises(destinations.Refused):
        destinations.check("https://hooks.example.com/")


def test_odd_spellings_of_loopback_are_checked_as_what_they_resolve_to(no_allowed_networks):
    # The system resolver reads these as 127.0.0.1; so does the check.
    for url in ("http://2130706433/", "http://0x7f.1/", "http://127.1/", "http://localhost:8000/"):
        with pytest.raises(destinations.Refused, match="public address"):
            destinations.check(url)


def test_a_name_that_does_not_resolve_reads_like_a_private_one(no_allowed_networks):
    with pytest.raises(destinations.Refused) as unresolvable:
        destinations.check("https://metadata.google.internal/computeMetadata/v1/")
    with pytest.raises(destinations.Refused) as private:
        destinations.check("http://10.0.0.1/")
    assert str(unresolvable.value) == str(private.value) == destinations.NOT_PUBLIC


@pytest.mark.parametrize(
    "url",
    [
        "ftp://files.example.com/x",
        "file:///etc/passwd",
        "gopher://example.com:70/",
        "https://user:secret@hooks.example.com/",
        "https://token@hooks.example.com/",
        "http:///no-host",
        "not a url",
        "https://hooks.example.com:99999/",
    ],
)
def test_urls_refused_by_their_form_never_reach_the_resolver(url, fake_dns, settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = ["0.0.0.0/0", "::/0"]  # the allow-list does not help
    with pytest.raises(destinations.Refused):
        destinations.check(url)
    assert fake_dns.lookups == []


def test_the_operator_allow_list_lifts_exactly_its_networks(fake_dns, settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.0/8", "10.1.0.0/16"]
    assert str(destinations.check("http://127.0.0.1:9/").address) == "127.0.0.1"
    assert destinations.check("http://[::ffff:127.0.0.1]:9/").address.ipv4_mapped is not None
    assert str(destinations.check("http://10.1.2.3/").address) == "10.1.2.3"
    for url in ("http://10.2.0.1/", "http://169.254.169.254/", "http://[::1]/"):
        with pytest.raises(destinations.Refused):
            destinations.check(url)


def test_a_bad_allow_list_or_rate_stops_the_process_at_start(settings):
    from django.apps import apps
    from django.core.exceptions import ImproperlyConfigured

    config = apps.get_app_config("outbound")
    for name, value in (
        ("OUTBOUND_ALLOWED_NETWORKS", ["10.0.0.0/33"]),
        ("OUTBOUND_PROJECT_RATE", "ten/1"),
        ("OUTBOUND_PROJECT_RATE", "0/1"),
    ):
        setattr(settings, name, value)
        with pytest.raises(ImproperlyConfigured):
            config.ready()
        settings.OUTBOUND_ALLOWED_NETWORKS, settings.OUTBOUND_PROJECT_RATE = [], "10/1"
    config.ready()
