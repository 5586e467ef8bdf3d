"""The nats sink (issue 5): events published to NATS JetStream through
nats.c with asynchronous publishes, a batch delivered only once every
message of it is acknowledged.  Against a real `nats-server -js` started by
each test on a free port with its own store directory: the stream holds
every event, in order, once (Nats-Msg-Id per line: SINK:SEQ:EVENT, so the
MessageRead and MessageTrash of one row are both kept and a replay is
de-duplicated); a plain core-NATS subscriber sees the same; subjects follow
the template with unsafe characters replaced; nats-server killed with -9 and
restarted mid-stream loses nothing; tidingsd starts and serves IMAP while
nats-server is down and catches up when it comes; config errors exit 2.

The NATS client here is written from the protocol (INFO/CONNECT/SUB/PUB/
MSG/HMSG and $JS.API requests), so the test shares no code with the sink.
"""
import base64
import itertools
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest
from conftest import TIDINGSD, TIMEOUT, append_message, free_port, simple_message

NATS_SERVER = shutil.which("nats-server") or "/usr/sbin/nats-server"


class Nats:
    """A minimal NATS client speaking the text protocol."""

    def __init__(self, port, timeout=TIMEOUT):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""
        self.sids = itertools.count(1)
        self.msgs = {}
        self.pong = False
        info = self._line()
        assert info.startswith(b"INFO "), info
        self.sock.sendall(b'CONNECT {"verbose":false,"pedantic":false,"headers":true,'
                          b'"no_responders":true,"protocol":1}\r\nPING\r\n')
        self._wait(lambda: self.pong)

    def _recv(self):
        d = self.sock.recv(65536)
        if not d:
            raise EOFError("nats-server closed the connection")
        self.buf += d

    def _line(self):
        while b"\r\n" not in self.buf:
            self._recv()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _take(self, n):
        while len(self.buf) < n + 2:
            self._recv()
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def _one(self):
        line = self._line()
        if line == b"PING":
            self.sock.sendall(b"PONG\r\n")
        elif line == b"PONG":
            self.pong = True
        elif line.startswith((b"MSG ", b"HMSG ")):
            parts = line.split()
            hdr = b""
            if parts[0] == b"HMSG":
                hlen, tlen = int(parts[-2]), int(parts[-1])
                data = self._take(tlen)
                hdr, data = data[:hlen], data[hlen:]
            else:
                data = self._take(int(parts[-1]))
            self.msgs.setdefault(int(parts[2]), []).append(
                (parts[1].decode(), parse_headers(hdr), data))
        elif line.startswith(b"-ERR"):
            raise AssertionError(line)

    def _wait(self, cond, timeout=TIMEOUT):
        deadline = time.time() + timeout
        while not cond():
            if time.time() > deadline:
                raise TimeoutError("nats: nothing came")
            self.sock.settimeout(max(0.01, deadline - time.time()))
            self._one()

    def subscribe(self, subject):
        sid = next(self.sids)
        self.msgs[sid] = []
        self.sock.sendall(f"SUB {subject} {sid}\r\nPING\r\n".encode())
        self.pong = False
        self._wait(lambda: self.pong)
        return sid

    def received(self, sid, count, timeout=TIMEOUT):
        self._wait(lambda: len(self.msgs[sid]) >= count, timeout)
        return self.msgs[sid]

    def request(self, subject, payload=b""):
        sid = next(self.sids)
        inbox = f"_INBOX.test{sid}"
        self.msgs[sid] = []
        self.sock.sendall(f"SUB {inbox} {sid}\r\nPUB {subject} {inbox} {len(payload)}\r\n".encode()
                          + payload + b"\r\n")
        self._wait(lambda: self.msgs[sid])
        self.sock.sendall(f"UNSUB {sid}\r\n".encode())
        _, hdrs, data = self.msgs.pop(sid)[0]
        return json.loads(data) if data else hdrs

    def stream_info(self, stream):
        return self.request(f"$JS.API.STREAM.INFO.{stream}")

    def stream_messages(self, stream):
        """Every message the stream holds, in stream order: (subject, headers, event)."""
        st = self.stream_info(stream)["state"]
        out = []
        for seq in range(st["first_seq"], st["last_seq"] + 1):
            r = self.request(f"$JS.API.STREAM.MSG.GET.{stream}", json.dumps({"seq": seq}).encode())
            m = r["message"]
            out.append((m["subject"], parse_headers(base64.b64decode(m.get("hdrs", ""))),
                        json.loads(base64.b64decode(m["data"]))))
        return out

    def close(self):
        self.sock.close()


def parse_headers(raw):
    h = {}
    for line in raw.decode().split("\r\n")[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            h[k.strip()] = v.strip()
    return h


class NatsServer:
    def __init__(self, port=None):
        self.port = port or free_port()
        self.dir = tempfile.mkdtemp(prefix="tidings-nats-")
        self.proc = None

    def start(self):
        self.log = open(os.path.join(self.dir, "nats.log"), "ab")
        self.proc = subprocess.Popen([NATS_SERVER, "-js", "-a", "127.0.0.1", "-p", str(self.port),
                                      "-sd", os.path.join(self.dir, "store")],
                                     stdout=self.log, stderr=self.log)
        deadline = time.time() + TIMEOUT
        while time.time() < deadline:
            assert self.proc.poll() is None, "nats-server exited"
            try:
                Nats(self.port).close()
                return
            except (OSError, EOFError, TimeoutError):
                time.sleep(0.05)
        raise AssertionError("nats-server did not start")

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.proc = None
        self.log.close()

    def stop(self):
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None
            self.log.close()


@pytest.fixture
def nats_server():
    servers = []

    def make(start=True):
        ns = NatsServer()
        servers.append(ns)
        if start:
            ns.start()
        return ns

    yield make
    for ns in servers:
        ns.stop()
        shutil.rmtree(ns.dir, ignore_errors=True)


def sinks(port, journal, **opts):
    """A nats sink and, with the same filter, a journal sink: the journal
    is what the stream must hold."""
    common = "".join(f"{k} = {v}\n" for k, v in opts.items() if k != "subject")
    nats = (f"[sink bus]\ntype = nats\nurl = nats://127.0.0.1:{port}\n"
            + (f"subject = {opts['subject']}\n" if "subject" in opts else "") + common)
    return nats + f"[sink archive]\ntype = journal\npath = {journal}\n" + common


def read_journal(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(l) for l in f.read().splitlines()]


def outbox_last(srv):
    return int(re.search(r"last (\d+)", srv.cli("events", "status").stdout).group(1))


def wait_cursor(srv, name, timeout=TIMEOUT):
    deadline = time.time() + timeout
    while True:
        st = srv.cli("events", "status").stdout
        last = int(re.search(r"last (\d+)", st).group(1))
        m = re.search(rf"sink {name}: type \w+, cursor (\d+)", st)
        if m and int(m.group(1)) >= last:
            return
        if time.time() > deadline:
            raise AssertionError(f"sink {name} did not catch up: {st}")
        time.sleep(0.05)


def wait_stream(nc, stream, count, timeout):
    deadline = time.time() + timeout
    while True:
        try:
            n = nc.stream_info(stream)["state"]["messages"]
        except (KeyError, TimeoutError):
            n = -1
        if n >= count:
            return n
        if time.time() > deadline:
            raise AssertionError(f"stream {stream} holds {n} of {count} events")
        time.sleep(0.1)


def key(ev):
    return (ev["seq"], ev["event"])


def test_every_event_in_the_stream_in_order(server_factory, nats_server, tmp_path):
    ns = nats_server()
    journal = str(tmp_path / "events.jsonl")
    watcher = Nats(ns.port)
    live = watcher.subscribe("tidings.>")
    srv = server_factory(extra_config=sinks(ns.port, journal, subject="tidings.<event>.<user>.<mailbox>"),
                         users=(("alice", "secret-pw"), ("j.doe", "jd-pw")), start=False)
    assert "error" in Nats(ns.port).stream_info("TIDINGS")
    srv.start()
    # The stream did not exist: the sink created it, capturing the
    # template's literal prefix.
    nc = Nats(ns.port)
    deadline = time.time() + TIMEOUT
    while "config" not in nc.stream_info("TIDINGS") and time.time() < deadline:
        time.sleep(0.05)
    info = nc.stream_info("TIDINGS")
    assert info["config"]["subjects"] == ["tidings.>"], info
    assert info["config"]["storage"] == "file"

    c = srv.raw()
    c.login("alice", "secret-pw")
    assert c.command("a1", 'CREATE "Work.Stuff Here"')[1].startswith("a1 OK")
    assert append_message(c, "Work.Stuff Here", simple_message("One")).startswith("AP OK")
    assert append_message(c, "INBOX", simple_message("Two"), tag="AQ").startswith("AQ OK")
    assert c.command("a2", "SELECT INBOX")[1].startswith("a2 OK")
    # flag_mode simple: one outbox row, MessageRead + MessageTrash + FlagsSet
    # sharing one seq; each must be stored.
    assert c.command("a3", "STORE 1 +FLAGS (\\Seen \\Deleted $Later)")[1].startswith("a3 OK")
    c.command("a4", "LOGOUT")
    c.close()
    d = srv.raw()
    d.login("j.doe", "jd-pw")
    d.command("b1", "LOGOUT")
    d.close()

    wait_cursor(srv, "archive")
    wait_cursor(srv, "bus")
    expected = read_journal(journal)
    assert len({e["seq"] for e in expected}) == outbox_last(srv)
    msgs = nc.stream_messages("TIDINGS")
    assert [m[2] for m in msgs] == expected
    assert len(set(key(m[2]) for m in msgs)) == len(msgs)
    one_row = [m[2]["event"] for m in msgs if m[2]["event"] in ("MessageRead", "MessageTrash", "FlagsSet")]
    assert one_row == ["MessageRead", "MessageTrash", "FlagsSet"]
    for subject, hdrs, ev in msgs:
        assert hdrs["Nats-Msg-Id"] == f"bus:{ev['seq']}:{ev['event']}"
        assert hdrs["Tidings-Seq"] == str(ev["seq"])
        assert subject.startswith(f"tidings.{ev['event']}.")
    subjects = {(m[2]["event"], m[0]) for m in msgs}
    # '.' and ' ' would split a subject: they become '_'.
    assert ("MessageAppend", "tidings.MessageAppend.alice.Work_Stuff_Here") in subjects
    assert ("MessageAppend", "tidings.MessageAppend.alice.INBOX") in subjects
    assert ("Login", "tidings.Login.j_doe._") in subjects

    # A core NATS subscriber saw the same events, in the same order.
    got = watcher.received(live, len(expected))
    assert [json.loads(data) for _, _, data in got] == expected
    assert [s for s, _, _ in got] == [m[0] for m in msgs]
    watcher.close()

    # A replay re-publishes, and JetStream's de-duplication (Nats-Msg-Id)
    # keeps the stream as it was.
    srv.cli("events", "replay", "--sink", "bus", "--from", "1")
    deadline = time.time() + TIMEOUT
    while time.time() < deadline and "replay" in srv.cli("events", "status").stdout:
        time.sleep(0.05)
    wait_cursor(srv, "bus")
    assert "sink bus: replay from event 1" in srv.log(), srv.log()
    assert nc.stream_info("TIDINGS")["state"]["messages"] == len(expected)
    nc.close()
    srv.stop()


def test_filters_and_existing_stream(server_factory, nats_server, tmp_path):
    ns = nats_server()
    nc = Nats(ns.port)
    # An existing stream is used as it is (not re-created, not changed).
    r = nc.request("$JS.API.STREAM.CREATE.MAIL", json.dumps(
        {"name": "MAIL", "subjects": ["mail.>"], "storage": "memory"}).encode())
    assert "error" not in r, r
    journal = str(tmp_path / "events.jsonl")
    srv = server_factory(extra_config=sinks(ns.port, journal, subject="mail.<user>.<event>",
                                            events="message", params="uidset mailboxID",
                                            tags="billing"), start=False)
    # the stream key goes to the nats sink only
    text = open(srv.config_path).read().replace("type = nats\n", "type = nats\nstream = MAIL\n")
    with open(srv.config_path, "w") as f:
        f.write(text)
    srv.start()
    c = srv.imaplib()
    c.create("Other")
    c.append("INBOX", "", None, simple_message("F").encode())
    c.select("INBOX")
    c.store("1", "+FLAGS", "(\\Seen)")
    c.logout()
    wait_cursor(srv, "archive")
    wait_cursor(srv, "bus")
    expected = read_journal(journal)
    assert [e["event"] for e in expected] == ["MessageAppend", "MessageRead"]
    msgs = nc.stream_messages("MAIL")
    assert [m[2] for m in msgs] == expected
    for subject, _, ev in msgs:
        assert set(ev) == {"seq", "event", "uidset", "mailboxID", "tags"}
        assert ev["tags"] == ["billing"]
        # no "user" parameter sent: <user> is the mailbox owner
        assert subject == f"mail.alice.{ev['event']}"
    info = nc.stream_info("MAIL")
    assert info["config"]["subjects"] == ["mail.>"] and info["config"]["storage"] == "memory"
    nc.close()
    srv.stop()


def test_nats_down_at_start_then_catches_up(server_factory, nats_server, tmp_path):
    ns = nats_server(start=False)
    journal = str(tmp_path / "events.jsonl")
    srv = server_factory(extra_config=sinks(ns.port, journal))
    # IMAP works while the sink cannot reach its far end.
    c = srv.imaplib()
    c.create("While-Down")
    c.append("INBOX", "", None, simple_message("Down").encode())
    c.logout()
    wait_cursor(srv, "archive")
    st = srv.cli("events", "status").stdout
    assert re.search(r"sink bus: type nats, cursor 0", st), st
    ns.start()
    nc = Nats(ns.port)
    expected = read_journal(journal)
    wait_stream(nc, "TIDINGS", len(expected), 30)
    wait_cursor(srv, "bus")
    assert [m[2] for m in nc.stream_messages("TIDINGS")] == expected
    nc.close()
    srv.stop()


@pytest.mark.slow
def test_nats_killed_and_restarted_mid_stream(server_factory, nats_server, tmp_path):
    ns = nats_server()
    journal = str(tmp_path / "events.jsonl")
    srv = server_factory(extra_config=sinks(ns.port, journal))
    c = srv.raw()
    c.login("alice", "secret-pw")
    assert c.command("s0", "SELECT INBOX")[1].startswith("s0 OK")
    # A long outage (longer than the sink's 5 s wait for acks: the batch
    # in flight fails and is retried whole) and a short one (nats.c's
    # reconnect buffer carries it over).
    for i in range(60):
        assert append_message(c, "INBOX", simple_message(f"M{i}"), tag=f"A{i}").startswith(f"A{i} OK")
        if i % 3 == 0:
            assert c.command(f"S{i}", f"STORE {i + 1} +FLAGS (\\Seen)")[1].startswith(f"S{i} OK")
        if i in (15, 45):
            ns.kill9()
        if i in (30, 48):
            ns.start()
        time.sleep(0.4 if 15 <= i < 30 else 0.02)
    c.command("z", "LOGOUT")
    c.close()
    wait_cursor(srv, "archive")
    expected = read_journal(journal)
    nc = Nats(ns.port)
    wait_cursor(srv, "bus", timeout=60)
    msgs = [m[2] for m in nc.stream_messages("TIDINGS")]
    keys = [key(e) for e in msgs]
    assert len(keys) == len(set(keys)), "duplicates in the stream"
    assert msgs == expected
    log = srv.log()
    assert log.count("reconnected to NATS") >= 2, log
    # batches failed during the long outage and were sent again
    assert re.search(r"sink bus: delivering events \d+\.\.\d+ failed", log), log
    nc.close()
    srv.stop()


def test_stops_cleanly_while_nats_is_down(server_factory, nats_server, tmp_path):
    ns = nats_server()
    srv = server_factory(extra_config=sinks(ns.port, str(tmp_path / "j.jsonl")))
    c = srv.imaplib()
    c.create("Before")
    c.logout()
    wait_cursor(srv, "bus")
    ns.kill9()
    c = srv.imaplib()
    c.create("After")
    c.logout()
    time.sleep(0.3)
    # A batch waiting for acks gives up at once on shutdown.
    t0 = time.time()
    srv.stop()
    assert time.time() - t0 < 3
    # Down from the start: the connection is still being retried.
    srv.start()
    time.sleep(0.5)
    t0 = time.time()
    srv.stop()
    assert time.time() - t0 < 3


@pytest.mark.parametrize("body,line,msg", [
    ("[sink n]\ntype = nats\n", 1, "a nats sink needs 'url'"),
    ("[sink n]\ntype = nats\nurl = http://127.0.0.1:4222\n", 3, "url: expected nats://"),
    ("[sink n]\ntype = nats\nurl = nats://127.0.0.1:4222\nstream = a.b\n", 4, "stream: expected"),
    ("[sink n]\ntype = nats\nurl = nats://127.0.0.1:4222\nsubject = <event>.x\n", 4,
     "first token must be literal"),
    ("[sink n]\ntype = nats\nurl = nats://127.0.0.1:4222\nsubject = t.<folder>\n", 4,
     "unknown placeholder"),
    ("[sink n]\ntype = nats\nurl = nats://127.0.0.1:4222\nsubject = t.*.x\n", 4, "wildcards"),
    ("[sink n]\ntype = nats\nurl = nats://127.0.0.1:4222\nsubject = t..x\n", 4, "empty token"),
    ("[sink n]\ntype = nats\nurl = nats://127.0.0.1:4222\npath = /tmp/x\n", 4, "unknown key 'path'"),
])
def test_nats_config_errors_exit_2(server_factory, body, line, msg):
    srv = server_factory(extra_config=body, users=(), start=False)
    base = sum(1 for _ in open(srv.config_path)) - body.count("\n") - 1
    r = subprocess.run([TIDINGSD, "-c", srv.config_path], capture_output=True, text=True,
                       timeout=TIMEOUT)
    assert r.returncode == 2, r.stderr
    assert f"{srv.config_path}:{base + line}:" in r.stderr, r.stderr
    assert msg in r.stderr, r.stderr
