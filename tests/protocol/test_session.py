"""Session-level behaviour: greeting, capabilities, authentication (LOGIN,
AUTHENTICATE PLAIN, failures), STARTTLS and IMAPS, LOGOUT, the any-state
commands, state checks, IDLE, shutdown, time-outs and connection limits
(RFC 3501 §3, §6.1, §6.2, §7.1.5; RFC 2177, 2342, 2971, 4959, 5161, 5530,
7162 §4 for the limits; RFC 8314)."""
import re
import socket
import time

import pytest

from conftest import TIMEOUT, RawImap, append_message, simple_message
from testsA_util import (is_closed, new_login, noop_ok, read_until_eof,
                         sasl_plain, select)


def caps_of(line):
    """The capability names of "* CAPABILITY ..." or of a [CAPABILITY ...] code."""
    m = re.search(r"\[CAPABILITY ([^\]]*)\]", line)
    if m:
        return set(m.group(1).upper().split())
    assert line.startswith("* CAPABILITY "), line
    return set(line[len("* CAPABILITY "):].upper().split())


def capability(c, tag="C1"):
    untagged, tagged = c.command(tag, "CAPABILITY")
    assert tagged.startswith(f"{tag} OK"), tagged
    lines = [l for l in untagged if l.upper().startswith("* CAPABILITY ")]
    assert len(lines) == 1, untagged
    return caps_of(lines[0])


# ---- greeting and capabilities ----

def test_greeting_carries_capability(server):
    c = server.raw()
    try:
        assert c.greeting.startswith("* OK "), c.greeting
        caps = caps_of(c.greeting)
        assert "IMAP4REV1" in caps
        # the greeting's list is the same as the CAPABILITY answer
        assert caps == capability(c)
    finally:
        c.close()


def test_capability_before_login_on_loopback(server):
    c = server.raw()
    try:
        caps = capability(c)
        assert "IMAP4REV1" in caps
        assert "STARTTLS" in caps
        assert "AUTH=PLAIN" in caps
        assert "SASL-IR" in caps
        assert "LOGINDISABLED" not in caps  # plaintext allowed on loopback
    finally:
        c.close()


def test_capability_after_login(server):
    c = server.raw()
    try:
        _, tagged = c.command("L1", 'LOGIN "alice" "secret-pw"')
        assert tagged.startswith("L1 OK"), tagged
        caps = capability(c)
        for cap in ("IMAP4REV1", "IDLE", "NAMESPACE", "UIDPLUS", "MOVE", "UNSELECT",
                    "CHILDREN", "SPECIAL-USE", "ENABLE", "ID", "LITERAL+"):
            assert cap in caps, cap
        assert any(cp.startswith("APPENDLIMIT=") for cp in caps), caps
        assert "LOGINDISABLED" not in caps
        # a [CAPABILITY] code in the tagged OK of LOGIN must be the new list
        if "[CAPABILITY " in tagged:
            assert caps_of(tagged) == caps
    finally:
        c.close()


def test_loopback_plaintext_disabled_needs_tls(server_factory):
    srv = server_factory("plaintext_auth_loopback = no")
    c = srv.raw()
    try:
        caps = caps_of(c.greeting)
        assert "LOGINDISABLED" in caps and "STARTTLS" in caps, caps
        caps = capability(c)
        assert "LOGINDISABLED" in caps and "STARTTLS" in caps, caps
        assert "AUTH=PLAIN" not in caps
        _, tagged = c.command("L1", 'LOGIN "alice" "secret-pw"')
        assert tagged.startswith("L1 NO [PRIVACYREQUIRED]"), tagged
        _, tagged = c.command("A1", "AUTHENTICATE PLAIN " + sasl_plain("alice", "secret-pw"))
        assert tagged.startswith("A1 NO"), tagged
        # still not logged in
        _, tagged = c.command("S0", 'SELECT "INBOX"')
        assert tagged.startswith("S0 BAD"), tagged
        _, tagged = c.command("T1", "STARTTLS")
        assert tagged.startswith("T1 OK"), tagged
        c.starttls()
        caps = capability(c, "C2")
        assert "LOGINDISABLED" not in caps and "STARTTLS" not in caps, caps
        c.login("alice", "secret-pw")
        noop_ok(c)
    finally:
        c.close()


# ---- LOGIN / AUTHENTICATE ----

def test_login_ok_and_state(server):
    c = server.raw()
    try:
        _, tagged = c.command("L1", 'LOGIN alice "secret-pw"')
        assert tagged.startswith("L1 OK"), tagged
        select(c, "INBOX")
    finally:
        c.close()


def test_login_wrong_password_and_unknown_user_same_answer(server):
    c = server.raw()
    try:
        _, wrong = c.command("L1", 'LOGIN "alice" "not-the-password"')
        assert wrong.startswith("L1 NO [AUTHENTICATIONFAILED]"), wrong
        _, unknown = c.command("L1", 'LOGIN "nosuchuser" "not-the-password"')
        assert unknown.startswith("L1 NO [AUTHENTICATIONFAILED]"), unknown
        assert wrong == unknown  # the answer does not reveal which was wrong
        # not logged in after a failure
        _, tagged = c.command("S1", 'SELECT "INBOX"')
        assert tagged.startswith("S1 BAD"), tagged
        # and a correct LOGIN still works on the same connection
        c.login("alice", "secret-pw")
    finally:
        c.close()


def test_login_with_literals_and_escapes(server_factory):
    srv = server_factory(users=(("alice", 'p"w\\x y'),))
    c = srv.raw()
    try:
        # quoted string with escapes: \" and \\ (RFC 3501 §4.3)
        _, tagged = c.command("L1", 'LOGIN alice "p\\"w\\\\x y"')
        assert tagged.startswith("L1 OK"), tagged
    finally:
        c.close()
    c = srv.raw()
    try:
        # synchronising literals
        c.send("L2 LOGIN {5}\r\n")
        assert c.readline().startswith("+")
        c.send('alice {7}\r\n')
        assert c.readline().startswith("+")
        c.send('p"w\\x y\r\n')
        _, tagged = c.until_tagged("L2")
        assert tagged.startswith("L2 OK"), tagged
    finally:
        c.close()
    c = srv.raw()
    try:
        # LITERAL+ (RFC 7888)
        _, tagged = c.command("L3", 'LOGIN {5+}\r\nalice {7+}\r\np"w\\x y')
        assert tagged.startswith("L3 OK"), tagged
    finally:
        c.close()


def test_authenticate_plain_sasl_ir(server):
    c = server.raw()
    try:
        _, tagged = c.command("A1", "AUTHENTICATE PLAIN " + sasl_plain("alice", "secret-pw"))
        assert tagged.startswith("A1 OK"), tagged
        select(c, "INBOX")
    finally:
        c.close()


def test_authenticate_plain_sasl_ir_wrong_password(server):
    c = server.raw()
    try:
        _, tagged = c.command("A1", "AUTHENTICATE PLAIN " + sasl_plain("alice", "wrong"))
        assert tagged.startswith("A1 NO [AUTHENTICATIONFAILED]"), tagged
    finally:
        c.close()


def test_authenticate_plain_with_continuation(server):
    c = server.raw()
    try:
        c.send("A1 AUTHENTICATE PLAIN\r\n")
        cont = c.readline()
        assert cont.startswith("+"), cont
        c.send(sasl_plain("bob", "bob-pw") + "\r\n")
        _, tagged = c.until_tagged("A1")
        assert tagged.startswith("A1 OK"), tagged
        select(c, "INBOX")
    finally:
        c.close()


def test_authenticate_plain_variants(server):
    c = server.raw()
    try:
        # unknown mechanism
        _, tagged = c.command("A1", "AUTHENTICATE X-UNKNOWN")
        assert tagged.startswith("A1 NO"), tagged
        # invalid base64 / not a PLAIN message
        _, tagged = c.command("A2", "AUTHENTICATE PLAIN !!!notbase64")
        assert tagged.startswith("A2 BAD") or tagged.startswith("A2 NO"), tagged
        # an authorization identity other than the user is not granted
        _, tagged = c.command("A3", "AUTHENTICATE PLAIN " +
                              sasl_plain("alice", "secret-pw", authzid="bob"))
        assert tagged.startswith("A3 NO"), tagged
        # the same identity as the user is fine; mechanism name in any case
        _, tagged = c.command("A4", "AUTHENTICATE plain " +
                              sasl_plain("alice", "secret-pw", authzid="alice"))
        assert tagged.startswith("A4 OK"), tagged
    finally:
        c.close()


def test_authenticate_cancel(server):
    c = server.raw()
    try:
        c.send("A1 AUTHENTICATE PLAIN\r\n")
        cont = c.readline()
        assert cont.startswith("+"), cont
        c.send("*\r\n")
        _, tagged = c.until_tagged("A1")
        assert tagged.startswith("A1 BAD"), tagged
        # back in command mode, not authenticated
        noop_ok(c)
        _, tagged = c.command("S1", 'SELECT "INBOX"')
        assert tagged.startswith("S1 BAD"), tagged
        c.login("alice", "secret-pw")
    finally:
        c.close()


def test_too_many_auth_failures_bye(server):
    # max_auth_failures defaults to 5; the fixture sets auth_fail_delay_ms=50
    c = server.raw()
    try:
        for i in range(4):
            _, tagged = c.command(f"L{i}", 'LOGIN "alice" "wrong"')
            assert tagged.startswith(f"L{i} NO [AUTHENTICATIONFAILED]"), tagged
        c.send('L4 LOGIN "alice" "wrong"\r\n')
        rest = read_until_eof(c)
        assert any(l.startswith("* BYE") for l in rest), rest
        tagged = [l for l in rest if l.startswith("L4 ")]
        assert not tagged or tagged[0].startswith("L4 NO"), rest
    finally:
        c.close()
    # the server still serves others
    c = new_login(server)
    c.close()


def test_auth_failure_delay_grows(server):
    """The delay after a failure is auth_fail_delay_ms (50) and doubles."""
    c = server.raw()
    try:
        t0 = time.monotonic()
        c.command("L1", 'LOGIN "alice" "wrong"')
        first = time.monotonic() - t0
        t0 = time.monotonic()
        c.command("L2", 'LOGIN "alice" "wrong"')
        c.command("L3", 'LOGIN "alice" "wrong"')
        second_third = time.monotonic() - t0
        assert first >= 0.045, first
        assert second_third >= 0.29, second_third  # 100 + 200 ms
    finally:
        c.close()


# ---- TLS ----

def test_starttls_then_login(server):
    c = server.raw()
    try:
        _, tagged = c.command("T1", "STARTTLS")
        assert tagged.startswith("T1 OK"), tagged
        c.starttls()
        assert c.sock.version() in ("TLSv1.2", "TLSv1.3"), c.sock.version()
        caps = capability(c)
        assert "STARTTLS" not in caps
        c.login("alice", "secret-pw")
        select(c, "INBOX")
        # STARTTLS is not valid once authenticated
        _, tagged = c.command("T2", "STARTTLS")
        assert tagged.startswith("T2 BAD"), tagged
    finally:
        c.close()


def test_starttls_discards_pipelined_plaintext(server):
    """RFC 3501 §6.2.1 / RFC 2595 §3.1: commands sent in clear text after
    STARTTLS (before the handshake) must be discarded, never answered."""
    c = server.raw()
    try:
        c.send("S STARTTLS\r\nX NOOP\r\n")
        line = c.readline()
        assert line.startswith("S OK"), line
        # nothing more in clear text
        assert c.expect_nothing(0.3)
        assert c.buf == b"", c.buf
        c.starttls()
        untagged, tagged = c.command("Y", "NOOP")
        assert tagged.startswith("Y OK"), tagged
        assert not any(l.startswith("X ") for l in untagged), untagged
        assert c.expect_nothing(0.3)
        assert b"X " not in c.buf, c.buf
    finally:
        c.close()


def test_starttls_twice_is_refused(server):
    c = server.raw()
    try:
        _, tagged = c.command("T1", "STARTTLS")
        assert tagged.startswith("T1 OK"), tagged
        c.starttls()
        _, tagged = c.command("T2", "STARTTLS")
        assert tagged.startswith("T2 BAD") or tagged.startswith("T2 NO"), tagged
        noop_ok(c)
    finally:
        c.close()


def test_imaps_handshake_and_login(server):
    c = server.raw(tls=True)
    try:
        assert c.greeting.startswith("* OK"), c.greeting
        assert c.sock.version() in ("TLSv1.2", "TLSv1.3"), c.sock.version()
        caps = caps_of(c.greeting)
        assert "STARTTLS" not in caps and "LOGINDISABLED" not in caps, caps
        c.login("alice", "secret-pw")
        select(c, "INBOX")
    finally:
        c.close()


def test_imaps_login_allowed_when_loopback_plaintext_off(server_factory):
    srv = server_factory("plaintext_auth_loopback = no")
    c = srv.raw(tls=True)
    try:
        assert "LOGINDISABLED" not in caps_of(c.greeting)
        c.login("alice", "secret-pw")
    finally:
        c.close()


# ---- any-state commands ----

def test_logout(server):
    c = server.raw()
    try:
        c.login("alice", "secret-pw")
        c.send("Z LOGOUT\r\n")
        lines = read_until_eof(c)
        assert len(lines) >= 2, lines
        assert lines[0].startswith("* BYE"), lines
        assert lines[-1].startswith("Z OK"), lines
    finally:
        c.close()


def test_logout_ignores_pipelined_commands(server):
    c = new_login(server)
    try:
        _, tagged = c.command("C1", "CREATE keepme")
        assert tagged.startswith("C1 OK"), tagged
        c.send("Z LOGOUT\r\nX DELETE keepme\r\nY NOOP\r\n")
        lines = read_until_eof(c)
        assert lines[0].startswith("* BYE"), lines
        assert lines[-1].startswith("Z OK"), lines
    finally:
        c.close()
    d = new_login(server)
    try:
        # nothing after LOGOUT ran: keepme is still there
        untagged, tagged = d.command("S1", "STATUS keepme (MESSAGES)")
        assert tagged.startswith("S1 OK"), tagged
    finally:
        d.close()


def test_logout_not_authenticated(server):
    c = server.raw()
    try:
        c.send("Z LOGOUT\r\n")
        lines = read_until_eof(c)
        assert lines[0].startswith("* BYE"), lines
        assert lines[-1].startswith("Z OK"), lines
    finally:
        c.close()


def test_noop_any_state(server):
    c = server.raw()
    try:
        noop_ok(c, "N1")
        c.login("alice", "secret-pw")
        noop_ok(c, "N2")
        select(c, "INBOX")
        noop_ok(c, "N3")
        _, tagged = c.command("N4", "NOOP extra")
        assert tagged.startswith("N4 BAD"), tagged
    finally:
        c.close()


def test_id_nil_and_list(server):
    c = server.raw()
    try:
        untagged, tagged = c.command("I1", "ID NIL")
        assert tagged.startswith("I1 OK"), tagged
        ids = [l for l in untagged if l.startswith("* ID ")]
        assert len(ids) == 1, untagged
        assert ids[0] == "* ID NIL" or ids[0].startswith("* ID ("), ids
        untagged, tagged = c.command("I2", 'ID ("name" "pytest" "version" "1.0")')
        assert tagged.startswith("I2 OK"), tagged
        assert len([l for l in untagged if l.startswith("* ID ")]) == 1, untagged
        _, tagged = c.command("I3", 'ID ("name")')  # odd number of items
        assert tagged.startswith("I3 BAD"), tagged
        _, tagged = c.command("I4", "ID")
        assert tagged.startswith("I4 BAD"), tagged
    finally:
        c.close()


def test_enable(server):
    c = server.raw()
    try:
        # ENABLE is only valid once authenticated (RFC 5161 §3)
        _, tagged = c.command("E0", "ENABLE CONDSTORE")
        assert tagged.startswith("E0 BAD") or tagged.startswith("E0 NO"), tagged
        c.login("alice", "secret-pw")
        untagged, tagged = c.command("E1", "ENABLE X-NO-SUCH-EXTENSION")
        assert tagged.startswith("E1 OK"), tagged
        enabled = [l for l in untagged if l.startswith("* ENABLED")]
        assert len(enabled) == 1, untagged
        # an unknown extension is not reported as enabled
        assert "X-NO-SUCH-EXTENSION" not in enabled[0].upper()
        _, tagged = c.command("E2", "ENABLE")
        assert tagged.startswith("E2 BAD"), tagged
    finally:
        c.close()


def test_namespace(server):
    c = server.raw()
    try:
        c.login("alice", "secret-pw")
        untagged, tagged = c.command("N1", "NAMESPACE")
        assert tagged.startswith("N1 OK"), tagged
        ns = [l for l in untagged if l.startswith("* NAMESPACE ")]
        assert len(ns) == 1, untagged
        assert re.match(r'^\* NAMESPACE \(\("" "/"\)\) (NIL|\(.*\)) (NIL|\(.*\))$', ns[0]), ns
    finally:
        c.close()


# ---- state checks ----

def test_select_before_login_is_bad(server):
    c = server.raw()
    try:
        _, tagged = c.command("S1", 'SELECT "INBOX"')
        assert tagged.startswith("S1 BAD"), tagged
        for cmd in ('LIST "" "*"', 'CREATE foo', 'STATUS INBOX (MESSAGES)',
                    'APPEND INBOX {1+}\r\nx', "IDLE", "NAMESPACE"):
            _, tagged = c.command("S2", cmd)
            assert tagged.startswith("S2 BAD"), (cmd, tagged)
        noop_ok(c)
    finally:
        c.close()


def test_fetch_without_selected_mailbox_is_bad(server):
    c = server.raw()
    try:
        c.login("alice", "secret-pw")
        for cmd in ("FETCH 1 FLAGS", "STORE 1 +FLAGS (\\Seen)", "SEARCH ALL", "EXPUNGE",
                    "CLOSE", "UID FETCH 1 FLAGS", "COPY 1 Trash", "CHECK"):
            _, tagged = c.command("F1", cmd)
            assert tagged.startswith("F1 BAD"), (cmd, tagged)
        noop_ok(c)
    finally:
        c.close()


def test_login_after_login_is_bad(server):
    c = server.raw()
    try:
        c.login("alice", "secret-pw")
        _, tagged = c.command("L2", 'LOGIN "bob" "bob-pw"')
        assert tagged.startswith("L2 BAD"), tagged
        _, tagged = c.command("A2", "AUTHENTICATE PLAIN " + sasl_plain("bob", "bob-pw"))
        assert tagged.startswith("A2 BAD"), tagged
        # still alice: her INBOX gets the message, not bob's
        append_message(c, "INBOX", simple_message())
        bob = new_login(server, "bob", "bob-pw")
        try:
            untagged, _ = bob.command("S1", "STATUS INBOX (MESSAGES)")
            assert any("MESSAGES 0" in l for l in untagged), untagged
        finally:
            bob.close()
    finally:
        c.close()


def test_unknown_command_is_bad(server):
    c = server.raw()
    try:
        _, tagged = c.command("U1", "FROBNICATE")
        assert tagged.startswith("U1 BAD"), tagged
        c.login("alice", "secret-pw")
        _, tagged = c.command("U2", "FROBNICATE now please")
        assert tagged.startswith("U2 BAD"), tagged
        _, tagged = c.command("U3", "UID FROBNICATE 1")
        assert tagged.startswith("U3 BAD"), tagged
        noop_ok(c)
    finally:
        c.close()


def test_commands_are_case_insensitive(server):
    c = server.raw()
    try:
        _, tagged = c.command("L1", 'login alice "secret-pw"')
        assert tagged.startswith("L1 OK"), tagged
        _, tagged = c.command("S1", "sElEcT inbox")
        assert tagged.startswith("S1 OK"), tagged
    finally:
        c.close()


# ---- IDLE ----

def test_idle_done(server):
    c = new_login(server)
    try:
        select(c, "INBOX")
        c.send("I1 IDLE\r\n")
        cont = c.readline()
        assert cont.startswith("+"), cont
        assert c.expect_nothing(0.2)
        c.send("DONE\r\n")
        _, tagged = c.until_tagged("I1")
        assert tagged.startswith("I1 OK"), tagged
        noop_ok(c)
    finally:
        c.close()


def test_idle_push_from_other_session(server):
    c = new_login(server)
    other = new_login(server)
    try:
        select(c, "INBOX")
        c.send("I1 IDLE\r\n")
        assert c.readline().startswith("+")
        append_message(other, "INBOX", simple_message("pushed"))
        line = c.readline(timeout=5)
        assert re.match(r"^\* 1 EXISTS$", line), line
        c.send("DONE\r\n")
        _, tagged = c.until_tagged("I1")
        assert tagged.startswith("I1 OK"), tagged
    finally:
        c.close()
        other.close()


def test_idle_done_pipelined_with_next_command(server):
    c = new_login(server)
    try:
        c.send("I1 IDLE\r\n")
        assert c.readline().startswith("+")
        c.send("DONE\r\nN1 NOOP\r\n")
        _, tagged = c.until_tagged("I1")
        assert tagged.startswith("I1 OK"), tagged
        _, tagged = c.until_tagged("N1")
        assert tagged.startswith("N1 OK"), tagged
    finally:
        c.close()


def test_idle_bad_continuation(server):
    c = new_login(server)
    try:
        c.send("I1 IDLE\r\n")
        assert c.readline().startswith("+")
        c.send("NOTDONE\r\n")
        _, tagged = c.until_tagged("I1")
        assert tagged.startswith("I1 BAD"), tagged
        noop_ok(c)
    finally:
        c.close()


# ---- shutdown, time-outs, limits ----

def test_sigterm_says_bye_to_every_session_and_exits_0(server):
    a = new_login(server)
    b = server.raw()  # not authenticated
    s = new_login(server, "bob", "bob-pw")
    select(s, "INBOX")
    s.send("I1 IDLE\r\n")
    assert s.readline().startswith("+")
    try:
        server.stop()  # SIGTERM; asserts exit status 0
        for c in (a, b, s):
            lines = read_until_eof(c)
            assert any(l.startswith("* BYE") for l in lines), lines
    finally:
        for c in (a, b, s):
            c.close()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", server.imap_port), timeout=1).close()


def test_sigint_exits_0(server):
    c = server.raw()
    try:
        import signal
        server.stop(sig=signal.SIGINT)
        lines = read_until_eof(c)
        assert any(l.startswith("* BYE") for l in lines), lines
    finally:
        c.close()


def test_login_timeout(server_factory):
    # The server measures silence in whole seconds (checked once a second),
    # so a client silent for 0.3 s may count as silent for 1 s: with
    # login_timeout = 2 a client that talks every ~0.3 s is safely alive.
    srv = server_factory("login_timeout = 2")
    idle = srv.raw()
    busy = srv.raw()
    authed = new_login(srv)
    try:
        # a client that says nothing before login is logged out, one that
        # keeps talking is not (the timer counts silence)
        t0 = time.monotonic()
        n = 0
        got = []
        while time.monotonic() < t0 + 6 and (not got or time.monotonic() < t0 + 3.5):
            noop_ok(busy, f"B{n}")
            n += 1
            if not got and not idle.expect_nothing(0.25):
                got.append(idle.readline(timeout=1))
                got.append(time.monotonic() - t0)
            elif got:
                time.sleep(0.25)
        assert got and got[0].startswith("* BYE"), got
        assert 0.9 <= got[1] <= 4, got
        assert is_closed(idle, 5)
        # the authenticated one has idle_timeout (>= 30 min), not login_timeout
        noop_ok(authed)
    finally:
        idle.close()
        busy.close()
        authed.close()


def test_connection_limit_per_ip(server_factory):
    srv = server_factory("max_connections_per_ip = 2")
    a = srv.raw()
    b = srv.raw()
    try:
        assert a.greeting.startswith("* OK") and b.greeting.startswith("* OK")
        c = srv.raw()
        try:
            assert c.greeting.startswith("* BYE"), c.greeting
            assert is_closed(c, 5)
        finally:
            c.close()
        # the first two keep working
        noop_ok(a)
        noop_ok(b)
        # once one goes, a new connection is accepted again
        a.close()
        deadline = time.time() + 5
        while True:
            d = srv.raw()
            if d.greeting.startswith("* OK"):
                break
            d.close()
            assert time.time() < deadline, "slot was not freed"
            time.sleep(0.05)
        d.login("alice", "secret-pw")
        d.close()
    finally:
        a.close()
        b.close()


def test_connection_limit_total(server_factory):
    srv = server_factory("max_connections = 2")
    a = srv.raw()
    b = srv.raw()
    try:
        c = srv.raw()
        try:
            assert c.greeting.startswith("* BYE"), c.greeting
        finally:
            c.close()
        noop_ok(a)
    finally:
        a.close()
        b.close()
