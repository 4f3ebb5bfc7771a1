"""gunicorn server hooks (loaded by `gunicorn.conf.py` at the project root).

`post_request`: close a finished connection at once when the client left nothing unread.
gunicorn's sync worker answers one request per connection and then closes "gracefully": it
half-closes and waits, up to two seconds, for the client to close its side, draining what the
client still sends — so that unread request bytes never make the kernel reset the connection
and cut the response's last segment. While it waits the worker serves no one; with a client
on a busy machine (a till's webhook sender, a load balancer's pool) that wait was as long as
the request itself. A reset only happens when bytes are left unread, so when the response is
fully written and the socket has nothing pending the worker closes it now (the kernel still
delivers the response before its FIN) and takes the next request; otherwise — unread bytes,
a response cut short, a chunked or kept-alive one — gunicorn's own close runs unchanged."""

import socket


def post_request(worker, req, environ, resp) -> None:
    """Close the connection now if the response is complete and nothing is left to read."""
    sock = getattr(resp, "sock", None)
    if sock is None or not resp.headers_sent or not resp.should_close():
        return
    if resp.chunked or resp.response_length is None or resp.sent != resp.response_length:
        return
    if nothing_unread(sock):
        # gunicorn's close then finds the socket closed and returns at once.
        sock.close()


def nothing_unread(sock) -> bool:
    """Whether the socket's receive buffer is empty (the peer may have closed: no bytes)."""
    try:
        return not sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
    except BlockingIOError:
        return True
    except (OSError, ValueError):  # a closed socket; TLS sockets take no flags
        return False
