"""Bad input (issue 3, "Bad input"): malformed commands, limits, literals,
bytes one at a time, pipelining, clients that vanish mid-command, a deeply
nested MIME message, the bad-command limit. Every case gets BAD or NO with
the right code (or BYE where the RFC says so), the connection (or at least
the server) keeps working, and nothing is half-made."""
import os
import re
import socket
import time

import pytest

from conftest import TIMEOUT, append_message, simple_message
from testsA_util import (is_closed, new_login, noop_ok, read_until_eof, select,
                         status)


def bad(c, tag, line):
    """Send one raw command line; expect a tagged BAD for it."""
    c.send(line if isinstance(line, bytes) else line.encode())
    untagged, tagged = c.until_tagged(tag)
    assert tagged.startswith(f"{tag} BAD"), (line, untagged, tagged)
    return tagged


def untagged_bad(c, line):
    c.send(line if isinstance(line, bytes) else line.encode())
    reply = c.readline()
    assert reply.startswith("* BAD"), (line, reply)
    return reply


def files_under(path):
    out = set()
    for root, _, files in os.walk(path):
        for f in files:
            out.add(os.path.join(root, f))
    return out


@pytest.fixture
def selected(server):
    """alice logged in with INBOX selected, holding one message."""
    c = server.raw()
    c.login("alice", "secret-pw")
    assert append_message(c, "INBOX", simple_message("only")).startswith("AP OK")
    untagged, _ = select(c, "INBOX")
    assert "* 1 EXISTS" in untagged
    yield c
    c.close()


# ---- malformed commands ----

def test_missing_tag(client):
    untagged_bad(client, b" NOOP\r\n")
    noop_ok(client)


def test_tag_alone(client):
    bad(client, "A1", b"A1\r\n")
    noop_ok(client)
    bad(client, "A2", b"A2 \r\n")
    noop_ok(client)


def test_invalid_tag_characters(client):
    # '*' and '+' are not tag characters (RFC 3501 §9: tag excludes "+")
    untagged_bad(client, b"+ NOOP\r\n")
    untagged_bad(client, b"* NOOP\r\n")
    untagged_bad(client, b"A{1 NOOP\r\n")
    noop_ok(client)


def test_unbalanced_parentheses(selected):
    bad(selected, "A", b"A FETCH 1 (FLAGS\r\n")
    noop_ok(selected)
    bad(selected, "B", b"B FETCH 1 FLAGS)\r\n")
    noop_ok(selected)
    bad(selected, "C", b"C FETCH 1 ((FLAGS)\r\n")
    noop_ok(selected)


def test_bad_quoted_escape(client):
    bad(client, "A", b'A SELECT "IN\\BOX"\r\n')  # \B is no escape
    noop_ok(client)
    bad(client, "B", b'B SELECT "INBOX\r\n')  # unterminated quote
    noop_ok(client)
    # a valid escape is fine: "\\" is a backslash, the mailbox doesn't exist
    selected_tag = "C"
    client.send(b'C STATUS "IN\\\\BOX" (MESSAGES)\r\n')
    _, tagged = client.until_tagged(selected_tag)
    assert tagged.startswith("C NO"), tagged


def test_bad_quoted_escape_before_login(server):
    c = server.raw()
    try:
        bad(c, "A", b'A LOGIN "al\\ice" "secret-pw"\r\n')
        noop_ok(c)
        c.login("alice", "secret-pw")
    finally:
        c.close()


SEQSETS = ["0", "1:", "a", "1,", ",1", "1:0:2", "-1", "4294967296", "1:*:2", "**", "0:1",
           "1:0", "2,0"]


def test_invalid_sequence_set(server_factory):
    srv = server_factory("max_bad_commands = 100", users=(("alice", "secret-pw"),))
    c = new_login(srv)
    try:
        assert append_message(c, "INBOX", simple_message()).startswith("AP OK")
        select(c, "INBOX")
        for seqset in SEQSETS:
            bad(c, "A", f"A FETCH {seqset} FLAGS\r\n")
            noop_ok(c)
            bad(c, "B", f"B STORE {seqset} +FLAGS (\\Seen)\r\n")
            noop_ok(c)
            bad(c, "C", f"C UID FETCH {seqset} FLAGS\r\n")
            noop_ok(c)
        # nothing was changed by those
        untagged, tagged = c.command("D", "FETCH 1 (FLAGS)")
        assert not any("\\Seen" in l for l in untagged), untagged
    finally:
        c.close()


def test_msn_beyond_exists(selected):
    # one message: sequence number 2 does not exist; RFC 9051 §9 (seq-number):
    # "The server should respond with a tagged BAD response to a command that
    # uses a message sequence number greater than the number of messages"
    bad(selected, "A", b"A FETCH 2 FLAGS\r\n")
    noop_ok(selected)
    bad(selected, "B", b"B STORE 5 +FLAGS (\\Seen)\r\n")
    noop_ok(selected)
    bad(selected, "C", b"C COPY 3 Trash\r\n")
    noop_ok(selected)
    # nothing was changed by those
    untagged, tagged = selected.command("D", "FETCH 1 (FLAGS)")
    assert tagged.startswith("D OK"), tagged
    assert any("FLAGS ()" in l or "FLAGS (\\Recent)" in l for l in untagged), untagged
    assert status(selected, "Trash")["MESSAGES"] == 0


def test_uid_beyond_uidnext_is_not_an_error(selected):
    # UIDs that do not exist are simply not there (RFC 3501 §6.4.8)
    untagged, tagged = selected.command("A", "UID FETCH 100:200 FLAGS")
    assert tagged.startswith("A OK"), tagged
    assert not any(" FETCH " in l for l in untagged), untagged


def test_malformed_fetch_items(selected):
    for i, items in enumerate(["(FLAGS", "BOGUS", "BODY[1", "BODY[]<1.>", "BODY[HEADER.FIELDS]",
                               "BODY[0]", "BODY[1.0]", "BODY[]<5.0>"]):
        tag = f"F{i}"
        selected.send(f"{tag} FETCH 1 {items}\r\n")
        _, tagged = selected.until_tagged(tag)
        assert tagged.startswith(f"{tag} BAD"), (items, tagged)
    noop_ok(selected)


def test_empty_mailbox_name_does_not_crash(client):
    """SELECT "" / STATUS "" / CREATE "": a NO (or BAD), never a crash."""
    for i, cmd in enumerate(['SELECT ""', 'STATUS "" (MESSAGES)', 'CREATE ""', 'DELETE ""',
                             'SUBSCRIBE ""', 'RENAME "" x', 'RENAME INBOX ""',
                             'APPEND "" {1+}\r\nx']):
        tag = f"E{i}"
        client.send(f"{tag} {cmd}\r\n")
        _, tagged = client.until_tagged(tag)
        assert tagged.startswith(f"{tag} NO") or tagged.startswith(f"{tag} BAD"), (cmd, tagged)
    noop_ok(client)


def test_server_keeps_serving_others(server, selected):
    other = new_login(server, "bob", "bob-pw")
    try:
        for i, line in enumerate([b"A1\r\n", b"A FETCH 1 (FLAGS\r\n", b"A FETCH 0 FLAGS\r\n",
                                  b'A SELECT "IN\\BOX"\r\n']):
            selected.send(line)
            selected.until_tagged("A1" if i == 0 else "A")
            # the other client is served in between
            noop_ok(other, f"O{i}")
        select(other, "INBOX")
        noop_ok(selected)
    finally:
        other.close()


def test_nul_byte_in_command_line(client):
    bad(client, "A", b"A NOOP\x00\r\n")
    noop_ok(client)
    bad(client, "B", b'B STATUS "IN\x00BOX" (MESSAGES)\r\n')
    noop_ok(client)
    client.send(b"C\x00 NOOP\r\n")  # NUL in the tag: tagged or untagged BAD
    reply = client.readline()
    assert reply.startswith("* BAD") or reply.startswith("C BAD"), reply
    noop_ok(client)


def test_nul_byte_in_login(server):
    c = server.raw()
    try:
        c.send(b'A LOGIN "alice\x00" "secret-pw"\r\n')
        _, tagged = c.until_tagged("A")
        assert tagged.startswith("A BAD") or tagged.startswith("A NO"), tagged
        # a NUL in a literal is not a way in either
        c.send(b"B LOGIN {6+}\r\nalice\x00 {9+}\r\nsecret-pw\r\n")
        _, tagged = c.until_tagged("B")
        assert tagged.startswith("B BAD") or tagged.startswith("B NO"), tagged
        _, tagged = c.command("S", "SELECT INBOX")
        assert tagged.startswith("S BAD"), tagged  # still not authenticated
    finally:
        c.close()


def test_unknown_charset(selected):
    _, tagged = selected.command("S1", "SEARCH CHARSET X-NO-SUCH-CHARSET SUBJECT hello")
    assert tagged.startswith("S1 NO [BADCHARSET"), tagged
    noop_ok(selected)
    untagged, tagged = selected.command("S2", "SEARCH CHARSET UTF-8 SUBJECT only")
    assert tagged.startswith("S2 OK"), tagged
    assert "* SEARCH 1" in untagged, untagged
    untagged, tagged = selected.command("S3", "SEARCH CHARSET US-ASCII ALL")
    assert tagged.startswith("S3 OK"), tagged


# ---- limits ----

def test_line_too_long(server_factory):
    srv = server_factory("max_line_length = 1024")
    c = srv.raw()
    try:
        c.login("alice", "secret-pw")
        c.send(b"A NOOP " + b"x" * 2000 + b"\r\n")
        untagged, tagged = c.until_tagged("A")
        assert tagged.startswith("A BAD"), tagged
        assert "[TOOBIG]" in tagged, tagged
        # the rest of the long line is not taken for a command
        noop_ok(c, "B")
        assert c.expect_nothing(0.2)
        # a line just under the limit works
        name = "n" * 900
        _, tagged = c.command("C", f'CREATE "{name}"')
        assert tagged.startswith("C OK") or tagged.startswith("C NO"), tagged
        # a long line whose length is in literals is fine (literals not counted)
        body = simple_message(body="y" * 3000 + "\r\n")
        assert append_message(c, "INBOX", body).startswith("AP OK")
        # a long line that is way over the limit
        c.send(b"D " + b"z" * 100000 + b"\r\n")
        _, tagged = c.until_tagged("D")
        assert tagged.startswith("D BAD"), tagged
        noop_ok(c, "E")
    finally:
        c.close()


def test_line_too_long_before_login(server_factory):
    srv = server_factory("max_line_length = 1024")
    c = srv.raw()
    try:
        c.send(b'A LOGIN "alice" "' + b"p" * 3000 + b'"\r\n')
        _, tagged = c.until_tagged("A")
        assert tagged.startswith("A BAD"), tagged
        c.login("alice", "secret-pw")
    finally:
        c.close()


def test_literal_too_big(server_factory):
    srv = server_factory("max_literal_size = 1000")
    c = srv.raw()
    try:
        c.login("alice", "secret-pw")
        caps = c.command("C", "CAPABILITY")[0]
        assert any("APPENDLIMIT=1000" in l for l in caps), caps
        c.send(b"A APPEND INBOX {2000}\r\n")
        reply = c.readline()
        # no "+" continuation: the client must not send the data
        assert not reply.startswith("+"), reply
        assert reply.startswith("A NO") or reply.startswith("A BAD"), reply
        assert "[TOOBIG]" in reply, reply
        noop_ok(c, "B")
        assert status(c, "INBOX")["MESSAGES"] == 0
        # a literal at the limit is accepted
        msg = simple_message(body="")
        msg = msg + "x" * (1000 - len(msg))
        assert len(msg) == 1000
        assert append_message(c, "INBOX", msg).startswith("AP OK")
        assert status(c, "INBOX")["MESSAGES"] == 1
    finally:
        c.close()


def test_nonsync_literal_too_big_bye(server_factory):
    srv = server_factory("max_literal_size = 1000")
    c = srv.raw()
    other = new_login(srv, "bob", "bob-pw")
    try:
        c.login("alice", "secret-pw")
        # RFC 7888 §4: the data follows anyway; the server may reject the
        # command with BAD [TOOBIG] and close the connection with BYE.
        c.send(b"A APPEND INBOX {5000+}\r\n")
        lines = read_until_eof(c)
        assert any(l.startswith("* BYE") for l in lines), lines
        assert not any(l.startswith("A OK") for l in lines), lines
        noop_ok(other)
        assert status(other, "INBOX")["MESSAGES"] == 0
    finally:
        c.close()
        other.close()


def test_message_size_limit(server_factory):
    srv = server_factory("max_message_size = 500")
    c = srv.raw()
    try:
        c.login("alice", "secret-pw")
        msg = simple_message(body="x" * 1000 + "\r\n")
        c.send(f"A APPEND INBOX {{{len(msg)}}}\r\n".encode())
        reply = c.readline()
        if reply.startswith("+"):
            c.send(msg.encode() + b"\r\n")
            _, reply = c.until_tagged("A")
        assert reply.startswith("A NO") or reply.startswith("A BAD"), reply
        assert "[TOOBIG]" in reply or "[LIMIT]" in reply, reply
        noop_ok(c)
        assert status(c, "INBOX")["MESSAGES"] == 0
    finally:
        c.close()


def test_too_many_bad_commands_bye(client):
    # max_bad_commands defaults to 20
    for i in range(19):
        bad(client, f"B{i}", f"B{i} FROBNICATE\r\n")
    noop_ok(client)  # good commands do not count
    client.send(b"B19 FROBNICATE\r\n")
    lines = read_until_eof(client)
    assert lines and lines[0].startswith("B19 BAD"), lines
    assert any(l.startswith("* BYE") for l in lines), lines


def test_too_many_bad_commands_configurable(server_factory):
    srv = server_factory("max_bad_commands = 3")
    c = srv.raw()
    try:
        bad(c, "A", "A FROB\r\n")
        bad(c, "B", "B FROB\r\n")
        c.send(b"C FROB\r\n")
        lines = read_until_eof(c)
        assert any(l.startswith("* BYE") for l in lines), lines
    finally:
        c.close()
    # the server goes on
    d = new_login(srv)
    d.close()


# ---- bytes one at a time, pipelining ----

SESSION = [
    b"a1 CAPABILITY\r\n",
    b"a2 LOGIN {5+}\r\nalice \"secret-pw\"\r\n",
    b"a3 SELECT INBOX\r\n",
    b"a4 FETCH 1:* (UID FLAGS RFC822.SIZE BODY.PEEK[HEADER.FIELDS (SUBJECT FROM)])\r\n",
    b"a5 UID FETCH 1 (BODY.PEEK[TEXT])\r\n",
    b"a6 SEARCH SUBJECT \"second\"\r\n",
    b"a7 STATUS Sent (MESSAGES UIDNEXT)\r\n",
    b"a8 LIST \"\" \"*\"\r\n",
    b"a9 NOOP\r\n",
    b"a10 LOGOUT\r\n",
]


def run_session(server, one_byte):
    c = server.raw()
    try:
        c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        data = b"".join(SESSION)
        if one_byte:
            for i in range(len(data)):
                c.sock.sendall(data[i:i + 1])
                if i % 4 == 0:
                    time.sleep(0.001)
        else:
            c.sock.sendall(data)
        return [c.greeting] + read_until_eof(c)
    finally:
        c.close()


def test_one_byte_at_a_time_same_as_at_once(server):
    c = new_login(server)
    for s in ("first", "second"):
        append_message(c, "INBOX", simple_message(s))
    select(c, "INBOX")  # takes \Recent, so both sessions below see the same
    c.close()
    at_once = run_session(server, one_byte=False)
    slowly = run_session(server, one_byte=True)
    assert at_once == slowly
    tags = [l.split(" ", 1)[0] for l in at_once if not l.startswith("*")]
    assert tags == [f"a{i}" for i in range(1, 11)], at_once
    assert all(l.split(" ")[1] == "OK" for l in at_once if l[:1] == "a"), at_once
    assert "* SEARCH 2" in at_once
    assert any("Subject: second" in l for l in at_once), at_once


def test_one_byte_at_a_time_append_literal(server):
    c = new_login(server)
    try:
        c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        msg = simple_message("bytewise").encode()
        c.send(f"A APPEND INBOX (\\Flagged) {{{len(msg)}}}\r\n".encode())
        assert c.readline().startswith("+")
        for b in msg + b"\r\n":
            c.sock.sendall(bytes([b]))
        _, tagged = c.until_tagged("A")
        assert tagged.startswith("A OK"), tagged
        select(c, "INBOX")
        untagged, _ = c.command("F", "FETCH 1 (FLAGS RFC822.SIZE)")
        assert any(f"RFC822.SIZE {len(msg)}" in l and "\\Flagged" in l for l in untagged), untagged
    finally:
        c.close()


def test_pipelined_commands_answered_in_order(selected):
    cmds = []
    for i in range(60):
        kind = i % 6
        cmd = ["NOOP", "CAPABILITY", "STATUS Sent (MESSAGES)", "FETCH 1 (FLAGS)",
               "SEARCH ALL", 'LIST "" "INBOX"'][kind]
        cmds.append(f"P{i} {cmd}\r\n")
    # a bad one in the middle must not disturb the rest
    cmds.insert(30, "PBAD FETCH 0 FLAGS\r\n")
    selected.send("".join(cmds))
    order = []
    for expected in [c.split(" ", 1)[0] for c in cmds]:
        untagged, tagged = selected.until_tagged(expected)
        order.append(tagged.split(" ")[0])
        if expected == "PBAD":
            assert tagged.startswith("PBAD BAD"), tagged
        else:
            assert tagged.startswith(f"{expected} OK"), tagged
            # each command's own untagged data come before its tagged line
            if "STATUS" in cmds[len(order) - 1]:
                assert any(l.startswith("* STATUS ") for l in untagged), untagged
    assert order == [c.split(" ", 1)[0] for c in cmds]


def test_pipelined_appends_with_literal_plus(client):
    msgs = [simple_message(f"pipe{i}").encode() for i in range(20)]
    data = b"".join(b"P%d APPEND INBOX {%d+}\r\n%s\r\n" % (i, len(m), m)
                    for i, m in enumerate(msgs))
    client.send(data)
    for i in range(20):
        _, tagged = client.until_tagged(f"P{i}")
        assert tagged.startswith(f"P{i} OK"), tagged
    assert status(client, "INBOX")["MESSAGES"] == 20


# ---- clients that vanish ----

def test_disconnect_mid_literal(server):
    mail_dir = os.path.join(server.data_dir, "mail")
    before = files_under(mail_dir)
    for literal_plus in (False, True):
        c = new_login(server)
        plus = "+" if literal_plus else ""
        c.send(f"A APPEND INBOX {{1000{plus}}}\r\n".encode())
        if not literal_plus:
            assert c.readline().startswith("+")
        c.send(b"From: x@example.org\r\n"[:10])
        time.sleep(0.1)
        c.close()
    time.sleep(0.3)
    other = new_login(server)
    try:
        assert status(other, "INBOX")["MESSAGES"] == 0
        select(other, "INBOX")
        assert append_message(other, "INBOX", simple_message("after")).startswith("AP OK")
        assert status(other, "INBOX")["MESSAGES"] == 1
    finally:
        other.close()
    # nothing half-made left behind: only the one message's file is new
    new_files = files_under(mail_dir) - before
    assert len(new_files) <= 1, new_files
    assert server.proc.poll() is None


def test_disconnect_mid_command_line(server):
    for data in (b"A LOGIN alice", b"A LOGIN {5}\r\n", b'A1 LOGIN "alice" "secret-pw"\r\nA2 SEL'):
        c = server.raw()
        c.send(data)
        time.sleep(0.05)
        c.close()
    c = new_login(server)
    c.send(b"B SELECT INB")
    c.close()
    c = new_login(server)
    try:
        select(c, "INBOX")
        noop_ok(c)
    finally:
        c.close()
    assert server.proc.poll() is None


def test_disconnect_with_unread_output(server):
    """A client that asks for a lot and disconnects without reading."""
    c = new_login(server)
    big = simple_message("big", body=("z" * 998 + "\r\n") * 300)
    for _ in range(3):
        append_message(c, "INBOX", big)
    select(c, "INBOX")
    c.send(b"F FETCH 1:* BODY.PEEK[]\r\n" * 20)
    c.close()
    time.sleep(0.2)
    d = new_login(server)
    try:
        assert status(d, "INBOX")["MESSAGES"] == 3
    finally:
        d.close()


# ---- a 1,000-deep multipart ----

def deep_multipart(depth):
    parts = []
    head = ("From: deep@example.org\r\nTo: alice@example.org\r\nSubject: deep\r\n"
            "MIME-Version: 1.0\r\n")
    out = [head]
    for i in range(depth):
        out.append(f'Content-Type: multipart/mixed; boundary="b{i}"\r\n\r\n--b{i}\r\n')
    out.append("Content-Type: text/plain\r\n\r\ninnermost\r\n")
    for i in reversed(range(depth)):
        out.append(f"--b{i}--\r\n")
    return "".join(out)


def test_deep_multipart(server):
    c = new_login(server)
    try:
        msg = deep_multipart(1000)
        tagged = append_message(c, "INBOX", msg)
        assert tagged.startswith("AP OK"), tagged
        select(c, "INBOX")
        for tag, item in (("F1", "BODYSTRUCTURE"), ("F2", "BODY"), ("F3", "BODY[1.1.1]"),
                          ("F4", "BODY.PEEK[1.1.1.MIME]"), ("F5", "ENVELOPE"),
                          ("F6", "BODY.PEEK[" + ".".join(["1"] * 999) + "]"),
                          ("F7", "RFC822.SIZE")):
            _, tagged = c.command(tag, f"FETCH 1 ({item})", timeout=30)
            # any answer but a crash; a 999-level section number may be
            # refused as too deep by the parser
            allowed = ("OK", "NO", "BAD") if tag == "F6" else ("OK", "NO")
            assert tagged.split(" ")[1] in allowed, (item, tagged)
        untagged, tagged = c.command("F8", "FETCH 1 (RFC822.SIZE)")
        assert any(f"RFC822.SIZE {len(msg)}" in l for l in untagged), untagged
        untagged, tagged = c.command("S1", "SEARCH BODY innermost", timeout=30)
        assert tagged.startswith("S1 OK") or tagged.startswith("S1 NO"), tagged
        noop_ok(c)
    finally:
        c.close()
    d = new_login(server, "bob", "bob-pw")
    try:
        noop_ok(d)
    finally:
        d.close()
    assert server.proc.poll() is None


def test_deep_parenthesised_command(selected):
    # the command parser must not recurse without bound either
    bad(selected, "A", "A FETCH 1 " + "(" * 5000 + "FLAGS" + ")" * 5000 + "\r\n")
    noop_ok(selected)
    _, tagged = selected.command("B", "SEARCH " + "(" * 3000 + "ALL" + ")" * 3000)
    assert tagged.startswith("B BAD") or tagged.startswith("B OK") or tagged.startswith("B NO"), tagged
    noop_ok(selected)


# ---- odd moments ----

def test_disconnect_during_auth_failure_delay(server):
    for _ in range(3):
        c = server.raw()
        c.send(b'A LOGIN "alice" "wrong"\r\nB NOOP\r\n')
        c.close()  # gone before the delayed NO is due
    time.sleep(0.3)
    c = new_login(server)
    try:
        noop_ok(c)
    finally:
        c.close()
    assert server.proc.poll() is None


def test_commands_pipelined_behind_failed_login_wait(server):
    """During the failure delay input is held, not lost or reordered."""
    c = server.raw()
    try:
        c.send(b'A LOGIN "alice" "wrong"\r\nB LOGIN "alice" "secret-pw"\r\nC SELECT INBOX\r\n')
        _, tagged = c.until_tagged("A")
        assert tagged.startswith("A NO"), tagged
        _, tagged = c.until_tagged("B")
        assert tagged.startswith("B OK"), tagged
        _, tagged = c.until_tagged("C")
        assert tagged.startswith("C OK"), tagged
    finally:
        c.close()


def test_long_authenticate_continuation(server_factory):
    srv = server_factory("max_line_length = 1024")
    c = srv.raw()
    try:
        c.send(b"A AUTHENTICATE PLAIN\r\n")
        assert c.readline().startswith("+")
        c.send(b"Q" * 50000 + b"\r\nB NOOP\r\n")
        lines = []
        try:
            while not (lines and lines[-1].startswith("B ")):
                lines.append(c.readline(timeout=2))
        except (socket.timeout, TimeoutError):
            pass
        # the AUTHENTICATE command is over: it gets its tagged BAD/NO, and
        # the next line is a command again
        a = [l for l in lines if l.startswith("A ")]
        assert a and (a[0].startswith("A BAD") or a[0].startswith("A NO")), lines
        assert lines[-1].startswith("B OK"), lines
        c.login("alice", "secret-pw")
    finally:
        c.close()


def test_long_line_during_idle(server_factory):
    srv = server_factory("max_line_length = 1024")
    c = new_login(srv)
    try:
        c.send(b"I IDLE\r\n")
        assert c.readline().startswith("+")
        c.send(b"D" * 50000 + b"\r\n")
        line = c.readline()
        assert "BAD" in line, line
        # whether IDLE ended with the BAD or goes on, DONE and a command
        # afterwards leave the connection in step
        c.send(b"DONE\r\nB NOOP\r\n")
        untagged, tagged = c.until_tagged("B")
        assert tagged.startswith("B OK"), tagged
        assert line.startswith("I ") or any(l.startswith("I ") for l in untagged), untagged
    finally:
        c.close()
    d = new_login(srv)
    d.close()


def test_sigterm_mid_literal(server):
    c = new_login(server)
    try:
        c.send(b"A APPEND INBOX {1000}\r\n")
        assert c.readline().startswith("+")
        c.send(b"From: half")
        time.sleep(0.1)
        server.stop()  # exit 0
        lines = read_until_eof(c)
        assert not any(l.startswith("A OK") for l in lines), lines
    finally:
        c.close()
    server.start()
    d = new_login(server)
    try:
        assert status(d, "INBOX")["MESSAGES"] == 0
    finally:
        d.close()


def test_plaintext_on_imaps_port_and_tls_on_imap_port(server):
    # clear text to the implicit-TLS port: the handshake fails, nothing else
    s = socket.create_connection(("127.0.0.1", server.imaps_port), timeout=TIMEOUT)
    try:
        s.sendall(b"A LOGIN alice secret-pw\r\n")
        s.settimeout(5)
        try:
            data = s.recv(65536)
        except (ConnectionResetError, socket.timeout, TimeoutError):
            data = b""
        assert b"A OK" not in data and b"* OK" not in data, data
    finally:
        s.close()
    # a TLS ClientHello to the plain port, without STARTTLS: no crash
    import ssl
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    s = socket.create_connection(("127.0.0.1", server.imap_port), timeout=5)
    try:
        s.recv(65536)  # the greeting
        with pytest.raises((ssl.SSLError, OSError)):
            ctx.wrap_socket(s).close()
    finally:
        s.close()
    c = new_login(server)
    c.close()
    assert server.proc.poll() is None
