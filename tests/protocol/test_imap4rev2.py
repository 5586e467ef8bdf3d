"""IMAP4rev2 (RFC 9051) beside IMAP4rev1: CAPABILITY lists both; a session
sees exactly rev1 until ENABLE IMAP4rev2, then the rev2 rules of Appendix
E: no \\Recent and no RECENT response (item 12), RECENT/NEW/OLD search
keys refused, SEARCH answered with ESEARCH (item 4), the untagged LIST on
SELECT (item 10), UID in unsolicited FETCH (item 21), UTF-8 mailbox names
(item 16), STATUS SIZE and DELETED (item 3), [CLOSED] (item 9).  Each test
runs the same session before and after ENABLE.
"""
import re

import pytest

from testsB_util import append_ok


def msg(n):
    return f"Subject: m{n}\r\nFrom: a@example.org\r\n\r\nbody {n}\r\n"


@pytest.fixture
def srv(server_factory):
    return server_factory()


@pytest.fixture
def c(srv):
    c = srv.raw()
    c.login("alice", "secret-pw")
    for i in range(1, 4):
        append_ok(c, "INBOX", msg(i), tag=f"A{i}")
    yield c
    c.close()


def enable(c):
    untagged, tagged = c.command("E1", "ENABLE IMAP4rev2")
    assert tagged.startswith("E1 OK"), tagged
    assert untagged == ["* ENABLED IMAP4rev2"]


def test_capability_lists_both(c):
    untagged, _ = c.command("C1", "CAPABILITY")
    caps = untagged[0].split()
    assert "IMAP4rev1" in caps and "IMAP4rev2" in caps


def test_capability_before_login_lists_both(srv):
    c = srv.raw()
    untagged, _ = c.command("C0", "CAPABILITY")
    caps = untagged[0].split()
    assert "IMAP4rev1" in caps and "IMAP4rev2" in caps
    c.close()


def test_enable_twice_lists_it_once(c):
    enable(c)
    untagged, tagged = c.command("E2", "ENABLE IMAP4rev2")
    assert tagged.startswith("E2 OK")
    assert untagged == ["* ENABLED"]


def test_enable_before_login_is_refused(srv):
    c = srv.raw()
    _, tagged = c.command("E0", "ENABLE IMAP4rev2")
    assert tagged.startswith("E0 BAD"), tagged
    c.close()


def test_select_recent_before_and_after(c, srv):
    untagged, _ = c.command("S1", "SELECT INBOX")
    assert "* 3 RECENT" in untagged
    assert not any(l.startswith("* LIST") for l in untagged)
    enable(c)
    untagged, tagged = c.command("S2", "SELECT INBOX")
    assert tagged.startswith("S2 OK"), tagged
    assert "* 3 EXISTS" in untagged
    assert not any("RECENT" in l for l in untagged), untagged
    # App. E item 9: [CLOSED] for the mailbox left; item 10: LIST
    assert untagged[0] == "* OK [CLOSED] Previous mailbox is now closed."
    assert '* LIST () "/" INBOX' in untagged


def test_flags_never_show_recent_after_enable(c, srv):
    other = srv.raw()
    other.login("alice", "secret-pw")
    c.command("S1", "SELECT INBOX")
    untagged, _ = c.command("F1", "FETCH 1 FLAGS")
    assert "\\Recent" in untagged[0]
    enable(c)
    untagged, _ = c.command("F2", "FETCH 1:* FLAGS")
    assert len(untagged) == 3 and not any("\\Recent" in l for l in untagged), untagged
    # a new message: EXISTS but no RECENT, and no \Recent in its flags
    append_ok(other, "INBOX", msg(4), tag="A4")
    untagged, _ = c.command("N1", "NOOP")
    assert "* 4 EXISTS" in untagged
    assert not any("RECENT" in l for l in untagged), untagged
    untagged, _ = c.command("F3", "FETCH 4 FLAGS")
    assert "\\Recent" not in untagged[0]
    other.close()


def test_rev1_session_still_sees_recent_response(c, srv):
    other = srv.raw()
    other.login("alice", "secret-pw")
    c.command("S1", "SELECT INBOX")
    append_ok(other, "INBOX", msg(4), tag="A4")
    untagged, _ = c.command("N1", "NOOP")
    assert "* 4 EXISTS" in untagged and "* 4 RECENT" in untagged, untagged
    other.close()


def test_search_answers_esearch_after_enable(c):
    c.command("S1", "SELECT INBOX")
    untagged, _ = c.command("Q1", "SEARCH ALL")
    assert untagged == ["* SEARCH 1 2 3"]
    enable(c)
    untagged, tagged = c.command("Q2", "SEARCH ALL")
    assert tagged.startswith("Q2 OK"), tagged
    assert untagged == ['* ESEARCH (TAG "Q2") ALL 1:3']
    untagged, _ = c.command("Q3", "UID SEARCH SUBJECT m2")
    assert untagged == ['* ESEARCH (TAG "Q3") UID ALL 2']
    # nothing found: the ESEARCH response has no ALL (RFC 4731 §3.1)
    untagged, _ = c.command("Q4", "SEARCH SUBJECT nosuch")
    assert untagged == ['* ESEARCH (TAG "Q4")']
    # RETURN still chooses
    untagged, _ = c.command("Q5", "SEARCH RETURN (COUNT) ALL")
    assert untagged == ['* ESEARCH (TAG "Q5") COUNT 3']


@pytest.mark.parametrize("key", ["RECENT", "NEW", "OLD", "NOT RECENT", "KEYWORD \\Recent",
                                 "OR SEEN NEW"])
def test_recent_search_keys_refused_after_enable(c, key):
    c.command("S1", "SELECT INBOX")
    _, tagged = c.command("R1", f"SEARCH {key}")
    assert tagged.startswith("R1 OK"), tagged
    enable(c)
    _, tagged = c.command("R2", f"SEARCH {key}")
    assert tagged.startswith("R2 BAD"), (key, tagged)


def test_unsolicited_fetch_carries_uid_after_enable(c, srv):
    other = srv.raw()
    other.login("alice", "secret-pw")
    other.command("O1", "SELECT INBOX")
    c.command("S1", "SELECT INBOX")
    other.command("O2", "STORE 2 +FLAGS (\\Flagged)")
    untagged, _ = c.command("N1", "NOOP")
    assert any(re.match(r"\* 2 FETCH \(FLAGS", l) for l in untagged), untagged
    enable(c)
    other.command("O3", "STORE 3 +FLAGS (\\Flagged)")
    untagged, _ = c.command("N2", "NOOP")
    assert any(re.match(r"\* 3 FETCH \(UID 3 FLAGS \(\\Flagged\)\)", l) for l in untagged), untagged
    other.close()


def test_status_size_and_deleted(c):
    untagged, tagged = c.command("T1", "STATUS INBOX (MESSAGES SIZE DELETED)")
    assert tagged.startswith("T1 OK"), tagged
    total = sum(len(msg(i)) for i in range(1, 4))
    assert untagged == [f"* STATUS INBOX (MESSAGES 3 SIZE {total} DELETED 0)"]
    enable(c)
    c.command("S1", "SELECT INBOX")
    c.command("D1", "STORE 1 +FLAGS (\\Deleted)")
    untagged, _ = c.command("T2", "STATUS INBOX (SIZE DELETED)")
    assert untagged == [f"* STATUS INBOX (SIZE {total} DELETED 1)"]


def test_status_size_empty_mailbox(c):
    c.command("CR", "CREATE Empty")
    untagged, tagged = c.command("T3", "STATUS Empty (SIZE)")
    assert untagged == ["* STATUS Empty (SIZE 0)"]


def test_mailbox_names_utf8_after_enable(c):
    _, tagged = c.command("CR", "CREATE \"Caf&AOk-\"")
    assert tagged.startswith("CR OK"), tagged
    untagged, _ = c.command("L1", 'LIST "" "Caf*"')
    assert untagged == ['* LIST (\\HasNoChildren) "/" Caf&AOk-']
    enable(c)
    c.send(b'L2 LIST "" "Caf*"\r\n')
    untagged, _ = c.until_tagged("L2")
    joined = "\n".join(untagged)
    assert "Caf\u00e9" in joined and "&AOk-" not in joined, untagged
    # and accepted as UTF-8 (a name with '&' is then taken literally)
    c.send('S2 SELECT "Caf\u00e9"\r\n'.encode())
    untagged, tagged = c.until_tagged("S2")
    assert tagged.startswith("S2 OK"), tagged
    c.send('CR2 CREATE "A&B"\r\n'.encode())
    _, tagged = c.until_tagged("CR2")
    assert tagged.startswith("CR2 OK"), tagged
    c.send(b'L3 LIST "" "A*"\r\n')
    untagged, _ = c.until_tagged("L3")
    assert any(l.endswith('"/" A&B') or l.endswith('"/" "A&B"') for l in untagged), untagged


def test_rev1_client_on_same_server_keeps_mutf7(c, srv):
    enable(c)
    c.send('CR CREATE "R\u00e9sum\u00e9"\r\n'.encode())
    _, tagged = c.until_tagged("CR")
    assert tagged.startswith("CR OK"), tagged
    other = srv.raw()
    other.login("alice", "secret-pw")
    untagged, _ = other.command("L1", 'LIST "" "R*"')
    assert untagged == ['* LIST (\\HasNoChildren) "/" R&AOk-sum&AOk-']
    other.close()


def test_bad_utf8_mailbox_name_refused_after_enable(c):
    enable(c)
    c.send(b'CR CREATE "bad\xff\xfename"\r\n')
    _, tagged = c.until_tagged("CR")
    assert tagged.startswith("CR NO") or tagged.startswith("CR BAD"), tagged
    c.send(b'CR2 CREATE "ctl\xc2\x85x"\r\n')
    _, tagged = c.until_tagged("CR2")
    assert tagged.startswith("CR2 NO") or tagged.startswith("CR2 BAD"), tagged


# ---- SEARCHRES (RFC 5182), folded into IMAP4rev2 (App. E item 2)

@pytest.fixture
def sel(c):
    c.command("S1", "SELECT INBOX")
    c.command("F0", "STORE 1,3 +FLAGS (\\Flagged)")
    return c


def test_capability_lists_searchres(c):
    untagged, _ = c.command("C1", "CAPABILITY")
    assert "SEARCHRES" in untagged[0].split()


def test_save_alone_answers_nothing_then_fetch_dollar(sel):
    untagged, tagged = sel.command("R1", "SEARCH RETURN (SAVE) FLAGGED")
    assert tagged.startswith("R1 OK"), tagged
    assert untagged == []
    untagged, tagged = sel.command("R2", "FETCH $ (UID)")
    assert tagged.startswith("R2 OK"), tagged
    assert untagged == ["* 1 FETCH (UID 1)", "* 3 FETCH (UID 3)"]
    untagged, _ = sel.command("R3", "UID FETCH $ (FLAGS)")
    assert [l.split()[1] for l in untagged] == ["1", "3"]


def test_dollar_in_search_and_uid_search(sel):
    sel.command("R1", "UID SEARCH RETURN (SAVE ALL) FLAGGED")
    untagged, _ = sel.command("R2", "SEARCH $")
    assert untagged == ["* SEARCH 1 3"]
    untagged, _ = sel.command("R3", "SEARCH UID $ SUBJECT m3")
    assert untagged == ["* SEARCH 3"]
    untagged, _ = sel.command("R4", "SEARCH OR $ 2")
    assert untagged == ["* SEARCH 1 2 3"]
    untagged, _ = sel.command("R5", "SEARCH NOT $")
    assert untagged == ["* SEARCH 2"]


def test_save_with_min_max_keeps_only_those(sel):
    c = sel
    for i in range(4, 6):
        append_ok(c, "INBOX", msg(i), tag=f"A{i}")
    c.command("N1", "NOOP")
    untagged, _ = c.command("R1", "SEARCH RETURN (SAVE MIN) ALL")
    assert untagged == ['* ESEARCH (TAG "R1") MIN 1']
    untagged, _ = c.command("R2", "SEARCH $")
    assert untagged == ["* SEARCH 1"]
    c.command("R3", "SEARCH RETURN (SAVE MIN MAX) ALL")
    untagged, _ = c.command("R4", "SEARCH $")
    assert untagged == ["* SEARCH 1 5"]
    c.command("R5", "SEARCH RETURN (SAVE MAX COUNT) ALL")
    untagged, _ = c.command("R6", "SEARCH $")
    assert untagged == ["* SEARCH 1 2 3 4 5"]


def test_expunged_messages_leave_dollar(sel):
    sel.command("R1", "SEARCH RETURN (SAVE) ALL")
    sel.command("D1", "STORE 2 +FLAGS.SILENT (\\Deleted)")
    sel.command("X1", "EXPUNGE")
    untagged, _ = sel.command("R2", "UID SEARCH $")
    assert untagged == ["* SEARCH 1 3"]
    untagged, _ = sel.command("R3", "FETCH $ (UID)")
    assert untagged == ["* 1 FETCH (UID 1)", "* 2 FETCH (UID 3)"]


def test_dollar_empty_and_reset_by_select(sel):
    # before any SAVE: valid and empty (RFC 5182 §2.1)
    untagged, tagged = sel.command("R0", "FETCH $ (UID)")
    assert tagged.startswith("R0 OK") and untagged == [], (untagged, tagged)
    sel.command("R1", "SEARCH RETURN (SAVE) FLAGGED")
    sel.command("S2", "SELECT INBOX")
    untagged, tagged = sel.command("R2", "FETCH $ (UID)")
    assert tagged.startswith("R2 OK") and untagged == []
    _, tagged = sel.command("R3", 'COPY $ "INBOX"')
    assert tagged.startswith("R3 OK"), tagged


def test_bad_search_keeps_dollar_and_sort_refuses_save(sel):
    sel.command("R1", "SEARCH RETURN (SAVE) FLAGGED")
    _, tagged = sel.command("R2", "SEARCH RETURN (SAVE) NOSUCHKEY")
    assert tagged.startswith("R2 BAD")
    untagged, _ = sel.command("R3", "SEARCH $")
    assert untagged == ["* SEARCH 1 3"]
    _, tagged = sel.command("R4", "SORT RETURN (SAVE) (DATE) UTF-8 ALL")
    assert tagged.startswith("R4 BAD"), tagged
    # "$" only stands alone
    _, tagged = sel.command("R5", "FETCH $,1 (UID)")
    assert tagged.startswith("R5 BAD"), tagged


def test_store_and_dollar_in_rev2_session(sel):
    enable(sel)
    untagged, tagged = sel.command("R1", "SEARCH RETURN (SAVE) UNFLAGGED")
    assert untagged == [] and tagged.startswith("R1 OK")
    untagged, tagged = sel.command("R2", "STORE $ +FLAGS (\\Seen)")
    assert tagged.startswith("R2 OK"), tagged
    assert untagged == ["* 2 FETCH (FLAGS (\\Seen))"]


def test_list_status_size(c):
    # RFC 9051 §6.3.9.4: LIST RETURN (STATUS (...)) takes the STATUS items
    untagged, tagged = c.command("L1", 'LIST "" "INBOX" RETURN (STATUS (MESSAGES SIZE))')
    assert tagged.startswith("L1 OK"), tagged
    total = sum(len(msg(i)) for i in range(1, 4))
    assert f"* STATUS INBOX (MESSAGES 3 SIZE {total})" in untagged, untagged
