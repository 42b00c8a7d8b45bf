"""The Bot API over HTTP: one small client for every call the desk makes (and getUpdates).

Errors never carry the URL, so they never carry the bot token: TelegramError for an answer with
ok: false (code, description, retry_after), HttpError for an answer that is not the Bot API's JSON
(a proxy's error page), and the network's own OSError / http.client.HTTPException.
"""

from __future__ import annotations

import http.client
import json
import os
import select
import socket
import ssl
import tempfile
import threading
import uuid
from collections.abc import Callable
from typing import IO, Any
from urllib.parse import urlsplit

import requests

TIMEOUT = (10.0, 60.0)         # seconds to connect, and to wait for an answer


class TelegramError(Exception):
    """Telegram answered a call with ok: false."""

    def __init__(self, method: str, code: int, description: str, retry_after: float | None = None) -> None:
        super().__init__(f"{method}: {code} {description}")
        self.code, self.description, self.retry_after = code, description, retry_after


class HttpError(Exception):
    """An answer that is not the Bot API's JSON, such as a proxy's error page."""

    def __init__(self, method: str, status: int) -> None:
        super().__init__(f"{method}: HTTP {status}")
        self.status = status


JSON_HEADERS = {"Content-Type": "application/json"}


def _readable(sock: socket.socket) -> bool:
    """Whether a socket has something to read (or was closed) right now; poll has no fd limit."""
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(0))


MAX_HEAD = 64 * 1024           # bytes of status line and headers an answer may have


class Connection:
    """One keep-alive HTTP/1.1 connection that POSTs JSON: the little of HTTP the Bot API needs."""

    # http.client parses every answer's headers with the email package and sends a request in
    # several pieces; here a request is one write and an answer is read by its Content-Length
    # (chunked and read-to-close answers too), at about half the CPU per call. Failures raise what
    # http.client would: OSError (resets, time-outs) or an http.client.HTTPException.

    def __init__(self, host: str, port: int | None, context: ssl.SSLContext | None = None) -> None:
        self.host, self.context = host, context
        self.port = port or (443 if context else 80)
        self.sock: socket.socket | None = None
        # The Host header as http.client writes it: an IPv6 address in brackets, a name in IDNA.
        name = f"[{host}]" if ":" in host else host
        if not name.isascii():
            try:
                name = name.encode("idna").decode()
            except UnicodeError:
                pass                            # no such host can be reached anyway: connecting fails
        host_header = name if port is None else f"{name}:{port}"
        self._head = f"Host: {host_header}\r\nContent-Type: application/json\r\nContent-Length: "

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def _open(self) -> socket.socket:
        if self.sock is not None and _readable(self.sock):
            # An idle keep-alive connection that is readable was closed by the server: sending on
            # it could fail half-way, so it is replaced before use, as urllib3 does.
            self.close()
        if self.sock is None:
            sock = socket.create_connection((self.host, self.port), TIMEOUT[0])
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                if self.context is not None:
                    sock = self.context.wrap_socket(sock, server_hostname=self.host)
                sock.settimeout(TIMEOUT[1])         # connected: now the answer's time-out
            except BaseException:
                sock.close()
                raise
            self.sock = sock
        return self.sock

    def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        """POST a JSON body; (status, content) of the answer."""
        sock = self._open()
        try:
            sock.sendall(f"POST {path} HTTP/1.1\r\n{self._head}{len(body)}\r\n\r\n".encode() + body)
            status, keep_alive, content = self._read_answer(sock)
        except BaseException:
            self.close()                        # whatever state it is in, it is not reused
            raise
        if not keep_alive:
            self.close()
        return status, content

    def _read_answer(self, sock: socket.socket) -> tuple[int, bool, bytes]:
        """Read one answer: (status, whether the connection stays open, body)."""
        buffer = b""
        while True:
            end = buffer.find(b"\r\n\r\n")
            while end < 0:
                if len(buffer) > MAX_HEAD:
                    raise http.client.LineTooLong("answer headers")
                data = sock.recv(65536)
                if not data:
                    if buffer:
                        raise http.client.IncompleteRead(buffer)
                    raise http.client.RemoteDisconnected("Remote end closed connection without response")
                buffer += data
                end = buffer.find(b"\r\n\r\n")
            lines = buffer[:end].decode("latin-1").split("\r\n")
            buffer = buffer[end + 4:]
            version, _, rest = lines[0].partition(" ")
            code = rest[:3]
            if not version.startswith("HTTP/1.") or not (code.isascii() and code.isdigit()):
                raise http.client.BadStatusLine(lines[0])
            status = int(code)
            if not 100 <= status < 200:         # an interim answer (100 Continue) is skipped
                break
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        connection = headers.get("connection", "").lower()
        keep_alive = "close" not in connection if version == "HTTP/1.1" else "keep-alive" in connection
        if "chunked" in headers.get("transfer-encoding", "").lower():
            return status, keep_alive, self._read_chunked(sock, buffer)
        length = headers.get("content-length")
        if length is None:
            if status in (204, 304):
                return status, keep_alive, b""
            return status, False, self._read_to_close(sock, buffer)
        if not (length.isascii() and length.isdigit()):
            raise http.client.HTTPException(f"bad Content-Length {length[:20]!r}")
        return status, keep_alive, self._read_exactly(sock, buffer, int(length))

    @staticmethod
    def _read_exactly(sock: socket.socket, buffer: bytes, size: int) -> bytes:
        """`size` bytes: those already read, then more from the socket."""
        if len(buffer) >= size:
            return buffer[:size]
        parts, have = [buffer], len(buffer)
        while have < size:
            data = sock.recv(min(size - have, 1 << 20))
            if not data:
                raise http.client.IncompleteRead(b"".join(parts), size - have)
            parts.append(data)
            have += len(data)
        return b"".join(parts)

    @staticmethod
    def _read_to_close(sock: socket.socket, buffer: bytes) -> bytes:
        parts = [buffer]
        while data := sock.recv(1 << 20):
            parts.append(data)
        return b"".join(parts)

    def _read_chunked(self, sock: socket.socket, buffer: bytes) -> bytes:
        """A chunked body: size lines and chunks until the empty chunk, then the trailer."""
        parts = []
        while True:
            while b"\r\n" not in buffer:
                if len(buffer) > MAX_HEAD:
                    raise http.client.LineTooLong("chunk size")
                data = sock.recv(65536)
                if not data:
                    raise http.client.IncompleteRead(b"".join(parts))
                buffer += data
            line, _, buffer = buffer.partition(b"\r\n")
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise http.client.HTTPException("bad chunk size") from None
            if size == 0:
                break
            chunk = self._read_exactly(sock, buffer, size + 2)      # the chunk and its CRLF
            parts.append(chunk[:size])
            buffer = buffer[size + 2:] if len(buffer) >= size + 2 else b""
        while not buffer.startswith(b"\r\n") and b"\r\n\r\n" not in buffer:   # trailer lines
            if len(buffer) > MAX_HEAD:
                raise http.client.LineTooLong("trailer")
            data = sock.recv(65536)
            if not data:
                break
            buffer += data
        return b"".join(parts)


class BotApi:
    """Bot API calls over a keep-alive connection per thread; the URL holds the token, errors never do."""

    # Calls go over the standard library's http.client: a call through requests costs about 2.5
    # times its CPU (0.45 against 0.14 ms per call here, 1.3 against 0.5 ms when calls are paced
    # 36 ms apart), and the desk makes one call per message. requests is still used for uploads,
    # and for every call when the environment names a proxy (HTTPS_PROXY and the like), which
    # http.client does not read.

    def __init__(self, api_url: str, token: str) -> None:
        self._base = f"{api_url}/bot{token}/"
        parts = urlsplit(api_url)
        self._https = parts.scheme == "https"
        self._host, self._port = parts.hostname or "", parts.port
        self._path = f"{parts.path.rstrip('/')}/bot{token}/"
        self._direct = not requests.utils.get_environ_proxies(self._base)
        self._local = threading.local()

    def _session(self) -> requests.Session:
        if not hasattr(self._local, "session"):
            session = requests.Session()
            # requests reads the proxy variables, ~/.netrc and the CA bundle variables from the
            # environment again on every call (a third of a call's CPU); read them once here.
            session.proxies = requests.utils.get_environ_proxies(self._base)
            session.verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
            session.trust_env = False
            self._local.session = session
        return self._local.session

    def _connection(self) -> Connection:
        """This thread's connection; it opens (again) by itself when closed."""
        conn = getattr(self._local, "connection", None)
        if conn is None:
            context = None
            if self._https:
                # The same certificates requests trusts: its bundle, or the one the environment names.
                bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
                context = ssl.create_default_context(cafile=bundle or requests.utils.DEFAULT_CA_BUNDLE_PATH)
            conn = self._local.connection = Connection(self._host, self._port, context)
        return conn

    def call(self, method: str, params: dict[str, Any]) -> Any:
        """Make one call with JSON parameters; returns its result or raises TelegramError/HttpError."""
        body = json.dumps(params, ensure_ascii=False).encode()
        if not self._direct:
            request = requests.PreparedRequest()
            request.prepare(method="POST", url=self._base + method, headers=JSON_HEADERS, data=body)
            response = self._session().send(request, timeout=TIMEOUT, allow_redirects=False)
            return self._parse(method, response.status_code, response.content)
        status, content = self._connection().post(self._path + method, body)
        return self._parse(method, status, content)

    def upload(self, method: str, params: dict[str, Any], field: str, file_name: str,
               write: Callable[[IO[bytes]], object], content_type: str = "text/plain") -> Any:
        """A call with one file that `write` produces, streamed from disk rather than held in memory."""
        # requests would assemble a multipart body in memory, in several copies (12 MB of history
        # cost 70 MB of RAM); here it is written once to a temporary file and streamed from there.
        boundary = uuid.uuid4().hex
        with tempfile.SpooledTemporaryFile(max_size=1 << 20) as body:
            body.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{file_name}"\r\n'
                       f"Content-Type: {content_type}; charset=utf-8\r\n\r\n".encode())
            write(body)
            body.write(f"\r\n--{boundary}--\r\n".encode())
            size = body.tell()
            body.seek(0)
            response = self._session().post(
                self._base + method, params=params, data=body, timeout=TIMEOUT,
                headers={"Content-Type": f"multipart/form-data; boundary={boundary}", "Content-Length": str(size)})
        return self._parse(method, response.status_code, response.content)

    @staticmethod
    def _parse(method: str, status: int, content: bytes) -> Any:
        """The result of an answer, or TelegramError (ok: false) or HttpError (not the Bot API's JSON)."""
        try:
            answer = json.loads(content)
        except ValueError:
            raise HttpError(method, status) from None
        if not isinstance(answer, dict) or not answer.get("ok"):
            answer = answer if isinstance(answer, dict) else {}
            retry_after = (answer.get("parameters") or {}).get("retry_after")
            raise TelegramError(method, int(answer.get("error_code") or status),
                                str(answer.get("description", "")), retry_after)
        return answer["result"]


# What a call raises when the network or a proxy fails (requests' exceptions are OSErrors too).
NETWORK_ERRORS = (HttpError, OSError, http.client.HTTPException)
