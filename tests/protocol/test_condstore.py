"""CONDSTORE (RFC 7162 §3.1): MODSEQ on every message, HIGHESTMODSEQ in
SELECT/EXAMINE and STATUS, FETCH (CHANGEDSINCE), STORE (UNCHANGEDSINCE) with
[MODIFIED], SEARCH MODSEQ with its (MODSEQ n) result, the enabling rules,
and MODSEQ in unsolicited FETCH once enabled.  Changes are made by a second
session where that matters.
"""
import itertools
import re

import pytest
from conftest import append_message, simple_message

from testsB_util import make_server

_n = itertools.count(1)


def tag():
    return f"C{next(_n)}"


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
    name = f"CS{next(_n)}"
    ok(c, f'CREATE "{name}"')
    for i in range(n):
        tagged = append_message(c, name, simple_message(subject=f"Msg {i + 1}"), tag=tag())
        assert " OK" in tagged, tagged
    return name


def highestmodseq(lines):
    for line in lines:
        m = re.match(r"\* OK \[HIGHESTMODSEQ (\d+)\]", line)
        if m:
            return int(m.group(1))
    return None


def fetch_map(lines):
    """{seq: line} for the untagged FETCH responses."""
    out = {}
    for line in lines:
        m = re.match(r"\* (\d+) FETCH \((.*)\)$", line)
        if m:
            out[int(m.group(1))] = m.group(2)
    return out


def modseq_of(item):
    m = re.search(r"MODSEQ \((\d+)\)", item)
    return int(m.group(1)) if m else None


def modseqs(c, box=None):
    untagged, _ = ok(c, "FETCH 1:* (MODSEQ)")
    return {seq: modseq_of(item) for seq, item in fetch_map(untagged).items()}


def test_capability_advertised(c):
    untagged, _ = ok(c, "CAPABILITY")
    caps = untagged[0].split()
    assert "CONDSTORE" in caps and "QRESYNC" in caps


def test_select_condstore_gives_highestmodseq_and_never_nomodseq(c):
    box = new_box(c, 3)
    untagged, tagged = ok(c, f'SELECT "{box}" (CONDSTORE)')
    hms = highestmodseq(untagged)
    assert hms is not None and hms >= 1
    assert not any("NOMODSEQ" in l for l in untagged)
    assert "[READ-WRITE]" in tagged
    # HIGHESTMODSEQ is the highest message modseq
    assert max(modseqs(c).values()) == hms
    untagged, tagged = ok(c, f'EXAMINE "{box}" (CONDSTORE)')
    assert highestmodseq(untagged) == hms and "[READ-ONLY]" in tagged


def test_plain_select_has_no_highestmodseq_until_enabled(c):
    box = new_box(c, 1)
    untagged, _ = ok(c, f'SELECT "{box}"')
    assert highestmodseq(untagged) is None
    # ENABLE CONDSTORE with a mailbox selected: HIGHESTMODSEQ at once
    untagged, _ = ok(c, "ENABLE CONDSTORE")
    assert "* ENABLED CONDSTORE" in untagged
    assert highestmodseq(untagged) is not None
    # and from then on on every SELECT/EXAMINE
    untagged, _ = ok(c, f'EXAMINE "{box}"')
    assert highestmodseq(untagged) is not None


def test_fetch_modseq_enables_condstore(c, other):
    box = new_box(c, 2)
    untagged, _ = ok(c, f'SELECT "{box}"')
    assert highestmodseq(untagged) is None
    untagged, _ = ok(c, "FETCH 1 (MODSEQ)")
    assert highestmodseq(untagged) is not None
    assert modseq_of(fetch_map(untagged)[1]) >= 1
    # unsolicited FETCH (another session's STORE) now carries MODSEQ
    ok(other, f'SELECT "{box}"')
    ok(other, "STORE 2 +FLAGS (\\Flagged)")
    untagged, _ = ok(c, "NOOP")
    f = fetch_map(untagged)
    assert "\\Flagged" in f[2] and modseq_of(f[2]) is not None


def test_unsolicited_fetch_without_condstore_has_no_modseq(c, other):
    box = new_box(c, 1)
    ok(c, f'SELECT "{box}"')
    ok(other, f'SELECT "{box}"')
    ok(other, "STORE 1 +FLAGS (\\Seen)")
    untagged, _ = ok(c, "NOOP")
    f = fetch_map(untagged)
    assert "\\Seen" in f[1] and "MODSEQ" not in f[1]


def test_status_highestmodseq(c, other):
    box = new_box(c, 2)
    untagged, _ = ok(c, f'STATUS "{box}" (MESSAGES HIGHESTMODSEQ)')
    m = re.search(r"HIGHESTMODSEQ (\d+)", untagged[-1])
    before = int(m.group(1))
    ok(other, f'SELECT "{box}"')
    ok(other, "STORE 1 +FLAGS (\\Answered)")
    untagged, _ = ok(c, f'STATUS "{box}" (HIGHESTMODSEQ)')
    after = int(re.search(r"HIGHESTMODSEQ (\d+)", untagged[-1]).group(1))
    assert after > before


def test_store_raises_modseq_and_reports_it(c):
    box = new_box(c, 2)
    untagged, _ = ok(c, f'SELECT "{box}" (CONDSTORE)')
    hms = highestmodseq(untagged)
    untagged, _ = ok(c, "STORE 1 +FLAGS (\\Seen)")
    item = fetch_map(untagged)[1]
    assert "\\Seen" in item and modseq_of(item) > hms
    untagged, _ = ok(c, "NOOP")
    ms = modseqs(c)
    assert ms[1] > ms[2]


def test_fetch_changedsince_other_session(c, other):
    box = new_box(c, 4)
    untagged, _ = ok(c, f'SELECT "{box}" (CONDSTORE)')
    base = highestmodseq(untagged)
    ok(other, f'SELECT "{box}"')
    ok(other, "STORE 2,4 +FLAGS (\\Flagged)")
    ok(c, "NOOP")
    untagged, _ = ok(c, f"FETCH 1:* (FLAGS) (CHANGEDSINCE {base})")
    f = fetch_map(untagged)
    assert sorted(f) == [2, 4]
    # CHANGEDSINCE implies MODSEQ in the answer
    assert all(modseq_of(v) > base for v in f.values())
    # UID FETCH form
    untagged, _ = ok(c, f"UID FETCH 1:* (FLAGS) (CHANGEDSINCE {base})")
    assert sorted(fetch_map(untagged)) == [2, 4]
    # nothing changed since the newest modseq
    top = max(modseqs(c).values())
    untagged, _ = ok(c, f"FETCH 1:* (FLAGS) (CHANGEDSINCE {top})")
    assert fetch_map(untagged) == {}


def test_changedsince_enables_condstore(c):
    box = new_box(c, 1)
    untagged, _ = ok(c, f'SELECT "{box}"')
    assert highestmodseq(untagged) is None
    untagged, _ = ok(c, "FETCH 1:* (FLAGS) (CHANGEDSINCE 1)")
    assert highestmodseq(untagged) is not None


def test_store_unchangedsince_passes(c):
    box = new_box(c, 3)
    untagged, _ = ok(c, f'SELECT "{box}" (CONDSTORE)')
    hms = highestmodseq(untagged)
    untagged, tagged = ok(c, f"STORE 1:3 (UNCHANGEDSINCE {hms}) +FLAGS (\\Deleted)")
    assert "MODIFIED" not in tagged
    f = fetch_map(untagged)
    assert sorted(f) == [1, 2, 3]
    assert all("\\Deleted" in v and modseq_of(v) > hms for v in f.values())


def test_store_unchangedsince_modified_by_other_session(c, other):
    box = new_box(c, 3)
    untagged, _ = ok(c, f'SELECT "{box}" (CONDSTORE)')
    hms = highestmodseq(untagged)
    ok(other, f'SELECT "{box}"')
    ok(other, "STORE 2 +FLAGS ($Other)")
    untagged, tagged = ok(c, f"STORE 1:3 (UNCHANGEDSINCE {hms}) +FLAGS.SILENT (\\Seen)")
    assert "[MODIFIED 2]" in tagged, tagged
    f = fetch_map(untagged)
    # passed: MODSEQ only (silent); failed: shown as it is now
    assert "FLAGS" not in f[1] and modseq_of(f[1]) > hms
    assert "$Other" in f[2] and "\\Seen" not in f[2]
    untagged, _ = ok(c, "FETCH 1:3 (FLAGS)")
    f = fetch_map(untagged)
    assert "\\Seen" in f[1] and "\\Seen" in f[3] and "\\Seen" not in f[2]


def test_uid_store_unchangedsince_reports_uids(c, other):
    box = new_box(c, 4)
    untagged, _ = ok(c, f'SELECT "{box}" (CONDSTORE)')
    hms = highestmodseq(untagged)
    # expunge message 1 so sequence numbers and UIDs differ
    ok(c, "STORE 1 +FLAGS.SILENT (\\Deleted)")
    ok(c, "EXPUNGE")
    untagged, _ = ok(c, "FETCH 1:* (MODSEQ)")
    hms = max(modseq_of(v) for v in fetch_map(untagged).values())
    ok(other, f'SELECT "{box}"')
    ok(other, "UID STORE 3 +FLAGS (\\Answered)")
    ok(c, "NOOP")
    _, tagged = ok(c, f"UID STORE 2:4 (UNCHANGEDSINCE {hms}) +FLAGS (\\Flagged)")
    assert "[MODIFIED 3]" in tagged, tagged
    _, tagged = ok(c, "STORE 1:3 (UNCHANGEDSINCE 0) -FLAGS (\\Flagged)")
    # RFC 7162 §3.1.3: UNCHANGEDSINCE 0 always fails; sequence numbers here
    assert "[MODIFIED 1:3]" in tagged, tagged


def test_unchangedsince_enables_condstore(c):
    box = new_box(c, 1)
    untagged, _ = ok(c, f'SELECT "{box}"')
    assert highestmodseq(untagged) is None
    untagged, _ = ok(c, "STORE 1 (UNCHANGEDSINCE 9223372036854775807) +FLAGS (\\Seen)")
    assert highestmodseq(untagged) is not None
    assert modseq_of(fetch_map(untagged)[1]) is not None


def test_search_modseq(c, other):
    box = new_box(c, 4)
    untagged, _ = ok(c, f'SELECT "{box}"')
    untagged, _ = ok(c, "FETCH 1:* (MODSEQ)")
    base = max(modseq_of(v) for v in fetch_map(untagged).values())
    ok(other, f'SELECT "{box}"')
    ok(other, "STORE 3 +FLAGS (\\Flagged)")
    ok(c, "NOOP")
    untagged, _ = ok(c, f"SEARCH MODSEQ {base + 1}")
    line = [l for l in untagged if l.startswith("* SEARCH")][0]
    m = re.match(r"\* SEARCH 3 \(MODSEQ (\d+)\)$", line)
    assert m, line
    top = int(m.group(1))
    assert top > base
    # the entry-name / entry-type form
    untagged, _ = ok(c, f'UID SEARCH MODSEQ "/flags/\\\\Flagged" all {base + 1}')
    line = [l for l in untagged if l.startswith("* SEARCH")][0]
    assert re.match(rf"\* SEARCH 3 \(MODSEQ {top}\)$", line), line
    # nothing found: no MODSEQ part
    untagged, _ = ok(c, f"SEARCH MODSEQ {top + 1}")
    assert [l for l in untagged if l.startswith("* SEARCH")] == ["* SEARCH"]
    # ESEARCH carries "MODSEQ n"
    untagged, _ = ok(c, f"SEARCH RETURN (ALL COUNT) MODSEQ {base + 1}")
    line = [l for l in untagged if l.startswith("* ESEARCH")][0]
    assert line.endswith(f"ALL 3 COUNT 1 MODSEQ {top}"), line
    # MODSEQ 0 matches all (mod-sequence-valzer)
    untagged, _ = ok(c, "SEARCH MODSEQ 0")
    line = [l for l in untagged if l.startswith("* SEARCH")][0]
    assert line.startswith("* SEARCH 1 2 3 4 (MODSEQ")


def test_search_modseq_enables_condstore(c):
    box = new_box(c, 1)
    untagged, _ = ok(c, f'SELECT "{box}"')
    untagged, _ = ok(c, "SEARCH MODSEQ 1")
    assert highestmodseq(untagged) is not None


@pytest.mark.parametrize("cmd", [
    "FETCH 1 (FLAGS) (CHANGEDSINCE 0)",
    "FETCH 1 (FLAGS) (CHANGEDSINCE 9223372036854775808)",
    "FETCH 1 (FLAGS) (CHANGEDSINCE 99999999999999999999999)",
    "FETCH 1 (FLAGS) (CHANGEDSINCE -1)",
    "FETCH 1 (FLAGS) (CHANGEDSINCE)",
    "FETCH 1 (FLAGS) (CHANGEDSINCE abc)",
    "FETCH 1 (FLAGS) (BOGUS 1)",
    "FETCH 1 (FLAGS) ()",
    "FETCH 1 (FLAGS) (CHANGEDSINCE 5 CHANGEDSINCE 6)",
    "FETCH 1 (FLAGS) (CHANGEDSINCE 5 VANISHED)",
    "STORE 1 (UNCHANGEDSINCE -1) +FLAGS (\\Seen)",
    "STORE 1 (UNCHANGEDSINCE 9223372036854775808) +FLAGS (\\Seen)",
    "STORE 1 (UNCHANGEDSINCE) +FLAGS (\\Seen)",
    "STORE 1 (UNCHANGEDSINCE x) +FLAGS (\\Seen)",
    "STORE 1 (BOGUS 5) +FLAGS (\\Seen)",
    "STORE 1 (UNCHANGEDSINCE 5 UNCHANGEDSINCE 6) +FLAGS (\\Seen)",
    "SEARCH MODSEQ",
    "SEARCH MODSEQ -1",
    "SEARCH MODSEQ 9223372036854775808",
    'SEARCH MODSEQ "/flags/\\\\Seen" bogus 5',
    'SEARCH MODSEQ "/other" all 5',
    "STATUS INBOX (HIGHESTMODSEQ BOGUS)",
])
def test_bad_modseq_input(c, cmd):
    box = new_box(c, 1)
    ok(c, f'SELECT "{box}"')
    bad(c, cmd)
    # the session is still usable and nothing changed
    untagged, _ = ok(c, "FETCH 1 (FLAGS)")
    assert "\\Seen" not in fetch_map(untagged)[1]


@pytest.mark.parametrize("params", ["(BOGUS)", "(CONDSTORE CONDSTORE)", "()", "CONDSTORE",
                                    "(CONDSTORE) extra"])
def test_bad_select_parameters(c, params):
    box = new_box(c, 1)
    bad(c, f'SELECT "{box}" {params}')
    bad(c, f'EXAMINE "{box}" {params}')


def test_unchangedsince_on_examine_is_read_only(c):
    box = new_box(c, 1)
    ok(c, f'EXAMINE "{box}" (CONDSTORE)')
    _, tagged = bad(c, "STORE 1 (UNCHANGEDSINCE 100) +FLAGS (\\Seen)", status="NO")
    assert "[READ-ONLY]" in tagged


def test_modseq_persists_and_grows_across_sessions(srv, c):
    box = new_box(c, 1)
    untagged, _ = ok(c, f'SELECT "{box}" (CONDSTORE)')
    first = highestmodseq(untagged)
    ok(c, "STORE 1 +FLAGS (\\Seen)")
    ok(c, "STORE 1 -FLAGS (\\Seen)")
    d = connect(srv)
    try:
        untagged, _ = ok(d, f'EXAMINE "{box}" (CONDSTORE)')
        assert highestmodseq(untagged) >= first + 2
    finally:
        d.close()


# ---- RFC 7162 §3.2.4: UID with MODSEQ once CONDSTORE is on ----

def test_condstore_only_store_and_unsolicited_fetch_carry_uid(c, other):
    """A server offering QRESYNC adds UID to every FETCH a flag change
    causes once any CONDSTORE enabling command was seen, even without
    ENABLE QRESYNC: here the enabling command is STATUS (HIGHESTMODSEQ)."""
    box = new_box(c, 3)
    ok(c, f'SELECT "{box}"')
    ok(c, "STORE 1 +FLAGS (\\Deleted)")
    ok(c, "EXPUNGE")                      # UIDs 2, 3 are now 1, 2
    ok(c, f'STATUS "{box}" (HIGHESTMODSEQ)')
    untagged, _ = ok(c, "STORE 1 +FLAGS (\\Flagged)")
    f = fetch_map(untagged)
    assert "UID 2" in f[1] and modseq_of(f[1]) is not None, f
    ok(other, f'SELECT "{box}"')
    ok(other, "UID STORE 3 +FLAGS (\\Answered)")
    untagged, _ = ok(c, "NOOP")
    f = fetch_map(untagged)
    assert "UID 3" in f[2] and modseq_of(f[2]) is not None, f
    # a plain FETCH that names neither UID nor MODSEQ is left alone
    untagged, _ = ok(c, "FETCH 1 (FLAGS)")
    assert "UID" not in fetch_map(untagged)[1]


def test_condstore_only_implicit_seen_carries_uid_and_modseq(c):
    box = new_box(c, 1)
    ok(c, f'SELECT "{box}" (CONDSTORE)')
    untagged, _ = ok(c, "FETCH 1 (BODY[TEXT])")
    line = [l for l in untagged if "FETCH" in l][0]
    assert "UID 1" in line and "MODSEQ (" in line and "\\Seen" in line, line


def test_plain_session_store_has_no_uid_or_modseq(c):
    box = new_box(c, 1)
    ok(c, f'SELECT "{box}"')
    untagged, _ = ok(c, "STORE 1 +FLAGS (\\Flagged)")
    line = fetch_map(untagged)[1]
    assert "UID" not in line and "MODSEQ" not in line, line
