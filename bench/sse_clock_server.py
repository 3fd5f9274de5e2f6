"""An SSE server for bench/event_latency.lua: GET /clock?n=N&interval=S streams
N events, S seconds apart, each event's data the server's CLOCK_MONOTONIC
time (time.monotonic(), the clock of gptaudio's core.now()) when it was
written, then [DONE]. The client subtracts it from its own reading when the
event reaches the handler: the latency from the wire to the handler.

Usage: sse_clock_server.py --port-file PATH (writes "PORT <n>" once it listens;
ends when its stdin closes)."""
import argparse
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        query = parse_qs(urlparse(self.path).query)
        count = int(query.get("n", ["50"])[0])
        interval = float(query.get("interval", ["0.02"])[0])
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

        def chunk(text):
            data = text.encode()
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

        for _ in range(count):
            time.sleep(interval)
            chunk("data: %.9f\n\n" % time.monotonic())
        chunk("data: [DONE]\n\n")
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port-file", required=True)
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    partial = args.port_file + ".partial"
    with open(partial, "w") as f:
        f.write("PORT %d\n" % server.server_address[1])
    os.rename(partial, args.port_file)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sys.stdin.read()  # our parent's pipe: its end is ours


if __name__ == "__main__":
    main()
