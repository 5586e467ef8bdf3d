"""Mailbox commands: CREATE, DELETE, RENAME, LIST, LSUB, SUBSCRIBE,
UNSUBSCRIBE, STATUS, SELECT, EXAMINE (RFC 3501 §6.3), special-use
mailboxes (RFC 6154), CHILDREN (RFC 3348), modified UTF-7 names (RFC 3501
§5.1.3), UIDVALIDITY/UIDNEXT rules (RFC 3501 §2.3.1.1) and RFC 5530
response codes."""
import re

import pytest

from conftest import append_message, simple_message
from testsA_util import (appenduid, code_value, list_names, new_login, noop_ok,
                         parse_list, select, status)


def ok(c, tag, text):
    untagged, tagged = c.command(tag, text)
    assert tagged.startswith(f"{tag} OK"), (text, untagged, tagged)
    return untagged, tagged


def no(c, tag, text, code=None):
    untagged, tagged = c.command(tag, text)
    assert tagged.startswith(f"{tag} NO"), (text, tagged)
    if code is not None:
        assert tagged.startswith(f"{tag} NO [{code}"), (text, tagged)
    return tagged


def fetch_uids(c, tag="FU"):
    untagged, tagged = c.command(tag, "UID FETCH 1:* (UID)")
    assert tagged.startswith(f"{tag} OK"), tagged
    return [int(m.group(1)) for l in untagged
            for m in [re.search(r"\bUID (\d+)", l)] if m and " FETCH " in l]


# ---- CREATE ----

def test_create_and_delete(client):
    ok(client, "C1", "CREATE foo")
    assert "foo" in list_names(client)
    ok(client, "D1", "DELETE foo")
    assert "foo" not in list_names(client)


def test_create_existing_alreadyexists(client):
    ok(client, "C1", 'CREATE "foo"')
    no(client, "C2", 'CREATE "foo"', "ALREADYEXISTS")
    no(client, "C3", "CREATE INBOX", "ALREADYEXISTS")
    no(client, "C4", "CREATE inbox", "ALREADYEXISTS")
    no(client, "C5", "CREATE Sent", "ALREADYEXISTS")


def test_create_makes_parents(client):
    ok(client, "C1", 'CREATE "a/b/c"')
    boxes = list_names(client)
    for name in ("a", "a/b", "a/b/c"):
        assert name in boxes, boxes
    assert "\\haschildren" in boxes["a"][0]
    assert "\\haschildren" in boxes["a/b"][0]
    assert "\\hasnochildren" in boxes["a/b/c"][0]
    # the new leaf is selectable
    select(client, "a/b/c")


def test_create_trailing_delimiter(client):
    # RFC 3501 §6.3.3: a trailing delimiter says the name will have children
    ok(client, "C1", 'CREATE "parent/"')
    assert "parent" in list_names(client)


def test_create_inbox_child(client):
    ok(client, "C1", 'CREATE "INBOX/sub"')
    boxes = list_names(client)
    assert "INBOX/sub" in boxes
    assert "\\haschildren" in boxes["INBOX"][0]


# ---- DELETE ----

def test_delete_nonexistent(client):
    no(client, "D1", 'DELETE "nosuch"', "NONEXISTENT")


def test_delete_inbox_refused(client):
    no(client, "D1", "DELETE INBOX")
    no(client, "D2", "DELETE inbox")
    assert "INBOX" in list_names(client)
    select(client, "INBOX")


def test_delete_with_messages(client):
    ok(client, "C1", "CREATE full")
    for i in range(2):
        assert append_message(client, "full", simple_message(f"m{i}")).startswith("AP OK")
    ok(client, "D1", "DELETE full")
    assert "full" not in list_names(client)
    no(client, "S1", "STATUS full (MESSAGES)", "NONEXISTENT")


def test_delete_parent_with_children(client):
    """RFC 3501 §6.3.4: deleting a name that has inferiors removes the
    mailbox but keeps the name as \\Noselect (or refuses with NO); the
    children survive either way."""
    ok(client, "C1", 'CREATE "p/q"')
    append_message(client, "p", simple_message())
    _, tagged = client.command("D1", "DELETE p")
    boxes = list_names(client)
    assert "p/q" in boxes
    if tagged.startswith("D1 OK"):
        assert "\\noselect" in boxes["p"][0], boxes
        no(client, "S1", "SELECT p")
    else:
        assert tagged.startswith("D1 NO"), tagged


def test_delete_noselect_with_children_refused(client):
    """RFC 3501 §6.3.4: deleting a \\Noselect name that has inferiors is an
    error."""
    ok(client, "C1", 'CREATE "p/q"')
    ok(client, "D1", "DELETE p")
    boxes = list_names(client)
    if "\\noselect" not in boxes["p"][0]:
        pytest.skip("DELETE of a parent removed it differently")
    no(client, "D2", "DELETE p")
    assert "p/q" in list_names(client)
    # re-creating the name makes it selectable again
    ok(client, "C2", "CREATE p")
    boxes = list_names(client)
    assert "\\noselect" not in boxes["p"][0]
    select(client, "p")


def test_delete_selected_mailbox_other_session(server):
    a = new_login(server)
    b = new_login(server)
    try:
        ok(a, "C1", "CREATE gone")
        select(b, "gone")
        ok(a, "D1", "DELETE gone")
        # b must not crash the server; anything from NO to BYE is fine
        b.send("N1 NOOP\r\n")
        try:
            b.until_tagged("N1")
        except EOFError:
            pass
        noop_ok(a)
    finally:
        a.close()
        b.close()


# ---- RENAME ----

def test_rename_simple(client):
    ok(client, "C1", "CREATE old")
    append_message(client, "old", simple_message())
    before = status(client, "old")
    ok(client, "R1", "RENAME old new")
    boxes = list_names(client)
    assert "old" not in boxes and "new" in boxes
    after = status(client, "new")
    assert after["MESSAGES"] == 1
    assert after["UIDNEXT"] == before["UIDNEXT"]
    no(client, "S1", "STATUS old (MESSAGES)", "NONEXISTENT")


def test_rename_hierarchy(client):
    ok(client, "C1", 'CREATE "a/x"')
    ok(client, "C2", 'CREATE "a/y/z"')
    append_message(client, "a/x", simple_message("in a/x"))
    ok(client, "R1", 'RENAME "a" "b"')
    boxes = list_names(client)
    for name in ("b", "b/x", "b/y", "b/y/z"):
        assert name in boxes, boxes
    for name in ("a", "a/x", "a/y", "a/y/z"):
        assert name not in boxes, boxes
    assert status(client, "b/x")["MESSAGES"] == 1
    select(client, "b/y/z")


def test_rename_into_new_hierarchy_creates_parents(client):
    ok(client, "C1", "CREATE leaf")
    ok(client, "R1", 'RENAME leaf "deep/er/leaf"')
    boxes = list_names(client)
    for name in ("deep", "deep/er", "deep/er/leaf"):
        assert name in boxes, boxes


def test_rename_inbox_moves_messages(client):
    for i in range(3):
        assert append_message(client, "INBOX", simple_message(f"m{i}")).startswith("AP OK")
    ok(client, "C0", "CREATE sub")  # an unrelated mailbox is not touched
    ok(client, "R1", 'RENAME INBOX "Old Mail"')
    boxes = list_names(client)
    assert "INBOX" in boxes and "Old Mail" in boxes and "sub" in boxes
    assert status(client, "Old Mail")["MESSAGES"] == 3
    assert status(client, "INBOX")["MESSAGES"] == 0
    untagged, _ = select(client, "INBOX")
    assert "* 0 EXISTS" in untagged
    # INBOX keeps working
    assert append_message(client, "INBOX", simple_message("new")).startswith("AP OK")
    assert status(client, "INBOX")["MESSAGES"] == 1


def test_rename_inbox_keeps_children(client):
    ok(client, "C1", 'CREATE "INBOX/kid"')
    append_message(client, "INBOX", simple_message())
    ok(client, "R1", 'RENAME INBOX saved')
    boxes = list_names(client)
    assert "INBOX/kid" in boxes  # RFC 3501 §6.3.5: inferiors of INBOX stay
    assert "INBOX" in boxes and "saved" in boxes


def test_rename_selected_inbox_expunges_in_session(client):
    for i in range(2):
        append_message(client, "INBOX", simple_message(f"m{i}"))
    untagged, _ = select(client, "INBOX")
    assert "* 2 EXISTS" in untagged
    untagged, tagged = client.command("R1", "RENAME INBOX moved")
    assert tagged.startswith("R1 OK"), tagged
    # the session's view of INBOX is now empty: both messages expunged
    noop_ok(client)
    _, tagged = client.command("F1", "FETCH 1 (FLAGS)")
    assert tagged.startswith("F1 BAD"), tagged  # no message 1 any more
    assert status(client, "moved")["MESSAGES"] == 2


def test_rename_own_selected_mailbox_answers(client):
    ok(client, "C1", "CREATE x")
    select(client, "x")
    client.send(b"R1 RENAME x y\r\n")
    line = client.readline()
    while line.startswith("* ") and not line.startswith("* BYE"):
        line = client.readline()
    assert line.startswith("R1 OK"), line


def test_delete_own_selected_mailbox_answers(client):
    ok(client, "C1", "CREATE x")
    select(client, "x")
    client.send(b"D1 DELETE x\r\n")
    line = client.readline()
    while line.startswith("* ") and not line.startswith("* BYE"):
        line = client.readline()
    assert line.startswith("D1 OK"), line


def test_rename_onto_existing(client):
    ok(client, "C1", "CREATE one")
    ok(client, "C2", "CREATE two")
    no(client, "R1", "RENAME one two", "ALREADYEXISTS")
    no(client, "R2", "RENAME one INBOX", "ALREADYEXISTS")
    boxes = list_names(client)
    assert "one" in boxes and "two" in boxes


def test_rename_nonexistent(client):
    no(client, "R1", "RENAME nosuch other", "NONEXISTENT")
    assert "other" not in list_names(client)


def test_rename_into_own_child_refused(client):
    ok(client, "C1", "CREATE loop")
    no(client, "R1", 'RENAME loop "loop/inner"')
    assert "loop" in list_names(client)


# ---- LIST ----

SPECIAL = {"Drafts": "\\drafts", "Sent": "\\sent", "Trash": "\\trash",
           "Junk": "\\junk", "Archive": "\\archive"}


def test_list_default_mailboxes(client):
    boxes = list_names(client)
    assert "INBOX" in boxes
    for name, attr in SPECIAL.items():
        assert name in boxes, boxes
        attrs = boxes[name][0]
        assert attr in attrs, (name, attrs)
        assert "\\hasnochildren" in attrs, (name, attrs)
    assert "\\hasnochildren" in boxes["INBOX"][0]
    for name, (attrs, delim) in boxes.items():
        assert delim == "/", (name, delim)
        # exactly one of the CHILDREN attributes
        assert len(attrs & {"\\haschildren", "\\hasnochildren"}) == 1, (name, attrs)
    # no special-use attribute on INBOX
    assert not boxes["INBOX"][0] & set(SPECIAL.values())


def test_list_haschildren(client):
    ok(client, "C1", 'CREATE "Sent/2024"')
    boxes = list_names(client)
    assert "\\haschildren" in boxes["Sent"][0]
    assert "\\sent" in boxes["Sent"][0]
    assert "\\hasnochildren" in boxes["Sent/2024"][0]


def test_list_percent_vs_star(client):
    ok(client, "C1", 'CREATE "top/mid/low"')
    ok(client, "C2", 'CREATE "top/other"')
    star = list_names(client, pattern='"*"')
    pct = list_names(client, pattern='"%"')
    assert {"top", "top/mid", "top/mid/low", "top/other"} <= set(star)
    assert "top" in pct and "INBOX" in pct
    assert not any("/" in n for n in pct), pct
    lvl2 = list_names(client, pattern='"top/%"')
    assert set(lvl2) == {"top/mid", "top/other"}, lvl2
    deep = list_names(client, pattern='"top/*"')
    assert set(deep) == {"top/mid", "top/mid/low", "top/other"}, deep
    # reference + pattern
    ref = list_names(client, ref='"top/"', pattern='"%"')
    assert set(ref) == {"top/mid", "top/other"}, ref
    # a pattern without wildcards
    exact = list_names(client, pattern='"top/mid"')
    assert set(exact) == {"top/mid"}, exact
    # wildcard inside a level
    partial = list_names(client, pattern='"t%"')
    assert set(partial) == {"top"}, partial  # case-sensitive: not Trash


def test_list_inbox_case_insensitive(client):
    boxes = list_names(client, pattern='"inbox"')
    assert set(boxes) == {"INBOX"}, boxes
    boxes = list_names(client, pattern='"InBoX"')
    assert set(boxes) == {"INBOX"}, boxes


def test_list_empty_pattern_gives_delimiter(client):
    untagged, _ = ok(client, "L1", 'LIST "" ""')
    lines = [l for l in untagged if l.startswith("* LIST ")]
    assert len(lines) == 1, untagged
    m = re.match(r'^\* LIST \(([^)]*)\) "/" ""$', lines[0])
    assert m, lines[0]
    assert "\\noselect" in m.group(1).lower()


def test_list_no_match(client):
    assert list_names(client, pattern='"nothing-like-this*"') == {}


def test_list_special_use_selection(client):
    ok(client, "C1", "CREATE plain")
    boxes = list_names(client, prefix="", kind="LIST", ref='(SPECIAL-USE) ""', pattern='"*"')
    assert set(boxes) == set(SPECIAL), boxes
    for name, attr in SPECIAL.items():
        assert attr in boxes[name][0]


def test_list_return_special_use(client):
    ok(client, "C1", "CREATE plain")
    untagged, _ = ok(client, "L1", 'LIST "" "*" RETURN (SPECIAL-USE)')
    boxes = parse_list(untagged)
    assert "plain" in boxes and "INBOX" in boxes
    for name, attr in SPECIAL.items():
        assert attr in boxes[name][0], (name, boxes[name])
    assert not boxes["plain"][0] & set(SPECIAL.values())


def test_list_return_subscribed_and_children(client):
    ok(client, "C1", 'CREATE "s/t"')
    ok(client, "SU", "SUBSCRIBE s")
    untagged, _ = ok(client, "L1", 'LIST "" "*" RETURN (SUBSCRIBED CHILDREN)')
    boxes = parse_list(untagged)
    assert "\\subscribed" in boxes["s"][0]
    assert "\\subscribed" not in boxes["s/t"][0]
    assert "\\haschildren" in boxes["s"][0]


def test_list_bad_syntax(client):
    _, tagged = client.command("L1", 'LIST ""')
    assert tagged.startswith("L1 BAD"), tagged
    _, tagged = client.command("L2", 'LIST "" "*" RETURN (NOSUCHOPTION)')
    assert tagged.startswith("L2 BAD"), tagged
    noop_ok(client)


# ---- modified UTF-7 ----

def test_mutf7_names(client):
    ok(client, "C1", 'CREATE "&AMk-t&AOk-"')  # "Été"
    boxes = list_names(client)
    assert "&AMk-t&AOk-" in boxes, boxes
    st = status(client, "&AMk-t&AOk-")
    assert st["MESSAGES"] == 0
    assert append_message(client, "&AMk-t&AOk-", simple_message()).startswith("AP OK")
    select(client, "&AMk-t&AOk-")
    # "&-" is a literal ampersand
    ok(client, "C2", 'CREATE "R&-D"')
    assert "R&-D" in list_names(client)


def test_mutf7_invalid_name(client):
    no(client, "C1", 'CREATE "&Jjo"')
    no(client, "C2", 'CREATE "&Jjo-x&"')
    assert not any(n.startswith("&Jjo") for n in list_names(client))
    noop_ok(client)


def test_mutf7_shown_as_utf8_in_cli(server, client):
    ok(client, "C1", 'CREATE "&AMk-t&AOk-"')
    out = server.cli("mailbox", "list", "alice").stdout
    assert "\u00c9t\u00e9" in out, out


# ---- SUBSCRIBE / LSUB ----

def test_subscribe_lsub_unsubscribe(client):
    ok(client, "C1", "CREATE news")
    assert "news" not in list_names(client, kind="LSUB")
    ok(client, "S1", "SUBSCRIBE news")
    lsub = list_names(client, kind="LSUB")
    assert "news" in lsub, lsub
    assert lsub["news"][1] == "/"
    ok(client, "U1", "UNSUBSCRIBE news")
    assert "news" not in list_names(client, kind="LSUB")


def test_lsub_keeps_deleted_mailbox(client):
    """RFC 3501 §6.3.6: the server MUST NOT remove a name from the
    subscription list on its own, even if the mailbox is gone."""
    ok(client, "C1", "CREATE ephemeral")
    ok(client, "S1", "SUBSCRIBE ephemeral")
    ok(client, "D1", "DELETE ephemeral")
    lsub = list_names(client, kind="LSUB")
    assert "ephemeral" in lsub, lsub
    assert "ephemeral" not in list_names(client)
    ok(client, "U1", "UNSUBSCRIBE ephemeral")
    assert "ephemeral" not in list_names(client, kind="LSUB")


def test_lsub_percent_parent_noselect(client):
    """RFC 3501 §6.3.9: "foo/bar" subscribed but not "foo": LSUB "%" returns
    foo flagged \\Noselect."""
    ok(client, "C1", 'CREATE "foo/bar"')
    ok(client, "S1", 'SUBSCRIBE "foo/bar"')
    lsub = list_names(client, kind="LSUB", pattern='"%"')
    assert "foo" in lsub, lsub
    assert "\\noselect" in lsub["foo"][0], lsub
    assert "foo/bar" not in lsub


def test_lsub_pattern(client):
    for name in ("l/one", "l/two", "other"):
        ok(client, "C1", f'CREATE "{name}"')
        ok(client, "S1", f'SUBSCRIBE "{name}"')
    assert set(list_names(client, kind="LSUB", pattern='"l/*"')) == {"l/one", "l/two"}


# ---- STATUS ----

def test_status_after_appends(client):
    st0 = status(client, "INBOX")
    assert st0["MESSAGES"] == 0 and st0["UNSEEN"] == 0 and st0["RECENT"] == 0
    assert st0["UIDNEXT"] >= 1
    assert append_message(client, "INBOX", simple_message("a")).startswith("AP OK")
    assert append_message(client, "INBOX", simple_message("b"), flags="\\Seen").startswith("AP OK")
    assert append_message(client, "INBOX", simple_message("c")).startswith("AP OK")
    st = status(client, "INBOX")
    assert st["MESSAGES"] == 3
    assert st["UNSEEN"] == 2
    assert st["RECENT"] == 3
    assert st["UIDNEXT"] == st0["UIDNEXT"] + 3
    assert st["UIDVALIDITY"] == st0["UIDVALIDITY"] > 0
    # the STATUS numbers agree with SELECT
    untagged, _ = select(client, "INBOX")
    assert code_value(untagged, "UIDVALIDITY") == st["UIDVALIDITY"]
    assert code_value(untagged, "UIDNEXT") == st["UIDNEXT"]
    assert "* 3 EXISTS" in untagged


def test_status_subset_and_errors(client):
    st = status(client, "Sent", items="UIDNEXT MESSAGES")
    assert set(st) == {"UIDNEXT", "MESSAGES"}
    no(client, "S1", "STATUS nosuch (MESSAGES)", "NONEXISTENT")
    _, tagged = client.command("S2", "STATUS INBOX (BOGUS)")
    assert tagged.startswith("S2 BAD"), tagged
    _, tagged = client.command("S3", "STATUS INBOX")
    assert tagged.startswith("S3 BAD"), tagged


def test_recent_claimed_by_select(server):
    a = new_login(server)
    try:
        append_message(a, "INBOX", simple_message())
        untagged, _ = select(a, "INBOX")
        assert "* 1 RECENT" in untagged
        b = new_login(server)
        try:
            assert status(b, "INBOX")["RECENT"] == 0
            untagged, _ = select(b, "INBOX")
            assert "* 0 RECENT" in untagged
        finally:
            b.close()
    finally:
        a.close()


# ---- SELECT / EXAMINE ----

def test_select_response(client):
    append_message(client, "INBOX", simple_message("one"), flags="\\Seen")
    append_message(client, "INBOX", simple_message("two"))
    untagged, tagged = select(client, "INBOX")
    assert tagged.startswith("SE OK [READ-WRITE]"), tagged
    flags = [l for l in untagged if l.startswith("* FLAGS (")]
    assert len(flags) == 1, untagged
    for f in ("\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft"):
        assert f in flags[0], flags
    perm = [l for l in untagged if l.startswith("* OK [PERMANENTFLAGS (")]
    assert len(perm) == 1, untagged
    assert "\\Seen" in perm[0] and "\\*" in perm[0], perm
    assert "* 2 EXISTS" in untagged
    assert "* 2 RECENT" in untagged
    assert code_value(untagged, "UIDVALIDITY") > 0
    assert code_value(untagged, "UIDNEXT") == 3
    assert code_value(untagged, "UNSEEN") == 2  # first unseen message


def test_examine_read_only(client):
    append_message(client, "INBOX", simple_message())
    untagged, tagged = select(client, "INBOX", cmd="EXAMINE")
    assert tagged.startswith("SE OK [READ-ONLY]"), tagged
    assert "* 1 EXISTS" in untagged
    assert code_value(untagged, "UIDVALIDITY") > 0
    # a read-only mailbox refuses changes
    _, tagged = client.command("ST", "STORE 1 +FLAGS (\\Flagged)")
    assert tagged.startswith("ST NO") or tagged.startswith("ST BAD"), tagged
    # and SELECT afterwards is read-write again
    _, tagged = select(client, "INBOX")
    assert "[READ-WRITE]" in tagged


def test_select_nonexistent_leaves_authenticated_state(client):
    no(client, "S1", 'SELECT "nosuch"', "NONEXISTENT")
    _, tagged = client.command("F1", "FETCH 1 FLAGS")
    assert tagged.startswith("F1 BAD"), tagged


def test_failed_select_deselects(client):
    """RFC 3501 §6.3.1: a failed SELECT leaves no mailbox selected, even if
    one was selected before."""
    append_message(client, "INBOX", simple_message())
    select(client, "INBOX")
    no(client, "S1", 'SELECT "nosuch"')
    _, tagged = client.command("F1", "FETCH 1 FLAGS")
    assert tagged.startswith("F1 BAD"), tagged
    noop_ok(client)


def test_select_noselect_parent(client):
    ok(client, "C1", 'CREATE "np/child"')
    ok(client, "D1", "DELETE np")  # may be refused; either way:
    boxes = list_names(client)
    if "\\noselect" in boxes.get("np", (set(), None))[0]:
        no(client, "S1", "SELECT np")


# ---- UIDVALIDITY / UIDNEXT ----

def test_recreated_mailbox_new_uidvalidity(client):
    ok(client, "C1", "CREATE again")
    first = appenduid(append_message(client, "again", simple_message("1")))
    append_message(client, "again", simple_message("2"))
    v1 = status(client, "again")["UIDVALIDITY"]
    ok(client, "D1", "DELETE again")
    ok(client, "C2", "CREATE again")
    st = status(client, "again")
    assert st["UIDVALIDITY"] != v1
    assert st["UIDNEXT"] == 1
    assert st["MESSAGES"] == 0
    tagged = append_message(client, "again", simple_message("3"))
    au = appenduid(tagged)
    assert au is not None, tagged  # UIDPLUS is advertised
    assert au == (st["UIDVALIDITY"], 1), (au, first)
    select(client, "again")
    assert fetch_uids(client) == [1]


def test_recreated_after_rename_new_uidvalidity(client):
    ok(client, "C1", "CREATE moving")
    v1 = status(client, "moving")["UIDVALIDITY"]
    ok(client, "R1", "RENAME moving moved")
    ok(client, "C2", "CREATE moving")
    assert status(client, "moving")["UIDVALIDITY"] != v1


def test_uidnext_not_reused_after_expunge(client):
    for i in range(3):
        append_message(client, "INBOX", simple_message(f"m{i}"))
    select(client, "INBOX")
    assert fetch_uids(client) == [1, 2, 3]
    ok(client, "S1", "STORE 3 +FLAGS.SILENT (\\Deleted)")
    untagged, _ = ok(client, "E1", "EXPUNGE")
    assert "* 3 EXPUNGE" in untagged
    assert status(client, "INBOX")["UIDNEXT"] == 4
    tagged = append_message(client, "INBOX", simple_message("after"))
    au = appenduid(tagged)
    assert au is not None and au[1] == 4, tagged
    noop_ok(client)
    assert fetch_uids(client) == [1, 2, 4]


def test_uidnext_not_reused_after_restart(server):
    c = new_login(server)
    for i in range(2):
        append_message(c, "INBOX", simple_message(f"m{i}"))
    select(c, "INBOX")
    ok(c, "S1", "STORE 2 +FLAGS.SILENT (\\Deleted)")
    ok(c, "E1", "EXPUNGE")
    v = status(c, "INBOX")["UIDVALIDITY"]
    c.close()
    server.stop()
    server.start()
    c = new_login(server)
    try:
        st = status(c, "INBOX")
        assert st["UIDVALIDITY"] == v
        assert st["UIDNEXT"] == 3
        au = appenduid(append_message(c, "INBOX", simple_message("after restart")))
        assert au == (v, 3)
    finally:
        c.close()


def test_uids_strictly_ascending_across_mailboxes(client):
    # UIDs of one mailbox are independent of another's
    ok(client, "C1", "CREATE other")
    append_message(client, "INBOX", simple_message("i1"))
    append_message(client, "INBOX", simple_message("i2"))
    au = appenduid(append_message(client, "other", simple_message("o1")))
    assert au is not None and au[1] == 1


def test_list_non_ascii_reference(client):
    # RFC 3501 §6.3.8: the reference is a mailbox name, so modified UTF-7
    # like the pattern; both are decoded once, then joined.
    ok(client, "C1", "CREATE &AOQ-")
    ok(client, "C2", "CREATE &AOQ-/k&APY-rbe")
    ok(client, "C3", "CREATE &AOQ-/plain")
    names = list_names(client, '"&AOQ-/"', '"*"', tag="L1")
    assert sorted(names) == ["&AOQ-/k&APY-rbe", "&AOQ-/plain"], names
    # a reference ending in an encoded run, a pattern starting with one
    names = list_names(client, '"&AOQ-/k"', '"&APY-rbe"', tag="L2")
    assert sorted(names) == ["&AOQ-/k&APY-rbe"], names
    names = list_names(client, '"&AOQ-"', '"/%"', tag="L3")
    assert sorted(names) == ["&AOQ-/k&APY-rbe", "&AOQ-/plain"], names
    # LSUB takes the same path
    ok(client, "S1", "SUBSCRIBE &AOQ-/plain")
    names = list_names(client, '"&AOQ-/"', '"%"', tag="L4", kind="LSUB")
    assert sorted(names) == ["&AOQ-/plain"], names
    # the reference is still checked
    _, tagged = client.command("L5", 'LIST "&AOQ" "*"')
    assert tagged.startswith("L5 BAD"), tagged
    # INBOX in any case through the reference
    names = list_names(client, '"inbox/"', '"*"', tag="L6")
    assert names == {}, names
    ok(client, "C4", "CREATE INBOX/&AOQ-")
    names = list_names(client, '"iNbOx/"', '"*"', tag="L7")
    assert sorted(names) == ["INBOX/&AOQ-"], names
