"""The POS bench's load generator: real HTTP/1.1 requests to a local server, each on its own
TCP connection (a till's webhook is one request per connection), every answer read whole and
checked.

Two generators, the same requests and the same checks:
  lanes:     one process keeps `len(plans)` connections in flight at once (a `selectors` loop,
             non-blocking sockets); each plan's documents go one after another, the next once
             the previous one is answered, so a refund is still sent after its sale's answer.
             Its own CPU is a small part of a document's: the generator shares the cores with
             the server it measures.
  processes: one process per plan, `http.client` (the generator of the earlier rounds).

Each request is the method, the path, the headers, `Content-Length` and `Connection: close`,
then the document's JSON; each answer is parsed (status line, headers, `Content-Length`
body) and counted by its JSON `status` when it is 200, else by its HTTP status."""

import http.client
import json
import selectors
import socket
import time

TIMEOUT = 60  # seconds without any answer before the run is given up


def request_bytes(method: str, path: str, headers: dict, body: bytes, host: str) -> bytes:
    """One HTTP/1.1 request, closing its connection after the answer."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    lines += [f"Content-Length: {len(body)}", "Connection: close", "", ""]
    return "\r\n".join(lines).encode("latin-1") + body


def answer_parse(data: bytes, *, complete: bool) -> tuple[int, bytes] | None:
    """(HTTP status, body) of an answer once it is whole; None while more is to come. A
    `complete` answer (the server closed) without a whole body raises ValueError."""
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        if complete:
            raise ValueError(f"an answer without its headers: {data[:80]!r}")
        return None
    status_line, *fields = head.split(b"\r\n")
    status = int(status_line.split(b" ", 2)[1])
    length = None
    for field in fields:
        name, _colon, value = field.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding":
            raise ValueError("a chunked answer (the webhook's answers carry their length)")
    if length is None:
        return (status, body) if complete else None
    if len(body) < length:
        if complete:
            raise ValueError(f"an answer shorter than its Content-Length {length}")
        return None
    return status, body[:length]


def outcome_of(status: int, body: bytes) -> str:
    """What an answer counts as: its JSON `status` when 200, else the HTTP status."""
    return str(json.loads(body).get("status")) if status == 200 else str(status)


def lanes_send(port: int, requests: list[list[bytes]]) -> tuple[float, float, dict[str, int]]:
    """Send every plan's requests, all plans at once from this process: (start, end, answers
    by outcome)."""
    address = ("127.0.0.1", port)
    selector = selectors.DefaultSelector()
    pending = [iter(plan) for plan in requests]
    answers: dict[str, int] = {}
    in_flight = 0

    def open_next(lane: int) -> None:
        nonlocal in_flight
        request = next(pending[lane], None)
        if request is None:
            return
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        sock.connect_ex(address)
        selector.register(sock, selectors.EVENT_WRITE, [lane, memoryview(request), bytearray()])
        in_flight += 1

    def finish(sock, lane: int, data: bytearray, *, complete: bool) -> bool:
        nonlocal in_flight
        parsed = answer_parse(bytes(data), complete=complete)
        if parsed is None:
            return False
        selector.unregister(sock)
        sock.close()
        in_flight -= 1
        outcome = outcome_of(*parsed)
        answers[outcome] = answers.get(outcome, 0) + 1
        open_next(lane)
        return True

    start = time.time()
    for lane in range(len(requests)):
        open_next(lane)
    while in_flight:
        events = selector.select(TIMEOUT)
        if not events:
            raise SystemExit(f"no answer in {TIMEOUT} s")
        for key, mask in events:
            sock, state = key.fileobj, key.data
            lane, out, data = state
            if mask & selectors.EVENT_WRITE:
                state[1] = out = out[sock.send(out) :]
                if not out:
                    selector.modify(sock, selectors.EVENT_READ, state)
                continue
            chunk = sock.recv(65536)
            data += chunk
            finish(sock, lane, data, complete=not chunk)
    selector.close()
    return start, time.time(), answers


def process_send(port, path, headers, bodies, barrier, out) -> None:
    """One process's plan through `http.client`; (start, end, count, answers) to `out`."""
    answers: dict[str, int] = {}
    barrier.wait()
    start = time.time()
    for body in bodies:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
        conn.request("PUT", path, body=body, headers=headers)
        response = conn.getresponse()
        data = response.read()
        conn.close()
        outcome = outcome_of(response.status, data)
        answers[outcome] = answers.get(outcome, 0) + 1
    out.put((start, time.time(), len(bodies), answers))
