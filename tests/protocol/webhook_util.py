"""A real HTTP receiver for the webhook sink's tests: a threaded
http.server on 127.0.0.1 that checks EVERY request's HMAC-SHA256 signature
the way docs/events.md tells a receiver to, validates every event against
docs/events.schema.json, and records what it accepted.

It can be stopped (its port closed, open keep-alive connections cut) and
started again on the same port, made to answer a given status, or to sleep
before answering.
"""
import hashlib
import hmac
import json
import os
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jsonschema

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
with open(os.path.join(ROOT, "docs", "events.schema.json")) as _f:
    VALIDATOR = jsonschema.Draft202012Validator(json.load(_f))

# How far a signed timestamp may be from the receiver's clock.
TOLERANCE = 300


def verify(secret, headers, body):
    """docs/events.md: HMAC-SHA256(secret, timestamp + "." + body)."""
    stamp = headers.get("X-Tidings-Timestamp", "")
    sig = headers.get("X-Tidings-Signature", "")
    if not stamp.isdigit() or not sig.startswith("v1="):
        return False
    if abs(time.time() - int(stamp)) > TOLERANCE:
        return False
    want = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(want, sig[3:])


class Receiver:
    def __init__(self, secret, port=None, tls=None):
        from conftest import free_port
        self.secret = secret
        self.port = port or free_port()
        self.tls = tls             # (certfile, keyfile) for https
        scheme = "https" if tls else "http"
        self.url = f"{scheme}://127.0.0.1:{self.port}/hook"
        self.status = 200          # answered to a well-signed request
        self.delay = 0.0           # seconds slept before answering
        self.lock = threading.Lock()
        self.events = []           # accepted events, in arrival order
        self.requests = []         # dicts: headers, events, status, time
        self.errors = []           # anything a request got wrong
        self.bad_signatures = 0
        self.httpd = None
        self.thread = None
        self.conns = set()
        self.up = False            # False from the moment stop() begins

    # ---- life cycle ----

    def start(self):
        recv = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self):
                super().setup()
                with recv.lock:
                    recv.conns.add(self.connection)

            def finish(self):
                with recv.lock:
                    recv.conns.discard(self.connection)
                try:
                    super().finish()
                except OSError:
                    pass

            def log_message(self, *args):
                pass

            def answer(self, code, text=b""):
                self.send_response(code)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(text)))
                self.end_headers()
                self.wfile.write(text)

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                recv.handle(self, body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.httpd.daemon_threads = True
        if self.tls:
            import ssl
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*self.tls)
            self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        with self.lock:
            self.up = True
        self.thread.start()

    def stop(self):
        """Closes the port and cuts the connections kept alive."""
        if self.httpd is None:
            return
        # A request still being handled when the receiver goes down stores
        # nothing (as if the process had died before committing it): the
        # sink gets no answer and must send it again.
        with self.lock:
            self.up = False
        self.httpd.shutdown()
        self.httpd.server_close()
        with self.lock:
            conns = list(self.conns)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.thread.join(timeout=5)
        self.httpd = None

    # ---- one request ----

    def handle(self, h, body):
        headers = {k: v for k, v in h.headers.items()}
        ok_sig = verify(self.secret, h.headers, body)
        rec = {"headers": headers, "events": [], "status": None, "time": time.time(),
               "body": body}
        if not ok_sig:
            with self.lock:
                self.bad_signatures += 1
                rec["status"] = 401
                self.requests.append(rec)
            h.answer(401, b"bad signature")
            return
        if self.delay:
            time.sleep(self.delay)
        status = self.status
        if status == 200:
            problems = []
            try:
                events = json.loads(body)
            except ValueError as e:
                events = []
                problems.append(f"body is not JSON: {e}")
            if not isinstance(events, list) or not events:
                problems.append("body is not a non-empty JSON array")
                events = []
            for ev in events:
                try:
                    VALIDATOR.validate(ev)
                except jsonschema.ValidationError as e:
                    problems.append(f"schema: {e.message}: {ev}")
            if headers.get("Content-Type") != "application/json":
                problems.append("Content-Type: " + str(headers.get("Content-Type")))
            if events:
                ids = f"{events[0]['seq']}-{events[-1]['seq']}"
                if headers.get("X-Tidings-Event-Ids") != ids:
                    problems.append(f"X-Tidings-Event-Ids {headers.get('X-Tidings-Event-Ids')} != {ids}")
                sink = headers.get("X-Tidings-Sink", "")
                if headers.get("Idempotency-Key") != f"{sink}-{ids}":
                    problems.append("Idempotency-Key " + str(headers.get("Idempotency-Key")))
                seqs = [e["seq"] for e in events]
                if seqs != sorted(seqs):
                    problems.append(f"seqs out of order in one POST: {seqs}")
        with self.lock:
            if not self.up:
                h.close_connection = True
                return
            if status == 200:
                self.errors += problems
                rec["events"] = events
                if not problems:
                    self.events += events
            rec["status"] = status
            self.requests.append(rec)
        h.answer(status, b"ok" if status == 200 else b"try later")

    # ---- for the tests ----

    def snapshot(self):
        with self.lock:
            return list(self.events)

    def distinct(self):
        """Accepted events without redeliveries (by seq and event), in
        first-arrival order, and how many duplicates there were."""
        seen = set()
        out = []
        dups = 0
        for e in self.snapshot():
            key = (e["seq"], e["event"])
            if key in seen:
                dups += 1
                continue
            seen.add(key)
            out.append(e)
        return out, dups
