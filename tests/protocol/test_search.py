"""SEARCH (RFC 3501 §6.4.4): every search key at least once, sequence sets
and parenthesised groups, CHARSET UTF-8 / US-ASCII / unknown, MIME decoding
(RFC 2047 subjects, base64 and quoted-printable bodies), case-insensitivity,
UID SEARCH.  INTERNALDATE is set through APPEND's date-time; all times are
noon UTC so that the dates are the same in any server time zone.
"""
import base64
import itertools

import pytest

from testsB_util import (append_ok, appenduid, command_bytes, create, login, make_server,
                         search_result, select, send_with_literals)

M1 = (b"From: Anne Author <anne@example.org>\r\n"
      b"To: Bob Builder <bob@example.com>\r\n"
      b"Cc: Carol <carol@example.net>\r\n"
      b"Bcc: Dave <dave@example.com>\r\n"
      b"Subject: Quarterly report\r\n"
      b"Date: Sun, 01 Feb 2026 12:00:00 +0000\r\n"
      b"X-Project: apollo\r\n"
      b"Message-ID: <m1@example.org>\r\n"
      b"\r\n"
      b"The numbers look good this quarter.\r\n")
M2 = (b"From: Ben <ben@example.com>\r\n"
      b"To: alice@example.org\r\n"
      b"Subject: Lunch plans\r\n"
      b"Date: Tue, 10 Feb 2026 12:00:00 +0000\r\n"
      b"Message-ID: <m2@example.com>\r\n"
      b"\r\n"
      b"Pizza or sushi?\r\n")
# Subject: "Grüße aus Köln", RFC 2047 B-encoded
M3 = (b"From: Joerg <joerg@example.de>\r\n"
      b"To: alice@example.org\r\n"
      b"Subject: =?UTF-8?B?" + base64.b64encode("Grüße aus Köln".encode()) + b"?=\r\n"
      b"Date: Fri, 20 Feb 2026 12:00:00 +0000\r\n"
      b"\r\n"
      b"Viele Gruesse.\r\n")
SECRET = b"The hidden secretword is in here.\r\n"
M4 = (b"From: Mallory <mallory@example.net>\r\n"
      b"To: bob@example.com\r\n"
      b"Subject: Attachments inside\r\n"
      b"Date: Sun, 01 Mar 2026 12:00:00 +0000\r\n"
      b"MIME-Version: 1.0\r\n"
      b"Content-Type: multipart/mixed; boundary=\"sep\"\r\n"
      b"\r\n"
      b"--sep\r\n"
      b"Content-Type: text/plain; charset=utf-8\r\n"
      b"Content-Transfer-Encoding: quoted-printable\r\n"
      b"\r\n"
      b"Caf=C3=A9 menu with a soft=\r\n"
      b"break word.\r\n"
      b"\r\n"
      b"--sep\r\n"
      b"Content-Type: text/plain; charset=us-ascii\r\n"
      b"Content-Transfer-Encoding: base64\r\n"
      b"\r\n" + base64.b64encode(SECRET) + b"\r\n"
      b"\r\n"
      b"--sep\r\n"
      b"Content-Type: text/plain\r\n"
      b"\r\n" + b"padding line\r\n" * 250 +
      b"\r\n"
      b"--sep--\r\n")
M5 = (b"From: anne@example.org\r\n"
      b"To: alice@example.org\r\n"
      b"Subject: Re: Quarterly report\r\n"
      b"Date: Sun, 15 Mar 2026 12:00:00 +0000\r\n"
      b"In-Reply-To: <m1@example.org>\r\n"
      b"\r\n"
      b"OK.\r\n")

MESSAGES = [
    (M1, "\\Answered \\Seen", "01-Feb-2026 12:00:00 +0000"),
    (M2, "\\Flagged \\Draft projectx", "10-Feb-2026 12:00:00 +0000"),
    (M3, "\\Deleted \\Seen", "20-Feb-2026 12:00:00 +0000"),
    (M4, "", "01-Mar-2026 12:00:00 +0000"),
    (M5, "", "15-Mar-2026 12:00:00 +0000"),
]

_tags = itertools.count(1)


@pytest.fixture(scope="module")
def srv():
    server, cleanup = make_server()
    c = login(server)
    create(c, "Search")
    # one message appended and expunged first, so that UIDs differ from
    # message sequence numbers
    append_ok(c, "Search", b"Subject: gone\r\n\r\nx\r\n", flags="\\Deleted")
    select(c, "Search")
    _, tagged = c.command("C1", "CLOSE")
    assert tagged.startswith("C1 OK")
    server.search_uids = []
    for data, flags, date in MESSAGES:
        server.search_uids.append(appenduid(append_ok(c, "Search", data, flags or None, date))[1])
    c.close()
    assert server.search_uids[0] > 1
    yield server
    cleanup()


@pytest.fixture
def c(srv):
    cl = login(srv)
    # EXAMINE: nothing here changes the mailbox
    lines, _ = select(cl, "Search", examine=True)
    assert "* 5 EXISTS" in lines
    yield cl
    cl.close()


def search(c, criteria, uid=False):
    t = f"S{next(_tags)}"
    untagged, tagged = command_bytes(c, t, ("UID SEARCH " if uid else "SEARCH ") + criteria)
    assert tagged.startswith(t + " OK"), f"SEARCH {criteria}: {tagged}"
    return search_result(untagged)


CASES = [
    ("ALL", [1, 2, 3, 4, 5]),
    ("ANSWERED", [1]),
    ("UNANSWERED", [2, 3, 4, 5]),
    ("BCC dave", [1]),
    ("CC carol@example.net", [1]),
    ("DELETED", [3]),
    ("UNDELETED", [1, 2, 4, 5]),
    ("DRAFT", [2]),
    ("UNDRAFT", [1, 3, 4, 5]),
    ("FLAGGED", [2]),
    ("UNFLAGGED", [1, 3, 4, 5]),
    ("SEEN", [1, 3]),
    ("UNSEEN", [2, 4, 5]),
    ("KEYWORD projectx", [2]),
    ("UNKEYWORD projectx", [1, 3, 4, 5]),
    ("KEYWORD nosuchkeyword", []),
    ("FROM anne", [1, 5]),
    ("FROM \"Ben\"", [2]),
    ("FROM example.net", [4]),
    ("TO bob", [1, 4]),
    ("TO alice@example.org", [2, 3, 5]),
    ("SUBJECT report", [1, 5]),
    ("SUBJECT \"Lunch plans\"", [2]),
    ("SUBJECT nothing-like-this", []),
    ("HEADER X-Project apollo", [1]),
    ("HEADER X-Project \"\"", [1]),
    ("HEADER In-Reply-To m1@example.org", [5]),
    ("HEADER Message-ID example", [1, 2]),
    ("BODY numbers", [1]),
    ("BODY \"sushi\"", [2]),
    ("BODY Quarterly", []),            # only in the header
    ("TEXT apollo", [1]),              # a header field value
    ("TEXT sushi", [2]),               # the body
    ("TEXT Quarterly", [1, 5]),
    ("LARGER 2000", [4]),
    ("SMALLER 2000", [1, 2, 3, 5]),
    ("BEFORE 10-Feb-2026", [1]),
    ("ON 10-Feb-2026", [2]),
    ("SINCE 20-Feb-2026", [3, 4, 5]),
    ("SINCE 1-Mar-2026", [4, 5]),
    ("BEFORE 1-Jan-2026", []),
    ("SENTBEFORE 10-Feb-2026", [1]),
    ("SENTON 20-Feb-2026", [3]),
    ("SENTON 21-Feb-2026", []),
    ("SENTSINCE 01-Mar-2026", [4, 5]),
    ("NOT SEEN", [2, 4, 5]),
    ("NOT FROM anne", [2, 3, 4]),
    ("OR FLAGGED DELETED", [2, 3]),
    ("OR FROM ben SUBJECT attachments", [2, 4]),
    ("OR OR ANSWERED DRAFT DELETED", [1, 2, 3]),
    ("2,4:5", [2, 4, 5]),
    ("*", [5]),
    ("4:*", [4, 5]),
    ("1:3 SEEN", [1, 3]),
    ("(SEEN ANSWERED)", [1]),
    ("(FROM anne) (SINCE 1-Mar-2026)", [5]),
    ("NOT (SEEN OR FLAGGED DELETED)", [1, 2, 4, 5]),
    ("NOT (OR SEEN FLAGGED)", [4, 5]),
    ("OR (FROM anne SEEN) (TO bob LARGER 2000)", [1, 4]),
    ("FROM anne SUBJECT report SINCE 1-Mar-2026", [5]),
    ("UNDELETED UNSEEN UNFLAGGED", [4, 5]),
    # case-insensitive matching and case-insensitive keys
    ("SUBJECT QUARTERLY", [1, 5]),
    ("from ANNE", [1, 5]),
    ("body PIZZA", [2]),
    ("header x-project APOLLO", [1]),
    # MIME decoding of headers and bodies
    ("SUBJECT aus", [3]),              # only after RFC 2047 decoding
    ("BODY secretword", [4]),          # only after base64 decoding
    ("BODY softbreak", [4]),           # only after QP soft line breaks
    ("TEXT secretword", [4]),
]


@pytest.mark.parametrize("criteria,expected", CASES, ids=[c for c, _ in CASES])
def test_search_key(c, criteria, expected):
    assert search(c, criteria) == expected


def test_uid_key(c, srv):
    u = srv.search_uids
    assert search(c, f"UID {u[1]}:{u[3]}") == [2, 3, 4]
    assert search(c, f"UID {u[4]},{u[0]}") == [1, 5]
    assert search(c, f"UID {u[0] - 1}") == []          # the expunged one
    assert search(c, "NOT UID *") == [1, 2, 3, 4]


def test_uid_search_returns_uids(c, srv):
    u = srv.search_uids
    assert search(c, "FLAGGED", uid=True) == [u[1]]
    assert search(c, "FROM anne", uid=True) == [u[0], u[4]]
    assert search(c, "ALL", uid=True) == u
    # in UID SEARCH, a bare sequence set is still message numbers
    assert search(c, "2:3", uid=True) == [u[1], u[2]]
    assert search(c, f"UID {u[2]}:*", uid=True) == u[2:]


def test_search_no_match_gives_empty_search_response(c):
    t = "N1"
    untagged, tagged = command_bytes(c, t, "SEARCH SUBJECT zzzzzz")
    assert tagged.startswith("N1 OK")
    assert untagged == [b"* SEARCH"]


def test_charset_utf8_literal_matches_rfc2047_subject(c):
    untagged, tagged = send_with_literals(
        c, "U1", ["SEARCH CHARSET UTF-8 SUBJECT ", ("lit", "Grüße".encode())])
    assert tagged.startswith("U1 OK"), tagged
    assert search_result(untagged) == [3]
    untagged, tagged = send_with_literals(
        c, "U2", ["SEARCH CHARSET UTF-8 SUBJECT ", ("lit", "Köln".encode())])
    assert tagged.startswith("U2 OK"), tagged
    assert search_result(untagged) == [3]


def test_charset_utf8_literal_matches_qp_body(c):
    untagged, tagged = send_with_literals(
        c, "U3", ["SEARCH CHARSET UTF-8 BODY ", ("lit", "Café menu".encode())])
    assert tagged.startswith("U3 OK"), tagged
    assert search_result(untagged) == [4]


def test_charset_utf8_ascii_string(c):
    assert search(c, "CHARSET UTF-8 SUBJECT lunch") == [2]


def test_charset_us_ascii(c):
    assert search(c, "CHARSET US-ASCII SUBJECT lunch") == [2]
    assert search(c, "CHARSET us-ascii FROM anne") == [1, 5]


def test_unknown_charset(c):
    untagged, tagged = command_bytes(c, "B1", "SEARCH CHARSET X-NO-SUCH-CHARSET SUBJECT x")
    assert tagged.startswith("B1 NO [BADCHARSET"), tagged
    # the optional list names charsets the server does support
    assert "UTF-8" in tagged.upper()
    assert not any(r.startswith(b"* SEARCH") for r in untagged)


def test_bad_search_syntax(c):
    for i, bad in enumerate(["FROM", "BOGUSKEY", "(SEEN", "SINCE 32-Foo-2026", "LARGER x", "OR SEEN"]):
        t = f"X{i}"
        _, tagged = command_bytes(c, t, "SEARCH " + bad)
        assert tagged.startswith(t + " BAD"), f"SEARCH {bad}: {tagged}"
    # and the session goes on
    assert search(c, "ALL") == [1, 2, 3, 4, 5]


def test_recent_new_old(srv):
    """RECENT, NEW (= RECENT UNSEEN) and OLD (= NOT RECENT)."""
    a = login(srv)
    x = login(srv)
    b = login(srv)
    try:
        create(a, "RecentSearch")
        append_ok(a, "RecentSearch", M1)
        append_ok(a, "RecentSearch", M2)
        # x is the first session to see 1 and 2: they are \Recent there only
        lines, _ = select(x, "RecentSearch")
        assert "* 2 RECENT" in lines
        _, tagged = x.command("X1", "LOGOUT")
        append_ok(a, "RecentSearch", M3, flags="\\Seen")
        append_ok(a, "RecentSearch", M5)
        lines, _ = select(b, "RecentSearch")
        assert "* 2 RECENT" in lines
        assert search(b, "RECENT") == [3, 4]
        assert search(b, "OLD") == [1, 2]
        assert search(b, "NEW") == [4]
        assert search(b, "NOT NEW") == [1, 2, 3]
    finally:
        for cl in (a, x, b):
            cl.close()
