"""botapi.py: the lean Bot API client, against the fake Bot API and against raw HTTP answers."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator

import pytest
from harness import BOT_TOKEN

import delivery
from botapi import BotApi, Connection


class RawServer:
    """A server that answers each request with the next of the given raw answers, byte for byte."""

    # An answer ending in b"<close>" closes the connection after it is sent (the marker is not sent).

    def __init__(self, answers: list[bytes], host: str = "127.0.0.1") -> None:
        self.answers = list(answers)
        self.requests: list[bytes] = []
        self.connections = 0
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.server = socket.create_server((host, 0), family=family)
        bracketed = f"[{host}]" if ":" in host else host
        self.url = f"http://{bracketed}:{self.server.getsockname()[1]}"
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while self.answers:
            try:
                conn, _addr = self.server.accept()
            except OSError:
                return
            self.connections += 1
            with conn:
                while self.answers:
                    request = self._read_request(conn)
                    if request is None:
                        break
                    self.requests.append(request)
                    answer = self.answers.pop(0)
                    close = answer.endswith(b"<close>")
                    conn.sendall(answer.removesuffix(b"<close>"))
                    if close:
                        break

    @staticmethod
    def _read_request(conn: socket.socket) -> bytes | None:
        data = b""
        while b"\r\n\r\n" not in data:
            more = conn.recv(65536)
            if not more:
                return None
            data += more
        head, _, body = data.partition(b"\r\n\r\n")
        length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
        while len(body) < length:
            body += conn.recv(65536)
        return head + b"\r\n\r\n" + body

    def close(self) -> None:
        self.server.close()
        self.thread.join(5)


@pytest.fixture
def raw() -> Iterator[type[RawServer]]:
    servers: list[RawServer] = []

    def start(answers: list[bytes], host: str = "127.0.0.1") -> RawServer:
        servers.append(RawServer(answers, host))
        return servers[-1]

    yield start  # type: ignore[misc]
    for server in servers:
        server.close()


def ok(result: object, extra: bytes = b"") -> bytes:
    body = json.dumps({"ok": True, "result": result}).encode()
    return b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%s\r\n%s" % (
        len(body), extra, body)


# --- Against the fake Bot API -------------------------------------------------------------------


def test_bot_api_makes_calls_over_one_kept_alive_connection_and_reads_errors(fake):
    api = BotApi(fake.url, BOT_TOKEN)
    user = fake.user(10, "Carl")
    first = api.call("sendMessage", {"chat_id": 10, "text": "héllo", "entities": []})
    second = api.call("sendMessage", {"chat_id": 10, "text": "again"})
    assert (first["text"], second["message_id"]) == ("héllo", first["message_id"] + 1)
    assert user.texts() == ["héllo", "again"]
    with pytest.raises(delivery.TelegramError) as refused:
        api.call("sendMessage", {"chat_id": 10, "text": " "})
    assert (refused.value.code, refused.value.description) == (400, "Bad Request: message text is empty")
    fake.faults.throttled[10] = 10**10
    with pytest.raises(delivery.TelegramError) as limited:
        api.call("sendMessage", {"chat_id": 10, "text": "x"})
    assert limited.value.code == 429 and limited.value.retry_after > 0


def test_bot_api_after_a_proxy_error_page_or_a_dropped_connection_works_again(fake):
    api = BotApi(fake.url, BOT_TOKEN)
    fake.user(10, "Carl")
    fake.faults.share_5xx = 1.0
    with pytest.raises(delivery.HttpError) as page:
        api.call("sendMessage", {"chat_id": 10, "text": "x"})
    assert delivery.classify_error(page.value)[0] == delivery.RETRY
    fake.faults.share_5xx, fake.faults.share_drop = 0.0, 1.0
    with pytest.raises(delivery.NETWORK_ERRORS) as dropped:
        api.call("sendMessage", {"chat_id": 10, "text": "x"})
    assert delivery.classify_error(dropped.value)[:2] == (delivery.RETRY, None)
    assert BOT_TOKEN.split(":")[1] not in str(dropped.value)
    fake.faults.share_drop = 0.0
    assert api.call("sendMessage", {"chat_id": 10, "text": "back"})["text"] == "back"


def test_bot_api_goes_through_requests_when_the_environment_names_a_proxy(fake, monkeypatch):
    # The fake serves an absolute URL as a forward proxy would, so it can stand in for one here.
    monkeypatch.setenv("HTTP_PROXY", fake.url)
    monkeypatch.setenv("NO_PROXY", "")
    api = BotApi(fake.url, BOT_TOKEN)
    fake.user(10, "Carl")
    assert api.call("sendMessage", {"chat_id": 10, "text": "via proxy"})["text"] == "via proxy"


# --- Against raw answers: the parts of HTTP/1.1 a Bot API server or a proxy may use -------------


def test_a_request_goes_out_whole_with_the_token_in_the_path_only(raw):
    server = raw([ok({"message_id": 1})])
    api = BotApi(server.url, BOT_TOKEN)
    assert api.call("sendMessage", {"chat_id": 1, "text": "é"}) == {"message_id": 1}
    head, _, body = server.requests[0].partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert lines[0] == f"POST /bot{BOT_TOKEN}/sendMessage HTTP/1.1"
    assert "Content-Type: application/json" in lines
    assert f"Content-Length: {len(body)}" in lines
    assert json.loads(body) == {"chat_id": 1, "text": "é"}


def ipv6_loopback() -> bool:
    try:
        socket.create_server(("::1", 0), family=socket.AF_INET6).close()
        return True
    except OSError:
        return False


@pytest.mark.skipif(not ipv6_loopback(), reason="no IPv6 loopback on this machine")
def test_an_api_url_with_an_ipv6_address_names_its_host_in_brackets(raw):
    # A Host header without the brackets is refused by nginx (400): every call would fail.
    server = raw([ok(True)], host="::1")
    assert BotApi(server.url, BOT_TOKEN).call("deleteMessage", {"chat_id": 1, "message_id": 2}) is True
    port = server.url.rsplit(":", 1)[1]
    assert f"Host: [::1]:{port}" in server.requests[0].decode().split("\r\n")


def test_the_server_closing_an_idle_connection_costs_no_call(raw):
    # One answer per connection and then a close without "Connection: close", as a Bot API
    # server does with a keep-alive connection left idle too long: the next call must not fail.
    server = raw([ok({"message_id": 1}) + b"<close>", ok({"message_id": 2}) + b"<close>"])
    api = BotApi(server.url, BOT_TOKEN)
    assert api.call("sendMessage", {"chat_id": 1, "text": "a"}) == {"message_id": 1}
    server.thread.join(0.2)                 # the server has closed its end by now
    assert api.call("sendMessage", {"chat_id": 1, "text": "b"}) == {"message_id": 2}
    assert server.connections == 2


def test_answers_in_chunks_with_a_trailer_and_after_100_continue_are_read(raw):
    body = json.dumps({"ok": True, "result": {"message_id": 7, "text": "x" * 300}}).encode()
    chunked = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
               + b"%x;ext=1\r\n%s\r\n" % (100, body[:100]) + b"%x\r\n%s\r\n" % (len(body) - 100, body[100:])
               + b"0\r\nX-Trailer: yes\r\n\r\n")
    server = raw([chunked, b"HTTP/1.1 100 Continue\r\n\r\n" + ok({"message_id": 8})])
    api = BotApi(server.url, BOT_TOKEN)
    assert api.call("sendMessage", {"chat_id": 1, "text": "a"}) == {"message_id": 7, "text": "x" * 300}
    assert api.call("sendMessage", {"chat_id": 1, "text": "b"}) == {"message_id": 8}
    assert server.connections == 1          # both over the one kept-alive connection


def test_an_http_1_0_answer_without_a_length_is_read_to_its_end_and_not_reused(raw):
    body = json.dumps({"ok": True, "result": True}).encode()
    server = raw([b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n" + body + b"<close>",
                  ok(True, b"Connection: close\r\n") + b"<close>", ok(True)])
    api = BotApi(server.url, BOT_TOKEN)
    assert [api.call("deleteMessage", {"chat_id": 1, "message_id": n}) for n in range(3)] == [True] * 3
    assert server.connections == 3


@pytest.mark.parametrize("answer", [
    b"",                                                              # closed before answering
    b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n{\"ok\": true",   # cut in the body
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n{\"ok\"",   # cut in a chunk
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",   # a chunk size that is no number
    b"SSH-2.0-OpenSSH\r\n\r\n",                                        # not HTTP at all
    b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",                 # a length that is no length
    b"HTTP/1.1 2\xb200 OK\r\nContent-Length: 2\r\n\r\n{}",          # digits that int() refuses
    b"HTTP/1.1 200 OK\r\nContent-Length: 1\xb2\r\n\r\n{}",
])
def test_a_broken_answer_is_a_network_error_to_retry_and_the_next_call_works(raw, answer):
    server = raw([answer + b"<close>", ok({"message_id": 2})])
    api = BotApi(server.url, BOT_TOKEN)
    with pytest.raises(delivery.NETWORK_ERRORS) as failed:
        api.call("sendMessage", {"chat_id": 1, "text": "a"})
    assert delivery.classify_error(failed.value)[:2] == (delivery.RETRY, None)
    assert BOT_TOKEN not in str(failed.value) and BOT_TOKEN.split(":")[1] not in repr(failed.value)
    assert api.call("sendMessage", {"chat_id": 1, "text": "b"}) == {"message_id": 2}


def test_a_server_that_never_answers_times_out(raw, monkeypatch):
    server = raw([])                        # accepts nothing: the connection waits in the backlog
    monkeypatch.setattr("botapi.TIMEOUT", (1.0, 0.2))
    connection = Connection("127.0.0.1", int(server.url.rsplit(":", 1)[1]))
    with pytest.raises(TimeoutError):
        connection.post("/botX/getMe", b"{}")
    assert connection.sock is None          # a connection that failed is never reused
