"""An OTLP/HTTP receiver over TLS, for the forwarder's TLS test (tests/forward_tls.rs).

Usage: tls_otlp_receiver.py CERT KEY   Listens on 127.0.0.1 (a free port, printed as
"port N"), answers POST /v1/traces with 200 and prints "spans N" for each body, decoded with the
OpenTelemetry Python protobuf classes. Stops when stdin closes.
"""

import http.server
import ssl
import sys
import threading

from opentelemetry.proto.collector.trace.v1 import trace_service_pb2


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        request = trace_service_pb2.ExportTraceServiceRequest()
        request.ParseFromString(body)
        spans = sum(len(ss.spans) for rs in request.resource_spans for ss in rs.scope_spans)
        print(f"spans {spans}", flush=True)
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(sys.argv[1], sys.argv[2])
server.socket = context.wrap_socket(server.socket, server_side=True)
print(f"port {server.server_address[1]}", flush=True)
threading.Thread(target=server.serve_forever, daemon=True).start()
sys.stdin.read()
server.shutdown()
