#!/usr/bin/env python3
"""A local stand-in of the OpenAI HTTP API that specs start and steer.

Usage: fake_server.py [--port N] [--port-file PATH]
Binds 127.0.0.1 (port 0 picks a free one), prints "PORT <n>" on stdout (and
writes the same line to PATH when given), serves until its stdin closes or a
POST /__control/shutdown arrives.

Control endpoints (JSON in and out, never recorded):
  GET  /__control/ping                      -> {"ok": true, "python": <this interpreter>}
  POST /__control/script   {path, responses} queue responses for a path, served in order
  POST /__control/default  {path, response}  answer every unscripted request to path so
                                             (response null restores the built-in default)
  GET  /__control/requests                  -> {"requests": [...]} oldest first
  POST /__control/clear                     forget scripts, defaults and recorded requests
  POST /__control/shutdown

Strings in control JSON are bytes: the JSON is read and written as UTF-8 with
surrogateescape, so binary bodies cross both ways unchanged.

A response is a dict; every key is optional:
  status, headers (map, or list of [name, value] pairs for repeats),
  body | json | events | chunks (what is sent), repeat (send those N times over),
  split (re-cut into N-byte pieces),
  chunk_delay (seconds between pieces), drip {bytes, interval}, delay (before the
  status line), silence (after the headers), cut_after (body bytes sent before the
  connection closes), reset (close with RST), hangup (close without answering),
  http10 (HTTP/1.0, close-delimited), no_length (chunked encoding), close.
"""

import argparse
import http
import http.server
import json
import os
import socket
import struct
import sys
import threading
import time

CONTROL = "/__control/"


def to_bytes(text):
    return text.encode("utf-8", "surrogateescape")


def json_bytes(value):
    return to_bytes(json.dumps(value, ensure_ascii=False))


def as_list(value):
    """cjson encodes an empty Lua table as {}: read it as an empty list."""
    if value is None or value == {}:
        return []
    return value


def openai_error(status, message, code, error_type="invalid_request_error"):
    return {"status": status,
            "json": {"error": {"message": message, "type": error_type, "param": None, "code": code}}}


MODELS = ["gpt-audio-mini", "gpt-audio-mini-2025-12-15", "gpt-4o-mini-transcribe",
          "gpt-4o-transcribe", "whisper-1", "gpt-4o-mini-tts", "tts-1", "tts-1-hd"]


def list_models(_request):
    return {"json": {"object": "list",
                     "data": [{"id": m, "object": "model", "created": 1700000000, "owned_by": "system"}
                              for m in MODELS]}}


def request_json(request):
    """The request body decoded as JSON, or None when it is not JSON."""
    try:
        return json.loads(request["body"])
    except ValueError:
        return None


# Built-in answers for unscripted requests: path (without query) -> function(request) -> response.
# A request is the dict recorded for it: method, path (with query), headers (lower-case
# names), header_list, body (a str; to_bytes(body) gives the exact bytes), connection.
DEFAULT_HANDLERS = {
    "/v1/models": list_models,
}


def not_found(request):
    return openai_error(404, "Unknown request URL: %s %s. Please check the URL for typos, "
                        "or see the docs at the API reference." % (request["method"], request["path"]),
                        "unknown_url")


class State:
    """Everything the request threads share, behind one lock."""

    def __init__(self):
        self.lock = threading.Lock()
        self.started = time.monotonic()
        self.scripts = {}
        self.defaults = {}
        self.requests = []
        self.responses_sent = 0
        self.connections = 0

    def clear(self):
        with self.lock:
            self.scripts.clear()
            self.defaults.clear()
            self.requests.clear()

    def add_script(self, path, responses):
        with self.lock:
            self.scripts.setdefault(path, []).extend(as_list(responses))

    def set_default(self, path, response):
        with self.lock:
            if response is None:
                self.defaults.pop(path, None)
            else:
                self.defaults[path] = response

    def record(self, request):
        with self.lock:
            request["index"] = len(self.requests) + 1
            request["time"] = time.monotonic() - self.started
            self.requests.append(request)

    def recorded(self):
        with self.lock:
            return list(self.requests)

    def response_for(self, request):
        """The next scripted response for the request's exact path, then its path
        without query; else the sticky default; else the built-in handler."""
        bare = request["path"].split("?", 1)[0]
        with self.lock:
            for key in (request["path"], bare):
                queue = self.scripts.get(key)
                if queue:
                    return queue.pop(0)
            sticky = self.defaults.get(bare)
        if sticky is not None:
            return sticky
        return DEFAULT_HANDLERS.get(bare, not_found)(request)

    def next_connection_number(self):
        with self.lock:
            self.connections += 1
            return self.connections

    def next_request_id(self):
        with self.lock:
            self.responses_sent += 1
            return "req_%d" % self.responses_sent


class ConnectionDone(Exception):
    """The response ended the connection on purpose (cut, reset, hangup, close-delimited)."""


def sse_event_bytes(event):
    if isinstance(event, str):
        return to_bytes("data: %s\n\n" % event)
    if "raw" in event:
        return to_bytes(event["raw"])
    lines = []
    if event.get("event") is not None:
        lines.append("event: %s" % event["event"])
    if event.get("id") is not None:
        lines.append("id: %s" % event["id"])
    data = event.get("data")
    if data is not None:
        text = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
        lines.extend("data: " + line for line in text.split("\n"))
    return to_bytes("\n".join(lines) + "\n\n")


def body_pieces(response):
    """The body as the list of writes it is sent in, and its default content type."""
    if "events" in response:
        pieces = [sse_event_bytes(e) for e in as_list(response["events"])]
        content_type = "text/event-stream"
    elif "chunks" in response:
        pieces = [to_bytes(c) for c in as_list(response["chunks"])]
        content_type = "application/octet-stream"
    elif "json" in response:
        pieces = [json_bytes(response["json"])]
        content_type = "application/json"
    else:
        pieces = [to_bytes(response.get("body", ""))]
        content_type = "text/plain"
    pieces = pieces * int(response.get("repeat", 1))
    size = None
    interval = response.get("chunk_delay", 0)
    if "split" in response:
        size = int(response["split"])
    if "drip" in response:
        size = int(response["drip"].get("bytes", 1))
        interval = response["drip"].get("interval", 0)
    if size:
        whole = b"".join(pieces)
        pieces = [whole[i:i + size] for i in range(0, len(whole), size)]
    return [p for p in pieces if p], content_type, interval


def header_pairs(response):
    headers = response.get("headers") or {}
    if isinstance(headers, dict):
        return [(str(k), str(v)) for k, v in headers.items()]
    return [(str(k), str(v)) for k, v in headers]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-openai"

    def log_message(self, *_args):
        pass

    def setup(self):
        super().setup()
        self.connection_number = self.server.state.next_connection_number()

    def handle(self):
        try:
            super().handle()
        except (ConnectionDone, ConnectionError, TimeoutError):
            pass

    def read_body(self):
        if "chunked" in self.headers.get("transfer-encoding", "").lower():
            parts = []
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("content-length") or 0)
        return self.rfile.read(length) if length else b""

    def dispatch(self):
        body = self.read_body()
        if self.path.startswith(CONTROL):
            self.control(body)
            return
        request = {
            "method": self.command,
            "path": self.path,
            "connection": self.connection_number,
            "version": self.request_version,
            "headers": {},
            "header_list": [[k.lower(), v] for k, v in self.headers.items()],
            "body": body.decode("utf-8", "surrogateescape"),
        }
        for name, value in request["header_list"]:
            seen = request["headers"].get(name)
            request["headers"][name] = value if seen is None else seen + ", " + value
        self.server.state.record(request)
        self.respond(self.server.state.response_for(request))

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = dispatch

    def control(self, body):
        state = self.server.state
        command = self.path[len(CONTROL):].split("?", 1)[0]
        payload = json.loads(body.decode("utf-8", "surrogateescape")) if body else {}
        answer = {"ok": True}
        if command == "ping":
            answer["python"] = sys.executable
        elif command == "script":
            state.add_script(payload["path"], payload.get("responses"))
        elif command == "default":
            state.set_default(payload["path"], payload.get("response"))
        elif command == "requests":
            answer = {"requests": state.recorded()}
        elif command == "clear":
            state.clear()
        elif command == "shutdown":
            try:
                self.respond({"json": answer, "close": True})
            finally:
                threading.Thread(target=self.server.shutdown, daemon=True).start()
            return
        else:
            self.respond(openai_error(404, "unknown control command " + command, "unknown_control"))
            return
        self.respond({"json": answer})

    def close_socket(self, reset):
        sock = self.connection
        try:
            if reset:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            else:
                sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        sock.close()
        raise ConnectionDone()

    def respond(self, response):
        time.sleep(response.get("delay", 0))
        reset = bool(response.get("reset"))
        if response.get("hangup"):
            self.close_socket(reset)
        pieces, content_type, interval = body_pieces(response)
        status = int(response.get("status", 200))
        http10 = bool(response.get("http10"))
        chunked = bool(response.get("no_length")) and not http10
        closing = http10 or reset or bool(response.get("close")) or "cut_after" in response
        scripted = header_pairs(response)
        names = {k.lower() for k, _ in scripted}
        headers = []
        if "content-type" not in names:
            headers.append(("content-type", content_type))
        if "x-request-id" not in names and not self.path.startswith(CONTROL):
            headers.append(("x-request-id", self.server.state.next_request_id()))
        if chunked:
            headers.append(("transfer-encoding", "chunked"))
        elif not http10 and "content-length" not in names:
            headers.append(("content-length", str(sum(len(p) for p in pieces))))
        if closing:
            headers.append(("connection", "close"))
        try:
            reason = http.HTTPStatus(status).phrase
        except ValueError:
            reason = "Unknown"
        head = ["%s %d %s" % ("HTTP/1.0" if http10 else "HTTP/1.1", status, reason)]
        head.extend("%s: %s" % pair for pair in headers + scripted)
        self.wfile.write(to_bytes("\r\n".join(head) + "\r\n\r\n"))
        time.sleep(response.get("silence", 0))
        if self.command == "HEAD":
            pieces = []
        budget = response.get("cut_after")
        for i, piece in enumerate(pieces):
            if budget == 0:
                break
            if i > 0:
                time.sleep(interval)
            if budget is not None and budget < len(piece):
                # The cut falls inside this piece: a chunk announces its whole size.
                self.wfile.write((b"%x\r\n" % len(piece) if chunked else b"") + piece[:budget])
                break
            self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
            if budget is not None:
                budget -= len(piece)
        if budget is None and chunked:
            self.wfile.write(b"0\r\n\r\n")
        if closing:
            self.close_socket(reset)


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 512

    def get_request(self):
        sock, address = super().get_request()
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock, address

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


def exit_when_stdin_closes(server):
    sys.stdin.buffer.read()
    server.shutdown()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file")
    args = parser.parse_args()
    server = Server(("127.0.0.1", args.port), Handler)
    server.state = State()
    line = "PORT %d\n" % server.server_address[1]
    if args.port_file:
        partial = args.port_file + ".partial"
        with open(partial, "w") as f:
            f.write(line)
        os.rename(partial, args.port_file)
    sys.stdout.write(line)
    sys.stdout.flush()
    threading.Thread(target=exit_when_stdin_closes, args=(server,), daemon=True).start()
    server.serve_forever(poll_interval=0.05)
    # Handler threads may still sleep inside a scripted delay: do not wait for them.
    os._exit(0)


if __name__ == "__main__":
    main()
