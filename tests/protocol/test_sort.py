"""SORT and THREAD (RFC 5256), ESORT (RFC 5267) and ESEARCH (RFC 4731) over
a small mailbox of related messages: every sort key, REVERSE, UID SORT,
both threading algorithms, SEARCH RETURN (MIN MAX COUNT ALL), SORT RETURN,
and bad input.  The expected sort orders are computed here from the table
of messages, by the rules of RFC 5256, independently of the server.
"""
import re

import pytest

# seq: from, to, cc, subject (raw), Date: header or None, internal date,
# message-id, references, in-reply-to, body
MESSAGES = [
    ("Carol <carol@example.org>", "zed@example.org", "Bob <bob@example.org>",
     "Project plan", "Tue, 03 Feb 2026 10:00:00 +0000", "05-Feb-2026 12:00:00 +0000",
     "<p1@x>", None, None, "Plan attached.\r\n"),
    ("alice@example.org", "Yan <yan@example.org>", None,
     "Re: Project plan", "Wed, 04 Feb 2026 10:00:00 +0000", "02-Feb-2026 12:00:00 +0000",
     "<p2@x>", "<p1@x>", "<p1@x>", "Looks good to me, with a few remarks.\r\n" * 3),
    ("\"Bob B.\" <bob@example.org>", "xavier@example.org", "alice@example.org",
     "Lunch", "Sun, 01 Feb 2026 10:00:00 +0000", "06-Feb-2026 12:00:00 +0000",
     "<l1@x>", None, None, "Pizza?\r\n"),
    ("dave@example.org (Dave)", "Alice <alice@example.org>", None,
     "Re: Re: Project plan", "Thu, 05 Feb 2026 11:00:00 +0100", "01-Feb-2026 12:00:00 +0000",
     "<p3@x>", "<p1@x> <p2@x>", None, "Agreed.\r\n" * 10),
    ("Erin <erin@example.org>", None, None,
     "[team] Lunch", None, "03-Feb-2026 12:00:00 +0000",
     "<l2@x>", None, "<l1@x>", "Sushi!\r\n" * 2),
    ("frank@example.org", None, None,
     "Re: Lunch (fwd)", "Sat, 07 Feb 2026 09:00:00 -0500", "04-Feb-2026 12:00:00 +0000",
     "<l3@x>", "<missing@x>", None, "Forwarded.\r\n" * 5),
]

# Sort keys per message, by hand from the table above (RFC 5256 §2, §3).
FROM = ["carol", "alice", "bob", "dave", "erin", "frank"]
TO = ["zed", "yan", "xavier", "alice", "", ""]
CC = ["bob", "", "alice", "", "", ""]
BASE = ["project plan", "project plan", "lunch", "project plan", "lunch", "lunch"]
# sent dates (UTC, sortable strings); message 5 falls back to its internal date
DATE = ["2026-02-03 10:00", "2026-02-04 10:00", "2026-02-01 10:00",
        "2026-02-05 10:00", "2026-02-03 12:00", "2026-02-07 14:00"]
ARRIVAL = ["2026-02-05", "2026-02-02", "2026-02-06", "2026-02-01", "2026-02-03", "2026-02-04"]


def message_bytes(m):
    frm, to, cc, subject, date, _idate, mid, refs, irt, body = m
    h = f"From: {frm}\r\n"
    if to:
        h += f"To: {to}\r\n"
    if cc:
        h += f"Cc: {cc}\r\n"
    h += f"Subject: {subject}\r\n"
    if date:
        h += f"Date: {date}\r\n"
    h += f"Message-ID: {mid}\r\n"
    if refs:
        h += f"References: {refs}\r\n"
    if irt:
        h += f"In-Reply-To: {irt}\r\n"
    return (h + "\r\n" + body).encode()


SIZES = [len(message_bytes(m)) for m in MESSAGES]


def append(c, data, idate, tag="AP"):
    c.send(f'{tag} APPEND INBOX "{idate}" {{{len(data)}}}\r\n')
    cont = c.readline()
    assert cont.startswith("+"), cont
    c.send(data + b"\r\n")
    _, tagged = c.until_tagged(tag)
    assert tagged.startswith(f"{tag} OK"), tagged


@pytest.fixture
def box(server):
    """alice's INBOX with the six messages as seqs 1-6, UIDs 2-7."""
    c = server.raw()
    c.login("alice", "secret-pw")
    append(c, b"Subject: throwaway\r\n\r\nx\r\n", "01-Jan-2026 00:00:00 +0000")
    for m in MESSAGES:
        append(c, message_bytes(m), m[5])
    _, t = c.command("S1", "SELECT INBOX")
    assert t.startswith("S1 OK"), t
    _, t = c.command("S2", "STORE 1 +FLAGS.SILENT (\\Deleted)")
    assert t.startswith("S2 OK"), t
    _, t = c.command("S3", "EXPUNGE")
    assert t.startswith("S3 OK"), t
    yield c
    c.close()


def sort_cmd(c, text, tag="T1", prefix="SORT"):
    untagged, tagged = c.command(tag, text)
    assert tagged.startswith(f"{tag} OK"), (text, tagged)
    lines = [u for u in untagged if u.startswith(f"* {prefix}")]
    assert len(lines) == 1, untagged
    return lines[0][len(f"* {prefix}"):].strip()


def nums(text):
    return [int(x) for x in text.split()]


def expected(keys):
    """Seqs sorted by [(key list, reverse)], then by sequence number."""
    seqs = list(range(1, 7))
    # Stable sorts, least significant first; the seq order is the base.
    for values, reverse in reversed(keys):
        seqs.sort(key=lambda s: values[s - 1], reverse=reverse)
    return seqs


@pytest.mark.parametrize("name,values", [
    ("ARRIVAL", ARRIVAL), ("CC", CC), ("DATE", DATE), ("FROM", FROM),
    ("SIZE", SIZES), ("SUBJECT", BASE), ("TO", TO)])
def test_sort_each_key(box, name, values):
    assert nums(sort_cmd(box, f"SORT ({name}) UTF-8 ALL")) == expected([(values, False)])
    # REVERSE reverses the key, not the implicit sequence-number order.
    want = sorted(range(1, 7), key=lambda s: (_neg(values[s - 1]), s))
    assert nums(sort_cmd(box, f"SORT (REVERSE {name}) US-ASCII ALL")) == want


def _neg(v):
    if isinstance(v, int):
        return -v
    return [-ord(ch) for ch in v] + [1]  # longer strings first among prefixes


def test_sort_fixed_orders(box):
    # Hand-checked against the table, as a guard on the model above.
    assert nums(sort_cmd(box, "SORT (DATE) UTF-8 ALL")) == [3, 1, 5, 2, 4, 6]
    assert nums(sort_cmd(box, "SORT (TO) UTF-8 ALL")) == [5, 6, 4, 3, 2, 1]
    assert nums(sort_cmd(box, "SORT (SUBJECT REVERSE DATE) UTF-8 ALL")) == [6, 5, 3, 4, 2, 1]
    assert nums(sort_cmd(box, "SORT (REVERSE SUBJECT DATE) UTF-8 ALL")) == [1, 2, 4, 3, 5, 6]
    assert nums(sort_cmd(box, "SORT (CC FROM) UTF-8 ALL")) == [2, 4, 5, 6, 3, 1]


def test_sort_with_search_keys(box):
    assert nums(sort_cmd(box, 'SORT (REVERSE DATE) UTF-8 SUBJECT "lunch"')) == [6, 5, 3]
    assert nums(sort_cmd(box, "SORT (ARRIVAL) UTF-8 2:4")) == [4, 2, 3]
    assert nums(sort_cmd(box, 'SORT (SUBJECT) UTF-8 BODY "agreed"')) == [4]
    assert sort_cmd(box, 'SORT (SUBJECT) US-ASCII TEXT "not in mailbox"') == ""


def test_uid_sort(box):
    # seq n has UID n + 1
    assert nums(sort_cmd(box, "UID SORT (DATE) UTF-8 ALL")) == [4, 2, 6, 3, 5, 7]
    # UID SORT's search keys still use sequence numbers unless UID is a key.
    assert nums(sort_cmd(box, "UID SORT (REVERSE SIZE) UTF-8 UID 2:4")) == \
        [s + 1 for s in sorted([1, 2, 3], key=lambda s: (-SIZES[s - 1], s))]


def test_thread_references(box):
    assert sort_cmd(box, "THREAD REFERENCES UTF-8 ALL", prefix="THREAD") == \
        "(3 (5)(6))(1 2 4)"
    assert sort_cmd(box, "UID THREAD REFERENCES UTF-8 ALL", prefix="THREAD") == \
        "(4 (6)(7))(2 3 5)"
    # Only the searched messages take part: 2 is missing from the chain.
    assert sort_cmd(box, "THREAD REFERENCES UTF-8 NOT 2", prefix="THREAD") == \
        "(3 (5)(6))(1 4)"
    assert sort_cmd(box, 'THREAD REFERENCES UTF-8 SUBJECT "nothing"', prefix="THREAD") == ""


def test_thread_orderedsubject(box):
    assert sort_cmd(box, "THREAD ORDEREDSUBJECT UTF-8 ALL", prefix="THREAD") == \
        "(3 (5)(6))(1 (2)(4))"
    assert sort_cmd(box, "UID THREAD ORDEREDSUBJECT US-ASCII 1:3", prefix="THREAD") == \
        "(4)(2 3)"


def esearch(c, text, tag="E1"):
    untagged, tagged = c.command(tag, text)
    assert tagged.startswith(f"{tag} OK"), (text, tagged)
    lines = [u for u in untagged if u.startswith("* ESEARCH")]
    assert len(lines) == 1, untagged
    assert not any(u.startswith("* SEARCH") or u.startswith("* SORT") for u in untagged)
    line = lines[0]
    prefix = f'* ESEARCH (TAG "{tag}")'
    assert line.startswith(prefix), line
    rest = line[len(prefix):].split()
    uid = bool(rest) and rest[0] == "UID"
    if uid:
        rest = rest[1:]
    return uid, dict(zip(rest[0::2], rest[1::2]))


def test_esearch(box):
    uid, r = esearch(box, 'SEARCH RETURN (MIN MAX COUNT) SUBJECT "lunch"')
    assert not uid and r == {"MIN": "3", "MAX": "6", "COUNT": "3"}
    uid, r = esearch(box, 'SEARCH RETURN (ALL) SUBJECT "plan"')
    assert r == {"ALL": "1:2,4"}
    # RFC 4731 §3.1: RETURN () is RETURN (ALL)
    _, r = esearch(box, "SEARCH RETURN () ALL")
    assert r == {"ALL": "1:6"}
    uid, r = esearch(box, "UID SEARCH RETURN (MIN MAX ALL COUNT) ALL")
    assert uid and r == {"MIN": "2", "MAX": "7", "ALL": "2:7", "COUNT": "6"}
    # No match: MIN, MAX and ALL are left out, COUNT is 0.
    _, r = esearch(box, 'SEARCH RETURN (MIN MAX ALL COUNT) SUBJECT "nothing"')
    assert r == {"COUNT": "0"}
    _, r = esearch(box, 'SEARCH RETURN (MIN) SUBJECT "nothing"')
    assert r == {}
    # The plain form is unchanged.
    assert nums(sort_cmd(box, 'SEARCH SUBJECT "lunch"', prefix="SEARCH")) == [3, 5, 6]
    assert nums(sort_cmd(box, "SEARCH CHARSET UTF-8 1:2", prefix="SEARCH")) == [1, 2]


def test_esort(box):
    _, r = esearch(box, "SORT RETURN (MIN MAX COUNT ALL) (DATE) UTF-8 ALL")
    # MIN and MAX are the first and last in sort order (RFC 5267 §3.1).
    assert r == {"MIN": "3", "MAX": "6", "COUNT": "6", "ALL": "3,1,5,2,4,6"}
    uid, r = esearch(box, "UID SORT RETURN () (ARRIVAL) UTF-8 ALL")
    # seqs 4,2,5,6,1,3 -> UIDs 5,3,6,7,2,4: ranges only when ascending
    assert uid and r == {"ALL": "5,3,6:7,2,4"}
    _, r = esearch(box, 'SORT RETURN (COUNT) (DATE) UTF-8 SUBJECT "nothing"')
    assert r == {"COUNT": "0"}


def test_capabilities(server):
    c = server.raw()
    c.login("alice", "secret-pw")
    untagged, tagged = c.command("C1", "CAPABILITY")
    assert tagged.startswith("C1 OK")
    caps = untagged[0].split()
    for cap in ("ESEARCH", "SORT", "ESORT", "THREAD=ORDEREDSUBJECT", "THREAD=REFERENCES"):
        assert cap in caps
    c.close()


@pytest.mark.parametrize("text,status", [
    ("SORT (BOGUS) UTF-8 ALL", "BAD"),
    ("SORT (REVERSE) UTF-8 ALL", "BAD"),
    ("SORT () UTF-8 ALL", "BAD"),
    ("SORT DATE UTF-8 ALL", "BAD"),
    ("SORT (DATE) ALL", "BAD"),          # no charset: ALL is taken as one, no keys follow
    ("SORT (DATE)", "BAD"),
    ("SORT", "BAD"),
    ("SORT (DATE) UTF-8 BOGUSKEY", "BAD"),
    ("SORT (DATE) KOI8-R ALL", "NO [BADCHARSET"),
    ("SORT RETURN (BOGUS) (DATE) UTF-8 ALL", "BAD"),
    ("SORT RETURN (DATE) UTF-8 ALL", "BAD"),
    ("THREAD BOGUS UTF-8 ALL", "BAD"),
    ("THREAD REFERENCES", "BAD"),
    ("THREAD REFERENCES UTF-8", "BAD"),
    ("THREAD (REFERENCES) UTF-8 ALL", "BAD"),
    ("THREAD REFERENCES ISO-2022-JP ALL", "NO [BADCHARSET"),
    ("UID SORT (SIZE) UTF-8", "BAD"),
    ("UID THREAD", "BAD"),
    ("SEARCH RETURN (BOGUS) ALL", "BAD"),
    ("SEARCH RETURN (MIN)", "BAD"),
    ("SEARCH RETURN MIN ALL", "BAD"),
])
def test_bad_input(box, text, status):
    untagged, tagged = box.command("X1", text)
    assert tagged.startswith(f"X1 {status}"), (text, tagged)
    assert not any(u.startswith(("* SORT", "* THREAD", "* ESEARCH")) for u in untagged)
    # the session is still usable
    _, t = box.command("X2", "NOOP")
    assert t.startswith("X2 OK")


def test_not_selected(server):
    c = server.raw()
    c.login("alice", "secret-pw")
    _, t = c.command("N1", "SORT (DATE) UTF-8 ALL")
    assert t.startswith("N1 BAD"), t
    _, t = c.command("N2", "THREAD REFERENCES UTF-8 ALL")
    assert t.startswith("N2 BAD"), t
    c.close()


def test_literal_charset_and_keys(box):
    # charset as a quoted string and a literal search string
    box.send('L1 SORT (FROM) "UTF-8" SUBJECT {5}\r\n')
    cont = box.readline()
    assert cont.startswith("+")
    box.send("lunch\r\n")
    untagged, tagged = box.until_tagged("L1")
    assert tagged.startswith("L1 OK"), tagged
    assert [u for u in untagged if u.startswith("* SORT")] == ["* SORT 3 5 6"]
