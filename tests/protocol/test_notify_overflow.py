"""NOTIFICATIONOVERFLOW at scale (RFC 5465 §5.8, issue 6): 200 NOTIFY
sessions that never read (a small SO_RCVBUF, no recv), under a flood of
APPENDs, LMTP deliveries and flag changes; and the same with 20 sessions,
quick enough for the ASan pass.

Each slow session asked for the whole message body with every new message
in the selected mailbox, so without the per-connection output cap the server
would have to queue 200 × 60 × ~58 KiB ≈ 680 MiB for them.  (The kernel
takes the first ~1.5 MiB of each into the socket's send buffer, which
autotunes up to tcp_wmem's maximum, so the messages are big enough for the
flood to go well beyond that.)  With output_buffer_max = 64K a session is
switched to NOTIFY NONE once half of that is queued (imap-notify.c
notify_room) and dropped if its output passes the cap plus the one response
that may be written on top of it (the grace of imap-server.c
session_check_output).  So tidingsd's resident memory may grow by at most
200 × (64 KiB + 64 KiB) = 25 MiB for their output, plus a fixed allowance
(MEM_SLACK, 16 MiB) for the allocator, SQLite's page cache and the message
files read for the FETCH responses; the test asserts that bound on VmHWM.
Meanwhile a well-behaved NOTIFY session on the same mailbox must receive
every single notification, exactly once.
"""
import re
import selectors
import smtplib
import socket
import time

import pytest

from conftest import ASAN, TIMEOUT, append_message
from notify_util import notify, ok, session, wait_for
from test_notify_scale import cheap_server

OUTPUT_MAX = 64 * 1024
MEM_SLACK = 16 * 1024 * 1024
BODY_LINES = 800      # ~58 KiB per message
MESSAGE_SIZE = 64 * 1024    # rounded up


def flood_rounds():
    """Rounds (each: one APPEND, one LMTP delivery, one flag change) enough
    to overfill a slow session: the kernel's send buffer for the socket
    grows up to tcp_wmem's maximum (about half of it was seen filled), and
    only beyond that does tidingsd's own queue grow."""
    try:
        with open("/proc/sys/net/ipv4/tcp_wmem") as f:
            wmem_max = int(f.read().split()[2])
    except (OSError, ValueError, IndexError):
        wmem_max = 4 << 20
    return max(30, (wmem_max * 3 // 4 + OUTPUT_MAX) // (2 * MESSAGE_SIZE) + 5)


ROUNDS = flood_rounds()
RECENT_RE = re.compile(r"^\* \d+ RECENT$")
OVERFLOW = b"* OK [NOTIFICATIONOVERFLOW]"


def big_message(subject):
    line = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789\r\n"
    return (f"From: <flood@example.org>\r\nTo: <alice@example.org>\r\n"
            f"Subject: {subject}\r\nMessage-ID: <{subject}@example.org>\r\n\r\n"
            + line * BODY_LINES)


def deliver_big(srv, subject):
    with smtplib.LMTP(*srv.lmtp, timeout=TIMEOUT) as s:
        refused = s.sendmail("flood@example.org", ["alice@example.org"],
                             big_message(subject).encode())
        assert refused == {}


def quiet_but_recent(c, wait):
    """Asserts nothing but `* n RECENT` arrives for `wait` seconds."""
    end = time.time() + wait
    while True:
        left = end - time.time()
        if left <= 0:
            return
        try:
            line = c.readline(timeout=left)
        except (socket.timeout, TimeoutError):
            return
        assert RECENT_RE.match(line), line


def proc_status(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, val = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(val.split()[0]) * 1024
    return out


def slow_sessions(srv, n):
    """n sessions with a tiny receive buffer that log in, SELECT INBOX and
    ask for every new message's body.  Their set-up replies are read (so the
    flood starts only when all are watching); after that they never read."""
    socks = []
    for _ in range(n):
        s = socket.socket()
        # before connect(), so the advertised window stays small
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
        s.connect(("127.0.0.1", srv.imap_port))
        s.sendall(b"L LOGIN alice secret-pw\r\nS SELECT INBOX\r\n"
                  b"N NOTIFY SET (selected (MessageNew (UID BODY.PEEK[]) MessageExpunge FlagChange))\r\n")
        socks.append(s)
    sel = selectors.DefaultSelector()
    bufs = {}
    for s in socks:
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
        bufs[s] = b""
    deadline = time.time() + 60
    pending = set(socks)
    while pending:
        assert time.time() < deadline, f"{len(pending)} sessions not set up"
        for key, _ in sel.select(1.0):
            s = key.fileobj
            chunk = s.recv(65536)
            assert chunk, "server closed a session during set-up"
            bufs[s] += chunk
            if b"\r\nN " in b"\r\n" + bufs[s]:
                assert b"N OK" in bufs[s] and b"L OK" in bufs[s], bufs[s]
                sel.unregister(s)
                pending.discard(s)
    sel.close()
    return socks


def drain_all(socks, limit=120.0):
    """Reads each socket until it shows NOTIFICATIONOVERFLOW or EOF, then
    everything that follows within half a second; returns
    ({sock: bytes}, {sock: saw EOF})."""
    sel = selectors.DefaultSelector()
    data = {s: b"" for s in socks}
    eof = {s: False for s in socks}
    for s in socks:
        # a bigger window now, so that the backlog drains quickly
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
    deadline = time.time() + limit
    pending = set(socks)
    settle_until = None
    while True:
        now = time.time()
        assert now < deadline, f"{len(pending)} slow sessions still sending after {limit} s"
        if not pending:
            if settle_until is None:
                settle_until = now + 0.5
            elif now >= settle_until:
                break
        for key, _ in sel.select(0.1):
            s = key.fileobj
            try:
                chunk = s.recv(1 << 20)
            except ConnectionResetError:
                chunk = b""
            if chunk:
                data[s] += chunk
                if OVERFLOW in data[s][-len(chunk) - len(OVERFLOW):]:
                    pending.discard(s)
            else:
                eof[s] = True
                pending.discard(s)
                sel.unregister(s)
    sel.close()
    return data, eof


def run_overflow(server_factory, n_slow):
    srv = cheap_server(server_factory, [("alice", "secret-pw")],
                       extra=(f"output_buffer_max = {OUTPUT_MAX}\n"
                              "max_connections_per_ip = 1000\n"))
    pid = srv.proc.pid
    good = session(srv)
    ok(good, "S1", "SELECT INBOX")
    notify(good, "SET (selected (MessageNew (UID) MessageExpunge FlagChange))")
    flood = session(srv)
    ok(flood, "S1", "SELECT INBOX")
    slow = slow_sessions(srv, n_slow)

    # The peak from here on: log-ins (argon2id) are behind us.
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as f:
            f.write("5")     # resets VmHWM to the current RSS
        hwm_reset = True
    except OSError:
        hwm_reset = False
    base = proc_status(pid)["VmRSS"]
    peak = base

    # The flood; the good session must see each change before the next one.
    uids_seen, flags_seen, exists_seen = [], 0, 0
    msgs = 0
    for i in range(ROUNDS):
        tagged = append_message(flood, "INBOX", big_message(f"ap{i}"), tag=f"A{i}")
        assert tagged.startswith(f"A{i} OK"), tagged
        deliver_big(srv, f"lmtp{i}")
        for _ in range(2):
            msgs += 1
            line, before = wait_for(good, r"^\* \d+ FETCH \(UID \d+\)$", timeout=TIMEOUT)
            # (RECENT may come along, RFC 3501 §7.3.2)
            before = [b for b in before if not RECENT_RE.match(b)]
            assert before == [f"* {msgs} EXISTS"], before
            exists_seen += 1
            uids_seen.append(int(line.split("UID ")[1].rstrip(")")))
        ok(flood, f"F{i}", f"STORE {i + 1} +FLAGS.SILENT (\\Flagged)")
        line, before = wait_for(good, r"FETCH", timeout=TIMEOUT)
        before = [b for b in before if not RECENT_RE.match(b)]
        assert before == [] and line.startswith(f"* {i + 1} FETCH (") and "\\Flagged" in line, line
        flags_seen += 1
        peak = max(peak, proc_status(pid)["VmRSS"])
    # exactly one notification per change, no more
    quiet_but_recent(good, 0.5)
    assert exists_seen == 2 * ROUNDS and flags_seen == ROUNDS
    assert uids_seen == list(range(1, 2 * ROUNDS + 1)), uids_seen

    status = proc_status(pid)
    if hwm_reset:
        peak = max(peak, status["VmHWM"])
    biggest = len(big_message("x")) + 100   # one FETCH response
    bound = base + n_slow * (OUTPUT_MAX + biggest) + MEM_SLACK
    if not ASAN:   # ASan's quarantine keeps freed memory resident
        assert peak <= bound, (f"peak RSS {peak >> 10} KiB over the bound {bound >> 10} KiB "
                               f"(base {base >> 10} KiB)")

    # Now the slow sessions read: each got NOTIFICATIONOVERFLOW or was cut off.
    data, eof = drain_all(slow)
    overflowed = disconnected = 0
    for s in slow:
        d = data[s]
        if OVERFLOW in d:
            overflowed += 1
            # §5.8: then NOTIFY NONE: no message pushed after the overflow
            after = d.split(OVERFLOW, 1)[1]
            assert b"BODY[" not in after and b" EXISTS" not in after, after[:300]
        else:
            assert eof[s], f"neither NOTIFICATIONOVERFLOW nor disconnected: {d[-300:]!r}"
            disconnected += 1
    assert overflowed + disconnected == n_slow
    # half the cap triggers NOTIFICATIONOVERFLOW before the whole cap cuts
    # anyone off, so the §5.8 path (not only the disconnect) must show
    assert overflowed > 0
    # the ones still connected are served normally (NOTIFY NONE: the news
    # comes with the next command, RFC 3501 rules)
    alive = [s for s in slow if not eof[s]]
    for s in alive[:20]:
        s.setblocking(True)
        s.settimeout(TIMEOUT)
        s.sendall(b"Z NOOP\r\n")
        buf = b""
        while b"\r\nZ " not in b"\r\n" + buf:
            chunk = s.recv(1 << 20)
            assert chunk, "closed after NOOP"
            buf += chunk
        assert b"\r\nZ OK" in b"\r\n" + buf, buf[-200:]
    for s in slow:
        s.close()
    # the server and the other sessions are unaffected
    ok(flood, "Z1", "NOOP")
    ok(good, "Z2", "NOOP")
    assert srv.proc.poll() is None
    print(f"overflowed {overflowed}, disconnected {disconnected}, RSS base {base >> 10} KiB, "
          f"peak {peak >> 10} KiB, bound {bound >> 10} KiB")
    good.close(), flood.close()


@pytest.mark.slow
def test_notify_overflow_200_sessions(server_factory):
    run_overflow(server_factory, 200)


def test_notify_overflow_20_sessions(server_factory):
    """The same with 20 slow sessions: quick enough for the ASan pass."""
    run_overflow(server_factory, 20)
