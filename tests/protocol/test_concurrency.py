"""Several sessions on one mailbox (RFC 3501 §7, §7.4.1; RFC 2177 IDLE):
EXISTS, FETCH FLAGS and EXPUNGE reach the other sessions on NOOP, at once in
IDLE, never EXPUNGE during FETCH/STORE/SEARCH; changes by the CLI in another
process; an idle session with nothing to hear hears nothing; 50 sessions at
once.
"""
import concurrent.futures
import re
import time

import pytest
from conftest import TIMEOUT, simple_message

from testsB_util import (append_ok, apply_expunges, command_bytes, exists_of, expunge_count,
                         fetches, flags_of, login, read_response, search_result, select,
                         send_with_literals, until_tagged_bytes, wait_for)

# The design target for a push is well under 100 ms; 1 s keeps the test
# robust on a loaded machine and under ASan.
PUSH_LIMIT = 1.0


def ok(c, t, text):
    untagged, tagged = command_bytes(c, t, text)
    assert tagged.startswith(t + " OK"), f"{text}: {tagged}"
    return untagged


def sessions(server, n, mailbox="INBOX"):
    out = []
    for _ in range(n):
        c = login(server)
        select(c, mailbox)
        out.append(c)
    return out


def close_all(cs):
    for c in cs:
        c.close()


def idle_start(c, t="I1"):
    c.send(f"{t} IDLE\r\n")
    r = read_response(c)
    assert r.startswith(b"+"), r


def idle_done(c, t="I1"):
    c.send("DONE\r\n")
    untagged, tagged = until_tagged_bytes(c, t)
    assert tagged.startswith(t + " OK"), tagged
    return untagged


def fill(c, n, mailbox="INBOX"):
    for i in range(n):
        append_ok(c, mailbox, simple_message(subject=f"Message {i + 1}"), tag=f"F{i}")


def uids_of(c, t="U1"):
    untagged = ok(c, t, "FETCH 1:* UID")
    got = sorted((seq, int(it["UID"])) for seq, it in fetches(untagged))
    assert [seq for seq, _ in got] == list(range(1, len(got) + 1)), got
    return [u for _, u in got]


def fetch_flags(untagged):
    """{seq: flags} of the FETCH responses among untagged responses."""
    return {seq: flags_of(it) for seq, it in fetches(untagged) if "FLAGS" in it}


# ------------------------------------------------------------ NOOP polling

@pytest.mark.parametrize("n", [2, 3])
def test_append_gives_exists_on_noop(server, n):
    cs = sessions(server, n)
    try:
        a, others = cs[0], cs[1:]
        for o in others:
            assert exists_of(ok(o, "N0", "NOOP")) is None
        untagged, tagged = send_with_literals(
            a, "A1", ['APPEND INBOX ', ("lit", simple_message().encode())])
        assert tagged.startswith("A1 OK"), tagged
        # the appending session learns of it too (§6.3.11 SHOULD), at the
        # latest on its next NOOP
        mine = untagged + ok(a, "N1", "NOOP")
        assert exists_of(mine) == 1, mine
        for o in others:
            assert exists_of(ok(o, "N1", "NOOP")) == 1
        # a second append: EXISTS counts on
        append_ok(a, "INBOX", simple_message(subject="Two"), tag="A2")
        for o in others:
            untagged = ok(o, "N2", "NOOP")
            assert exists_of(untagged) == 2, untagged
            assert uids_of(o) == uids_of(a, "U2")
        # nothing new: NOOP says nothing about EXISTS
        for o in others:
            assert exists_of(ok(o, "N3", "NOOP")) is None
    finally:
        close_all(cs)


def test_new_message_recent_in_exactly_one_session(server):
    cs = sessions(server, 3)
    try:
        writer = login(server)
        append_ok(writer, "INBOX", simple_message())
        recents = []
        for i, c in enumerate(cs):
            untagged = ok(c, f"N{i}", "NOOP")
            assert exists_of(untagged) == 1
            fl = fetch_flags(ok(c, f"F{i}", "FETCH 1 FLAGS"))
            recents.append("\\Recent" in fl[1])
        assert recents.count(True) == 1, recents
        writer.close()
    finally:
        close_all(cs)


@pytest.mark.parametrize("n", [2, 3])
def test_store_gives_fetch_flags_on_noop(server, n):
    cs = sessions(server, n)
    try:
        a, others = cs[0], cs[1:]
        fill(a, 2)
        for o in others:
            ok(o, "N0", "NOOP")
        ok(a, "S1", "STORE 2 +FLAGS (\\Flagged $Work)")
        for o in others:
            got = fetch_flags(ok(o, "N1", "NOOP"))
            assert 2 in got and {"\\Flagged", "$Work"} <= got[2], got
            assert 1 not in got
        # .SILENT only silences the storing session's own response
        ok(a, "S2", "STORE 1 FLAGS.SILENT (\\Seen)")
        ok(a, "S3", "STORE 2 -FLAGS.SILENT (\\Flagged)")
        for o in others:
            got = fetch_flags(ok(o, "N2", "NOOP"))
            assert "\\Seen" in got.get(1, set()), got
            assert 2 in got and "\\Flagged" not in got[2] and "$Work" in got[2], got
        # nothing changed since: nothing said
        for o in others:
            assert fetch_flags(ok(o, "N3", "NOOP")) == {}
    finally:
        close_all(cs)


@pytest.mark.parametrize("n", [2, 3])
def test_expunge_reaches_others_on_noop_not_during_fetch_store_search(server, n):
    cs = sessions(server, n)
    try:
        a, others = cs[0], cs[1:]
        fill(a, 4)
        for o in others:
            assert exists_of(ok(o, "N0", "NOOP")) == 4
        before = uids_of(a)
        ok(a, "S1", "STORE 2,4 +FLAGS.SILENT (\\Deleted)")
        assert expunge_count(ok(a, "E1", "EXPUNGE")) == 2
        for o in others:
            # RFC 3501 §7.4.1: no EXPUNGE while FETCH, STORE or SEARCH runs
            for i, cmd in enumerate(["FETCH 1:* FLAGS", "STORE 1 +FLAGS (\\Seen)",
                                     "SEARCH ALL", "FETCH 1:4 (UID RFC822.SIZE)"]):
                t = f"X{i}"
                untagged, tagged = command_bytes(o, t, cmd)
                assert expunge_count(untagged) == 0, f"{cmd}: {untagged}"
                # the sequence numbers did not shift under the client
                assert tagged.startswith(t + " OK") or tagged.startswith(t + " NO"), tagged
            untagged = ok(o, "N1", "NOOP")
            assert expunge_count(untagged) == 2, untagged
            assert apply_expunges(before, untagged) == [before[0], before[2]]
            assert uids_of(o, "U2") == [before[0], before[2]]
            assert expunge_count(ok(o, "N2", "NOOP")) == 0
    finally:
        close_all(cs)


def test_expunge_with_uid_fetch(server):
    """EXPUNGE may be sent during UID FETCH (§7.4.1), or the server may
    answer NO [EXPUNGEISSUED] (RFC 5530, RFC 2180 §4.1): either way the
    next NOOP completes the picture, with each EXPUNGE sent exactly once."""
    a, b = sessions(server, 2)
    try:
        fill(a, 3)
        ok(b, "N0", "NOOP")
        before = uids_of(b)
        ok(a, "S1", "STORE 1 +FLAGS.SILENT (\\Deleted)")
        ok(a, "E1", "EXPUNGE")
        untagged, tagged = command_bytes(b, "UF", "UID FETCH 1:* FLAGS")
        assert tagged.startswith("UF OK") or tagged.startswith("UF NO [EXPUNGEISSUED]"), tagged
        untagged += ok(b, "N1", "NOOP")
        assert expunge_count(untagged) == 1, untagged
        assert apply_expunges(before, untagged) == before[1:]
    finally:
        close_all([a, b])


# ------------------------------------------------------------ IDLE push

def test_idle_push_exists(server):
    a, b = sessions(server, 2)
    try:
        idle_start(b)
        append_ok(a, "INBOX", simple_message())
        r, others, elapsed = wait_for(b, rb"^\* 1 EXISTS$", timeout=PUSH_LIMIT)
        assert elapsed < PUSH_LIMIT
        rest = idle_done(b)
        assert exists_of(rest) is None
        # and the session's view is right afterwards
        assert len(uids_of(b)) == 1
    finally:
        close_all([a, b])


def test_idle_push_to_three_sessions(server):
    a, b, c = sessions(server, 3)
    try:
        idle_start(b, "IB")
        idle_start(c, "IC")
        append_ok(a, "INBOX", simple_message())
        t0 = time.monotonic()
        for x in (b, c):
            wait_for(x, rb"^\* 1 EXISTS$", timeout=PUSH_LIMIT)
        assert time.monotonic() - t0 < PUSH_LIMIT * 2
        idle_done(b, "IB")
        idle_done(c, "IC")
    finally:
        close_all([a, b, c])


def test_idle_push_flags(server):
    a, b = sessions(server, 2)
    try:
        fill(a, 2)
        ok(b, "N0", "NOOP")
        idle_start(b)
        ok(a, "S1", "STORE 2 +FLAGS.SILENT (\\Flagged)")
        r, _, elapsed = wait_for(b, rb"^\* 2 FETCH ", timeout=PUSH_LIMIT)
        (seq, it), = fetches([r])
        assert seq == 2 and "\\Flagged" in flags_of(it)
        idle_done(b)
    finally:
        close_all([a, b])


def test_idle_push_expunge(server):
    a, b = sessions(server, 2)
    try:
        fill(a, 3)
        ok(b, "N0", "NOOP")
        before = uids_of(b)
        idle_start(b)
        ok(a, "S1", "STORE 2 +FLAGS.SILENT (\\Deleted)")
        ok(a, "E1", "EXPUNGE")
        r, others, elapsed = wait_for(b, rb"^\* \d+ EXPUNGE$", timeout=PUSH_LIMIT)
        assert r == b"* 2 EXPUNGE", r
        # the flag change that came first may be reported before it
        assert all(re.match(rb"^\* 2 FETCH ", o) for o in others), others
        rest = idle_done(b)
        assert expunge_count(rest) == 0
        assert uids_of(b) == [before[0], before[2]]
    finally:
        close_all([a, b])


def test_idle_nothing_changes_nothing_sent(server):
    """An idle session with nothing happening hears nothing (battery)."""
    a, b = sessions(server, 2)
    try:
        fill(a, 1)
        ok(b, "N0", "NOOP")
        idle_start(b)
        assert b.expect_nothing(2.0), b.buf
        # a change in another mailbox is not this session's business
        append_ok(a, "Drafts", simple_message())
        assert b.expect_nothing(0.5), b.buf
        rest = idle_done(b)
        assert rest == []
    finally:
        close_all([a, b])


def test_idle_other_users_change_not_pushed(server):
    """bob's INBOX is not alice's: no push."""
    b = login(server)
    select(b, "INBOX")
    bob = login(server, "bob", "bob-pw")
    try:
        idle_start(b)
        append_ok(bob, "INBOX", simple_message())
        assert b.expect_nothing(0.5), b.buf
        assert idle_done(b) == []
    finally:
        close_all([b, bob])


# ------------------------------------------------------------ the CLI

def test_cli_user_add_does_not_disturb_idle(server):
    a, b = sessions(server, 2)
    try:
        idle_start(b)
        server.cli("user", "add", "carol", input="carol-pw\n")
        assert b.expect_nothing(1.0), b.buf
        assert idle_done(b) == []
        # carol exists now and works while alice idles on
        c = login(server, "carol", "carol-pw")
        c.close()
    finally:
        close_all([a, b])


def test_idle_push_from_cli_message_append(server):
    a, b = sessions(server, 2)
    try:
        idle_start(b)
        server.cli("message", "append", "alice", "INBOX", input=simple_message())
        t0 = time.monotonic()
        wait_for(b, rb"^\* 1 EXISTS$", timeout=PUSH_LIMIT)
        assert time.monotonic() - t0 < PUSH_LIMIT
        idle_done(b)
    finally:
        close_all([a, b])


# ------------------------------------------------------------ many sessions

def test_fifty_concurrent_sessions(server):
    """50 sessions on INBOX at once, each doing a few commands (every fifth
    one also an APPEND); afterwards every change is there."""
    n = 50
    base = 5
    w = login(server)
    for i in range(base):
        append_ok(w, "INBOX", simple_message(subject=f"base-{i + 1}"), tag=f"B{i}")
    w.close()

    def one_session(i):
        c = server.raw()
        try:
            c.login("alice", "secret-pw")
            lines, _ = select(c, "INBOX", tag=f"S{i}")
            assert exists_of(lines) >= base
            target = i % base + 1
            untagged = ok(c, "F0", "FETCH 1:* (UID FLAGS)")
            assert len(fetches(untagged)) >= base
            ok(c, "T1", f"STORE {target} +FLAGS.SILENT (kw{i})")
            untagged = ok(c, "Q1", f"SEARCH KEYWORD kw{i}")
            assert target in search_result(untagged)
            if i % 5 == 0:
                append_ok(c, "INBOX", simple_message(subject=f"session-{i}-marker"), tag=f"A{i}")
                untagged = ok(c, "Q2", f"SEARCH SUBJECT session-{i}-marker")
                assert len(search_result(untagged)) == 1, untagged
            ok(c, "N1", "NOOP")
            untagged, tagged = command_bytes(c, "L9", "LOGOUT")
            assert any(r.startswith(b"* BYE") for r in untagged), untagged
            assert tagged.startswith("L9 OK"), tagged
        finally:
            c.close()

    with concurrent.futures.ThreadPoolExecutor(max_workers=n) as ex:
        futures = [ex.submit(one_session, i) for i in range(n)]
        errors = []
        for f in futures:
            try:
                f.result(timeout=TIMEOUT * 3)
            except Exception as e:  # collect all, report the first few
                errors.append(repr(e))
    assert not errors, f"{len(errors)} sessions failed: {errors[:3]}"

    check = login(server)
    try:
        lines, _ = select(check, "INBOX")
        assert exists_of(lines) == base + n // 5
        untagged = ok(check, "F", f"FETCH 1:{base} FLAGS")
        got = {seq: flags_of(it) for seq, it in fetches(untagged)}
        for i in range(n):
            assert f"kw{i}" in got[i % base + 1], (i, got)
        untagged = ok(check, "U", "FETCH 1:* UID")
        uids = [int(it["UID"]) for _, it in sorted(fetches(untagged))]
        assert len(set(uids)) == base + n // 5 and uids == sorted(uids)
    finally:
        check.close()
