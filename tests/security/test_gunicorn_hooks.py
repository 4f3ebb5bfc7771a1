"""The server hook that closes a finished connection at once: only when the response is
complete and nothing is left unread; otherwise gunicorn's lingering close keeps the client
from a reset that could cut the response."""

import socket
from types import SimpleNamespace

import pytest

from config.gunicorn_hooks import post_request


def response(sock, *, sent=10, length=10, chunked=False, headers_sent=True, close=True):
    return SimpleNamespace(
        sock=sock,
        sent=sent,
        response_length=length,
        chunked=chunked,
        headers_sent=headers_sent,
        should_close=lambda: close,
    )


@pytest.fixture
def pair():
    server, client = socket.socketpair()
    yield server, client
    server.close()
    client.close()


def test_a_complete_response_with_nothing_unread_is_closed_now(pair):
    server, client = pair
    server.sendall(b"response")
    post_request(None, None, {}, response(server))
    assert server.fileno() == -1
    client.settimeout(1)
    assert client.recv(100) == b"response"  # delivered before the close
    assert client.recv(100) == b""  # then the end of the stream


def test_unread_request_bytes_leave_the_lingering_close_to_gunicorn(pair):
    server, client = pair
    client.sendall(b"more body")
    post_request(None, None, {}, response(server))
    assert server.fileno() != -1


@pytest.mark.parametrize(
    "kind",
    [
        {"sent": 4, "length": 10},  # cut short
        {"length": None},  # no length: cannot say it is complete
        {"chunked": True},
        {"headers_sent": False},  # nothing answered yet: gunicorn writes the error
        {"close": False},  # a kept-alive connection
    ],
)
def test_anything_but_a_finished_closing_response_is_left_alone(pair, kind):
    server, _client = pair
    post_request(None, None, {}, response(server, **kind))
    assert server.fileno() != -1


def test_a_closed_peer_is_nothing_unread(pair):
    server, client = pair
    client.close()
    post_request(None, None, {}, response(server))
    assert server.fileno() == -1
