"""Login / Logout vendor parameters (issue 5, RFC 5423 §6): every Login and
Logout in the outbox says how the user authenticated (vnd.tidings.mechanism),
whether the connection was under TLS (vnd.tidings.tls), and a Logout says
why the session ended (vnd.tidings.reason) and how long it lasted
(vnd.tidings.duration); IMAP and POP3; every event validates against
docs/events.schema.json.
"""
import base64
import json
import os
import signal
import socket
import sqlite3
import ssl
import time

import jsonschema
from conftest import ROOT, TIMEOUT, free_port

with open(os.path.join(ROOT, "docs", "events.schema.json")) as _f:
    SCHEMA = json.load(_f)
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


def access_events(data_dir):
    """Login/Logout rows of the outbox, as the sinks would send them."""
    db = sqlite3.connect(f"file:{os.path.join(data_dir, 'index.db')}?mode=ro", uri=True)
    try:
        rows = db.execute("SELECT seq, params FROM outbox "
                          "WHERE type IN ('Login', 'Logout') ORDER BY seq").fetchall()
    finally:
        db.close()
    out = []
    for seq, params in rows:
        ev = json.loads(params)
        ev["seq"] = seq
        VALIDATOR.validate(ev)
        out.append(ev)
    return out


def wait_events(data_dir, n):
    deadline = time.time() + TIMEOUT
    while True:
        evs = access_events(data_dir)
        if len(evs) >= n or time.time() > deadline:
            return evs
        time.sleep(0.05)


def plain_b64(user, password):
    return base64.b64encode(f"\0{user}\0{password}".encode()).decode()


def tls_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def test_imap_login_plain_then_logout(server):
    c = server.raw()
    c.login("alice", "secret-pw")
    time.sleep(1.1)
    _, tagged = c.command("Z", "LOGOUT")
    assert tagged.startswith("Z OK"), tagged
    c.close()
    login, logout = wait_events(server.data_dir, 2)
    assert login["event"] == "Login" and login["user"] == "alice"
    assert login["service"] == "imap"
    assert login["vnd.tidings.mechanism"] == "LOGIN"
    assert login["vnd.tidings.tls"] is False
    assert "vnd.tidings.reason" not in login
    assert "vnd.tidings.duration" not in login
    assert logout["event"] == "Logout" and logout["user"] == "alice"
    assert logout["vnd.tidings.mechanism"] == "LOGIN"
    assert logout["vnd.tidings.tls"] is False
    assert logout["vnd.tidings.reason"] == "logout"
    assert 1 <= logout["vnd.tidings.duration"] <= 1 + TIMEOUT


def test_imap_authenticate_plain_starttls_then_drop(server):
    c = server.raw()
    _, tagged = c.command("T", "STARTTLS")
    assert tagged.startswith("T OK"), tagged
    c.starttls()
    _, tagged = c.command("A", "AUTHENTICATE PLAIN " + plain_b64("alice", "secret-pw"))
    assert tagged.startswith("A OK"), tagged
    c.close()
    login, logout = wait_events(server.data_dir, 2)
    assert login["event"] == "Login"
    assert login["vnd.tidings.mechanism"] == "PLAIN"
    assert login["vnd.tidings.tls"] is True
    assert logout["event"] == "Logout"
    assert logout["vnd.tidings.mechanism"] == "PLAIN"
    assert logout["vnd.tidings.tls"] is True
    assert logout["vnd.tidings.reason"] == "disconnect"
    assert 0 <= logout["vnd.tidings.duration"] <= TIMEOUT


def test_imaps_login_is_tls(server):
    c = server.raw(tls=True)
    c.login("bob", "bob-pw")
    c.command("Z", "LOGOUT")
    c.close()
    login, logout = wait_events(server.data_dir, 2)
    assert login["user"] == "bob" and login["vnd.tidings.tls"] is True
    assert logout["vnd.tidings.reason"] == "logout"


def test_imap_server_shutdown(server):
    c = server.raw()
    c.login("alice", "secret-pw")
    server.stop(sig=signal.SIGTERM)
    c.close()
    evs = access_events(server.data_dir)
    assert [e["event"] for e in evs] == ["Login", "Logout"]
    assert evs[1]["vnd.tidings.reason"] == "shutdown"


def test_imap_failed_login_emits_nothing(server):
    c = server.raw()
    _, tagged = c.command("L", "LOGIN alice wrong")
    assert tagged.startswith("L NO"), tagged
    c.close()
    time.sleep(0.3)
    assert access_events(server.data_dir) == []


# ---- POP3 ----

def pop_server(server_factory):
    p, ps = free_port(), free_port()
    srv = server_factory(extra_config=f"pop3_listen = 127.0.0.1:{p}\n"
                                      f"pop3s_listen = 127.0.0.1:{ps}\n")
    srv.pop3_port, srv.pop3s_port = p, ps
    # server_factory waits for the IMAP port only; tidingsd opens the POP3
    # ones just after it (a probe that never logs in emits no event)
    for port in (p, ps):
        deadline = time.time() + TIMEOUT
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.time() < deadline, f"POP3 port {port} not listening"
                time.sleep(0.05)
    return srv


class Pop:
    def __init__(self, port, tls=False):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        if tls:
            self.sock = tls_context().wrap_socket(self.sock)
        self.f = self.sock.makefile("rb")
        self.greeting = self.line()

    def line(self):
        return self.f.readline().decode().rstrip("\r\n")

    def cmd(self, text):
        self.sock.sendall(text.encode() + b"\r\n")
        return self.line()

    def close(self):
        self.f.close()
        self.sock.close()


def test_pop3_user_pass_quit(server_factory):
    srv = pop_server(server_factory)
    p = Pop(srv.pop3_port)
    assert p.cmd("USER alice").startswith("+OK")
    assert p.cmd("PASS secret-pw").startswith("+OK")
    assert p.cmd("QUIT").startswith("+OK")
    p.close()
    login, logout = wait_events(srv.data_dir, 2)
    assert login["service"] == "pop3"
    assert login["vnd.tidings.mechanism"] == "USER"
    assert login["vnd.tidings.tls"] is False
    assert logout["event"] == "Logout" and logout["service"] == "pop3"
    assert logout["vnd.tidings.reason"] == "logout"
    assert logout["vnd.tidings.duration"] >= 0


def test_pop3s_auth_plain_then_drop(server_factory):
    srv = pop_server(server_factory)
    p = Pop(srv.pop3s_port, tls=True)
    assert p.cmd("AUTH PLAIN " + plain_b64("bob", "bob-pw")).startswith("+OK")
    p.close()
    login, logout = wait_events(srv.data_dir, 2)
    assert login["user"] == "bob"
    assert login["vnd.tidings.mechanism"] == "PLAIN"
    assert login["vnd.tidings.tls"] is True
    assert logout["vnd.tidings.mechanism"] == "PLAIN"
    assert logout["vnd.tidings.reason"] == "disconnect"
