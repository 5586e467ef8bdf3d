"""The connection layer's direct writes (src/net/net-conn.c): output of a
plain connection is sent with sendmsg() from a flush list instead of
libevent's write event, and only what the kernel does not take is left to
libevent.  These tests drive the paths where that could go wrong: many
replies written in one turn, a response bigger than the socket buffer
(the streamed FETCH continues from on_drained), a reader that is slow,
a peer that resets mid-output, STARTTLS after direct output, pushes to
many sessions at once, and the per-address connection count.
"""
import hashlib
import re
import socket
import struct
import subprocess
import time

from conftest import TIDINGSD, TIMEOUT, append_message, simple_message
from testsA_util import is_closed, new_login, noop_ok


def big_message(size):
    line = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ....\r\n"
    body = line * (size // len(line) + 1)
    head = simple_message(subject="Big", body="").encode()
    return head + body[:size]


def fetch_body(c, tag, seq, slow=False):
    """FETCH seq BODY[]; returns the literal's bytes (reading slowly when
    asked, so the server's socket buffer fills and it must wait)."""
    c.send(f"{tag} FETCH {seq} BODY[]\r\n")
    line = c.readline()
    assert line.startswith(f"* {seq} FETCH") and line.endswith("}"), line
    n = int(line[line.rindex("{") + 1:-1])
    while len(c.buf) < n:
        if slow:
            time.sleep(0.001)
            c.sock.settimeout(TIMEOUT)
            chunk = c.sock.recv(65536)
            if not chunk:
                raise EOFError("server closed the connection")
            c.buf += chunk
        else:
            c._fill()
    data, c.buf = c.buf[:n], c.buf[n:]
    _, tagged = c.until_tagged(tag)
    assert tagged.startswith(f"{tag} OK"), tagged
    return data


def test_pipelined_commands_all_answered_in_order(server):
    c = new_login(server)
    try:
        n = 300
        c.send("".join(f"P{i} NOOP\r\n" for i in range(n)))
        for i in range(n):
            _, tagged = c.until_tagged(f"P{i}")
            assert tagged.startswith(f"P{i} OK"), tagged
        noop_ok(c)
    finally:
        c.close()


def test_big_fetch_bigger_than_socket_buffers(server):
    c = new_login(server)
    try:
        msg = big_message(6 * 1024 * 1024)
        assert append_message(c, "INBOX", msg).startswith("AP OK")
        _, tagged = c.command("S1", "SELECT INBOX")
        assert tagged.startswith("S1 OK"), tagged
        data = fetch_body(c, "F1", 1)
        assert hashlib.sha256(data).digest() == hashlib.sha256(msg).digest()
        noop_ok(c)
    finally:
        c.close()


def test_big_fetch_to_a_slow_reader(server):
    c = new_login(server)
    try:
        # more than the kernel's largest send buffer (tcp_wmem, 4 MiB by
        # default), so the server's sends must meet a full buffer
        msg = big_message(6 * 1024 * 1024)
        assert append_message(c, "INBOX", msg).startswith("AP OK")
        _, tagged = c.command("S1", "SELECT INBOX")
        assert tagged.startswith("S1 OK"), tagged
        # a small receive buffer, read in small steps with pauses: the
        # server meets a full socket buffer again and again
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        data = fetch_body(c, "F1", 1, slow=True)
        assert data == msg
        # the connection is still in step: more commands work, pipelined
        c.send("N1 NOOP\r\nN2 NOOP\r\n")
        assert c.until_tagged("N1")[1].startswith("N1 OK")
        assert c.until_tagged("N2")[1].startswith("N2 OK")
    finally:
        c.close()


def test_peer_reset_during_big_output(server):
    c = new_login(server)
    try:
        msg = big_message(4 * 1024 * 1024)
        assert append_message(c, "INBOX", msg).startswith("AP OK")
    finally:
        c.close()
    for _ in range(3):
        r = new_login(server)
        _, tagged = r.command("S1", "SELECT INBOX")
        assert tagged.startswith("S1 OK"), tagged
        r.send("F1 FETCH 1:* BODY[]\r\n")
        r.readline()  # the FETCH line has started
        # close with RST while the server still has megabytes to send
        r.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        r.sock.close()
    # the server is fine and serves others; the reset sessions are gone
    other = new_login(server)
    try:
        noop_ok(other)
        _, tagged = other.command("S1", "SELECT INBOX")
        assert tagged.startswith("S1 OK"), tagged
        data = fetch_body(other, "F2", 1)
        assert data == msg
    finally:
        other.close()
    assert server.proc.poll() is None


def test_starttls_after_direct_output(server):
    c = server.raw()
    try:
        # replies went out directly before the switch
        for i in range(5):
            noop_ok(c, f"N{i}")
        c.send("P1 NOOP\r\nT1 STARTTLS\r\n")
        assert c.until_tagged("P1")[1].startswith("P1 OK")
        assert c.until_tagged("T1")[1].startswith("T1 OK")
        c.starttls()
        c.login("alice", "secret-pw")
        noop_ok(c)
    finally:
        c.close()


def test_push_reaches_many_idle_sessions(server_factory):
    srv = server_factory("max_connections_per_ip = 1000\n")
    n = 60
    idlers = []
    try:
        for i in range(n):
            c = new_login(srv)
            _, tagged = c.command("S", "SELECT INBOX")
            assert tagged.startswith("S OK"), tagged
            c.send("I IDLE\r\n")
            assert c.readline().startswith("+")
            idlers.append(c)
        w = new_login(srv)
        assert append_message(w, "INBOX", simple_message()).startswith("AP OK")
        for c in idlers:
            line = c.readline()
            assert line == "* 1 EXISTS", line
        for c in idlers:
            c.send("DONE\r\n")
            _, tagged = c.until_tagged("I")
            assert tagged.startswith("I OK"), tagged
        w.close()
    finally:
        for c in idlers:
            c.close()


def test_per_address_count_follows_churn(server_factory):
    srv = server_factory("max_connections_per_ip = 3\n")
    # open and close many connections, including refused ones: the count
    # must come back down each time
    for _ in range(20):
        conns = [srv.raw() for _ in range(4)]
        oks = [c for c in conns if c.greeting.startswith("* OK")]
        byes = [c for c in conns if c.greeting.startswith("* BYE")]
        assert len(oks) <= 3 and len(oks) + len(byes) == 4
        for c in conns:
            c.close()
        # wait until the server has seen the closes
        deadline = time.time() + TIMEOUT
        while True:
            probe = [srv.raw() for _ in range(3)]
            ok = all(p.greeting.startswith("* OK") for p in probe)
            for p in probe:
                p.close()
            if ok:
                break
            assert time.time() < deadline, "slots were not freed"
            time.sleep(0.05)
    # exactly three slots
    deadline = time.time() + TIMEOUT
    while True:
        held = [srv.raw() for _ in range(3)]
        if all(h.greeting.startswith("* OK") for h in held):
            break
        for h in held:
            h.close()
        assert time.time() < deadline, "slots were not freed"
        time.sleep(0.05)
    try:
        extra = srv.raw()
        assert extra.greeting.startswith("* BYE [UNAVAILABLE]"), extra.greeting
        assert is_closed(extra, 5)
        extra.close()
        for h in held:
            noop_ok(h)
    finally:
        for h in held:
            h.close()


def server_sndbufs(port):
    """tb (SO_SNDBUF as the kernel keeps it) of the server's sockets on
    port, from ss(8)."""
    out = subprocess.run(["ss", "-tmnH", "state", "established", f"sport = :{port}"],
                         capture_output=True, text=True, timeout=TIMEOUT).stdout
    return [int(m) for m in re.findall(r"\btb(\d+)", out)]


def test_socket_sndbuf_caps_the_send_buffer(server_factory):
    srv = server_factory("socket_sndbuf = 64K\n")
    c = new_login(srv)
    try:
        bufs = server_sndbufs(srv.imap_port)
        # the kernel doubles what it is given
        assert bufs == [2 * 65536], bufs
        # and a response far bigger than that still goes out whole
        msg = big_message(3 * 1024 * 1024)
        assert append_message(c, "INBOX", msg).startswith("AP OK")
        assert c.command("S1", "SELECT INBOX")[1].startswith("S1 OK")
        assert fetch_body(c, "F1", 1) == msg
    finally:
        c.close()


def test_socket_sndbuf_default_leaves_the_kernel_alone(server):
    c = new_login(server)
    try:
        bufs = server_sndbufs(server.imap_port)
        assert len(bufs) == 1 and bufs[0] != 2 * 65536, bufs
    finally:
        c.close()


def test_socket_sndbuf_out_of_range_is_refused(server_factory):
    srv = server_factory("", users=(), start=False)
    with open(srv.config_path, "a") as f:
        f.write("socket_sndbuf = 65M\n")
    r = subprocess.run([TIDINGSD, "-c", srv.config_path], capture_output=True,
                       text=True, timeout=TIMEOUT)
    assert r.returncode == 2 and "socket_sndbuf" in r.stderr, r.stderr
