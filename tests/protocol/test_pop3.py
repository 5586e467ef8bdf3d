"""POP3 (RFC 1939, CAPA RFC 2449, STLS RFC 2595, AUTH PLAIN RFC 5034,
RESP-CODES / AUTH-RESP-CODE RFC 3206): every command, the maildrop as a
snapshot of INBOX, UIDL stable across restarts, DELE taking effect only at
QUIT, IMAP sessions seeing POP3's expunges, STLS and POP3S, bad input, and
Python's poplib as a real client.
"""
import base64
import json
import os
import poplib
import shutil
import socket
import sqlite3
import ssl
import subprocess
import tempfile
import time

import pytest
from conftest import TIMEOUT, free_port, simple_message


def pop3_config(pop3_port, pop3s_port, extra=""):
    return (f"pop3_listen = 127.0.0.1:{pop3_port}\n"
            f"pop3s_listen = 127.0.0.1:{pop3s_port}\n{extra}")


@pytest.fixture
def pop_server(server_factory):
    return make_pop_server(server_factory)


def make_pop_server(server_factory, extra=""):
    p, ps = free_port(), free_port()
    srv = server_factory(extra_config=pop3_config(p, ps, extra))
    srv.pop3_port = p
    srv.pop3s_port = ps
    return srv


def tls_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class RawPop:
    """Sends exactly the bytes a test says; reads lines and multi-line
    responses."""

    def __init__(self, port, tls=False, timeout=TIMEOUT):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        if tls:
            self.sock = tls_context().wrap_socket(self.sock)
        self.buf = b""
        self.greeting = self.line()

    def starttls(self):
        self.sock = tls_context().wrap_socket(self.sock)

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("server closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode("utf-8", "replace")

    def cmd(self, text):
        self.send(text + "\r\n")
        return self.line()

    def multi(self):
        """The lines of a multi-line response up to ".", raw bytes with the
        byte-stuffing still in place."""
        lines = []
        while True:
            while b"\r\n" not in self.buf:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise EOFError("server closed the connection")
                self.buf += chunk
            line, self.buf = self.buf.split(b"\r\n", 1)
            if line == b".":
                return lines
            lines.append(line)

    def closed(self, timeout=TIMEOUT):
        """True when the server closes the connection (after any data)."""
        self.sock.settimeout(timeout)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buf += chunk
        except (ConnectionResetError, ssl.SSLError):
            return True
        except socket.timeout:
            return False

    def login(self, user="alice", password="secret-pw"):
        assert self.cmd(f"USER {user}").startswith("+OK")
        r = self.cmd(f"PASS {password}")
        assert r.startswith("+OK"), r
        return r

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def unstuff(lines):
    return b"".join((l[1:] if l.startswith(b".") else l) + b"\r\n" for l in lines)


def imap_append(srv, body, user="alice", password="secret-pw", mailbox="INBOX"):
    c = srv.imaplib(user, password)
    try:
        typ, _ = c.append(mailbox, None, None, body.encode() if isinstance(body, str) else body)
        assert typ == "OK"
    finally:
        c.logout()


def outbox(srv, type_=None):
    db = sqlite3.connect(f"file:{srv.data_dir}/index.db?mode=ro", uri=True)
    try:
        rows = db.execute("SELECT type, params FROM outbox ORDER BY seq").fetchall()
    finally:
        db.close()
    return [(t, json.loads(p)) for t, p in rows if type_ is None or t == type_]


def inbox_uids(srv, user="alice", password="secret-pw"):
    c = srv.imaplib(user, password)
    try:
        c.select("INBOX")
        typ, data = c.uid("SEARCH", None, "ALL")
        assert typ == "OK"
        return [int(x) for x in data[0].split()]
    finally:
        c.logout()


DOTTY = ("From: a@example.org\r\nSubject: dots\r\n\r\n"
         "line one\r\n.starts with a dot\r\n..two dots\r\n.\r\nlast line\r\n")


def three_messages(srv):
    imap_append(srv, simple_message("first"))
    imap_append(srv, DOTTY)
    imap_append(srv, simple_message("third", body="a\r\nb\r\nc\r\n"))


# ---- greeting, CAPA, authorization ----

def test_greeting_and_capa(pop_server):
    p = RawPop(pop_server.pop3_port)
    assert p.greeting.startswith("+OK")
    assert p.cmd("CAPA").startswith("+OK")
    caps = [l.decode() for l in p.multi()]
    for c in ("TOP", "UIDL", "USER", "SASL PLAIN", "RESP-CODES",
              "AUTH-RESP-CODE", "PIPELINING", "STLS"):
        assert c in caps, caps
    assert any(c.startswith("IMPLEMENTATION") for c in caps)
    p.login()
    assert p.cmd("capa").startswith("+OK")
    caps = [l.decode() for l in p.multi()]
    assert "STLS" not in caps and "USER" not in caps and "TOP" in caps
    assert p.cmd("QUIT").startswith("+OK")
    assert p.closed()


def test_user_pass_and_failures(pop_server):
    p = RawPop(pop_server.pop3_port)
    assert p.cmd("PASS secret-pw").startswith("-ERR")  # USER first
    assert p.cmd("USER alice").startswith("+OK")
    r = p.cmd("PASS wrong")
    assert r.startswith("-ERR [AUTH]"), r
    # after a failed PASS the client starts again with USER
    assert p.cmd("PASS secret-pw").startswith("-ERR")
    assert p.cmd("USER nobody").startswith("+OK")
    assert p.cmd("PASS whatever").startswith("-ERR [AUTH]")
    r = p.login()
    assert "0 messages" in r
    p.close()
    # Login and Logout events name the service
    deadline = time.time() + TIMEOUT
    while time.time() < deadline:
        if outbox(pop_server, "Logout"):
            break
        time.sleep(0.05)
    logins = [e for _, e in outbox(pop_server, "Login") if e.get("service") == "pop3"]
    logouts = [e for _, e in outbox(pop_server, "Logout") if e.get("service") == "pop3"]
    assert len(logins) == 1 and len(logouts) == 1
    assert logins[0]["user"] == "alice"


def test_password_with_spaces(server_factory):
    srv = make_pop_server(server_factory)
    srv.add_user("carol", "with some spaces")
    p = RawPop(srv.pop3_port)
    p.login("carol", "with some spaces")
    p.close()


def test_too_many_auth_failures(server_factory):
    srv = make_pop_server(server_factory, "max_auth_failures = 2\n")
    p = RawPop(srv.pop3_port)
    assert p.cmd("USER alice").startswith("+OK")
    assert p.cmd("PASS x").startswith("-ERR [AUTH]")
    assert p.cmd("USER alice").startswith("+OK")
    assert p.cmd("PASS y").startswith("-ERR [AUTH]")
    assert p.line().startswith("-ERR")
    assert p.closed()


def test_auth_plain(pop_server):
    ir = base64.b64encode(b"\0alice\0secret-pw").decode()
    p = RawPop(pop_server.pop3_port)
    # with an initial response
    assert p.cmd(f"AUTH PLAIN {ir}").startswith("+OK")
    p.close()
    # with a continuation
    p = RawPop(pop_server.pop3_port)
    assert p.cmd("AUTH PLAIN").startswith("+ ")
    assert p.cmd(ir).startswith("+OK")
    p.close()
    # cancelled, then a wrong password, then right
    p = RawPop(pop_server.pop3_port)
    assert p.cmd("AUTH PLAIN").startswith("+")
    assert p.cmd("*").startswith("-ERR")
    bad = base64.b64encode(b"\0alice\0nope").decode()
    assert p.cmd(f"AUTH PLAIN {bad}").startswith("-ERR [AUTH]")
    assert p.cmd("AUTH PLAIN !!notbase64").startswith("-ERR")
    assert p.cmd("AUTH PLAIN =").startswith("-ERR")
    other = base64.b64encode(b"bob\0alice\0secret-pw").decode()
    assert p.cmd(f"AUTH PLAIN {other}").startswith("-ERR [AUTH]")
    assert p.cmd("AUTH CRAM-MD5").startswith("-ERR")
    assert p.cmd("AUTH").startswith("+OK")
    assert p.multi() == [b"PLAIN"]
    assert p.cmd(f"auth plain {ir}").startswith("+OK")
    assert p.cmd("STAT") == "+OK 0 0"
    p.close()


def test_plaintext_needs_tls(server_factory):
    srv = make_pop_server(server_factory, "plaintext_auth_loopback = no\n")
    p = RawPop(srv.pop3_port)
    assert p.cmd("CAPA").startswith("+OK")
    caps = [l.decode() for l in p.multi()]
    assert "USER" not in caps and "SASL PLAIN" not in caps and "STLS" in caps
    assert p.cmd("USER alice").startswith("-ERR [AUTH]")
    ir = base64.b64encode(b"\0alice\0secret-pw").decode()
    assert p.cmd(f"AUTH PLAIN {ir}").startswith("-ERR [AUTH]")
    assert p.cmd("STLS").startswith("+OK")
    p.starttls()
    assert p.cmd("CAPA").startswith("+OK")
    caps = [l.decode() for l in p.multi()]
    assert "USER" in caps and "STLS" not in caps
    p.login()
    assert p.cmd("STAT").startswith("+OK")
    p.close()


# ---- TLS ----

def test_stls_and_pop3s(pop_server):
    imap_append(pop_server, simple_message("tls"))
    p = RawPop(pop_server.pop3_port)
    # anything pipelined after STLS in clear is discarded
    p.send("STLS\r\nNOOP\r\n")
    assert p.line().startswith("+OK")
    p.starttls()
    assert p.cmd("STLS").startswith("-ERR")
    p.login()
    assert p.cmd("STAT").startswith("+OK 1 ")
    p.close()

    s = RawPop(pop_server.pop3s_port, tls=True)
    assert s.greeting.startswith("+OK")
    assert s.cmd("CAPA").startswith("+OK")
    assert "STLS" not in [l.decode() for l in s.multi()]
    s.login()
    assert s.cmd("RETR 1").startswith("+OK")
    assert b"Subject: tls" in unstuff(s.multi())
    s.close()

    c = poplib.POP3_SSL("127.0.0.1", pop_server.pop3s_port, timeout=TIMEOUT,
                        context=tls_context())
    c.user("alice")
    c.pass_("secret-pw")
    assert c.stat()[0] == 1
    c.quit()
    c = poplib.POP3("127.0.0.1", pop_server.pop3_port, timeout=TIMEOUT)
    c.stls(context=tls_context())
    c.user("alice")
    c.pass_("secret-pw")
    assert c.stat()[0] == 1
    c.close()


def test_quit_reply_after_stls(pop_server):
    p = RawPop(pop_server.pop3_port)
    assert p.cmd("STLS").startswith("+OK")
    p.starttls()
    p.login()
    assert p.cmd("QUIT").startswith("+OK")


# ---- transaction commands ----

def test_transaction_commands(pop_server):
    three_messages(pop_server)
    c = pop_server.imaplib()
    c.select("INBOX")
    typ, data = c.fetch("1:3", "(RFC822.SIZE UID)")
    c.logout()
    sizes = [int(d.decode().split("RFC822.SIZE ")[1].split()[0].rstrip(")")) for d in data]
    uids = inbox_uids(pop_server)

    p = RawPop(pop_server.pop3_port)
    p.login()
    assert p.cmd("STAT") == f"+OK 3 {sum(sizes)}"
    assert p.cmd("LIST").startswith("+OK")
    assert p.multi() == [f"{i + 1} {s}".encode() for i, s in enumerate(sizes)]
    assert p.cmd("LIST 2") == f"+OK 2 {sizes[1]}"
    assert p.cmd("LIST 4").startswith("-ERR")
    assert p.cmd("UIDL").startswith("+OK")
    uidl = [l.decode().split() for l in p.multi()]
    assert [u[0] for u in uidl] == ["1", "2", "3"]
    validity = uidl[0][1].split(".")[0]
    assert [u[1] for u in uidl] == [f"{validity}.{u}" for u in uids]
    assert p.cmd("UIDL 3") == f"+OK 3 {validity}.{uids[2]}"

    # RETR: byte-stuffed, the exact message, size as LIST says
    assert p.cmd("RETR 2") == f"+OK {sizes[1]} octets"
    lines = p.multi()
    assert b"..starts with a dot" in lines and b"...two dots" in lines and b".." in lines
    assert unstuff(lines) == DOTTY.encode()
    assert len(unstuff(lines)) == sizes[1]

    # TOP: header, blank line, n body lines
    assert p.cmd("TOP 3 0").startswith("+OK")
    top0 = unstuff(p.multi())
    assert top0.endswith(b"\r\n\r\n") and b"Subject: third" in top0
    assert p.cmd("TOP 3 2").startswith("+OK")
    assert unstuff(p.multi()) == top0 + b"a\r\nb\r\n"
    assert p.cmd("TOP 3 100").startswith("+OK")
    assert unstuff(p.multi()) == top0 + b"a\r\nb\r\nc\r\n"
    assert p.cmd("TOP 2 1").startswith("+OK")
    assert p.multi()[-1] == b"line one"

    assert p.cmd("NOOP") == "+OK"
    assert p.cmd("DELE 1").startswith("+OK")
    assert p.cmd("DELE 1").startswith("-ERR")
    assert p.cmd("RETR 1").startswith("-ERR")
    assert p.cmd("LIST 1").startswith("-ERR")
    assert p.cmd("STAT") == f"+OK 2 {sizes[1] + sizes[2]}"
    assert p.cmd("LIST").startswith("+OK")
    assert [l.split()[0] for l in p.multi()] == [b"2", b"3"]
    assert p.cmd("RSET").startswith("+OK")
    assert p.cmd("STAT") == f"+OK 3 {sum(sizes)}"
    assert p.cmd("DELE 3").startswith("+OK")
    r = p.cmd("QUIT")
    assert r.startswith("+OK"), r
    assert p.closed()
    assert inbox_uids(pop_server) == uids[:2]


def test_pipelining(pop_server):
    three_messages(pop_server)
    p = RawPop(pop_server.pop3_port)
    p.send("USER alice\r\nPASS secret-pw\r\nSTAT\r\nRETR 1\r\nTOP 2 0\r\nLIST 3\r\nNOOP\r\n")
    assert p.line().startswith("+OK")
    assert p.line().startswith("+OK")
    assert p.line().startswith("+OK 3 ")
    assert p.line().startswith("+OK")
    assert b"Subject: first" in unstuff(p.multi())
    assert p.line().startswith("+OK")
    assert b"Subject: dots" in unstuff(p.multi())
    assert p.line().startswith("+OK 3 ")
    assert p.line() == "+OK"
    p.close()


def test_big_messages_flow_control(pop_server):
    # several messages of a few MiB each: written while the client reads
    body = "".join(f"line {i:07d} " + "x" * 60 + "\r\n" for i in range(40000))
    msg = simple_message("big", body=body)
    for _ in range(3):
        imap_append(pop_server, msg)
    p = RawPop(pop_server.pop3_port)
    p.login()
    p.send("RETR 1\r\nRETR 2\r\nRETR 3\r\n")
    time.sleep(0.5)  # the server must not queue everything meanwhile
    for _ in range(3):
        assert p.line().startswith("+OK")
        assert unstuff(p.multi()) == msg.encode()
    assert p.cmd("NOOP") == "+OK"
    p.close()


# ---- the maildrop and IMAP ----

def test_uidl_stable_across_restart(pop_server):
    three_messages(pop_server)
    c = poplib.POP3("127.0.0.1", pop_server.pop3_port, timeout=TIMEOUT)
    c.user("alice")
    c.pass_("secret-pw")
    before = c.uidl()[1]
    c.quit()
    pop_server.stop()
    pop_server.start()
    c = poplib.POP3("127.0.0.1", pop_server.pop3_port, timeout=TIMEOUT)
    c.user("alice")
    c.pass_("secret-pw")
    assert c.uidl()[1] == before
    # a deleted message's neighbours keep their UIDLs
    c.dele(2)
    c.quit()
    c = poplib.POP3("127.0.0.1", pop_server.pop3_port, timeout=TIMEOUT)
    c.user("alice")
    c.pass_("secret-pw")
    after = [l.split()[1] for l in c.uidl()[1]]
    assert after == [before[0].split()[1], before[2].split()[1]]
    c.quit()


def test_dele_only_at_quit(pop_server):
    three_messages(pop_server)
    uids = inbox_uids(pop_server)
    p = RawPop(pop_server.pop3_port)
    p.login()
    assert p.cmd("DELE 1").startswith("+OK")
    assert p.cmd("DELE 2").startswith("+OK")
    # not yet
    assert inbox_uids(pop_server) == uids
    # a dropped connection deletes nothing
    p.close()
    time.sleep(0.3)
    assert inbox_uids(pop_server) == uids
    assert not outbox(pop_server, "MessageExpunge")
    # QUIT in the AUTHORIZATION state deletes nothing either
    p = RawPop(pop_server.pop3_port)
    assert p.cmd("QUIT").startswith("+OK")
    p.close()
    p = RawPop(pop_server.pop3_port)
    p.login()
    assert p.cmd("DELE 1").startswith("+OK")
    assert p.cmd("DELE 2").startswith("+OK")
    assert p.cmd("QUIT") == "+OK Bye, 2 messages deleted"
    assert inbox_uids(pop_server) == uids[2:]
    exp = outbox(pop_server, "MessageExpunge")
    assert len(exp) == 1 and exp[0][1]["service"] == "pop3"
    assert exp[0][1]["uidset"] == f"{uids[0]}:{uids[1]}"


def test_imap_sees_expunge_after_quit(pop_server):
    three_messages(pop_server)
    imap = pop_server.raw()
    imap.login("alice", "secret-pw")
    imap.command("s", "SELECT INBOX")
    imap.send("i IDLE\r\n")
    assert imap.readline().startswith("+")
    p = RawPop(pop_server.pop3_port)
    p.login()
    assert p.cmd("DELE 2").startswith("+OK")
    imap.expect_nothing(0.3)
    assert p.cmd("QUIT").startswith("+OK")
    line = imap.readline()
    assert line == "* 2 EXPUNGE", line
    imap.send("DONE\r\n")
    _, tagged = imap.until_tagged("i")
    assert "OK" in tagged
    imap.close()


def test_snapshot_unaffected_by_imap_append(pop_server):
    three_messages(pop_server)
    p = RawPop(pop_server.pop3_port)
    p.login()
    assert p.cmd("STAT").startswith("+OK 3 ")
    imap_append(pop_server, simple_message("late"))
    assert p.cmd("STAT").startswith("+OK 3 ")
    assert p.cmd("LIST 4").startswith("-ERR")
    assert p.cmd("UIDL").startswith("+OK")
    assert len(p.multi()) == 3
    assert p.cmd("QUIT").startswith("+OK")
    p = RawPop(pop_server.pop3_port)
    p.login()
    assert p.cmd("STAT").startswith("+OK 4 ")
    p.close()


def test_message_expunged_by_imap_during_session(pop_server):
    three_messages(pop_server)
    p = RawPop(pop_server.pop3_port)
    p.login()
    c = pop_server.imaplib()
    c.select("INBOX")
    c.store("1", "+FLAGS", "\\Deleted")
    c.expunge()
    c.logout()
    # still numbered as at login; the gone one cannot be read
    assert p.cmd("STAT").startswith("+OK 3 ")
    assert p.cmd("RETR 1").startswith("-ERR")
    assert p.cmd("RETR 2").startswith("+OK")
    p.multi()
    assert p.cmd("DELE 1").startswith("+OK")
    assert p.cmd("QUIT").startswith("+OK")
    assert len(inbox_uids(pop_server)) == 2


# ---- bad input ----

def test_bad_input(server_factory):
    pop_server = make_pop_server(server_factory, "max_bad_commands = 100\n")
    imap_append(pop_server, simple_message("x"))
    p = RawPop(pop_server.pop3_port)
    assert p.cmd("FOO").startswith("-ERR")
    assert p.cmd("").startswith("-ERR")
    assert p.cmd("STAT").startswith("-ERR")      # not logged in
    assert p.cmd("RETR 1").startswith("-ERR")
    assert p.cmd("NOOP").startswith("-ERR")
    assert p.cmd("USER").startswith("-ERR")
    assert p.cmd("USER a b").startswith("-ERR")
    assert p.cmd("APOP alice 0123456789abcdef").startswith("-ERR")
    assert p.cmd("USER " + "a" * 2000).startswith("-ERR")  # too long
    p.send(b"NO\0OP\r\n")
    assert p.line().startswith("-ERR")
    p.login()
    assert p.cmd("USER alice").startswith("-ERR")  # wrong state
    assert p.cmd("STLS").startswith("-ERR")
    assert p.cmd("RETR").startswith("-ERR")
    assert p.cmd("RETR x").startswith("-ERR")
    assert p.cmd("RETR 0").startswith("-ERR")
    assert p.cmd("RETR -1").startswith("-ERR")
    assert p.cmd("RETR 99999999999999999999999").startswith("-ERR")
    assert p.cmd("TOP 1").startswith("-ERR")
    assert p.cmd("TOP 1 -1").startswith("-ERR")
    assert p.cmd("DELE 2").startswith("-ERR")
    assert p.cmd("STAT 1").startswith("-ERR")
    assert p.cmd("LIST 1 2").startswith("-ERR")
    assert p.cmd("stat").startswith("+OK 1 ")  # keywords are case-insensitive
    # a line ending in a bare LF is taken too
    p.send("NOOP\n")
    assert p.line() == "+OK"
    p.close()


def test_too_many_bad_commands(server_factory):
    srv = make_pop_server(server_factory, "max_bad_commands = 3\n")
    p = RawPop(srv.pop3_port)
    assert p.cmd("XX").startswith("-ERR")
    assert p.cmd("YY").startswith("-ERR")
    assert p.cmd("ZZ").startswith("-ERR")
    assert p.line().startswith("-ERR")
    assert p.closed()


def test_connection_limit_per_address(server_factory):
    srv = make_pop_server(server_factory, "max_connections_per_ip = 2\n")
    a = RawPop(srv.pop3_port)
    b = RawPop(srv.pop3_port)
    c = RawPop(srv.pop3_port)
    assert a.greeting.startswith("+OK") and b.greeting.startswith("+OK")
    assert c.greeting.startswith("-ERR [SYS/TEMP]")
    assert c.closed()
    a.close()
    time.sleep(0.2)
    d = RawPop(srv.pop3_port)
    assert d.greeting.startswith("+OK")
    for x in (b, d):
        x.close()


def test_login_timeout(server_factory):
    srv = make_pop_server(server_factory, "login_timeout = 1\n")
    p = RawPop(srv.pop3_port)
    assert p.closed(timeout=5)


def test_shutdown_closes_sessions(pop_server):
    p = RawPop(pop_server.pop3_port)
    p.login()
    pop_server.stop()
    assert p.closed()


# ---- real clients ----

def test_poplib(pop_server):
    three_messages(pop_server)
    c = poplib.POP3("127.0.0.1", pop_server.pop3_port, timeout=TIMEOUT)
    assert c.getwelcome().startswith(b"+OK")
    caps = c.capa()
    assert "UIDL" in caps and "TOP" in caps and "SASL" in caps
    c.user("alice")
    c.pass_("secret-pw")
    n, size = c.stat()
    assert n == 3
    resp, lines, octets = c.retr(2)
    assert b"\r\n".join(lines) + b"\r\n" == DOTTY.encode()
    resp, lines, octets = c.top(1, 0)
    assert b"Subject: first" in lines
    assert len(c.list()[1]) == 3
    c.dele(1)
    c.quit()
    assert len(inbox_uids(pop_server)) == 2


def run_fetchmail(srv, tmp, *extra):
    home = os.path.join(tmp, "home")
    os.makedirs(home, exist_ok=True)
    out = os.path.join(tmp, "mbox")
    rc = os.path.join(home, ".fetchmailrc")
    with open(rc, "w") as f:
        f.write(f"poll 127.0.0.1 protocol POP3 port {srv.pop3_port} "
                "auth password\n  user alice password secret-pw sslproto '' "
                "no sslcertck\n")
    os.chmod(rc, 0o600)
    env = dict(os.environ, HOME=home, FETCHMAILHOME=home)
    r = subprocess.run(["fetchmail", "-f", rc, "--nosyslog", "--nodetach",
                        "--mda", f"cat >> {out}", "-v", *extra],
                       env=env, capture_output=True, text=True, timeout=60)
    return r, out


@pytest.mark.skipif(shutil.which("fetchmail") is None, reason="fetchmail not installed")
def test_fetchmail(pop_server):
    three_messages(pop_server)
    tmp = tempfile.mkdtemp(prefix="tidings-fetchmail-")
    try:
        r, out = run_fetchmail(pop_server, tmp, "--keep", "--all")
        assert r.returncode == 0, r.stdout + r.stderr
        with open(out, "rb") as f:
            got = f.read()
        assert b"Subject: first" in got and b"Subject: third" in got
        assert b"..starts with a dot" not in got and b".starts with a dot" in got
        assert len(inbox_uids(pop_server)) == 3   # --keep
        os.unlink(out)
        r, out = run_fetchmail(pop_server, tmp, "--all")
        assert r.returncode == 0, r.stdout + r.stderr
        with open(out, "rb") as f:
            assert f.read().count(b"Subject: ") == 3
        assert inbox_uids(pop_server) == []
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
