"""QRESYNC (RFC 7162 §3.2): ENABLE QRESYNC (implies CONDSTORE), SELECT/EXAMINE
(QRESYNC (uidvalidity modseq [known-uids [seq-match]])) with VANISHED (EARLIER)
and the changed FETCHes, UID FETCH (CHANGEDSINCE n VANISHED), VANISHED in lieu
of EXPUNGE (also in IDLE), [CLOSED] on reselect, and the BAD cases.
Changes are made by a second session.
"""
import itertools
import re

import pytest
from conftest import append_message, simple_message

from testsB_util import make_server

_n = itertools.count(1)


def tag():
    return f"Q{next(_n)}"


@pytest.fixture(scope="module")
def srv():
    server, cleanup = make_server()
    yield server
    cleanup()


def connect(srv, user="alice", password="secret-pw"):
    c = srv.raw()
    c.login(user, password)
    return c


@pytest.fixture
def c(srv):
    cl = connect(srv)
    yield cl
    cl.close()


@pytest.fixture
def other(srv):
    cl = connect(srv)
    yield cl
    cl.close()


def ok(c, text):
    t = tag()
    untagged, tagged = c.command(t, text)
    assert tagged.startswith(t + " OK"), f"{text}: {tagged}"
    return untagged, tagged


def bad(c, text, status="BAD"):
    t = tag()
    untagged, tagged = c.command(t, text)
    assert tagged.startswith(f"{t} {status}"), f"{text}: {tagged}"
    return untagged, tagged


def new_box(c, n=0):
    name = f"QR{next(_n)}"
    ok(c, f'CREATE "{name}"')
    for i in range(n):
        tagged = append_message(c, name, simple_message(subject=f"Msg {i + 1}"), tag=tag())
        assert " OK" in tagged, tagged
    return name


def code_value(lines, code):
    for line in lines:
        m = re.match(rf"\* OK \[{code} (\d+)\]", line)
        if m:
            return int(m.group(1))
    return None


def fetch_map(lines):
    out = {}
    for line in lines:
        m = re.match(r"\* (\d+) FETCH \((.*)\)$", line)
        if m:
            out[int(m.group(1))] = m.group(2)
    return out


def vanished(lines, earlier):
    prefix = "* VANISHED (EARLIER) " if earlier else "* VANISHED "
    out = []
    for line in lines:
        if line.startswith(prefix) and (earlier or not line.startswith("* VANISHED (EARLIER)")):
            for part in line[len(prefix):].split(","):
                if ":" in part:
                    lo, hi = map(int, part.split(":"))
                    out.extend(range(lo, hi + 1))
                else:
                    out.append(int(part))
    return out


def enable_qresync(c):
    untagged, _ = ok(c, "ENABLE QRESYNC")
    assert "* ENABLED QRESYNC" in untagged


def state(c, box):
    """(uidvalidity, highestmodseq) as a caching client would remember."""
    untagged, _ = ok(c, f'SELECT "{box}" (CONDSTORE)')
    return code_value(untagged, "UIDVALIDITY"), code_value(untagged, "HIGHESTMODSEQ")


def test_enable_qresync_implies_condstore(c):
    box = new_box(c, 1)
    enable_qresync(c)
    untagged, _ = ok(c, f'SELECT "{box}"')
    assert code_value(untagged, "HIGHESTMODSEQ") is not None
    # CONDSTORE is already on: enabling it again lists nothing new
    untagged, _ = ok(c, "ENABLE CONDSTORE")
    assert "* ENABLED" in untagged and "CONDSTORE" not in " ".join(untagged)


def test_qresync_without_enable_is_bad(c):
    box = new_box(c, 1)
    uv, ms = state(c, box)
    _, tagged = bad(c, f'SELECT "{box}" (QRESYNC ({uv} {ms}))')
    # RFC 7162 §3.2.11 / RFC 3501: a BAD SELECT leaves the old mailbox
    ok(c, "FETCH 1 (FLAGS)")
    bad(c, "UID FETCH 1:* (FLAGS) (CHANGEDSINCE 1 VANISHED)")


def test_select_qresync_reports_expunges_and_changes(c, other):
    box = new_box(c, 6)
    enable_qresync(c)
    uv, ms = state(c, box)
    ok(c, "UNSELECT")
    # another session changes the mailbox meanwhile
    ok(other, f'SELECT "{box}"')
    ok(other, "UID STORE 2,5 +FLAGS.SILENT (\\Deleted)")
    ok(other, "EXPUNGE")
    ok(other, "UID STORE 3 +FLAGS ($Done)")
    untagged, tagged = ok(c, f'SELECT "{box}" (QRESYNC ({uv} {ms}))')
    assert "[READ-WRITE]" in tagged
    assert code_value(untagged, "HIGHESTMODSEQ") > ms
    assert vanished(untagged, earlier=True) == [2, 5]
    f = fetch_map(untagged)
    # message UID 3 is now sequence number 2
    assert list(f) == [2]
    assert "UID 3" in f[2] and "$Done" in f[2] and "MODSEQ (" in f[2]
    # the VANISHED (EARLIER) comes before the FETCH and the tagged OK
    vi = [i for i, l in enumerate(untagged) if l.startswith("* VANISHED")][0]
    fi = [i for i, l in enumerate(untagged) if " FETCH " in l][0]
    assert vi < fi
    # no CLOSED here: nothing was selected
    assert not any("[CLOSED]" in l for l in untagged)


def test_select_qresync_known_uids_limit_the_report(c, other):
    box = new_box(c, 6)
    enable_qresync(c)
    uv, ms = state(c, box)
    ok(other, f'SELECT "{box}"')
    ok(other, "UID STORE 1,4 +FLAGS.SILENT (\\Deleted)")
    ok(other, "UID STORE 2,6 +FLAGS.SILENT ($X)")
    ok(other, "UID EXPUNGE 1,4")
    untagged, _ = ok(c, f'EXAMINE "{box}" (QRESYNC ({uv} {ms} 3:6))')
    assert vanished(untagged, earlier=True) == [4]
    f = fetch_map(untagged)
    assert [re.search(r"UID (\d+)", v).group(1) for v in f.values()] == ["6"]
    # with seq-match data (accepted; every expunge is kept, so the answer
    # is the same)
    untagged, _ = ok(c, f'EXAMINE "{box}" (QRESYNC ({uv} {ms} 1:6 (1:3 1:3)))')
    assert vanished(untagged, earlier=True) == [1, 4]


def test_select_qresync_wrong_uidvalidity_reports_nothing(c, other):
    box = new_box(c, 3)
    enable_qresync(c)
    uv, ms = state(c, box)
    ok(other, f'SELECT "{box}"')
    ok(other, "UID STORE 1 +FLAGS.SILENT (\\Deleted)")
    ok(other, "EXPUNGE")
    ok(other, "UID STORE 2 +FLAGS ($Y)")
    untagged, tagged = ok(c, f'SELECT "{box}" (QRESYNC ({uv + 1000} {ms}))')
    assert code_value(untagged, "UIDVALIDITY") == uv
    assert code_value(untagged, "HIGHESTMODSEQ") is not None
    assert vanished(untagged, earlier=True) == []
    assert fetch_map(untagged) == {}


def test_closed_on_reselect(c):
    box = new_box(c, 1)
    untagged, _ = ok(c, f'SELECT "{box}"')
    assert not any("[CLOSED]" in l for l in untagged)
    untagged, _ = ok(c, f'EXAMINE "{box}"')
    closed = [i for i, l in enumerate(untagged) if l.startswith("* OK [CLOSED]")]
    exists = [i for i, l in enumerate(untagged) if l.endswith(" EXISTS")]
    assert closed and closed[0] < exists[0]
    # a failing SELECT also closes the old mailbox, after [CLOSED]
    untagged, _ = bad(c, 'SELECT "NoSuchBox"', status="NO")
    assert any(l.startswith("* OK [CLOSED]") for l in untagged)
    bad(c, "FETCH 1 (FLAGS)")
    # nothing selected now: no CLOSED
    untagged, _ = ok(c, f'SELECT "{box}"')
    assert not any("[CLOSED]" in l for l in untagged)


def test_uid_fetch_changedsince_vanished(c, other):
    box = new_box(c, 5)
    enable_qresync(c)
    uv, ms = state(c, box)
    ok(other, f'SELECT "{box}"')
    ok(other, "UID STORE 1,3 +FLAGS.SILENT (\\Deleted)")
    ok(other, "UID EXPUNGE 1,3")
    ok(other, "UID STORE 4 +FLAGS ($Z)")
    untagged, _ = ok(c, f"UID FETCH 1:* (FLAGS) (CHANGEDSINCE {ms} VANISHED)")
    # the UID command may carry the VANISHED of the live mailbox first
    assert vanished(untagged, earlier=False) == [1, 3]
    assert vanished(untagged, earlier=True) == [1, 3]
    f = fetch_map(untagged)
    assert len(f) == 1
    item = list(f.values())[0]
    assert "UID 4" in item and "$Z" in item and "MODSEQ" in item
    # a UID range that leaves out an expunged UID does not report it
    untagged, _ = ok(c, f"UID FETCH 2:5 (FLAGS) (CHANGEDSINCE {ms} VANISHED)")
    assert vanished(untagged, earlier=True) == [3]


@pytest.mark.parametrize("cmd", [
    "FETCH 1:* (FLAGS) (CHANGEDSINCE 1 VANISHED)",      # not UID FETCH
    "UID FETCH 1:* (FLAGS) (VANISHED)",                 # no CHANGEDSINCE
    "UID FETCH 1:* (FLAGS) (VANISHED CHANGEDSINCE 0)",
    "UID FETCH 1:* (FLAGS) (CHANGEDSINCE 1 VANISHED VANISHED)",
])
def test_vanished_modifier_bad(c, cmd):
    box = new_box(c, 1)
    enable_qresync(c)
    ok(c, f'SELECT "{box}"')
    bad(c, cmd)


@pytest.mark.parametrize("param", [
    "(QRESYNC)",
    "(QRESYNC ())",
    "(QRESYNC (1))",
    "(QRESYNC (0 5))",
    "(QRESYNC (1 0))",
    "(QRESYNC (1 9223372036854775808))",
    "(QRESYNC (1 5 *))",
    "(QRESYNC (1 5 1:x))",
    "(QRESYNC (1 5 1:4 (1:2)))",
    "(QRESYNC (1 5 1:4 (1:2 3:* )))",
    "(QRESYNC (1 5 1:4 (1:2 3:4) extra))",
    "(QRESYNC (1 5) QRESYNC (1 5))",
    "(QRESYNC 1 5)",
])
def test_bad_qresync_parameters(c, param):
    box = new_box(c, 1)
    enable_qresync(c)
    ok(c, f'SELECT "{box}"')
    untagged, _ = bad(c, f'SELECT "{box}" {param}')
    # BAD: the previous mailbox stays selected, no CLOSED was sent
    assert not any("[CLOSED]" in l for l in untagged)
    ok(c, "FETCH 1 (FLAGS)")


def test_vanished_instead_of_expunge(c, other):
    box = new_box(c, 4)
    enable_qresync(c)
    ok(c, f'SELECT "{box}"')
    ok(other, f'SELECT "{box}"')
    ok(other, "UID STORE 2:3 +FLAGS.SILENT (\\Deleted)")
    ok(other, "EXPUNGE")
    untagged, _ = ok(c, "NOOP")
    assert vanished(untagged, earlier=False) == [2, 3]
    assert not any(l.endswith(" EXPUNGE") for l in untagged)
    # the session's own EXPUNGE too
    ok(c, "STORE 1 +FLAGS.SILENT (\\Deleted)")
    untagged, _ = ok(c, "EXPUNGE")
    assert vanished(untagged, earlier=False) == [1]
    assert not any(l.endswith(" EXPUNGE") for l in untagged)


def test_plain_session_still_gets_expunge(c, other):
    box = new_box(c, 2)
    ok(c, f'SELECT "{box}"')
    ok(other, f'SELECT "{box}"')
    ok(other, "STORE 1 +FLAGS.SILENT (\\Deleted)")
    ok(other, "EXPUNGE")
    untagged, _ = ok(c, "NOOP")
    assert "* 1 EXPUNGE" in untagged
    assert vanished(untagged, earlier=False) == []


def test_vanished_during_idle(c, other):
    box = new_box(c, 3)
    enable_qresync(c)
    ok(c, f'SELECT "{box}"')
    ok(other, f'SELECT "{box}"')
    c.send("I1 IDLE\r\n")
    assert c.readline().startswith("+")
    ok(other, "UID STORE 2 +FLAGS.SILENT (\\Deleted)")
    ok(other, "UID EXPUNGE 2")
    # the \Deleted flag change comes first, then the expunge
    line = c.readline()
    assert line.startswith("* 2 FETCH (UID 2 FLAGS (\\Deleted"), line
    line = c.readline()
    assert line == "* VANISHED 2", line
    ok(other, "UID STORE 3 +FLAGS ($Idle)")
    line = c.readline()
    # QRESYNC: unsolicited FETCH has UID and MODSEQ
    assert re.match(r"\* 2 FETCH \(UID 3 FLAGS \([^)]*\$Idle\) MODSEQ \(\d+\)\)$", line), line
    c.send("DONE\r\n")
    _, tagged = c.until_tagged("I1")
    assert tagged.startswith("I1 OK")


def test_no_vanished_during_plain_fetch(c, other):
    """VANISHED has EXPUNGE's restrictions (RFC 7162 §3.2.10)."""
    box = new_box(c, 3)
    enable_qresync(c)
    ok(c, f'SELECT "{box}"')
    ok(other, f'SELECT "{box}"')
    ok(other, "UID STORE 1 +FLAGS.SILENT (\\Deleted)")
    ok(other, "EXPUNGE")
    t = tag()
    untagged, tagged = c.command(t, "FETCH 1:* (UID)")
    # OK, or NO [EXPUNGEISSUED] for the message gone meanwhile
    assert tagged.startswith(t + " OK") or "[EXPUNGEISSUED]" in tagged, tagged
    assert vanished(untagged, earlier=False) == []
    untagged, _ = ok(c, "NOOP")
    assert vanished(untagged, earlier=False) == [1]


def test_implicit_seen_fetch_carries_uid_and_modseq(c):
    box = new_box(c, 1)
    enable_qresync(c)
    ok(c, f'SELECT "{box}"')
    untagged, _ = ok(c, "FETCH 1 (BODY[HEADER])")
    text = " ".join(untagged)
    assert "UID 1" in text and "MODSEQ (" in text and "\\Seen" in text


def test_expunged_history_covers_old_modseq(c, other):
    """Every expunge is kept: a client whose state is very old still gets
    exactly the UIDs it knew that are gone."""
    box = new_box(c, 8)
    enable_qresync(c)
    uv, ms = state(c, box)
    ok(other, f'SELECT "{box}"')
    for uid in (2, 4, 6):
        ok(other, f"UID STORE {uid} +FLAGS.SILENT (\\Deleted)")
        ok(other, f"UID EXPUNGE {uid}")
        ok(other, "STORE 1 +FLAGS ($Busy)")
        ok(other, "STORE 1 -FLAGS ($Busy)")
    ok(c, "UNSELECT")
    untagged, _ = ok(c, f'SELECT "{box}" (QRESYNC ({uv} {ms} 1:8))')
    assert vanished(untagged, earlier=True) == [2, 4, 6]


# ---- RFC 7162 §3.2.9, RFC 6851 §4.4: HIGHESTMODSEQ after removals ----

def status_hms(c, box):
    untagged, _ = ok(c, f'STATUS "{box}" (HIGHESTMODSEQ)')
    return int(re.search(r"HIGHESTMODSEQ (\d+)", untagged[-1]).group(1))


def tagged_hms(tagged):
    m = re.search(r"OK \[HIGHESTMODSEQ (\d+)\]", tagged)
    return int(m.group(1)) if m else None


def test_expunge_and_uid_expunge_report_highestmodseq(c, other):
    box = new_box(c, 4)
    enable_qresync(c)
    ok(c, f'SELECT "{box}"')
    ok(c, "STORE 1,2 +FLAGS.SILENT (\\Deleted)")
    before = status_hms(other, box)
    untagged, tagged = ok(c, "EXPUNGE")
    assert vanished(untagged, False) == [1, 2]
    hms = tagged_hms(tagged)
    assert hms is not None and hms > before, tagged
    assert hms == status_hms(other, box)
    ok(c, "UID STORE 3 +FLAGS.SILENT (\\Deleted)")
    untagged, tagged = ok(c, "UID EXPUNGE 3:4")
    assert vanished(untagged, False) == [3]
    assert tagged_hms(tagged) == status_hms(other, box) > hms
    # nothing removed: nothing to report
    _, tagged = ok(c, "EXPUNGE")
    assert tagged_hms(tagged) is None, tagged


def test_move_sends_vanished_and_highestmodseq(c, other):
    src = new_box(c, 3)
    dst = new_box(c, 1)
    dst_before = status_hms(other, dst)
    enable_qresync(c)
    ok(c, f'SELECT "{src}"')
    untagged, tagged = ok(c, "MOVE 1:2 " + f'"{dst}"')
    assert vanished(untagged, False) == [1, 2], untagged
    assert not any(l.endswith(" EXPUNGE") for l in untagged)
    assert any(l.startswith("* OK [COPYUID ") for l in untagged)
    assert tagged_hms(tagged) == status_hms(other, src), tagged
    # RFC 6851 §4.4: the moved messages get mod-sequences above the
    # target's old HIGHESTMODSEQ
    ok(other, f'EXAMINE "{dst}"')
    untagged, _ = ok(other, "FETCH 2:3 (MODSEQ)")
    mods = [int(x) for x in re.findall(r"MODSEQ \((\d+)\)", " ".join(untagged))]
    assert len(mods) == 2 and min(mods) > dst_before, (mods, dst_before)


def test_close_and_expunge_raise_highestmodseq_without_qresync(c, other):
    """The per-mailbox mod-sequence grows with every removal, so a cache
    keyed on HIGHESTMODSEQ notices (RFC 7162 §3.2.9), also for CLOSE."""
    box = new_box(c, 2)
    ok(c, f'SELECT "{box}"')
    ok(c, "STORE 1 +FLAGS.SILENT (\\Deleted)")
    before = status_hms(other, box)
    ok(c, "CLOSE")
    after_close = status_hms(other, box)
    assert after_close > before
    untagged, _ = ok(other, f'STATUS "{box}" (MESSAGES)')
    assert "MESSAGES 1" in untagged[-1]
