#!/usr/bin/env python3
"""A loopback HTTPS server for the TLS specs (spec/tls_spec.lua).

Usage: tls_server.py --cert CERT --key KEY --port-file PATH
Binds 127.0.0.1 on a free port, writes "PORT <n>" to PATH once it listens,
and answers every request with 200 and {"ok": true, "path": <path>,
"authorization": <the Authorization header or null>}. Serves until its stdin
closes. A client that refuses the certificate never gets an answer: the
handshake fails, which the server ignores.
"""

import argparse
import http.server
import json
import ssl
import sys
import threading


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *_args):
        pass

    def answer(self):
        length = int(self.headers.get("content-length") or 0)
        if length:
            self.rfile.read(length)
        body = json.dumps({"ok": True, "path": self.path,
                           "authorization": self.headers.get("authorization")}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = answer


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        """A refused handshake is the point of some specs, not an error."""


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--port-file", required=True)
    args = parser.parse_args()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(args.cert, args.key)
    server = Server(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    with open(args.port_file, "w") as f:
        f.write("PORT %d\n" % server.server_address[1])
    threading.Thread(target=lambda: (sys.stdin.buffer.read(), server.shutdown()), daemon=True).start()
    server.serve_forever()


if __name__ == "__main__":
    main()
