"""The outbound rules every HTTP channel goes through: checked when saved and when sent."""

from __future__ import annotations

import pytest

from analytics_service.alerts.channels import (
    ChannelConfigError,
    ChannelKind,
    DeliveryError,
    safe_http,
    send,
    validate_config,
)
from tests.analytics_service.alerts_channels.certs import SelfSignedCertificate
from tests.analytics_service.alerts_channels.conftest import PUBLIC_IP, make_alert
from tests.analytics_service.alerts_channels.receiver import Receiver, Reply

REFUSED = [
    ("127.0.0.1", "loopback"),
    ("[::1]", "loopback"),
    ("10.1.2.3", "private"),
    ("172.16.0.9", "private"),
    ("192.168.1.1", "private"),
    ("[fd12:3456::1]", "private"),
    ("169.254.10.10", "link-local"),
    ("[fe80::1]", "link-local"),
    ("224.0.0.251", "multicast"),
    ("[ff02::1]", "multicast"),
    ("0.0.0.0", "unspecified"),
    ("[::]", "unspecified"),
    ("240.0.0.1", "reserved"),
    ("100.64.0.1", "shared"),
    ("169.254.169.254", "metadata"),
    ("[fd00:ec2::254]", "metadata"),
    ("100.100.100.200", "metadata"),
    ("168.63.129.16", "metadata"),
    ("[::ffff:10.0.0.1]", "private"),  # IPv4-mapped
    ("[64:ff9b::a9fe:a9fe]", "metadata"),  # NAT64 of 169.254.169.254
    ("[2002:c0a8:101::]", "private"),  # 6to4 of 192.168.1.1
]


@pytest.mark.parametrize(("host", "what"), REFUSED)
def test_each_refused_address_class_is_refused_when_saved(default_settings, host, what):
    with pytest.raises(ChannelConfigError) as caught:
        validate_config(ChannelKind.WEBHOOK, {"url": f"https://{host}/hook"}, default_settings)
    assert caught.value.field == "url"
    assert what in caught.value.message


def test_a_public_address_is_accepted_when_saved(default_settings, hosts):
    hosts({"hooks.example.test": [PUBLIC_IP]})
    saved = validate_config(
        ChannelKind.SLACK, {"url": "https://hooks.example.test/services/T/B/x"}, default_settings
    )
    assert saved == {"url": "https://hooks.example.test/services/T/B/x"}


def test_a_name_resolving_to_a_private_address_is_refused(default_settings, hosts):
    hosts({"intranet.example.test": ["10.20.30.40"]})
    with pytest.raises(ChannelConfigError, match="private address"):
        validate_config(
            ChannelKind.DISCORD, {"url": "https://intranet.example.test/x"}, default_settings
        )


def test_a_name_with_one_private_answer_among_public_ones_is_refused(default_settings, hosts):
    hosts({"mixed.example.test": [PUBLIC_IP, "192.168.0.10"]})
    with pytest.raises(ChannelConfigError, match="private address"):
        validate_config(ChannelKind.SLACK, {"url": "https://mixed.example.test/"}, default_settings)


def test_the_real_resolver_answer_for_localhost_is_refused(default_settings):
    with pytest.raises(ChannelConfigError, match="loopback"):
        validate_config(ChannelKind.SLACK, {"url": "https://localhost/hook"}, default_settings)


@pytest.mark.parametrize(
    "url",
    ["http://hooks.example.test/", "ftp://hooks.example.test/", "file:///etc/passwd"],
)
def test_only_https_is_accepted(default_settings, hosts, url):
    hosts({"hooks.example.test": [PUBLIC_IP]})
    with pytest.raises(ChannelConfigError, match="only https"):
        validate_config(ChannelKind.WEBHOOK, {"url": url}, default_settings)


def test_http_stays_refused_for_a_public_host_even_with_the_loopback_setting(
    loopback_settings, hosts
):
    hosts({"hooks.example.test": [PUBLIC_IP]})
    with pytest.raises(ChannelConfigError, match="only https"):
        validate_config(
            ChannelKind.WEBHOOK, {"url": "http://hooks.example.test/"}, loopback_settings
        )


def test_the_loopback_setting_allows_loopback_only(loopback_settings):
    validate_config(ChannelKind.WEBHOOK, {"url": "http://127.0.0.1:9/hook"}, loopback_settings)
    with pytest.raises(ChannelConfigError, match="private address"):
        validate_config(ChannelKind.WEBHOOK, {"url": "https://10.0.0.1/"}, loopback_settings)


def test_credentials_in_the_url_are_refused(default_settings, hosts):
    hosts({"hooks.example.test": [PUBLIC_IP]})
    with pytest.raises(ChannelConfigError, match="credentials"):
        validate_config(
            ChannelKind.WEBHOOK, {"url": "https://u:p@hooks.example.test/"}, default_settings
        )


async def test_with_default_settings_the_loopback_receiver_is_refused_at_send(
    default_settings, loopback_settings
):
    async with Receiver() as receiver:
        config = validate_config(
            ChannelKind.WEBHOOK, {"url": receiver.url("/hook")}, loopback_settings
        )
        with pytest.raises(ChannelConfigError, match="only https"):
            validate_config(ChannelKind.WEBHOOK, {"url": receiver.url("/hook")}, default_settings)
        with pytest.raises(DeliveryError) as caught:
            await send(ChannelKind.WEBHOOK, config, make_alert(), settings=default_settings)
        await send(ChannelKind.WEBHOOK, config, make_alert(), settings=loopback_settings)
    assert not caught.value.retryable
    assert "refused" in caught.value.reason
    assert len(receiver.requests) == 1  # only the delivery with the test setting arrived


async def test_a_host_that_turned_private_since_saving_is_refused_at_send(default_settings, hosts):
    hosts({"hooks.example.test": [PUBLIC_IP]})
    config = validate_config(
        ChannelKind.WEBHOOK, {"url": "https://hooks.example.test/hook"}, default_settings
    )
    hosts({"hooks.example.test": ["10.9.8.7"]})
    with pytest.raises(DeliveryError, match="private address") as caught:
        await send(ChannelKind.WEBHOOK, config, make_alert(), settings=default_settings)
    assert not caught.value.retryable


async def test_the_connection_goes_to_the_checked_address_without_a_second_lookup(
    loopback_settings,
):
    answers = iter([["127.0.0.1"]])  # a rebinding resolver: a second question gets no answer

    def rebinding(host: str, port: int) -> list[str]:
        return next(answers, ["10.0.0.1"])

    async with Receiver() as receiver:
        with safe_http.use_resolver(rebinding):
            url = receiver.url("/hook", host="rebind.example.test")
            await send(
                ChannelKind.WEBHOOK,
                {"url": url, "secret": "s" * 32},
                make_alert(),
                settings=loopback_settings,
            )
    [request] = receiver.requests
    assert request.headers["host"] == f"rebind.example.test:{receiver.port}"


async def test_tls_is_verified_for_the_host_name_while_connecting_to_the_checked_address(
    loopback_settings, hosts
):
    certificate = SelfSignedCertificate("secure.example.test")  # no IP address in it
    hosts({"secure.example.test": ["127.0.0.1"]})
    async with (
        Receiver(tls=certificate.server_context()) as receiver,
        safe_http.make_client(loopback_settings, verify=certificate.client_context()) as client,
    ):
        await send(
            ChannelKind.SLACK,
            {"url": receiver.url("/services/x", host="secure.example.test")},
            make_alert(),
            settings=loopback_settings,
            client=client,
        )
    [request] = receiver.requests
    assert request.server_name == "secure.example.test"
    assert request.headers["host"] == f"secure.example.test:{receiver.port}"


async def test_a_certificate_for_another_name_fails_and_is_not_retried(loopback_settings, hosts):
    certificate = SelfSignedCertificate("other.example.test")
    hosts({"secure.example.test": ["127.0.0.1"]})
    async with (
        Receiver(tls=certificate.server_context()) as receiver,
        safe_http.make_client(loopback_settings, verify=certificate.client_context()) as client,
    ):
        with pytest.raises(DeliveryError) as caught:
            await send(
                ChannelKind.SLACK,
                {"url": receiver.url("/x", host="secure.example.test")},
                make_alert(),
                settings=loopback_settings,
                client=client,
            )
    assert receiver.requests == []
    assert "connection failed" in caught.value.reason


async def test_a_redirect_is_not_followed(loopback_settings):
    async with (
        Receiver() as target,
        Receiver(lambda _: Reply(302, headers={"Location": target.url("/elsewhere")})) as receiver,
    ):
        with pytest.raises(DeliveryError, match="redirect") as caught:
            await send(
                ChannelKind.DISCORD,
                {"url": receiver.url("/api/webhooks/1/x")},
                make_alert(),
                settings=loopback_settings,
            )
    assert not caught.value.retryable
    assert len(receiver.requests) == 1
    assert target.requests == []


async def test_an_oversized_response_is_cut_at_the_cap(loopback_settings):
    total = 64 * 1024 * 1024
    async with Receiver(lambda _: Reply(200, stream_bytes=total)) as receiver:
        response = await safe_http.post(
            receiver.url("/big"), content=b"{}", headers={}, settings=loopback_settings
        )
    assert response.truncated
    assert len(response.body) == loopback_settings.alerts_http_max_response_bytes
    assert receiver.bytes_sent < total  # reading stopped; the rest was never taken


async def test_a_timeout_is_retryable(loopback_settings):
    async with Receiver(lambda _: Reply(hang=True)) as receiver:
        with pytest.raises(DeliveryError) as caught:
            await send(
                ChannelKind.WEBHOOK,
                {"url": receiver.url("/slow"), "secret": "s" * 32},
                make_alert(),
                settings=loopback_settings,
            )
    assert caught.value.retryable
    assert caught.value.reason == "timed out"


async def test_a_refused_connection_is_retryable(loopback_settings):
    async with Receiver() as receiver:
        url = receiver.url("/gone")
    with pytest.raises(DeliveryError) as caught:
        await send(
            ChannelKind.WEBHOOK,
            {"url": url, "secret": "s" * 32},
            make_alert(),
            settings=loopback_settings,
        )
    assert caught.value.retryable


@pytest.mark.parametrize(
    ("reply", "retryable", "retry_after"),
    [
        (Reply(500), True, None),
        (Reply(503, headers={"Retry-After": "30"}), True, 30.0),
        (Reply(429, headers={"Retry-After": "7"}), True, 7.0),
        (Reply(408), True, None),
        (Reply(400), False, None),
        (Reply(404), False, None),
        (Reply(410), False, None),
    ],
)
async def test_status_codes_are_classified(loopback_settings, reply, retryable, retry_after):
    async with Receiver(lambda _: reply) as receiver:
        with pytest.raises(DeliveryError) as caught:
            await send(
                ChannelKind.WEBHOOK,
                {"url": receiver.url("/hook"), "secret": "s" * 32},
                make_alert(),
                settings=loopback_settings,
            )
    assert (caught.value.retryable, caught.value.retry_after) == (retryable, retry_after)
    assert f"HTTP {reply.status}" in caught.value.reason


async def test_an_unresolvable_host_at_send_is_retryable(loopback_settings, hosts):
    def failing(host: str, port: int) -> list[str]:
        raise OSError("temporary failure in name resolution")

    with safe_http.use_resolver(failing), pytest.raises(DeliveryError) as caught:
        await send(
            ChannelKind.SLACK,
            {"url": "https://hooks.example.test/x"},
            make_alert(),
            settings=loopback_settings,
        )
    assert caught.value.retryable


@pytest.mark.parametrize(
    ("url", "host_header", "pinned"),
    [
        ("http://[::1]:8080/x", "[::1]:8080", "http://[::1]:8080/x"),
        ("http://localhost/x", "localhost", "http://127.0.0.1/x"),
    ],
)
def test_the_pinned_request_keeps_the_url_host(loopback_settings, hosts, url, host_header, pinned):
    hosts({"localhost": ["127.0.0.1"]})
    destination = safe_http.check_url(url, loopback_settings)
    assert (destination.host_header, str(destination.pinned_url)) == (host_header, pinned)
