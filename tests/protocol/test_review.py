"""Review of the session and command code (imap-server.c, imap-view.c,
cmd-*.c): each test pins one problem the review found and fixed."""
import re
import select as _select
import socket
import time

import pytest

from conftest import TIMEOUT, append_message, simple_message


def rss_kb(srv):
    with open(f"/proc/{srv.proc.pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def fill_inbox(c, n):
    """n messages in INBOX (one APPEND, then COPY doubling)."""
    assert append_message(c, "INBOX", simple_message("m")).startswith("AP OK")
    _, tagged = c.command("FS", "SELECT INBOX")
    assert tagged.startswith("FS OK"), tagged
    have = 1
    while have < n:
        k = min(have, n - have)
        _, tagged = c.command("FC", f"COPY 1:{k} INBOX")
        assert tagged.startswith("FC OK"), tagged
        have += k
    _, tagged = c.command("FU", "UNSELECT")
    assert tagged.startswith("FU OK"), tagged


# ---- RFC 3501 §6.4.8 / §7.4.1: UID FETCH after an expunge elsewhere ----

def test_uid_fetch_after_foreign_expunge_is_ok(server):
    """UID FETCH sends the queued EXPUNGE first and then fetches what is
    left: a UID set naming a message that was expunged (and announced in
    the same response) is not an error for a UID command (RFC 3501 §6.4.8:
    non-existent UIDs are ignored)."""
    a = server.raw()
    a.login("alice", "secret-pw")
    for i in range(3):
        assert append_message(a, "INBOX", simple_message(f"m{i}")).startswith("AP OK")
    a.command("S", "SELECT INBOX")
    b = server.raw()
    b.login("alice", "secret-pw")
    b.command("S", "SELECT INBOX")
    _, t = b.command("X", "STORE 2 +FLAGS.SILENT (\\Deleted)")
    assert t.startswith("X OK"), t
    _, t = b.command("E", "EXPUNGE")
    assert t.startswith("E OK"), t
    time.sleep(0.2)
    untagged, tagged = a.command("U", "UID FETCH 1:* FLAGS")
    assert "* 2 EXPUNGE" in untagged, untagged
    fetched = [l for l in untagged if " FETCH " in l]
    assert len(fetched) == 2, untagged
    assert tagged.startswith("U OK"), (untagged, tagged)


# ---- LIST patterns must not take exponential time ----

def test_list_many_wildcards_answers_quickly(client):
    """A LIST pattern of many '%' against a long name must not make the
    (single-threaded) server backtrack exponentially."""
    _, t = client.command("C", "CREATE " + "a" * 60)
    assert t.startswith("C OK"), t
    start = time.time()
    untagged, tagged = client.command("L", 'LIST "" "' + "%" * 25 + 'b"', timeout=TIMEOUT)
    assert tagged.startswith("L OK"), tagged
    assert untagged == [], untagged
    _, tagged = client.command("L2", 'LIST "" "' + "%*" * 30 + 'a"', timeout=TIMEOUT)
    assert tagged.startswith("L2 OK"), tagged
    assert time.time() - start < 3


def test_list_wildcards_still_match(client):
    """The matcher rewrite keeps RFC 3501 §6.3.8 semantics."""
    for name in ("foo", "foo/bar", "foo/bar/baz", "fob"):
        _, t = client.command("C", f'CREATE "{name}"')
        assert t.startswith("C OK"), t

    def names(pattern):
        untagged, tagged = client.command("L", f'LIST "" "{pattern}"')
        assert tagged.startswith("L OK"), tagged
        return {re.sub(r'^.* "/" ', "", l).strip('"') for l in untagged}

    assert names("fo%") == {"foo", "fob"}
    assert names("foo/%") == {"foo/bar"}
    assert names("foo/*") == {"foo/bar", "foo/bar/baz"}
    assert names("f*z") == {"foo/bar/baz"}
    assert names("f%z") == set()
    assert names("%/%/%") == {"foo/bar/baz"}
    assert names("*%b") == {"fob"}
    assert names("foo") == {"foo"}


# ---- UIDPLUS: COPYUID uses compact uid-sets ----

def test_copyuid_is_compact(client):
    """RFC 4315 COPYUID carries uid-sets; consecutive UIDs are written as
    ranges, not one number each (a COPY of 1:* would otherwise produce a
    response line as long as the mailbox)."""
    fill_inbox(client, 8)
    client.command("S", "SELECT INBOX")
    _, t = client.command("CR", "CREATE Dest")
    assert t.startswith("CR OK"), t
    _, tagged = client.command("C", "COPY 1:8 Dest")
    m = re.search(r"\[COPYUID (\d+) (\S+) (\S+)\]", tagged)
    assert m, tagged
    assert m.group(2) == "1:8" and m.group(3) == "1:8", tagged
    # Non-consecutive source UIDs keep their order and pairing.
    _, tagged = client.command("C2", "UID COPY 2,4,5,6 Dest")
    m = re.search(r"\[COPYUID (\d+) (\S+) (\S+)\]", tagged)
    assert m, tagged
    assert m.group(2) == "2,4:6" and m.group(3) == "9:12", tagged
    # MOVE: the untagged OK carries the same compact form.
    untagged, tagged = client.command("M", "MOVE 1:3 Dest")
    assert tagged.startswith("M OK"), tagged
    oks = [l for l in untagged if "COPYUID" in l]
    assert len(oks) == 1 and " 1:3 13:15]" in oks[0], untagged
    # RFC 6851 §4.3: the COPYUID OK comes before the EXPUNGEs.
    assert untagged.index(oks[0]) < untagged.index("* 3 EXPUNGE"), untagged


# ---- FETCH flow control ----

def big_message(tag, mb):
    line = ("y" * 998 + "\r\n")
    return simple_message(tag, line * (mb * 1024 * 1024 // len(line)))


def fetch_all_literals(c, tag, timeout=None):
    """Reads to the tagged line; returns (number of literals, total bytes, tagged)."""
    n = total = 0
    while True:
        line = c.readline(timeout)
        if line.startswith(tag + " "):
            return n, total, line
        m = re.search(r"\{(\d+)\}$", line)
        if m:
            size = int(m.group(1))
            while len(c.buf) < size:
                c._fill(timeout)
            c.buf = c.buf[size:]
            n += 1
            total += size
            c.readline(timeout)     # the closing ")"


def test_fetch_many_big_messages_is_flow_controlled(client):
    """FETCH pauses between messages while the client reads, instead of
    queueing a whole batch and then dropping a client that reads normally
    as "not reading its output" (output_buffer_max, 16 MiB by default)."""
    msg = big_message("big", 7)
    for i in range(3):
        assert append_message(client, "INBOX", msg).startswith("AP OK")
    client.command("S", "EXAMINE INBOX")
    client.send("F FETCH 1:3 BODY.PEEK[]\r\n")
    n, total, tagged = fetch_all_literals(client, "F", timeout=TIMEOUT * 3)
    assert tagged.startswith("F OK"), tagged
    assert n == 3 and total == 3 * len(msg)


def test_fetch_one_message_bigger_than_output_buffer(server_factory):
    """A message allowed by max_message_size can be fetched even when it
    is bigger than output_buffer_max: the limit is for clients that do not
    read, not for one response."""
    srv = server_factory("output_buffer_max = 4194304")
    c = srv.raw()
    c.login("alice", "secret-pw")
    msg = big_message("big", 6)
    assert append_message(c, "INBOX", msg).startswith("AP OK")
    c.command("S", "EXAMINE INBOX")
    c.send("F FETCH 1 BODY.PEEK[]\r\n")
    n, total, tagged = fetch_all_literals(c, "F", timeout=TIMEOUT * 3)
    assert tagged.startswith("F OK"), tagged
    assert n == 1 and total == len(msg)
    _, tagged = c.command("N", "NOOP")
    assert tagged.startswith("N OK"), tagged


def test_paused_session_does_not_buffer_unbounded_input(client, server):
    """While a FETCH waits for the client to read (or a password is being
    checked), the server consumes no input; it must stop reading then, not
    buffer whatever the client sends (memory without bound)."""
    msg = big_message("big", 8)
    for i in range(3):
        assert append_message(client, "INBOX", msg).startswith("AP OK")
    client.command("S", "EXAMINE INBOX")
    before = rss_kb(server)
    client.send("F FETCH 1:3 BODY.PEEK[]\r\n")
    time.sleep(0.3)
    sock = client.sock
    sock.setblocking(False)
    chunk = b"\r\n" * 32768         # blank lines: ignored when read
    sent, last_progress = 0, time.time()
    limit = 200 * 1024 * 1024
    while sent < limit and time.time() - last_progress < 1.0:
        _, w, _ = _select.select([], [sock], [], 0.2)
        if not w:
            continue
        try:
            n = sock.send(chunk)
        except BlockingIOError:
            continue
        if n > 0:
            sent += n
            last_progress = time.time()
    grown_mb = (rss_kb(server) - before) / 1024
    sock.setblocking(True)
    assert sent < 100 * 1024 * 1024, f"server accepted {sent >> 20} MiB while paused"
    assert grown_mb < 100, f"server grew by {grown_mb:.0f} MiB"
    # The FETCH still completes and the session goes on.
    n, total, tagged = fetch_all_literals(client, "F", timeout=TIMEOUT * 3)
    assert tagged.startswith("F OK"), tagged
    assert n == 3
    _, tagged = client.command("N", "NOOP", timeout=TIMEOUT * 3)
    assert tagged.startswith("N OK"), tagged


# ---- RFC 7889 APPENDLIMIT ----

def test_appendlimit_is_the_smaller_limit(server_factory):
    """APPENDLIMIT advertises the largest message APPEND accepts: with
    max_message_size below max_literal_size, that is max_message_size (a
    client trusting a larger APPENDLIMIT would upload and get NO [TOOBIG])."""
    srv = server_factory("max_message_size = 2000")
    c = srv.raw()
    c.login("alice", "secret-pw")
    untagged, tagged = c.command("C", "CAPABILITY")
    assert tagged.startswith("C OK"), tagged
    m = re.search(r"APPENDLIMIT=(\d+)", untagged[0])
    assert m and int(m.group(1)) == 2000, untagged
    # and it is the real limit
    assert append_message(c, "INBOX", simple_message("x", "a" * 1000)).startswith("AP OK")
    tagged = append_message(c, "INBOX", simple_message("y", "a" * 3000))
    assert tagged.startswith("AP NO [TOOBIG]"), tagged


def test_logout_reply_after_starttls_arrives(server):
    """The last reply before close must reach the client under a STARTTLS
    filter too (its socket side drains after the TLS layer's buffer)."""
    for _ in range(5):
        c = server.raw()
        _, tagged = c.command("S", "STARTTLS")
        assert tagged.startswith("S OK"), tagged
        c.starttls()
        c.login("alice", "secret-pw")
        untagged, tagged = c.command("Z", "LOGOUT")
        assert any(l.startswith("* BYE") for l in untagged), untagged
        assert tagged.startswith("Z OK"), tagged
        c.close()
