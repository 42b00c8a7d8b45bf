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


def _readable(sock: Any) -> bool:
    """Whether a socket has something to read (or was closed) right now; poll has no fd limit."""
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(0))


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

    def _connection(self) -> http.client.HTTPConnection:
        """This thread's connection, opened (again) if it is closed or the server closed it."""
        conn = getattr(self._local, "connection", None)
        if conn is None:
            if self._https:
                # The same certificates requests trusts: its bundle, or the one the environment names.
                bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
                context = ssl.create_default_context(cafile=bundle or requests.utils.DEFAULT_CA_BUNDLE_PATH)
                conn = http.client.HTTPSConnection(self._host, self._port, timeout=TIMEOUT[0], context=context)
            else:
                conn = http.client.HTTPConnection(self._host, self._port, timeout=TIMEOUT[0])
            self._local.connection = conn
        elif conn.sock is not None and _readable(conn.sock):
            # An idle keep-alive connection that is readable was closed by the server: sending on
            # it could fail half-way, so it is replaced before use, as urllib3 does.
            conn.close()
        if conn.sock is None:
            conn.connect()                              # within the connect time-out
            conn.sock.settimeout(TIMEOUT[1])            # then the answer's
        return conn

    def call(self, method: str, params: dict[str, Any]) -> Any:
        """Make one call with JSON parameters; returns its result or raises TelegramError/HttpError."""
        body = json.dumps(params, ensure_ascii=False).encode()
        if not self._direct:
            request = requests.PreparedRequest()
            request.prepare(method="POST", url=self._base + method, headers=JSON_HEADERS, data=body)
            response = self._session().send(request, timeout=TIMEOUT, allow_redirects=False)
            return self._parse(method, response.status_code, response.content)
        conn = self._connection()
        try:
            conn.request("POST", self._path + method, body, JSON_HEADERS)
            answer = conn.getresponse()
            content = answer.read()
        except BaseException:
            conn.close()                                # whatever state it is in, it is not reused
            raise
        if answer.will_close:
            conn.close()
        return self._parse(method, answer.status, content)

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
