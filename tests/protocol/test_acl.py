"""ACL (RFC 4314) with shared mailboxes: SETACL, DELETEACL, GETACL,
LISTRIGHTS, MYRIGHTS, the RIGHTS= capability, the "Other Users" namespace
(RFC 2342), and the rights every command needs (RFC 4314 §4), with two
users: bob owns "Work", alice sees it as "Other Users/bob/Work"."""
import json
import os
import re

import pytest

from conftest import append_message, simple_message

SHARED = "Other Users/bob/Work"


def ok(c, tag, text):
    untagged, tagged = c.command(tag, text)
    assert tagged.startswith(f"{tag} OK"), (text, untagged, tagged)
    return untagged, tagged


def no(c, tag, text, code=None):
    untagged, tagged = c.command(tag, text)
    assert tagged.startswith(f"{tag} NO"), (text, tagged)
    if code is not None:
        assert tagged.startswith(f"{tag} NO [{code}]"), (text, tagged)
    return tagged


def bad(c, tag, text):
    untagged, tagged = c.command(tag, text)
    assert tagged.startswith(f"{tag} BAD"), (text, tagged)
    return tagged


def login(server, user):
    c = server.raw()
    c.login(user, {"alice": "secret-pw", "bob": "bob-pw", "carol": "carol-pw"}[user])
    return c


def flags_of(untagged):
    out = {}
    for l in untagged:
        m = re.match(r"\* (\d+) FETCH .*FLAGS \(([^)]*)\)", l)
        if m:
            out[int(m.group(1))] = set(m.group(2).split()) - {"\\Recent"}
    return out


@pytest.fixture
def pair(server):
    """bob owns Work with two messages; alice is logged in too."""
    bob = login(server, "bob")
    ok(bob, "B0", "CREATE Work")
    for i in range(2):
        assert append_message(bob, "Work", simple_message(f"w{i}")).startswith("AP OK")
    alice = login(server, "alice")
    yield server, alice, bob
    alice.close()
    bob.close()


def grant(bob, rights, who="alice", mailbox="Work", tag="G1"):
    ok(bob, tag, f'SETACL "{mailbox}" {who} {rights}')


def list_lines(c, pattern='"*"', tag="LS"):
    untagged, _ = ok(c, tag, f'LIST "" {pattern}')
    return [l for l in untagged if l.startswith("* LIST")]


# ---- capability, namespace ----

def test_capability_advertises_acl_and_rights(pair):
    _, alice, _ = pair
    untagged, _ = ok(alice, "C1", "CAPABILITY")
    caps = untagged[0].split()
    assert "ACL" in caps
    assert "RIGHTS=texk" in caps


def test_namespace_has_other_users(pair):
    _, alice, _ = pair
    untagged, _ = ok(alice, "N1", "NAMESPACE")
    assert untagged == ['* NAMESPACE (("" "/")) (("Other Users/" "/")) NIL']


# ---- the ACL commands ----

def test_owner_rights_getacl_myrights_listrights(pair):
    _, _, bob = pair
    untagged, _ = ok(bob, "M1", "MYRIGHTS Work")
    assert untagged == ["* MYRIGHTS Work lrswipkxteancd"]
    untagged, _ = ok(bob, "A1", "GETACL Work")
    assert untagged == ["* ACL Work bob lrswipkxteancd"]
    grant(bob, "lrs")
    untagged, _ = ok(bob, "A2", "GETACL Work")
    assert untagged == ["* ACL Work bob lrswipkxteancd alice lrs"]
    untagged, _ = ok(bob, "L1", "LISTRIGHTS Work alice")
    assert untagged == ['* LISTRIGHTS Work alice "" l r s w i p k x t e a n c d']
    untagged, _ = ok(bob, "L2", "LISTRIGHTS Work bob")
    assert untagged == ["* LISTRIGHTS Work bob lrswipkxteancd"]


def test_setacl_modifiers_and_virtual_rights(pair):
    """RFC 4314 §3.1 +/- and §2.1.1: d = x t e, c = k; shown back with c/d."""
    _, _, bob = pair
    grant(bob, "lr")
    grant(bob, "+wd", tag="G2")
    untagged, _ = ok(bob, "A1", "GETACL Work")
    assert untagged == ["* ACL Work bob lrswipkxteancd alice lrwxted"]
    grant(bob, "-xe", tag="G3")
    untagged, _ = ok(bob, "A2", "GETACL Work")
    assert untagged == ["* ACL Work bob lrswipkxteancd alice lrwtd"]
    grant(bob, "lc", tag="G4")
    untagged, _ = ok(bob, "A3", "GETACL Work")
    assert untagged == ["* ACL Work bob lrswipkxteancd alice lkc"]
    ok(bob, "D1", "DELETEACL Work alice")
    untagged, _ = ok(bob, "A4", "GETACL Work")
    assert untagged == ["* ACL Work bob lrswipkxteancd"]


def test_setacl_bad_input(pair):
    _, _, bob = pair
    bad(bob, "B1", "SETACL Work alice lrQs")       # uppercase (§3.1)
    bad(bob, "B2", "SETACL Work alice lrqs")       # unknown right
    bad(bob, "B3", "SETACL Work alice lr1")        # digits: none supported
    bad(bob, "B4", 'SETACL Work "" lr')            # empty identifier (§3)
    bad(bob, "B5", "SETACL Work " + "x" * 300 + " lr")  # overlong
    bad(bob, "B6", "SETACL Work alice")            # too few arguments
    bad(bob, "B7", "GETACL")
    bad(bob, "B8", "LISTRIGHTS Work")
    no(bob, "N1", "SETACL Work nosuchuser lr", "NONEXISTENT")
    no(bob, "N2", "SETACL Work bob lr", "CANNOT")  # the owner keeps all
    no(bob, "N3", "SETACL Nope alice lr", "NONEXISTENT")
    untagged, _ = ok(bob, "A1", "GETACL Work")
    assert untagged == ["* ACL Work bob lrswipkxteancd"]


def test_acl_commands_need_admin_right(pair):
    _, alice, bob = pair
    grant(bob, "lr")
    no(alice, "S1", f'SETACL "{SHARED}" alice lrswi', "NOPERM")
    no(alice, "S2", f'DELETEACL "{SHARED}" alice', "NOPERM")
    no(alice, "S3", f'GETACL "{SHARED}"', "NOPERM")
    no(alice, "S4", f'LISTRIGHTS "{SHARED}" alice', "NOPERM")
    untagged, _ = ok(alice, "M1", f'MYRIGHTS "{SHARED}"')
    assert untagged == [f'* MYRIGHTS "{SHARED}" lr']
    grant(bob, "lra", tag="G2")
    ok(alice, "S5", f'SETACL "{SHARED}" anyone lr')
    untagged, _ = ok(alice, "S6", f'GETACL "{SHARED}"')
    assert untagged == [f'* ACL "{SHARED}" bob lrswipkxteancd alice lra anyone lr']


def test_no_lookup_right_means_nonexistent(pair):
    """RFC 4314 §6: without 'l' nothing reveals the mailbox."""
    _, alice, bob = pair
    grant(bob, "r")     # read but not lookup
    for tag, cmd in [("X1", f'SELECT "{SHARED}"'), ("X2", f'EXAMINE "{SHARED}"'),
                     ("X3", f'STATUS "{SHARED}" (MESSAGES)'),
                     ("X4", f'MYRIGHTS "{SHARED}"'), ("X5", f'GETACL "{SHARED}"'),
                     ("X6", f'DELETE "{SHARED}"'),
                     ("X7", 'SELECT "Other Users/bob/Nope"'),
                     ("X8", 'GETACL "Other Users/nobody/Work"')]:
        no(alice, tag, cmd, "NONEXISTENT")
    assert not [l for l in list_lines(alice) if "Other Users" in l]


# ---- LIST / NAMESPACE with Other Users ----

def test_list_shows_shared_with_parents(pair):
    _, alice, bob = pair
    assert not [l for l in list_lines(alice) if "Other Users" in l]
    grant(bob, "lr")
    lines = list_lines(alice)
    assert '* LIST (\\Noselect \\HasChildren) "/" "Other Users"' in lines
    assert '* LIST (\\Noselect \\HasChildren) "/" "Other Users/bob"' in lines
    assert f'* LIST (\\HasNoChildren) "/" "{SHARED}"' in lines
    # '%' walks the hierarchy
    lines = list_lines(alice, '"Other Users/%"', tag="L2")
    assert lines == ['* LIST (\\Noselect \\HasChildren) "/" "Other Users/bob"']
    # bob's other mailboxes stay hidden
    assert not [l for l in list_lines(alice) if "Other Users/bob/INBOX" in l]
    # a child shared without its parent: the parent is only \Noselect
    ok(bob, "C1", "CREATE Deep/Inner")
    grant(bob, "lr", mailbox="Deep/Inner", tag="G2")
    lines = list_lines(alice, tag="L3")
    assert '* LIST (\\Noselect \\HasChildren) "/" "Other Users/bob/Deep"' in lines
    assert '* LIST (\\HasNoChildren) "/" "Other Users/bob/Deep/Inner"' in lines


def test_anyone_and_negative_rights(server):
    bob = login(server, "bob")
    ok(bob, "C1", "CREATE Work")
    ok(bob, "G1", "SETACL Work anyone lr")
    alice = login(server, "alice")
    untagged, _ = ok(alice, "M1", f'MYRIGHTS "{SHARED}"')
    assert untagged == [f'* MYRIGHTS "{SHARED}" lr']
    ok(bob, "G2", "SETACL Work -alice r")
    untagged, _ = ok(alice, "M2", f'MYRIGHTS "{SHARED}"')
    assert untagged == [f'* MYRIGHTS "{SHARED}" l']
    no(alice, "S1", f'SELECT "{SHARED}"', "NOPERM")
    ok(bob, "G3", "SETACL Work -alice l")
    no(alice, "S2", f'SELECT "{SHARED}"', "NONEXISTENT")
    alice.close()
    bob.close()


# ---- reading ----

def test_lookup_without_read_is_noperm(pair):
    _, alice, bob = pair
    grant(bob, "l")
    no(alice, "S1", f'SELECT "{SHARED}"', "NOPERM")
    no(alice, "S2", f'EXAMINE "{SHARED}"', "NOPERM")
    no(alice, "S3", f'STATUS "{SHARED}" (MESSAGES)', "NOPERM")


def test_read_only_select_status_fetch(pair):
    _, alice, bob = pair
    grant(bob, "lr")
    untagged, _ = ok(alice, "T1", f'STATUS "{SHARED}" (MESSAGES UNSEEN)')
    assert untagged == [f'* STATUS "{SHARED}" (MESSAGES 2 UNSEEN 2)']
    untagged, tagged = ok(alice, "S1", f'SELECT "{SHARED}"')
    assert "[READ-ONLY]" in tagged       # RFC 4314 §5.2: none of i e s w t
    assert "* 2 EXISTS" in untagged
    assert "* OK [PERMANENTFLAGS ()] Flags permitted." in untagged
    ok(alice, "F1", "FETCH 1 (BODY[TEXT])")
    untagged, _ = ok(alice, "F2", "FETCH 1:2 (FLAGS)")
    assert all("\\Seen" not in l for l in untagged)
    no(alice, "ST", "STORE 1 +FLAGS (\\Flagged)")
    no(alice, "E1", "EXPUNGE")


def test_fetch_sets_seen_only_with_s(pair):
    _, alice, bob = pair
    grant(bob, "lrw")
    untagged, tagged = ok(alice, "S1", f'SELECT "{SHARED}"')
    assert "[READ-WRITE]" in tagged
    ok(alice, "F1", "FETCH 1 (BODY[])")
    untagged, _ = ok(alice, "F2", "FETCH 1 (FLAGS)")
    assert "\\Seen" not in untagged[0]
    grant(bob, "lrws", tag="G2")
    ok(alice, "S2", f'SELECT "{SHARED}"')
    ok(alice, "F3", "FETCH 1 (BODY[])")
    untagged, _ = ok(alice, "F4", "FETCH 1 (FLAGS)")
    assert "\\Seen" in untagged[0]


# ---- flags ----

def test_store_per_flag_rights(pair):
    _, alice, bob = pair
    grant(bob, "lrw")                  # w only: not \Seen, not \Deleted
    untagged, _ = ok(alice, "S1", f'SELECT "{SHARED}"')
    perm = [l for l in untagged if "PERMANENTFLAGS" in l][0]
    assert "\\Flagged" in perm and "\\*" in perm
    assert "\\Seen" not in perm and "\\Deleted" not in perm
    no(alice, "T1", "STORE 1 +FLAGS (\\Seen)", "NOPERM")
    no(alice, "T2", "STORE 1 +FLAGS (\\Deleted)", "NOPERM")
    # §4: not failed when at least one flag may change; the rest is dropped
    untagged, _ = ok(alice, "T3", "STORE 1 +FLAGS (\\Seen \\Flagged $Work)")
    f = flags_of(untagged)[1]
    assert "\\Flagged" in f and "$Work" in f and "\\Seen" not in f
    # bob marks it seen and deleted; alice's FLAGS replace keeps those
    ok(bob, "B1", "SELECT Work")
    ok(bob, "B2", "STORE 1 +FLAGS (\\Seen \\Deleted)")
    untagged, _ = ok(alice, "T4", "STORE 1 FLAGS (\\Answered)")
    f = [v for k, v in flags_of(untagged).items() if k == 1][-1]
    assert f == {"\\Answered", "\\Seen", "\\Deleted"}, f
    grant(bob, "lrst", tag="G2")       # s and t, no w
    ok(alice, "S2", f'SELECT "{SHARED}"')
    no(alice, "T5", "STORE 2 +FLAGS (\\Flagged)", "NOPERM")
    untagged, _ = ok(alice, "T6", "STORE 2 +FLAGS (\\Seen \\Deleted \\Flagged)")
    assert flags_of(untagged)[2] == {"\\Seen", "\\Deleted"}


def test_expunge_needs_e_close_ignores(pair):
    _, alice, bob = pair
    grant(bob, "lrt")
    ok(alice, "S1", f'SELECT "{SHARED}"')
    ok(alice, "T1", "STORE 1 +FLAGS (\\Deleted)")
    no(alice, "E1", "EXPUNGE", "NOPERM")
    no(alice, "E2", "UID EXPUNGE 1:*", "NOPERM")
    ok(alice, "C1", "CLOSE")            # §4: OK, expunges nothing
    untagged, _ = ok(bob, "ST", "STATUS Work (MESSAGES)")
    assert untagged == ["* STATUS Work (MESSAGES 2)"]
    grant(bob, "lrte", tag="G2")
    ok(alice, "S2", f'SELECT "{SHARED}"')
    untagged, _ = ok(alice, "E3", "EXPUNGE")
    assert "* 1 EXPUNGE" in untagged
    untagged, _ = ok(bob, "ST2", "STATUS Work (MESSAGES)")
    assert untagged == ["* STATUS Work (MESSAGES 1)"]


# ---- inserting ----

def test_append_needs_insert_and_drops_flags(pair):
    _, alice, bob = pair
    grant(bob, "lr")
    t = append_message(alice, SHARED, simple_message("a1"))
    assert t.startswith("AP NO [NOPERM]"), t
    grant(bob, "lris", tag="G2")
    t = append_message(alice, SHARED, simple_message("a2"), flags="\\Seen \\Flagged \\Deleted")
    assert t.startswith("AP OK [APPENDUID "), t
    uid = t.split()[4].rstrip("]")
    ok(bob, "S1", "SELECT Work")
    untagged, _ = ok(bob, "F1", f"UID FETCH {uid} (FLAGS)")
    assert flags_of(untagged)[3] == {"\\Seen"}, untagged


def test_copy_and_move_rights(pair):
    _, alice, bob = pair
    grant(bob, "lr")
    assert append_message(alice, "INBOX", simple_message("mine")).startswith("AP OK")
    ok(alice, "S1", "SELECT INBOX")
    ok(alice, "T1", "STORE 1 +FLAGS (\\Flagged \\Seen)")
    no(alice, "C1", f'COPY 1 "{SHARED}"', "NOPERM")
    grant(bob, "lri", tag="G2")        # i without s/w: the copy loses flags
    _, tagged = ok(alice, "C2", f'COPY 1 "{SHARED}"')
    assert "COPYUID" in tagged
    dst = re.search(r"COPYUID \d+ \S+ (\d+)", tagged).group(1)
    ok(bob, "B1", "SELECT Work")
    untagged, _ = ok(bob, "B2", f"UID FETCH {dst} (FLAGS)")
    assert flags_of(untagged)[3] == set(), untagged
    # MOVE out of the shared mailbox needs t and e there
    ok(alice, "S2", f'SELECT "{SHARED}"')
    no(alice, "M1", "MOVE 1 INBOX", "NOPERM")
    grant(bob, "lrite", tag="G3")
    ok(alice, "S3", f'SELECT "{SHARED}"')
    ok(alice, "M2", "MOVE 1 INBOX")


# ---- mailbox management ----

def test_create_delete_rename_in_shared(pair):
    _, alice, bob = pair
    grant(bob, "lr")
    no(alice, "C1", f'CREATE "{SHARED}/Sub"', "NOPERM")
    no(alice, "C2", 'CREATE "Other Users/bob/TopLevel"', "NOPERM")
    no(alice, "C3", 'CREATE "Other Users"', "NOPERM")
    grant(bob, "lrk", tag="G2")
    ok(alice, "C4", f'CREATE "{SHARED}/Sub"')
    # inherited the parent's ACL (RFC 4314 §4), so alice sees it
    lines = list_lines(alice)
    assert f'* LIST (\\HasNoChildren) "/" "{SHARED}/Sub"' in lines
    untagged, _ = ok(bob, "L1", 'LIST "" "Work/*"')
    assert any("Work/Sub" in l for l in untagged)
    no(alice, "D1", f'DELETE "{SHARED}/Sub"', "NOPERM")
    no(alice, "R1", f'RENAME "{SHARED}/Sub" "{SHARED}/Sub2"', "NOPERM")
    grant(bob, "lrkx", mailbox="Work/Sub", tag="G3")
    ok(alice, "R2", f'RENAME "{SHARED}/Sub" "{SHARED}/Sub2"')
    no(alice, "R3", f'RENAME "{SHARED}/Sub2" "Mine"', "CANNOT")
    ok(alice, "D2", f'DELETE "{SHARED}/Sub2"')
    untagged, _ = ok(bob, "L2", 'LIST "" "Work/*"')
    assert not [l for l in untagged if l.startswith("* LIST")]


def test_delete_drops_acl(pair):
    _, alice, bob = pair
    grant(bob, "lr")
    ok(bob, "C1", "CREATE Work/Child")
    ok(bob, "D1", "DELETE Work")           # stays as \Noselect parent
    ok(bob, "C2", "CREATE Work")           # revived: no old ACL
    untagged, _ = ok(bob, "A1", "GETACL Work")
    assert untagged == ["* ACL Work bob lrswipkxteancd"]
    no(alice, "S1", f'SELECT "{SHARED}"', "NONEXISTENT")


# ---- sessions on a shared mailbox ----

def test_selected_shared_mailbox_gets_owner_updates(pair):
    server, alice, bob = pair
    grant(bob, "lrswite")
    ok(alice, "S1", f'SELECT "{SHARED}"')
    ok(bob, "B1", "SELECT Work")
    # the owner's new message and flag change reach alice
    assert append_message(bob, "Work", simple_message("new")).startswith("AP OK")
    ok(bob, "B2", "STORE 1 +FLAGS (\\Flagged)")
    untagged, _ = ok(alice, "N1", "NOOP")
    assert "* 3 EXISTS" in untagged
    assert any(l.startswith("* 1 FETCH") and "\\Flagged" in l for l in untagged), untagged
    # and alice's changes reach bob
    ok(alice, "T1", "STORE 2 +FLAGS (\\Answered)")
    untagged, _ = ok(bob, "N2", "NOOP")
    assert any(l.startswith("* 2 FETCH") and "\\Answered" in l for l in untagged), untagged
    # IDLE on the shared mailbox sees bob's expunge at once
    alice.send("I2 IDLE\r\n")
    assert alice.readline().startswith("+")
    ok(bob, "B3", "STORE 3 +FLAGS (\\Deleted)")
    ok(bob, "B4", "EXPUNGE")
    lines = []
    while "* 3 EXPUNGE" not in lines:
        lines.append(alice.readline(timeout=5))
    alice.send("DONE\r\n")
    alice.until_tagged("I2")


def test_rights_change_is_seen_by_next_command(pair):
    _, alice, bob = pair
    grant(bob, "lr")
    untagged, _ = ok(alice, "M1", f'MYRIGHTS "{SHARED}"')
    assert untagged == [f'* MYRIGHTS "{SHARED}" lr']
    grant(bob, "lrsw", tag="G2")
    untagged, _ = ok(alice, "M2", f'MYRIGHTS "{SHARED}"')
    assert untagged == [f'* MYRIGHTS "{SHARED}" lrsw']
    ok(bob, "D1", "DELETEACL Work alice")
    no(alice, "M3", f'MYRIGHTS "{SHARED}"', "NONEXISTENT")


def test_acl_change_event_and_cli(pair):
    server, alice, bob = pair
    grant(bob, "lr")
    # the CLI sets, gets and deletes entries the same way
    r = server.cli("acl", "get", "bob", "Work")
    assert r.stdout.split("\n")[0:2] == ["bob lrswipkxtean", "alice lr"], r.stdout
    server.cli("acl", "set", "bob", "Work", "anyone", "lrs")
    untagged, _ = ok(alice, "M1", f'MYRIGHTS "{SHARED}"')
    assert untagged == [f'* MYRIGHTS "{SHARED}" lrs']
    server.cli("acl", "delete", "bob", "Work", "anyone")
    r = server.cli("acl", "set", "bob", "Work", "alice", "lrQ", check=False)
    assert r.returncode != 0
    r = server.cli("acl", "get", "bob", "Nope", check=False)
    assert r.returncode != 0
    untagged, _ = ok(bob, "A1", "GETACL Work")
    assert untagged == ["* ACL Work bob lrswipkxteancd alice lr"]


def acl_events(server):
    r = server.cli("events", "tail", "--from", "0")
    evs = [json.loads(l) for l in r.stdout.splitlines() if l.startswith("{")]
    return [e for e in evs if e["event"] == "vnd.tidings.AclChange"]


def test_acl_change_events(pair):
    """SETACL / DELETEACL write vnd.tidings.AclChange: the mailbox (the
    owner's URL), the identifier and the new rights ("" when removed);
    "user" is who acted, like every event (docs/acl.md)."""
    server, alice, bob = pair
    grant(bob, "lra")
    ok(alice, "S1", f'SETACL "{SHARED}" anyone +lr')
    ok(bob, "D1", "DELETEACL Work anyone")
    evs = acl_events(server)
    assert [(e["vnd.tidings.identifier"], e["vnd.tidings.rights"], e["user"]) for e in evs] == [
        ("alice", "lra", "bob"), ("anyone", "lr", "alice"), ("anyone", "", "bob")]
    for e in evs:
        assert re.match(r"imap://bob@[^/]+/Work;UIDVALIDITY=\d+$", e["mailboxID"]), e
    # a refused change writes nothing
    bad(bob, "B1", "SETACL Work alice lrQ")
    assert len(acl_events(server)) == 3


# ---- rights revoked while the mailbox is selected (docs/acl.md) ----

def no_message_updates(untagged):
    return [l for l in untagged
            if re.match(r"\* \d+ (EXISTS|RECENT|EXPUNGE|FETCH)", l) or l.startswith("* VANISHED")]


def test_revoked_read_stops_updates_and_commands(pair):
    server, alice, bob = pair
    grant(bob, "lrswite")
    ok(alice, "S1", f'SELECT "{SHARED}"')
    ok(bob, "B1", "SELECT Work")
    # queued for alice before the revocation, never sent after it
    assert append_message(bob, "Work", simple_message("before")).startswith("AP OK")
    ok(bob, "G2", "SETACL Work alice -r")
    assert append_message(bob, "Work", simple_message("after"), tag="AQ").startswith("AQ OK")
    ok(bob, "B2", "STORE 1 +FLAGS (\\Flagged)")
    ok(bob, "B3", "STORE 2 +FLAGS (\\Deleted)")
    ok(bob, "B4", "EXPUNGE")
    untagged, _ = ok(alice, "N1", "NOOP")
    assert no_message_updates(untagged) == [], untagged
    for i, cmd in enumerate(["FETCH 1 FLAGS", "UID FETCH 1:* FLAGS", "SEARCH ALL",
                             "STORE 1 +FLAGS (\\Seen)", "EXPUNGE", "CHECK",
                             "COPY 1 INBOX", "UID SEARCH ALL"]):
        tagged = no(alice, f"R{i}", cmd, "NOPERM")
        assert "revoked" in tagged
    assert no_message_updates(alice.command("N2", "NOOP")[0]) == []
    # giving 'r' back does not revive the old view: SELECT again
    grant(bob, "lrswite", tag="G3")
    no(alice, "R9", "FETCH 1 FLAGS", "NOPERM")
    # CLOSE still leaves the mailbox, expunging nothing
    untagged, _ = ok(alice, "C1", "CLOSE")
    assert no_message_updates(untagged) == []
    untagged, _ = ok(alice, "S2", f'SELECT "{SHARED}"')
    assert "* 3 EXISTS" in untagged, untagged
    untagged, _ = ok(alice, "F1", "FETCH 1 FLAGS")
    assert any(l.startswith("* 1 FETCH") and "\\Flagged" in l for l in untagged), untagged
    # without 'r' SELECT itself is refused
    ok(bob, "G4", "SETACL Work alice lr")
    ok(alice, "U1", "UNSELECT")
    ok(bob, "G5", "SETACL Work alice l")
    no(alice, "S3", f'SELECT "{SHARED}"', "NOPERM")


def test_revoked_lookup_during_idle_sends_nothing(pair):
    server, alice, bob = pair
    grant(bob, "lr")
    ok(alice, "S1", f'EXAMINE "{SHARED}"')
    alice.send("I1 IDLE\r\n")
    assert alice.readline().startswith("+")
    # still allowed: the update arrives during IDLE
    assert append_message(bob, "Work", simple_message("seen")).startswith("AP OK")
    assert alice.readline(timeout=5) == "* 3 EXISTS"
    ok(bob, "D1", "DELETEACL Work alice")
    assert append_message(bob, "Work", simple_message("hidden"), tag="AQ").startswith("AQ OK")
    ok(bob, "B1", "SELECT Work")
    ok(bob, "B2", "STORE 1:* +FLAGS (\\Flagged)")
    assert alice.expect_nothing(0.5)
    alice.send("DONE\r\n")
    untagged, tagged = alice.until_tagged("I1")
    assert tagged.startswith("I1 OK") and no_message_updates(untagged) == [], untagged
    no(alice, "F1", "FETCH 1:* FLAGS", "NOPERM")
    no(alice, "F2", "UID SEARCH ALL", "NOPERM")
    # the mailbox no longer exists for her, but UNSELECT works
    ok(alice, "U1", "UNSELECT")
    no(alice, "S2", f'SELECT "{SHARED}"', "NONEXISTENT")


def test_other_rights_narrowed_while_selected(pair):
    """Rights other than l and r are re-read at once on a selected
    mailbox: losing 'e' stops EXPUNGE, losing 's' stops \\Seen."""
    server, alice, bob = pair
    grant(bob, "lrswite")
    ok(alice, "S1", f'SELECT "{SHARED}"')
    ok(alice, "T1", "STORE 1 +FLAGS.SILENT (\\Deleted)")
    ok(bob, "G2", "SETACL Work alice -es")
    no(alice, "E1", "EXPUNGE", "NOPERM")
    ok(alice, "F1", "FETCH 2 BODY[]")
    untagged, _ = ok(alice, "F2", "FETCH 2 FLAGS")
    assert "\\Seen" not in untagged[0], untagged
    # the other updates keep coming: 'l' and 'r' are still there
    assert append_message(bob, "Work", simple_message("new")).startswith("AP OK")
    untagged, _ = ok(alice, "N1", "NOOP")
    assert "* 3 EXISTS" in untagged, untagged


def test_n_right_in_acl_commands_and_cli(pair):
    """RFC 5257 §4.10's "n" is a right like the others: SETACL, GETACL,
    MYRIGHTS, LISTRIGHTS, the CLI; SELECT with it is READ-WRITE."""
    server, alice, bob = pair
    grant(bob, "lrn")
    untagged, _ = ok(alice, "M1", f'MYRIGHTS "{SHARED}"')
    assert untagged == [f'* MYRIGHTS "{SHARED}" lrn']
    untagged, tagged = ok(alice, "S1", f'SELECT "{SHARED}"')
    assert "[READ-WRITE]" in tagged, tagged
    ok(alice, "U1", "UNSELECT")
    ok(bob, "G2", "SETACL Work alice -n")
    untagged, _ = ok(bob, "A1", "GETACL Work")
    assert untagged == ["* ACL Work bob lrswipkxteancd alice lr"]
    untagged, tagged = ok(alice, "S2", f'SELECT "{SHARED}"')
    assert "[READ-ONLY]" in tagged, tagged
    ok(bob, "G3", "SETACL Work anyone +n")
    untagged, _ = ok(alice, "M2", f'MYRIGHTS "{SHARED}"')
    assert untagged == [f'* MYRIGHTS "{SHARED}" lrn']
    bad(bob, "B1", "SETACL Work alice lrN")
    server.cli("acl", "set", "bob", "Work", "alice", "nlr")
    r = server.cli("acl", "get", "bob", "Work")
    assert r.stdout.split("\n")[0:3] == ["bob lrswipkxtean", "alice lrn", "anyone n"], r.stdout


def test_revoked_view_gets_no_notify_selected_events(pair):
    """NOTIFY SELECTED (RFC 5465 §6.1) pushes message events at once;
    once 'r' is gone none of them, nor AnnotationChange, reach alice."""
    server, alice, bob = pair
    grant(bob, "lrsw")
    ok(alice, "S1", f'SELECT "{SHARED}"')
    ok(alice, "N1", "NOTIFY SET (selected (MessageNew (UID) MessageExpunge "
                    "FlagChange AnnotationChange))")
    assert append_message(bob, "Work", simple_message("pushed")).startswith("AP OK")
    assert alice.readline(timeout=5) == "* 3 EXISTS"
    assert alice.readline(timeout=5).startswith("* 3 FETCH (UID 3")
    ok(alice, "N1B", "NOOP")   # whatever else came before the change
    ok(bob, "G2", "SETACL Work alice -r")
    assert append_message(bob, "Work", simple_message("hidden"), tag="AQ").startswith("AQ OK")
    ok(bob, "B1", "SELECT Work")
    ok(bob, "B2", "STORE 1 +FLAGS (\\Flagged)")
    ok(bob, "B3", 'STORE 1 ANNOTATION (/comment (value.shared "secret"))')
    ok(bob, "B4", "STORE 2 +FLAGS.SILENT (\\Deleted)")
    ok(bob, "B5", "EXPUNGE")
    assert alice.expect_nothing(0.5)
    untagged, _ = ok(alice, "N2", "NOOP")
    assert no_message_updates(untagged) == [], untagged
