"""FETCH (RFC 3501 §6.4.5, §7.4.2): every data item on a simple and on a
multipart message with a text part, a base64 attachment and a message/rfc822
part; BODY[section]<partial>, PEEK and the implicit \\Seen, the macros, UID
FETCH, errors, 8-bit headers, and a round trip through Python's imaplib.
"""
import base64
import datetime
import itertools
import re

import pytest

from testsB_util import (Lit, append_ok, appenduid, command_bytes, create, fetch_one,
                         fetches, flags_of, login, make_server, parse_list,
                         raw_fetch_items, s, select)

# ------------------------------------------------------------ the messages

SIMPLE_BODY = b"Line one of the body.\r\nLine two.\r\n"
SIMPLE_HEADER = (
    b"Date: Mon, 23 Nov 2026 10:00:00 +0100\r\n"
    b"From: Alice Example <alice@example.org>\r\n"
    b"To: Bob <bob@example.com>, carol@example.net\r\n"
    b"Cc: \"Dave, Jr.\" <dave@example.com>\r\n"
    b"Subject: Envelope test\r\n"
    b"Message-ID: <env-1@example.org>\r\n"
    b"In-Reply-To: <parent-1@example.org>\r\n"
    b"\r\n")
SIMPLE = SIMPLE_HEADER + SIMPLE_BODY
SIMPLE_DATE = "23-Nov-2026 09:30:15 +0000"

# RFC 3501 §7.4.2 / §9 (envelope, env-from = "(" 1*address ")" / nil:
# addresses in a list follow each other without a space).
SIMPLE_ENVELOPE = (
    b'("Mon, 23 Nov 2026 10:00:00 +0100" "Envelope test" '
    b'(("Alice Example" NIL "alice" "example.org")) '
    b'(("Alice Example" NIL "alice" "example.org")) '
    b'(("Alice Example" NIL "alice" "example.org")) '
    b'(("Bob" NIL "bob" "example.com")(NIL NIL "carol" "example.net")) '
    b'(("Dave, Jr." NIL "dave" "example.com")) '
    b'NIL "<parent-1@example.org>" "<env-1@example.org>")')

BOUNDARY = "XXBOUNDARYXX"
PART1_HEADER = (b"Content-Type: text/plain; charset=utf-8\r\n"
                b"Content-Transfer-Encoding: 7bit\r\n\r\n")
PART1_BODY = b"Part one text.\r\nSecond line.\r\n"
ATTACHMENT = bytes(range(0, 40))
PART2_HEADER = (b"Content-Type: application/octet-stream; name=\"data.bin\"\r\n"
                b"Content-Transfer-Encoding: base64\r\n"
                b"Content-Disposition: attachment; filename=\"data.bin\"\r\n\r\n")
PART2_BODY = base64.b64encode(ATTACHMENT) + b"\r\n"
PART3_HEADER = b"Content-Type: message/rfc822\r\n\r\n"
INNER_HEADER = (b"From: Inner Person <inner@example.net>\r\n"
                b"To: alice@example.org\r\n"
                b"Subject: Inner message\r\n"
                b"Date: Wed, 25 Nov 2026 12:00:00 +0000\r\n"
                b"Message-ID: <inner-1@example.net>\r\n\r\n")
INNER_BODY = b"Inner body line.\r\n"
PART3_BODY = INNER_HEADER + INNER_BODY
MP_HEADER = (b"From: Sender <sender@example.org>\r\n"
             b"To: alice@example.org\r\n"
             b"Subject: Multipart test\r\n"
             b"Date: Tue, 24 Nov 2026 11:00:00 +0000\r\n"
             b"Message-ID: <mp-1@example.org>\r\n"
             b"MIME-Version: 1.0\r\n"
             b"Content-Type: multipart/mixed; boundary=\"" + BOUNDARY.encode() + b"\"\r\n"
             b"\r\n")
B = BOUNDARY.encode()
# Each part's body ends with CRLF; the CRLF before "--boundary" belongs to
# the delimiter (RFC 2046 §5.1.1), so the part bodies are exactly PARTn_BODY.
MP_TEXT = (b"This is a multi-part message in MIME format.\r\n"
           b"--" + B + b"\r\n" + PART1_HEADER + PART1_BODY +
           b"\r\n--" + B + b"\r\n" + PART2_HEADER + PART2_BODY +
           b"\r\n--" + B + b"\r\n" + PART3_HEADER + PART3_BODY +
           b"\r\n--" + B + b"--\r\n")
MULTIPART = MP_HEADER + MP_TEXT

EIGHTBIT_SUBJECT = "Grüße aus Köln".encode("utf-8")
EIGHTBIT = (b"From: J\xc3\xbcrgen <juergen@example.de>\r\n"
            b"To: alice@example.org\r\n"
            b"Subject: " + EIGHTBIT_SUBJECT + b"\r\n"
            b"Date: Thu, 26 Nov 2026 08:00:00 +0100\r\n"
            b"\r\n"
            b"Body.\r\n")

_tags = itertools.count(1)


def tag():
    return f"F{next(_tags)}"


@pytest.fixture(scope="module")
def srv():
    server, cleanup = make_server()
    c = login(server)
    create(c, "Fetch")
    uids = {}
    uids["simple"] = appenduid(append_ok(c, "Fetch", SIMPLE, flags="\\Flagged $Work", date=SIMPLE_DATE))[1]
    uids["multipart"] = appenduid(append_ok(c, "Fetch", MULTIPART, date="24-Nov-2026 11:00:00 +0000"))[1]
    uids["eightbit"] = appenduid(append_ok(c, "Fetch", EIGHTBIT))[1]
    c.close()
    server.fetch_uids = uids
    yield server
    cleanup()


@pytest.fixture
def c(srv):
    """A session with the shared "Fetch" mailbox EXAMINEd (read-only, so
    that no test changes \\Seen for the others)."""
    cl = login(srv)
    select(cl, "Fetch", examine=True)
    yield cl
    cl.close()


def one(c, seq, items, uid=False):
    return fetch_one(c, tag(), seq, items, uid=uid)


def raw_one(c, seq, items):
    t = tag()
    untagged, tagged = command_bytes(c, t, f"FETCH {seq} {items}")
    assert tagged.startswith(t + " OK"), tagged
    fs = [r for r in untagged if re.match(rb"\* %d FETCH" % seq, r)]
    assert len(fs) == 1, untagged
    return raw_fetch_items(fs[0])


def upper(v):
    return s(v).upper() if v is not None else None


def params(v):
    """A body-fld-param list as {NAME-UPPER: value}."""
    if v is None:
        return {}
    assert isinstance(v, list) and len(v) % 2 == 0, v
    return {upper(v[i]): s(v[i + 1]) for i in range(0, len(v), 2)}


def parse_internaldate(v):
    text = s(v)
    m = re.fullmatch(r"( \d|\d\d)-([A-Z][a-z]{2})-(\d{4}) (\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)", text)
    assert m, f"bad date-time {text!r}"
    return datetime.datetime.strptime(
        f"{m.group(1).strip()}-{m.group(2)}-{m.group(3)} {m.group(4)}:{m.group(5)}:{m.group(6)} "
        f"{m.group(7)}{m.group(8)}{m.group(9)}", "%d-%b-%Y %H:%M:%S %z")


# ------------------------------------------------------------ simple items

def test_flags_uid_internaldate_size(c, srv):
    it = one(c, 1, "(FLAGS UID INTERNALDATE RFC822.SIZE)")
    assert flags_of(it) == {"\\Flagged", "$Work"}
    assert int(it["UID"]) == srv.fetch_uids["simple"]
    assert parse_internaldate(it["INTERNALDATE"]) == \
        datetime.datetime(2026, 11, 23, 9, 30, 15, tzinfo=datetime.timezone.utc)
    assert int(it["RFC822.SIZE"]) == len(SIMPLE)
    it2 = one(c, 2, "RFC822.SIZE")
    assert int(it2["RFC822.SIZE"]) == len(MULTIPART)
    it3 = one(c, 3, "RFC822.SIZE")
    assert int(it3["RFC822.SIZE"]) == len(EIGHTBIT)


def test_envelope_exact(c):
    raw = raw_one(c, 1, "ENVELOPE")
    assert raw["ENVELOPE"] == SIMPLE_ENVELOPE


def test_envelope_multipart_defaults(c):
    env = one(c, 2, "ENVELOPE")["ENVELOPE"]
    assert len(env) == 10
    assert s(env[0]) == "Tue, 24 Nov 2026 11:00:00 +0000"
    assert s(env[1]) == "Multipart test"
    sender = [[s(x) for x in a] for a in env[2]]
    assert sender == [["Sender", None, "sender", "example.org"]]
    # sender and reply-to default to from (§7.4.2)
    assert env[3] == env[2] and env[4] == env[2]
    assert [[s(x) for x in a] for a in env[5]] == [[None, None, "alice", "example.org"]]
    assert env[6] is None and env[7] is None and env[8] is None
    assert s(env[9]) == "<mp-1@example.org>"


def check_simple_text(b, extended):
    assert upper(b[0]) == "TEXT" and upper(b[1]) == "PLAIN"
    p = params(b[2])
    assert p == {} or (p.keys() == {"CHARSET"} and p["CHARSET"].upper() == "US-ASCII"), b[2]
    assert b[3] is None and b[4] is None
    assert upper(b[5]) == "7BIT"
    assert int(b[6]) == len(SIMPLE_BODY)
    assert int(b[7]) == 2
    if extended:
        # body-ext-1part: md5 [dsp [lang [loc]]], all NIL here
        assert len(b) >= 9 and all(x is None for x in b[8:]), b
    else:
        assert len(b) == 8, b


def test_body_and_bodystructure_simple(c):
    it = one(c, 1, "(BODY BODYSTRUCTURE)")
    check_simple_text(it["BODY"], extended=False)
    check_simple_text(it["BODYSTRUCTURE"], extended=True)


def check_multipart(b, extended):
    # the first three elements are the parts, then the subtype
    assert isinstance(b[0], list) and isinstance(b[1], list) and isinstance(b[2], list), b
    p1, p2, p3 = b[0], b[1], b[2]
    assert upper(b[3]) == "MIXED"
    if extended:
        assert params(b[4]) == {"BOUNDARY": BOUNDARY}
        assert all(x is None for x in b[5:]), b[5:]
    else:
        assert len(b) == 4, b

    # 1: text/plain; charset=utf-8
    assert upper(p1[0]) == "TEXT" and upper(p1[1]) == "PLAIN"
    assert {k: v.upper() for k, v in params(p1[2]).items()} == {"CHARSET": "UTF-8"}
    assert upper(p1[5]) == "7BIT"
    assert int(p1[6]) == len(PART1_BODY)
    assert int(p1[7]) == 2
    # 2: base64 attachment
    assert upper(p2[0]) == "APPLICATION" and upper(p2[1]) == "OCTET-STREAM"
    assert params(p2[2]) == {"NAME": "data.bin"}
    assert upper(p2[5]) == "BASE64"
    assert int(p2[6]) == len(PART2_BODY)
    if extended:
        # md5, then the disposition
        assert p2[7] is None
        dsp = p2[8]
        assert upper(dsp[0]) == "ATTACHMENT" and params(dsp[1]) == {"FILENAME": "data.bin"}
    else:
        assert len(p2) == 7, p2
    # 3: message/rfc822 with envelope, body and line count
    assert upper(p3[0]) == "MESSAGE" and upper(p3[1]) == "RFC822"
    assert upper(p3[5]) == "7BIT"
    assert int(p3[6]) == len(PART3_BODY)
    env = p3[7]
    assert s(env[1]) == "Inner message"
    assert [[s(x) for x in a] for a in env[2]] == [["Inner Person", None, "inner", "example.net"]]
    assert s(env[9]) == "<inner-1@example.net>"
    inner = p3[8]
    assert upper(inner[0]) == "TEXT" and upper(inner[1]) == "PLAIN"
    assert int(inner[6]) == len(INNER_BODY) and int(inner[7]) == 1
    assert int(p3[9]) == PART3_BODY.count(b"\r\n")


def test_body_multipart(c):
    check_multipart(one(c, 2, "BODY")["BODY"], extended=False)


def test_bodystructure_multipart(c):
    check_multipart(one(c, 2, "BODYSTRUCTURE")["BODYSTRUCTURE"], extended=True)


# ------------------------------------------------------------ sections

def test_body_peek_whole_exact_bytes(c):
    it = one(c, 2, "BODY.PEEK[]")
    assert it["BODY[]"] == MULTIPART
    it = one(c, 1, "BODY.PEEK[]")
    assert it["BODY[]"] == SIMPLE


def test_header_and_text(c):
    it = one(c, 1, "(BODY.PEEK[HEADER] BODY.PEEK[TEXT])")
    assert it["BODY[HEADER]"] == SIMPLE_HEADER
    assert it["BODY[TEXT]"] == SIMPLE_BODY
    it = one(c, 2, "(BODY.PEEK[HEADER] BODY.PEEK[TEXT])")
    assert it["BODY[HEADER]"] == MP_HEADER
    assert it["BODY[TEXT]"] == MP_TEXT


def test_numbered_parts(c):
    it = one(c, 2, "(BODY.PEEK[1] BODY.PEEK[2] BODY.PEEK[3] BODY.PEEK[2.MIME] BODY.PEEK[1.MIME])")
    assert it["BODY[1]"] == PART1_BODY
    assert it["BODY[2]"] == PART2_BODY
    assert base64.b64decode(it["BODY[2]"]) == ATTACHMENT
    assert it["BODY[3]"] == PART3_BODY
    assert it["BODY[2.MIME]"] == PART2_HEADER
    assert it["BODY[1.MIME]"] == PART1_HEADER


def test_nested_message_parts(c):
    it = one(c, 2, "(BODY.PEEK[3.HEADER] BODY.PEEK[3.TEXT] BODY.PEEK[3.1])")
    assert it["BODY[3.HEADER]"] == INNER_HEADER
    assert it["BODY[3.TEXT]"] == INNER_BODY
    # the single part of a non-multipart message is part 1 (§6.4.5)
    assert it["BODY[3.1]"] == INNER_BODY


def test_part_1_of_single_part_message(c):
    assert one(c, 1, "BODY.PEEK[1]")["BODY[1]"] == SIMPLE_BODY


def test_header_fields(c):
    it = one(c, 1, "BODY.PEEK[HEADER.FIELDS (SUBJECT FROM)]")
    # the reply names the section as asked; the fields in message order
    vals = [v for k, v in it.items() if k.startswith("BODY[HEADER.FIELDS")]
    assert len(vals) == 1, it
    assert vals[0] == (b"From: Alice Example <alice@example.org>\r\n"
                       b"Subject: Envelope test\r\n\r\n")


def test_header_fields_not(c):
    it = one(c, 1, "BODY.PEEK[HEADER.FIELDS.NOT (SUBJECT FROM Date)]")
    vals = [v for k, v in it.items() if k.startswith("BODY[HEADER.FIELDS.NOT")]
    assert len(vals) == 1, it
    assert vals[0] == (b"To: Bob <bob@example.com>, carol@example.net\r\n"
                       b"Cc: \"Dave, Jr.\" <dave@example.com>\r\n"
                       b"Message-ID: <env-1@example.org>\r\n"
                       b"In-Reply-To: <parent-1@example.org>\r\n\r\n")


def test_header_fields_case_insensitive_and_missing(c):
    it = one(c, 1, "BODY.PEEK[HEADER.FIELDS (subject X-Not-There)]")
    vals = [v for k, v in it.items() if k.startswith("BODY[HEADER.FIELDS")]
    assert vals == [b"Subject: Envelope test\r\n\r\n"]


def test_partial(c):
    t = tag()
    untagged, tagged = command_bytes(c, t, "FETCH 1 BODY.PEEK[]<0.10>")
    assert tagged.startswith(t + " OK"), tagged
    (seq, it), = fetches(untagged)
    assert it == {"BODY[]<0>": SIMPLE[:10]}, it
    it = one(c, 1, "BODY.PEEK[TEXT]<5.7>")
    assert it["BODY[TEXT]<5>"] == SIMPLE_BODY[5:12]
    # past the end: empty string (§6.4.5)
    it = one(c, 1, f"BODY.PEEK[]<{len(SIMPLE) + 10}.5>")
    v = [v for k, v in it.items() if k.startswith("BODY[]<")]
    assert v == [b""], it
    # a partial that runs over the end is truncated
    it = one(c, 1, f"BODY.PEEK[]<{len(SIMPLE) - 4}.100>")
    assert it[f"BODY[]<{len(SIMPLE) - 4}>"] == SIMPLE[-4:]


def test_rfc822_header_peeks(c):
    it = one(c, 1, "RFC822.HEADER")
    assert it["RFC822.HEADER"] == SIMPLE_HEADER


def test_eightbit_header_intact(c):
    raw = raw_one(c, 3, "(ENVELOPE BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    env = parse_list(raw["ENVELOPE"])
    # 8-bit header text arrives byte for byte intact
    assert bytes(env[1]) == EIGHTBIT_SUBJECT, env[1]
    assert bytes(env[2][0][0]) == "Jürgen".encode(), env[2]
    (key,) = [k for k in raw if k.startswith("BODY[HEADER.FIELDS")]
    hdr = parse_list(raw[key])
    assert hdr == b"Subject: " + EIGHTBIT_SUBJECT + b"\r\n\r\n"
    assert isinstance(hdr, Lit)


def test_eightbit_subject_is_literal(c):
    # IMAP4rev1 quoted strings are 7-bit (§9 QUOTED-CHAR): 8-bit text must
    # be sent as a literal
    raw = raw_one(c, 3, "ENVELOPE")
    env = parse_list(raw["ENVELOPE"])
    assert isinstance(env[1], Lit), raw["ENVELOPE"]
    assert isinstance(env[2][0][0], Lit), raw["ENVELOPE"]


# ------------------------------------------------------------ macros, UID

def test_macro_fast(c):
    it = one(c, 1, "FAST")
    assert set(it) == {"FLAGS", "INTERNALDATE", "RFC822.SIZE"}
    assert int(it["RFC822.SIZE"]) == len(SIMPLE)


def test_macro_all(c):
    it = one(c, 1, "ALL")
    assert set(it) == {"FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE"}
    assert s(it["ENVELOPE"][1]) == "Envelope test"


def test_macro_full(c):
    it = one(c, 2, "FULL")
    assert set(it) == {"FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODY"}
    check_multipart(it["BODY"], extended=False)


def test_uid_fetch_always_returns_uid(c, srv):
    uid = srv.fetch_uids["multipart"]
    it = one(c, uid, "FLAGS", uid=True)
    assert int(it["UID"]) == uid
    assert "FLAGS" in it
    it = one(c, uid, "BODY.PEEK[1]", uid=True)
    assert int(it["UID"]) == uid and it["BODY[1]"] == PART1_BODY


def test_fetch_sequence_ranges(c, srv):
    t = tag()
    untagged, tagged = command_bytes(c, t, "FETCH 1:* UID")
    assert tagged.startswith(t + " OK")
    got = {seq: int(it["UID"]) for seq, it in fetches(untagged)}
    assert got == {1: srv.fetch_uids["simple"], 2: srv.fetch_uids["multipart"],
                   3: srv.fetch_uids["eightbit"]}
    t = tag()
    untagged, tagged = command_bytes(c, t, "FETCH *,1 UID")
    assert sorted(seq for seq, _ in fetches(untagged)) == [1, 3]


# ------------------------------------------------------------ errors

def test_fetch_bad_item(c):
    t = tag()
    _, tagged = command_bytes(c, t, "FETCH 1 (FLAGS BOGUS)")
    assert tagged.startswith(t + " BAD"), tagged
    t = tag()
    _, tagged = command_bytes(c, t, "FETCH 1 BODY[4.BOGUS]")
    assert tagged.startswith(t + " BAD"), tagged


def test_fetch_bad_sequence(c):
    t = tag()
    _, tagged = command_bytes(c, t, "FETCH 0 FLAGS")
    assert tagged.startswith(t + " BAD"), tagged


def test_fetch_empty_mailbox(srv):
    """UID FETCH 1:* on an empty mailbox: OK with nothing (for UIDs, * is
    UIDNEXT); FETCH 1:* by sequence number: BAD, as RFC 3501 §9 says."""
    cl = login(srv)
    try:
        create(cl, "EmptyForFetch")
        select(cl, "EmptyForFetch")
        untagged, tagged = command_bytes(cl, "E1", "UID FETCH 1:* FLAGS")
        assert tagged.startswith("E1 OK"), tagged
        assert fetches(untagged) == []
        # RFC 3501 §9 (seq-number): "The server should respond with a
        # tagged BAD response to a command that uses a message sequence
        # number greater than the number of messages in the selected
        # mailbox.  This includes "*" if the selected mailbox is empty."
        untagged, tagged = command_bytes(cl, "E2", "FETCH 1:* FLAGS")
        assert tagged.startswith("E2 BAD"), tagged
        assert fetches(untagged) == []
        # and the session goes on
        untagged, tagged = command_bytes(cl, "E3", "NOOP")
        assert tagged.startswith("E3 OK"), tagged
    finally:
        cl.close()


# ------------------------------------------------------------ \Seen

@pytest.fixture
def rw(srv):
    """A read-write session on a fresh mailbox holding SIMPLE and MULTIPART."""
    cl = login(srv)
    name = f"Seen{next(_tags)}"
    create(cl, name)
    append_ok(cl, name, SIMPLE)
    append_ok(cl, name, MULTIPART)
    select(cl, name)
    yield cl
    cl.close()


def test_peek_does_not_set_seen(rw):
    it = one(rw, 1, "BODY.PEEK[]")
    assert "FLAGS" not in it
    it = one(rw, 1, "(BODY.PEEK[TEXT] BODY.PEEK[1] RFC822.HEADER RFC822.SIZE)")
    assert "FLAGS" not in it
    assert "\\Seen" not in flags_of(one(rw, 1, "FLAGS"))


def test_body_fetch_sets_seen_and_reports_flags(rw):
    it = one(rw, 1, "BODY[]")
    assert it["BODY[]"] == SIMPLE
    assert "FLAGS" in it, "the \\Seen change SHOULD be reported in the FETCH (§6.4.5)"
    assert "\\Seen" in flags_of(it)
    assert "\\Seen" in flags_of(one(rw, 1, "FLAGS"))
    # a second BODY[] on an already \Seen message changes nothing
    it = one(rw, 1, "BODY[TEXT]")
    assert it["BODY[TEXT]"] == SIMPLE_BODY


def test_body_part_fetch_sets_seen(rw):
    it = one(rw, 2, "BODY[2]")
    assert it["BODY[2]"] == PART2_BODY
    assert "\\Seen" in flags_of(one(rw, 2, "FLAGS"))


def test_rfc822_items(rw):
    it = one(rw, 1, "RFC822.TEXT")
    assert it["RFC822.TEXT"] == SIMPLE_BODY
    assert "\\Seen" in flags_of(one(rw, 1, "FLAGS"))
    it = one(rw, 2, "RFC822.HEADER")
    assert it["RFC822.HEADER"] == MP_HEADER
    assert "\\Seen" not in flags_of(one(rw, 2, "FLAGS"))
    it = one(rw, 2, "RFC822")
    assert it["RFC822"] == MULTIPART
    assert "\\Seen" in flags_of(one(rw, 2, "FLAGS"))


def test_examine_does_not_set_seen(srv):
    cl = login(srv)
    try:
        select(cl, "Fetch", examine=True)
        it = one(cl, 1, "BODY[]")
        assert it["BODY[]"] == SIMPLE
        assert "\\Seen" not in flags_of(one(cl, 1, "FLAGS"))
    finally:
        cl.close()


# ------------------------------------------------------------ imaplib

def test_imaplib_round_trip(srv):
    m = srv.imaplib()
    try:
        typ, data = m.select("Fetch", readonly=True)
        assert typ == "OK" and int(data[0]) == 3
        typ, data = m.fetch("2", "(UID RFC822.SIZE BODY.PEEK[])")
        assert typ == "OK"
        head, body = data[0]
        assert body == MULTIPART
        assert b"RFC822.SIZE %d" % len(MULTIPART) in head
        typ, data = m.uid("FETCH", str(srv.fetch_uids["simple"]), "(FLAGS)")
        assert typ == "OK" and b"\\Flagged" in data[0]
        typ, data = m.fetch("1:*", "(FLAGS)")
        assert typ == "OK" and len(data) == 3
        m.close()
    finally:
        m.logout()
