"""UTF8=ACCEPT (RFC 6855): after ENABLE UTF8=ACCEPT, mailbox names are sent
and accepted as UTF-8 (not modified UTF-7), APPEND UTF8 (~{n}) is accepted,
SEARCH with CHARSET is BAD (§3), and 8-bit headers come back as they are.
A session that did not enable it keeps modified UTF-7.
"""
import pytest

from testsB_util import until_tagged_bytes

CAFE = "Caf\u00e9"
CAFE_MUTF7 = "Caf&AOk-"
UTF8_MESSAGE = ("From: J\u00fcrgen <j@example.org>\r\nSubject: Gr\u00fc\u00dfe aus K\u00f6ln\r\n"
                "Content-Type: text/plain; charset=utf-8\r\n\r\nHall\u00f6\r\n").encode()


@pytest.fixture
def c(server_factory):
    srv = server_factory()
    c = srv.raw()
    c.login("alice", "secret-pw")
    c.srv = srv
    yield c
    c.close()


def enable(c):
    untagged, tagged = c.command("E1", "ENABLE UTF8=ACCEPT")
    assert tagged.startswith("E1 OK"), tagged
    assert untagged == ["* ENABLED UTF8=ACCEPT"]


def cmd(c, tag, text):
    c.send(tag.encode() + b" " + text.encode() + b"\r\n")
    return c.until_tagged(tag)


def test_capability(c):
    untagged, _ = c.command("C1", "CAPABILITY")
    assert "UTF8=ACCEPT" in untagged[0].split()


def test_enable_twice(c):
    enable(c)
    untagged, _ = c.command("E2", "ENABLE UTF8=ACCEPT")
    assert untagged == ["* ENABLED"]


def test_create_list_select_in_utf8(c):
    _, tagged = cmd(c, "M1", f'CREATE "{CAFE_MUTF7}"')
    assert tagged.startswith("M1 OK")
    enable(c)
    untagged, _ = cmd(c, "L1", 'LIST "" "*"')
    names = [l for l in untagged if CAFE in l]
    assert names and not any(CAFE_MUTF7 in l for l in untagged), untagged
    _, tagged = cmd(c, "M2", f'CREATE "{CAFE}/Tr\u00e8s"')
    assert tagged.startswith("M2 OK"), tagged
    untagged, tagged = cmd(c, "S1", f'SELECT "{CAFE}/Tr\u00e8s"')
    assert tagged.startswith("S1 OK"), tagged
    untagged, _ = cmd(c, "T1", f'STATUS "{CAFE}" (MESSAGES)')
    assert any(CAFE in l for l in untagged), untagged


def test_other_session_keeps_mutf7(c):
    enable(c)
    _, tagged = cmd(c, "M1", f'CREATE "{CAFE}"')
    assert tagged.startswith("M1 OK")
    other = c.srv.raw()
    other.login("alice", "secret-pw")
    untagged, _ = other.command("L1", f'LIST "" "{CAFE_MUTF7}"')
    assert untagged == [f'* LIST (\\HasNoChildren) "/" {CAFE_MUTF7}']
    other.close()


def test_ampersand_is_literal_after_enable(c):
    enable(c)
    _, tagged = cmd(c, "M1", 'CREATE "R&D"')
    assert tagged.startswith("M1 OK"), tagged
    other = c.srv.raw()
    other.login("alice", "secret-pw")
    # the rev1 form of "R&D" is "R&-D"
    untagged, _ = other.command("L1", 'LIST "" "R*"')
    assert untagged == ['* LIST (\\HasNoChildren) "/" R&-D']
    other.close()


def test_append_utf8_literal8(c):
    enable(c)
    c.send(b"A1 APPEND INBOX UTF8 (~{%d}\r\n" % len(UTF8_MESSAGE))
    assert c.readline().startswith("+")
    c.send(UTF8_MESSAGE + b")\r\n")
    _, tagged = c.until_tagged("A1")
    assert tagged.startswith("A1 OK [APPENDUID"), tagged
    c.command("S1", "SELECT INBOX")
    c.send(b"F1 FETCH 1 BODY.PEEK[HEADER.FIELDS (SUBJECT)]\r\n")
    untagged, tagged = until_tagged_bytes(c, "F1")
    # 8-bit header returned as is
    assert "Subject: Gr\u00fc\u00dfe aus K\u00f6ln".encode() in untagged[0], untagged


def test_append_utf8_needs_enable(c):
    c.send(b"A1 APPEND INBOX UTF8 (~{%d}\r\n" % len(UTF8_MESSAGE))
    line = c.readline()
    if line.startswith("+"):
        c.send(UTF8_MESSAGE + b")\r\n")
        _, line = c.until_tagged("A1")
    assert line.startswith("A1 BAD"), line


@pytest.mark.parametrize("form", ["UTF8 ({5}\r\nab", "UTF8 ~{3}\r\nabc", "UTF8 (~{3}\r\nabc ~{1}\r\nx)",
                                  "UTF8", "UTF8 ()"])
def test_append_utf8_malformed(c, form):
    enable(c)
    # send each literal after its continuation
    parts = form.split("\r\n")
    data = ("A2 APPEND INBOX " + parts[0]).encode()
    for p in parts[1:]:
        c.send(data + b"\r\n")
        line = c.readline()
        if not line.startswith("+"):
            assert line.startswith("A2 BAD"), line
            return
        data = p.encode()
    if form.startswith("UTF8 ({5}"):
        data += b"cde)"
    c.send(data + (b")" if form.count("(") > form.count(")") and not form.startswith("UTF8 ({5}") else b"") + b"\r\n")
    _, tagged = c.until_tagged("A2")
    assert tagged.startswith("A2 BAD"), (form, tagged)


def test_search_charset_refused_after_enable(c):
    c.command("S1", "SELECT INBOX")
    _, tagged = c.command("Q1", "SEARCH CHARSET UTF-8 ALL")
    assert tagged.startswith("Q1 OK"), tagged
    enable(c)
    _, tagged = c.command("Q2", "SEARCH CHARSET UTF-8 ALL")
    assert tagged.startswith("Q2 BAD"), tagged
    _, tagged = c.command("Q3", "SEARCH ALL")
    assert tagged.startswith("Q3 OK"), tagged


def test_utf8_quoted_search_string(c):
    enable(c)
    c.send(b"A1 APPEND INBOX UTF8 (~{%d}\r\n" % len(UTF8_MESSAGE))
    c.readline()
    c.send(UTF8_MESSAGE + b")\r\n")
    c.until_tagged("A1")
    c.command("S1", "SELECT INBOX")
    untagged, tagged = cmd(c, "Q1", 'SEARCH SUBJECT "gr\u00fc\u00dfe"')
    assert tagged.startswith("Q1 OK"), tagged
    assert untagged == ["* SEARCH 1"]


@pytest.mark.parametrize("bad", [b"bad\xff", b"ctl\x7fx", b"c1\xc2\x85", b"ls\xe2\x80\xa8"])
def test_invalid_utf8_names_refused(c, bad):
    enable(c)
    c.send(b'M1 CREATE "' + bad + b'"\r\n')
    _, tagged = c.until_tagged("M1")
    assert tagged.startswith("M1 NO") or tagged.startswith("M1 BAD"), tagged


def test_list_reference_in_utf8(c):
    enable(c)
    _, tagged = cmd(c, "M1", f'CREATE "{CAFE}/Sub"')
    assert tagged.startswith("M1 OK"), tagged
    _, tagged = cmd(c, "M2", 'CREATE "R&D/x"')
    assert tagged.startswith("M2 OK"), tagged
    untagged, tagged = cmd(c, "L1", f'LIST "{CAFE}/" "*"')
    assert tagged.startswith("L1 OK"), tagged
    assert untagged == [f'* LIST (\\HasNoChildren) "/" "{CAFE}/Sub"'] or \
        any(l.endswith(f"{CAFE}/Sub") for l in untagged), untagged
    untagged, tagged = cmd(c, "L2", 'LIST "R&D/" "%"')
    assert tagged.startswith("L2 OK"), tagged
    assert len(untagged) == 1 and untagged[0].endswith("R&D/x"), untagged


# --- names written by the event pump follow the receiving session ---------
# RFC 6855 §3 / RFC 9051 §5.1: after ENABLE, every mailbox name the server
# sends that session is UTF-8, including NOTIFY's LIST and STATUS lines
# (RFC 5465 §5.4, §5.3) caused by another session's command.

GRUSS = "Gr\u00fc\u00dfe"
GRUSS_MUTF7 = "Gr&APwA3w-e"
TSCHUESS = "Tsch\u00fc\u00df"
TSCHUESS_MUTF7 = "Tsch&APwA3w-"


def pump_session(srv, enable_what):
    from notify_util import notify, session
    s = session(srv)
    if enable_what:
        untagged, tagged = s.command("E1", f"ENABLE {enable_what}")
        assert tagged.startswith("E1 OK"), tagged
        assert untagged == [f"* ENABLED {enable_what}"], untagged
    notify(s, "SET (personal (MailboxName MessageNew MessageExpunge))")
    return s


def name_forms(name):
    """The UTF-8 name as an atom, a quoted string or a literal (as
    read_literal_aware_line inlines it)."""
    return (name, f'"{name}"', "{%d}\r\n%s" % (len(name.encode()), name))


@pytest.mark.parametrize("enable_what", ["UTF8=ACCEPT", "IMAP4rev2"])
@pytest.mark.parametrize("idle", [False, True])
def test_notify_names_follow_session(server_factory, enable_what, idle):
    from notify_util import append, notify_server, ok, session, wait_for
    srv = notify_server(server_factory)
    u = pump_session(srv, enable_what)   # UTF-8 session
    m = pump_session(srv, None)          # rev1 session
    if idle:
        for c in (u, m):
            c.send(b"I1 IDLE\r\n")
            assert c.readline().startswith("+"), "no IDLE continuation"
    # a rev1 session's command makes the events
    other = session(srv)
    ok(other, "C1", f"CREATE {GRUSS_MUTF7}")
    line, _ = wait_for(u, r"^\* LIST")
    assert line in [f'* LIST () "/" {n}' for n in name_forms(GRUSS)], line
    line, _ = wait_for(m, r"^\* LIST")
    assert line == f'* LIST () "/" {GRUSS_MUTF7}', line
    append(other, GRUSS_MUTF7)
    line, _ = wait_for(u, r"^\* STATUS")
    assert any(line.startswith(f"* STATUS {n} (") for n in name_forms(GRUSS)), line
    line, _ = wait_for(m, r"^\* STATUS")
    assert line.startswith(f"* STATUS {GRUSS_MUTF7} ("), line
    # and a UTF-8 session's command: the rev1 session still gets mUTF-7
    utf = session(srv)
    _, tagged = utf.command("E2", "ENABLE UTF8=ACCEPT")
    assert tagged.startswith("E2 OK"), tagged
    ok(utf, "R1", f'RENAME "{GRUSS}" "{TSCHUESS}"')
    line, _ = wait_for(u, r"^\* LIST")
    assert any(line == f'* LIST () "/" {n} ("OLDNAME" ({o}))'
               for n in name_forms(TSCHUESS) for o in name_forms(GRUSS)), line
    line, _ = wait_for(m, r"^\* LIST")
    assert line == f'* LIST () "/" {TSCHUESS_MUTF7} ("OLDNAME" ({GRUSS_MUTF7}))', line
    if idle:
        for c in (u, m):
            c.send(b"DONE\r\n")
            _, tagged = c.until_tagged("I1")
            assert tagged.startswith("I1 OK"), tagged
    for c in (u, m, other, utf):
        c.close()
