"""Message commands: APPEND (flags, date-time, APPENDUID, TRYCREATE), STORE
(FLAGS, +FLAGS, -FLAGS, .SILENT, keywords, \\Recent), COPY / MOVE with
COPYUID, EXPUNGE / UID EXPUNGE, CLOSE, UNSELECT, CHECK, the UID variants,
and \\Recent (RFC 3501 §2.3.2, §6.3.11, §6.4; RFC 4315; RFC 6851; RFC 3691).
"""
import datetime
import itertools
import re

import pytest
from conftest import simple_message

from testsB_util import (append, append_ok, appenduid, apply_expunges, command_bytes,
                         create, exists_of, expunge_count, fetch_one, fetches, flags_of,
                         login, make_server, recent_of, s, search_result, select)

_n = itertools.count(1)


def tag():
    return f"M{next(_n)}"


@pytest.fixture(scope="module")
def srv():
    server, cleanup = make_server()
    yield server
    cleanup()


@pytest.fixture
def c(srv):
    cl = login(srv)
    yield cl
    cl.close()


@pytest.fixture
def box(c):
    """A fresh, empty mailbox (not selected)."""
    name = f"Box{next(_n)}"
    create(c, name)
    return name


def ok(c, text):
    t = tag()
    untagged, tagged = command_bytes(c, t, text)
    assert tagged.startswith(t + " OK"), f"{text}: {tagged}"
    return untagged, tagged


def fill(c, box, n, flags=None):
    """Append n messages; returns their UIDs."""
    return [appenduid(append_ok(c, box, simple_message(subject=f"Message {i + 1}"), flags))[1]
            for i in range(n)]


def uids_now(c):
    untagged, _ = ok(c, "FETCH 1:* UID")
    got = sorted((seq, int(it["UID"])) for seq, it in fetches(untagged))
    assert [seq for seq, _ in got] == list(range(1, len(got) + 1)), got
    return [u for _, u in got]


def uidvalidity_of(select_lines):
    for line in select_lines:
        m = re.search(r"\[UIDVALIDITY (\d+)\]", line)
        if m:
            return int(m.group(1))
    raise AssertionError(f"no UIDVALIDITY in {select_lines}")


def status(c, box, items="MESSAGES"):
    untagged, _ = ok(c, f'STATUS "{box}" ({items})')
    line = [r for r in untagged if r.startswith(b"* STATUS")]
    assert len(line) == 1, untagged
    vals = re.findall(rb"([A-Z]+) (\d+)", line[0].split(b"(", 1)[1])
    return {k.decode(): int(v) for k, v in vals}


def flags_wo_recent(items):
    return flags_of(items) - {"\\Recent"}


# ------------------------------------------------------------ APPEND

def test_append_flags_and_date(c, box):
    msg = simple_message(subject="Dated")
    tagged = append_ok(c, box, msg, flags="\\Flagged \\Seen $Label1",
                       date="05-Mar-2026 08:09:10 -0500")
    validity, uid = appenduid(tagged)
    lines, _ = select(c, box)
    assert uidvalidity_of(lines) == validity
    it = fetch_one(c, tag(), 1, "(FLAGS INTERNALDATE UID RFC822.SIZE)")
    assert flags_wo_recent(it) == {"\\Flagged", "\\Seen", "$Label1"}
    assert int(it["UID"]) == uid
    assert int(it["RFC822.SIZE"]) == len(msg.encode())
    m = re.fullmatch(r" ?(\d{1,2})-(\w{3})-(\d{4}) (\d\d:\d\d:\d\d) ([+-]\d{4})", s(it["INTERNALDATE"]))
    assert m, it["INTERNALDATE"]
    got = datetime.datetime.strptime(" ".join(m.groups()), "%d %b %Y %H:%M:%S %z")
    assert got == datetime.datetime(2026, 3, 5, 13, 9, 10, tzinfo=datetime.timezone.utc)


def test_append_without_date_uses_now(c, box):
    append_ok(c, box, simple_message())
    select(c, box)
    it = fetch_one(c, tag(), 1, "INTERNALDATE")
    m = re.fullmatch(r" ?(\d{1,2})-(\w{3})-(\d{4}) (\d\d:\d\d:\d\d) ([+-]\d{4})", s(it["INTERNALDATE"]))
    got = datetime.datetime.strptime(" ".join(m.groups()), "%d %b %Y %H:%M:%S %z")
    now = datetime.datetime.now(datetime.timezone.utc)
    assert abs((now - got).total_seconds()) < 120


def test_appenduid_ascending(c, box):
    u = fill(c, box, 3)
    assert u[0] < u[1] < u[2]
    st = status(c, box, "MESSAGES UIDNEXT")
    assert st["MESSAGES"] == 3 and st["UIDNEXT"] > u[2]


def test_append_nonexistent_trycreate(c):
    tagged = append(c, "NoSuchBox", simple_message(), tag="T1")
    assert tagged.startswith("T1 NO [TRYCREATE]"), tagged


# ------------------------------------------------------------ STORE

def test_store_flags_plus_minus(c, box):
    fill(c, box, 2)
    select(c, box)
    untagged, _ = ok(c, "STORE 1 FLAGS (\\Seen \\Flagged)")
    (seq, it), = fetches(untagged)
    assert seq == 1 and flags_wo_recent(it) == {"\\Seen", "\\Flagged"}
    untagged, _ = ok(c, "STORE 1 +FLAGS (\\Answered)")
    (seq, it), = fetches(untagged)
    assert flags_wo_recent(it) == {"\\Seen", "\\Flagged", "\\Answered"}
    untagged, _ = ok(c, "STORE 1 -FLAGS (\\Flagged \\Seen)")
    (seq, it), = fetches(untagged)
    assert flags_wo_recent(it) == {"\\Answered"}
    untagged, _ = ok(c, "STORE 1:2 FLAGS ()")
    got = {seq: flags_wo_recent(it) for seq, it in fetches(untagged)}
    assert got == {1: set(), 2: set()}
    untagged, _ = ok(c, "STORE 1:* +FLAGS \\Draft")      # a single flag without parentheses
    got = {seq: flags_wo_recent(it) for seq, it in fetches(untagged)}
    assert got == {1: {"\\Draft"}, 2: {"\\Draft"}}


def test_store_silent(c, box):
    fill(c, box, 2)
    select(c, box)
    for cmd, expect in [("STORE 1:2 FLAGS.SILENT (\\Seen)", {"\\Seen"}),
                        ("STORE 1 +FLAGS.SILENT (\\Flagged)", {"\\Seen", "\\Flagged"}),
                        ("STORE 1 -FLAGS.SILENT (\\Seen)", {"\\Flagged"})]:
        untagged, _ = ok(c, cmd)
        assert fetches(untagged) == [], f"{cmd}: {untagged}"
    it = fetch_one(c, tag(), 1, "FLAGS")
    assert flags_wo_recent(it) == {"\\Flagged"}
    it = fetch_one(c, tag(), 2, "FLAGS")
    assert flags_wo_recent(it) == {"\\Seen"}


def test_keywords_in_flags_and_permanentflags(c, box):
    fill(c, box, 1)
    lines, _ = select(c, box)
    perm = [l for l in lines if "PERMANENTFLAGS" in l]
    assert perm and "\\*" in perm[0], lines
    untagged, _ = ok(c, "STORE 1 +FLAGS (ProjectX $Important)")
    (_, it), = fetches(untagged)
    assert flags_wo_recent(it) == {"ProjectX", "$Important"}
    ok(c, "UNSELECT")
    lines, _ = select(c, box)
    flags_line = [l for l in lines if l.startswith("* FLAGS")]
    assert len(flags_line) == 1, lines
    for kw in ("ProjectX", "$Important", "\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft"):
        assert kw in flags_line[0].split("(", 1)[1], flags_line
    perm = [l for l in lines if "PERMANENTFLAGS" in l]
    assert "\\*" in perm[0] and "ProjectX" in perm[0], perm
    # keywords are matched case-insensitively... and searchable
    untagged, _ = ok(c, "SEARCH KEYWORD ProjectX")
    assert search_result(untagged) == [1]


def test_store_recent_is_bad(c, box):
    fill(c, box, 1)
    select(c, box)
    t = tag()
    untagged, tagged = command_bytes(c, t, "STORE 1 +FLAGS (\\Recent)")
    assert tagged.startswith(t + " BAD"), tagged
    assert fetches(untagged) == []


def test_store_on_examined_mailbox_is_no(c, box):
    fill(c, box, 1)
    select(c, box, examine=True)
    t = tag()
    untagged, tagged = command_bytes(c, t, "STORE 1 +FLAGS (\\Flagged)")
    assert tagged.startswith(t + " NO"), tagged
    assert fetches(untagged) == []
    it = fetch_one(c, tag(), 1, "FLAGS")
    assert "\\Flagged" not in flags_of(it)


def test_store_bad_syntax(c, box):
    fill(c, box, 1)
    select(c, box)
    for i, bad in enumerate(["STORE 1 FLAGZ (\\Seen)", "STORE 1 +FLAGS (\\Seen", "STORE 1",
                             "STORE 0 FLAGS (\\Seen)", "STORE 1 FLAGS (\\NoSuchSystemFlag)"]):
        t = f"B{i}"
        _, tagged = command_bytes(c, t, bad)
        assert tagged.startswith(t + " BAD") or (i == 4 and tagged.startswith(t + " NO")), \
            f"{bad}: {tagged}"


# ------------------------------------------------------------ COPY / MOVE

def copyuid(text):
    m = re.search(r"\[COPYUID (\d+) ([\d:,]+) ([\d:,]+)\]", text)
    assert m, f"no COPYUID in {text!r}"
    return int(m.group(1)), expand(m.group(2)), expand(m.group(3))


def expand(seqset):
    out = []
    for part in seqset.split(","):
        if ":" in part:
            a, b = map(int, part.split(":"))
            lo, hi = min(a, b), max(a, b)
            out.extend(range(lo, hi + 1))
        else:
            out.append(int(part))
    return out


def test_copy_with_copyuid(c, box):
    src = fill(c, box, 3, flags="\\Flagged")
    dest = f"Dest{next(_n)}"
    create(c, dest)
    select(c, box)
    ok(c, "STORE 2 +FLAGS.SILENT (\\Answered kw1)")
    untagged, tagged = ok(c, f'COPY 2:3 "{dest}"')
    assert expunge_count(untagged) == 0
    validity, from_uids, to_uids = copyuid(tagged)
    assert from_uids == src[1:3]
    assert len(to_uids) == 2
    # the source is unchanged
    assert uids_now(c) == src
    # the destination: the same messages, flags and internal dates
    before = {u: fetch_one(c, tag(), u, "(FLAGS INTERNALDATE BODY.PEEK[])", uid=True) for u in src[1:]}
    lines, _ = select(c, dest)
    assert uidvalidity_of(lines) == validity
    assert exists_of(lines) == 2
    for f, t in zip(from_uids, to_uids):
        it = fetch_one(c, tag(), t, "(FLAGS INTERNALDATE BODY.PEEK[])", uid=True)
        assert it["BODY[]"] == before[f]["BODY[]"]
        assert flags_wo_recent(it) == flags_wo_recent(before[f])
        assert s(it["INTERNALDATE"]) == s(before[f]["INTERNALDATE"])
    assert flags_wo_recent(fetch_one(c, tag(), to_uids[0], "FLAGS", uid=True)) == \
        {"\\Flagged", "\\Answered", "kw1"}


def test_copy_to_nonexistent_trycreate(c, box):
    fill(c, box, 1)
    select(c, box)
    t = tag()
    _, tagged = command_bytes(c, t, 'COPY 1 "NoSuchBox"')
    assert tagged.startswith(t + " NO [TRYCREATE]"), tagged
    t = tag()
    _, tagged = command_bytes(c, t, 'MOVE 1 "NoSuchBox"')
    assert tagged.startswith(t + " NO [TRYCREATE]"), tagged
    assert uids_now(c) != []


def test_move_copyuid_then_expunge_then_ok(c, box):
    src = fill(c, box, 4)
    dest = f"Dest{next(_n)}"
    create(c, dest)
    select(c, box)
    t = tag()
    untagged, tagged = command_bytes(c, t, f'MOVE 2,4 "{dest}"')
    assert tagged.startswith(t + " OK"), tagged
    # RFC 6851 §4.3: COPYUID in an untagged OK, sent before the EXPUNGEs
    assert untagged and untagged[0].startswith(b"* OK [COPYUID "), untagged
    validity, from_uids, to_uids = copyuid(untagged[0].decode())
    assert sorted(from_uids) == [src[1], src[3]]
    rest = untagged[1:]
    assert all(re.match(rb"\* \d+ EXPUNGE$", r) for r in rest), rest
    assert expunge_count(rest) == 2
    assert apply_expunges(src, rest) == [src[0], src[2]]
    assert uids_now(c) == [src[0], src[2]]
    lines, _ = select(c, dest)
    assert uidvalidity_of(lines) == validity
    assert exists_of(lines) == 2
    assert uids_now(c) == sorted(to_uids)


# ------------------------------------------------------------ EXPUNGE

def test_expunge_sequence_numbers(c, box):
    src = fill(c, box, 6)
    select(c, box)
    ok(c, "STORE 2:3,5 +FLAGS.SILENT (\\Deleted)")
    untagged, _ = ok(c, "EXPUNGE")
    assert expunge_count(untagged) == 3, untagged
    # applying the responses in order must give the real remaining mailbox
    after = apply_expunges(src, untagged)
    assert after == [src[0], src[3], src[5]]
    assert uids_now(c) == after
    assert status(c, box)["MESSAGES"] == 3
    # nothing \Deleted: EXPUNGE says nothing
    untagged, _ = ok(c, "EXPUNGE")
    assert expunge_count(untagged) == 0


def test_expunge_all(c, box):
    src = fill(c, box, 3, flags="\\Deleted")
    select(c, box)
    untagged, _ = ok(c, "EXPUNGE")
    assert apply_expunges(src, untagged) == []
    _, tagged = command_bytes(c, "E9", "FETCH 1 FLAGS")
    assert tagged.startswith("E9 BAD") or tagged.startswith("E9 NO"), tagged


def test_uid_expunge(c, box):
    src = fill(c, box, 5)
    select(c, box)
    ok(c, "STORE 2:3 +FLAGS.SILENT (\\Deleted)")
    # UID EXPUNGE of 3:4: only 3 is \Deleted; 2 is \Deleted but not named
    untagged, _ = ok(c, f"UID EXPUNGE {src[2]}:{src[3]}")
    assert expunge_count(untagged) == 1
    assert apply_expunges(src, untagged) == [src[0], src[1], src[3], src[4]]
    assert uids_now(c) == [src[0], src[1], src[3], src[4]]
    it = fetch_one(c, tag(), src[1], "FLAGS", uid=True)
    assert "\\Deleted" in flags_of(it)


def test_close_expunges_silently(c, box):
    fill(c, box, 3)
    select(c, box)
    ok(c, "STORE 1,3 +FLAGS.SILENT (\\Deleted)")
    untagged, _ = ok(c, "CLOSE")
    assert expunge_count(untagged) == 0, untagged
    # back in the authenticated state
    t = tag()
    _, tagged = command_bytes(c, t, "FETCH 1 FLAGS")
    assert tagged.startswith(t + " BAD"), tagged
    assert status(c, box)["MESSAGES"] == 1


def test_close_on_examined_does_not_expunge(c, box):
    fill(c, box, 2, flags="\\Deleted")
    select(c, box, examine=True)
    untagged, _ = ok(c, "CLOSE")
    assert expunge_count(untagged) == 0
    assert status(c, box)["MESSAGES"] == 2


def test_unselect_does_not_expunge(c, box):
    fill(c, box, 3)
    select(c, box)
    ok(c, "STORE 1:2 +FLAGS.SILENT (\\Deleted)")
    untagged, _ = ok(c, "UNSELECT")
    assert expunge_count(untagged) == 0
    t = tag()
    _, tagged = command_bytes(c, t, "FETCH 1 FLAGS")
    assert tagged.startswith(t + " BAD"), tagged
    assert status(c, box)["MESSAGES"] == 3


def test_check(c, box):
    fill(c, box, 1)
    select(c, box)
    ok(c, "CHECK")
    t = tag()
    ok(c, "UNSELECT")
    _, tagged = command_bytes(c, t, "CHECK")
    assert tagged.startswith(t + " BAD"), tagged   # only in the selected state


# ------------------------------------------------------------ UID commands

def test_uid_fetch_store_copy_move_search(c, box):
    src = fill(c, box, 4)
    dest = f"Dest{next(_n)}"
    create(c, dest)
    select(c, box)
    # UID FETCH
    untagged, _ = ok(c, f"UID FETCH {src[1]}:{src[2]} FLAGS")
    got = {int(it["UID"]): seq for seq, it in fetches(untagged)}
    assert got == {src[1]: 2, src[2]: 3}
    # UID STORE: the FETCH responses carry UID (§6.4.8)
    untagged, _ = ok(c, f"UID STORE {src[3]} +FLAGS (\\Flagged)")
    (seq, it), = fetches(untagged)
    assert seq == 4 and int(it["UID"]) == src[3]
    assert "\\Flagged" in flags_of(it)
    # UID SEARCH
    untagged, _ = ok(c, "UID SEARCH FLAGGED")
    assert search_result(untagged) == [src[3]]
    # UIDs that do not exist are ignored (§6.4.8)
    untagged, _ = ok(c, f"UID FETCH {src[3] + 100}:{src[3] + 200} FLAGS")
    assert fetches(untagged) == []
    # UID COPY
    untagged, tagged = ok(c, f'UID COPY {src[0]},{src[3]} "{dest}"')
    _, from_uids, to_uids = copyuid(tagged)
    assert sorted(from_uids) == [src[0], src[3]] and len(to_uids) == 2
    # UID MOVE
    untagged, tagged = ok(c, f'UID MOVE {src[1]} "{dest}"')
    assert expunge_count(untagged) == 1
    assert apply_expunges(src, untagged) == [src[0], src[2], src[3]]
    assert status(c, dest)["MESSAGES"] == 3


def test_uid_copy_nothing_matches(c, box):
    src = fill(c, box, 1)
    dest = f"Dest{next(_n)}"
    create(c, dest)
    select(c, box)
    t = tag()
    _, tagged = command_bytes(c, t, f'UID COPY {src[0] + 50} "{dest}"')
    assert tagged.startswith(t + " OK") or tagged.startswith(t + " NO"), tagged
    assert status(c, dest)["MESSAGES"] == 0


# ------------------------------------------------------------ \Recent

def test_recent_only_in_first_session(srv, c, box):
    fill(c, box, 2)
    b = login(srv)
    d = login(srv)
    try:
        lines, _ = select(b, box)
        assert recent_of(lines) == 2, lines
        for seq in (1, 2):
            assert "\\Recent" in flags_of(fetch_one(b, tag(), seq, "FLAGS"))
        untagged, _ = ok(b, "SEARCH RECENT")
        assert search_result(untagged) == [1, 2]
        # the second session does not see them as \Recent (§2.3.2)
        lines, _ = select(d, box)
        assert recent_of(lines) == 0, lines
        assert "\\Recent" not in flags_of(fetch_one(d, tag(), 1, "FLAGS"))
        # a new message while both have it selected: \Recent for one only
        append_ok(c, box, simple_message(subject="Third"))
        ub, _ = ok(b, "NOOP")
        ud, _ = ok(d, "NOOP")
        assert exists_of(ub) == 3 and exists_of(ud) == 3
        r3 = [("\\Recent" in flags_of(fetch_one(x, tag(), 3, "FLAGS"))) for x in (b, d)]
        assert sorted(r3) == [False, True], r3
        # a later session sees none of them as \Recent
        lines, _ = select(c, box)
        assert recent_of(lines) == 0
    finally:
        b.close()
        d.close()


def test_examine_does_not_clear_recent(srv, c, box):
    fill(c, box, 2)
    b = login(srv)
    d = login(srv)
    try:
        select(b, box, examine=True)
        ok(b, "FETCH 1:* (FLAGS BODY[])")
        lines, _ = select(d, box)
        assert recent_of(lines) == 2, lines
    finally:
        b.close()
        d.close()


def test_recent_after_session_ends(srv, c, box):
    fill(c, box, 1)
    b = login(srv)
    try:
        lines, _ = select(b, box)
        assert recent_of(lines) == 1
    finally:
        b.close()
    lines, _ = select(c, box)
    assert recent_of(lines) == 0
