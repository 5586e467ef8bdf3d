"""The syslog sink (issue 5): one datagram per event on the syslog daemon's
Unix socket (`socket`, /dev/log by default; here a socket the test binds in
a temporary directory, so nothing depends on the machine's syslog), with an
RFC 5424 structured-data element ([tidings@32473 seq= event= user=], values
escaped per RFC 5424 §6.3.3) before the event's JSON.  `format = rfc5424`
gives the full RFC 5424 header, the default the header syslog(3) writes.
Every event arrives once, in order (compared with a journal sink with the
same filter), filters apply, a daemon that is missing at start or goes away
mid-stream loses nothing, and config errors exit 2.
"""
import datetime
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time

import pytest
from conftest import TIDINGSD, TIMEOUT, append_message, simple_message

SD_ID = "tidings@32473"
RFC5424 = re.compile(r'^<(\d+)>1 (\S+) (\S+) (\S+) (\d+) (\S+) \[' + SD_ID +
                     r'((?: [a-z]+="(?:[^"\\\]]|\\.)*")*)\] (.*)$', re.S)
RFC3164 = re.compile(r'^<(\d+)>([A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d) ([^\[\s]+)\[(\d+)\]: \[' + SD_ID +
                     r'((?: [a-z]+="(?:[^"\\\]]|\\.)*")*)\] (.*)$', re.S)
SD_PARAM = re.compile(r' ([a-z]+)="((?:[^"\\\]]|\\.)*)"')


def sd_params(text):
    return {k: re.sub(r"\\(.)", r"\1", v) for k, v in SD_PARAM.findall(text)}


class SyslogDaemon:
    """A Unix datagram socket standing in for the syslog daemon."""

    def __init__(self, path):
        self.path = path
        self.sock = None

    def bind(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)

    def close(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None
            os.unlink(self.path)

    def receive(self, count, timeout=TIMEOUT):
        out = []
        deadline = time.time() + timeout
        while len(out) < count:
            left = deadline - time.time()
            if left <= 0:
                raise AssertionError(f"got {len(out)} of {count} messages: {out[-3:]}")
            self.sock.settimeout(left)
            out.append(self.sock.recv(1 << 20).decode())
        return out

    def nothing_more(self, wait=0.3):
        self.sock.settimeout(wait)
        try:
            extra = self.sock.recv(1 << 20)
        except (socket.timeout, TimeoutError):
            return True
        raise AssertionError(f"unexpected extra message: {extra[:300]!r}")


@pytest.fixture
def syslog_daemon():
    d = tempfile.mkdtemp(prefix="tsl-")
    daemons = []

    def make(bind=True):
        sd = SyslogDaemon(os.path.join(d, "log"))
        daemons.append(sd)
        if bind:
            sd.bind()
        return sd

    yield make
    for sd in daemons:
        sd.close()
    shutil.rmtree(d, ignore_errors=True)


def sinks(sock_path, journal, syslog_opts="", **filt):
    common = "".join(f"{k} = {v}\n" for k, v in filt.items())
    return (f"[sink sys]\ntype = syslog\nsocket = {sock_path}\n{syslog_opts}{common}"
            f"[sink archive]\ntype = journal\npath = {journal}\n{common}")


def read_journal(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(l) for l in f.read().splitlines()]


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


def parse_5424(msg):
    m = RFC5424.match(msg)
    assert m, msg
    pri, ts, host, app, pid, msgid, sd, body = m.groups()
    return dict(pri=int(pri), ts=ts, host=host, app=app, pid=int(pid), msgid=msgid,
                sd=sd_params(sd), event=json.loads(body))


def parse_3164(msg):
    m = RFC3164.match(msg)
    assert m, msg
    pri, ts, tag, pid, sd, body = m.groups()
    return dict(pri=int(pri), ts=ts, app=tag, pid=int(pid), sd=sd_params(sd), event=json.loads(body))


def test_rfc5424_every_event_once_in_order(server_factory, syslog_daemon, tmp_path):
    sd = syslog_daemon()
    journal = str(tmp_path / "events.jsonl")
    weird = 'we]i"rd\\x'
    srv = server_factory(extra_config=sinks(sd.path, journal, "format = rfc5424\nfacility = local3\n"
                                            "ident = tidings-test\n"),
                         users=(("alice", "secret-pw"), (weird, "w-pw")))
    c = srv.raw()
    c.login("alice", "secret-pw")
    assert c.command("a1", "CREATE Work")[1].startswith("a1 OK")
    assert append_message(c, "INBOX", simple_message("One")).startswith("AP OK")
    assert c.command("a2", "SELECT INBOX")[1].startswith("a2 OK")
    assert c.command("a3", "STORE 1 +FLAGS (\\Seen \\Deleted)")[1].startswith("a3 OK")
    c.command("a4", "LOGOUT")
    c.close()
    w = srv.raw()
    _, tagged = w.command("L1", 'LOGIN "we]i\\"rd\\\\x" "w-pw"')
    assert tagged.startswith("L1 OK"), tagged
    w.close()
    wait_cursor(srv, "archive")
    expected = read_journal(journal)
    got = [parse_5424(m) for m in sd.receive(len(expected))]
    wait_cursor(srv, "sys")
    sd.nothing_more()
    assert [g["event"] for g in got] == expected
    # MessageRead and MessageTrash of one row (flag_mode simple): both sent
    read = [e for e in expected if e["event"] == "MessageRead"]
    assert len(read) == 1
    assert [e["event"] for e in expected if e["seq"] == read[0]["seq"]] == ["MessageRead", "MessageTrash"]
    now = datetime.datetime.now(datetime.timezone.utc)
    for g in got:
        ev = g["event"]
        assert g["pri"] == 19 * 8 + 6            # local3.info
        ts = datetime.datetime.fromisoformat(g["ts"])
        assert ts.tzinfo is not None and abs((now - ts).total_seconds()) < 60
        assert re.search(r"\.\d{6}[+-]\d\d:\d\d$", g["ts"]), g["ts"]
        assert g["host"] == socket.gethostname()
        assert g["app"] == "tidings-test"
        assert g["pid"] == srv.proc.pid
        assert g["msgid"] == ev["event"]
        assert g["sd"]["seq"] == str(ev["seq"]) and g["sd"]["event"] == ev["event"]
        assert g["sd"].get("user") == ev.get("user")
    # RFC 5424 §6.3.3: '"', '\' and ']' escaped inside the SD value.
    login = [m for m in got if m["event"]["event"] == "Login" and m["event"]["user"] == weird]
    assert login and login[0]["sd"]["user"] == weird
    srv.stop()


def test_rfc3164_default_and_filters(server_factory, syslog_daemon, tmp_path):
    sd = syslog_daemon()
    journal = str(tmp_path / "events.jsonl")
    srv = server_factory(extra_config=sinks(sd.path, journal, events="message", users="bob",
                                            params="uidset mailboxID", tags="audit"))
    for user, pw in (("alice", "secret-pw"), ("bob", "bob-pw")):
        c = srv.imaplib(user, pw)
        c.create("Box")
        c.append("INBOX", "", None, simple_message(f"to {user}").encode())
        c.select("INBOX")
        c.store("1", "+FLAGS", "(\\Seen)")
        c.logout()
    wait_cursor(srv, "archive")
    expected = read_journal(journal)
    assert [e["event"] for e in expected] == ["MessageAppend", "MessageRead"]
    got = [parse_3164(m) for m in sd.receive(len(expected))]
    wait_cursor(srv, "sys")
    sd.nothing_more()
    assert [g["event"] for g in got] == expected
    for g in got:
        assert g["pri"] == 2 * 8 + 6             # mail.info, the default
        assert g["app"] == "tidings" and g["pid"] == srv.proc.pid
        assert "/INBOX;" in g["event"]["mailboxID"] and "imap://bob@" in g["event"]["mailboxID"]
        assert set(g["event"]) == {"seq", "event", "uidset", "mailboxID", "tags"}
        assert "user" not in g["sd"]
    srv.stop()


def test_daemon_missing_at_start_then_gone_mid_stream(server_factory, syslog_daemon, tmp_path):
    sd = syslog_daemon(bind=False)
    journal = str(tmp_path / "events.jsonl")
    srv = server_factory(extra_config=sinks(sd.path, journal))
    c = srv.imaplib()
    c.create("Early")
    c.logout()
    wait_cursor(srv, "archive")
    assert re.search(r"sink sys: type syslog, cursor 0", srv.cli("events", "status").stdout)
    sd.bind()
    first = read_journal(journal)
    got = [parse_3164(m)["event"] for m in sd.receive(len(first), timeout=30)]
    assert got == first
    wait_cursor(srv, "sys")
    # The daemon goes away (its socket with it) while changes go on, and
    # comes back: the sink waits and resends, nothing twice.
    sd.close()
    c = srv.imaplib()
    for i in range(5):
        c.append("INBOX", "", None, simple_message(f"gone {i}").encode())
    c.logout()
    wait_cursor(srv, "archive")
    time.sleep(0.3)
    sd.bind()
    rest = read_journal(journal)[len(first):]
    got = [parse_3164(m)["event"] for m in sd.receive(len(rest), timeout=30)]
    wait_cursor(srv, "sys")
    sd.nothing_more()
    assert got == rest and len(rest) >= 7
    assert "cannot reach the syslog daemon" in srv.log()
    srv.stop()


@pytest.mark.parametrize("body,line,msg", [
    ("[sink s]\ntype = syslog\nfacility = kern\n", 3, "facility: expected mail"),
    ("[sink s]\ntype = syslog\nident = has space\n", 3, "ident: expected"),
    ("[sink s]\ntype = syslog\nsocket = relative/log\n", 3, "socket: expected an absolute path"),
    ("[sink s]\ntype = syslog\nsocket = /" + "x" * 120 + "\n", 3, "socket: expected"),
    ("[sink s]\ntype = syslog\nformat = json\n", 3, "format: expected rfc3164 or rfc5424"),
    ("[sink s]\ntype = syslog\nurl = nats://x:1\n", 3, "unknown key 'url'"),
])
def test_syslog_config_errors_exit_2(server_factory, body, line, msg):
    srv = server_factory(extra_config=body, users=(), start=False)
    base = sum(1 for _ in open(srv.config_path)) - body.count("\n") - 1
    r = subprocess.run([TIDINGSD, "-c", srv.config_path], capture_output=True, text=True,
                       timeout=TIMEOUT)
    assert r.returncode == 2, r.stderr
    assert f"{srv.config_path}:{base + line}:" in r.stderr, r.stderr
    assert msg in r.stderr, r.stderr
