"""LIST-EXTENDED (RFC 5258), LIST-STATUS (RFC 5819), SPECIAL-USE selection
(RFC 6154) and the OLDNAME-free LIST forms, against a real tidingsd."""
import re

from conftest import append_message, simple_message


def ok(c, tag, text):
    untagged, tagged = c.command(tag, text)
    assert tagged.startswith(tag + " OK"), (text, tagged)
    return untagged


def lists(untagged):
    """name -> (set of attributes, extended data or "")"""
    out = {}
    for line in untagged:
        m = re.match(r'^\* LIST \(([^)]*)\) "/" ("(?:[^"\\]|\\.)*"|\S+)(?: (.*))?$', line)
        if m:
            name = m.group(2).strip('"')
            assert name not in out, "one LIST response per name (RFC 5258 §3.3)"
            out[name] = (set(m.group(1).split()), m.group(3) or "")
    return out


def setup_tree(c):
    for name in ("Fruit", "Fruit/Apple", "Fruit/Banana", "Tofu", "Vegetable/Broccoli"):
        ok(c, "C", f'CREATE "{name}"')
    for name in ("Fruit/Banana", "Fruit/Peach", "Vegetable/Broccoli", "Tofu"):
        ok(c, "S", f'SUBSCRIBE "{name}"')


def test_capability_advertised(client):
    untagged = ok(client, "A", "CAPABILITY")
    caps = untagged[0].split()
    assert "LIST-EXTENDED" in caps and "LIST-STATUS" in caps


def test_selection_subscribed_nonexistent(client):
    setup_tree(client)
    got = lists(ok(client, "A", 'LIST (SUBSCRIBED) "" "*"'))
    assert set(got) == {"Fruit/Banana", "Fruit/Peach", "Vegetable/Broccoli", "Tofu"}
    assert got["Fruit/Peach"][0] == {"\\NonExistent", "\\Subscribed", "\\HasNoChildren"}
    assert "\\Subscribed" in got["Tofu"][0] and "\\NonExistent" not in got["Tofu"][0]


def test_recursivematch_childinfo(client):
    setup_tree(client)
    got = lists(ok(client, "A", 'LIST (SUBSCRIBED RECURSIVEMATCH) "" "%" RETURN (CHILDREN)'))
    # Fruit is not subscribed but has subscribed children: CHILDINFO
    assert "Fruit" in got and "\\Subscribed" not in got["Fruit"][0]
    assert got["Fruit"][1] == '("CHILDINFO" ("SUBSCRIBED"))'
    assert "\\HasChildren" in got["Fruit"][0]
    # Vegetable exists only as a parent (\Noselect here)
    assert got["Vegetable"][1] == '("CHILDINFO" ("SUBSCRIBED"))'
    assert "\\Subscribed" in got["Tofu"][0] and got["Tofu"][1] == ""
    assert "INBOX" not in got


def test_recursivematch_nonexistent_parent(client):
    ok(client, "S", 'SUBSCRIBE "Ghost/Child"')
    got = lists(ok(client, "A", 'LIST (SUBSCRIBED RECURSIVEMATCH) "" "%"'))
    assert got["Ghost"][0] >= {"\\NonExistent"}
    assert got["Ghost"][1] == '("CHILDINFO" ("SUBSCRIBED"))'
    # without RECURSIVEMATCH, nothing for Ghost
    got = lists(ok(client, "B", 'LIST (SUBSCRIBED) "" "%"'))
    assert "Ghost" not in got


def test_recursivematch_alone_is_bad(client):
    _, tagged = client.command("A", 'LIST (RECURSIVEMATCH) "" "*"')
    assert tagged.startswith("A BAD")
    _, tagged = client.command("B", 'LIST (REMOTE RECURSIVEMATCH) "" "*"')
    assert tagged.startswith("B BAD")
    ok(client, "C", 'LIST (REMOTE RECURSIVEMATCH SUBSCRIBED) "" "*"')


def test_bad_options(client):
    for i, text in enumerate([
            'LIST (NOSUCH) "" "*"',
            'LIST "" "*" RETURN (NOSUCH)',
            'LIST "" "*" RETURN (STATUS)',
            'LIST "" "*" RETURN (STATUS ())',
            'LIST "" "*" RETURN (STATUS (MESSAGES BOGUS))',
            'LIST "" "*" RETURN SUBSCRIBED',
            'LIST "" "*" RETURN',
            'LIST "" ()',
            'LIST ("SUBSCRIBED") "" "*"',
            'LIST "" "*" RETURN (CHILDREN) extra',
            'LIST "" (' + " ".join(['"a"'] * 101) + ')']):
        _, tagged = client.command(f"X{i}", text)
        assert tagged.startswith(f"X{i} BAD"), (text, tagged)
    ok(client, "Z", "NOOP")


def test_remote_is_accepted(client):
    got = lists(ok(client, "A", 'LIST (REMOTE) "" "%"'))
    assert "INBOX" in got


def test_multiple_patterns(client):
    setup_tree(client)
    got = lists(ok(client, "A", 'LIST "" ("INBOX" "Fruit/*" "Fru*")'))
    assert set(got) == {"INBOX", "Fruit", "Fruit/Apple", "Fruit/Banana"}


def test_return_subscribed_and_children(client):
    setup_tree(client)
    got = lists(ok(client, "A", 'LIST "" "*" RETURN (SUBSCRIBED CHILDREN)'))
    assert "\\Subscribed" in got["Fruit/Banana"][0]
    assert "\\Subscribed" not in got["Fruit/Apple"][0]
    assert "\\HasChildren" in got["Fruit"][0]
    assert "\\HasNoChildren" in got["Fruit/Apple"][0]
    # a plain LIST does not list subscribed names that do not exist
    assert "Fruit/Peach" not in got
    # and does not carry \Subscribed without the return option
    got = lists(ok(client, "B", 'LIST "" "*"'))
    assert all("\\Subscribed" not in a for a, _ in got.values())


def test_special_use_selection(client):
    got = lists(ok(client, "A", 'LIST (SPECIAL-USE) "" "*"'))
    assert "\\Sent" in got["Sent"][0] and "INBOX" not in got
    assert all(any(a.startswith("\\") and a not in ("\\HasChildren", "\\HasNoChildren")
                   for a in attrs) for attrs, _ in got.values())


def test_list_status(client):
    append_message(client, "INBOX", simple_message())
    append_message(client, "INBOX", simple_message(), flags="\\Seen")
    ok(client, "C", 'CREATE "Parent/Child"')
    ok(client, "D", 'DELETE "Parent"')  # stays as a \Noselect parent
    untagged = ok(client, "A", 'LIST "" "*" RETURN (STATUS (MESSAGES UNSEEN UIDNEXT))')
    # the STATUS response follows the mailbox's LIST response (RFC 5819)
    i = next(i for i, l in enumerate(untagged) if l.startswith("* LIST") and l.endswith(" INBOX"))
    assert untagged[i + 1] == "* STATUS INBOX (MESSAGES 2 UNSEEN 1 UIDNEXT 3)"
    # no STATUS for a \Noselect mailbox
    assert not any(l.startswith("* STATUS Parent ") for l in untagged)
    assert any(l.startswith("* STATUS Parent/Child ") for l in untagged)


def test_list_status_with_subscribed_selection(client):
    ok(client, "S", 'SUBSCRIBE "Nothing"')
    ok(client, "S2", 'SUBSCRIBE "INBOX"')
    untagged = ok(client, "A", 'LIST (SUBSCRIBED) "" "*" RETURN (STATUS (MESSAGES))')
    assert "* STATUS INBOX (MESSAGES 0)" in untagged
    assert not any(l.startswith("* STATUS Nothing") for l in untagged)
    assert "\\NonExistent" in lists(untagged)["Nothing"][0]


def test_empty_pattern_and_lsub_unchanged(client):
    untagged = ok(client, "A", 'LIST "" ""')
    assert untagged == ['* LIST (\\Noselect) "/" ""']
    ok(client, "S", 'SUBSCRIBE "a/b"')
    untagged = ok(client, "B", 'LSUB "" "%"')
    assert untagged == ['* LSUB (\\Noselect) "/" a']
    _, tagged = client.command("C", 'LSUB "" ("a")')
    assert tagged.startswith("C BAD")


def test_rename_seen_by_list(server):
    c = server.raw()
    c.login("alice", "secret-pw")
    ok(c, "C", 'CREATE "Old/Sub"')
    ok(c, "R", 'RENAME "Old" "New"')
    got = lists(ok(c, "A", 'LIST "" "*" RETURN (CHILDREN)'))
    assert "Old" not in got and "\\HasChildren" in got["New"][0] and "New/Sub" in got
    c.close()


def test_list_status_needs_read_right_on_shared(server):
    """RFC 5819 §2: a listed mailbox whose STATUS would fail (here: 'l'
    without 'r', RFC 4314) gets no STATUS response and \\Noselect."""
    alice = server.raw()
    alice.login("alice", "secret-pw")
    bob = server.raw()
    bob.login("bob", "bob-pw")
    for box in ("Lonly", "Readable"):
        ok(alice, "C", f"CREATE {box}")
        append_message(alice, box, simple_message())
    ok(alice, "A1", "SETACL Lonly bob l")
    ok(alice, "A2", "SETACL Readable bob lr")
    untagged = ok(bob, "B1", 'LIST "" "Other Users/*" RETURN (CHILDREN STATUS (MESSAGES UNSEEN))')
    got = lists(untagged)
    assert "\\Noselect" in got["Other Users/alice/Lonly"][0]
    assert "\\Noselect" not in got["Other Users/alice/Readable"][0]
    assert "\\HasChildren" in got["Other Users/alice"][0]
    assert '* STATUS "Other Users/alice/Readable" (MESSAGES 1 UNSEEN 1)' in untagged
    assert not any("Lonly" in l for l in untagged if l.startswith("* STATUS"))
    # a plain LIST still shows Lonly as an ordinary mailbox (it exists)
    got = lists(ok(bob, "B2", 'LIST "" "Other Users/alice/%"'))
    assert "\\Noselect" not in got["Other Users/alice/Lonly"][0]
    # and STATUS itself refuses
    _, tagged = bob.command("B3", 'STATUS "Other Users/alice/Lonly" (MESSAGES)')
    assert tagged.startswith("B3 NO [NOPERM]"), tagged
    # granting 'r' brings the STATUS back
    ok(alice, "A3", "SETACL Lonly bob +r")
    untagged = ok(bob, "B4", 'LIST "" "Other Users/alice/Lonly" RETURN (STATUS (MESSAGES))')
    assert '* STATUS "Other Users/alice/Lonly" (MESSAGES 1)' in untagged
    alice.close()
    bob.close()


def test_list_status_deleted_items_and_special_use_return(client):
    """STATUS items of QUOTA (RFC 9208 §4.1.4) work in LIST-STATUS too;
    RETURN (SPECIAL-USE) without the selection option lists every
    mailbox and marks the special ones (RFC 6154 §2)."""
    append_message(client, "INBOX", simple_message(body="x" * 100 + "\r\n"), flags="\\Deleted")
    append_message(client, "INBOX", simple_message())
    untagged = ok(client, "A", 'LIST "" "INBOX" RETURN (STATUS (MESSAGES DELETED DELETED-STORAGE))')
    m = re.search(r"\* STATUS INBOX \(MESSAGES 2 DELETED 1 DELETED-STORAGE (\d+)\)", "\n".join(untagged))
    assert m and int(m.group(1)) > 100, untagged
    got = lists(ok(client, "B", 'LIST "" "*" RETURN (SPECIAL-USE)'))
    assert "INBOX" in got and "\\Sent" in got["Sent"][0]


def test_list_status_size(client):
    """STATUS SIZE (RFC 9051 §6.3.11 / RFC 8438) in LIST-STATUS: per
    mailbox, the sum of RFC822.SIZE, the same as STATUS SIZE; 0 when empty;
    none for a \\Noselect name."""
    small = simple_message()
    big = simple_message(body="y" * 5000 + "\r\n")
    append_message(client, "INBOX", small)
    append_message(client, "INBOX", big)
    ok(client, "C", 'CREATE "Box/Leaf"')
    append_message(client, "Box/Leaf", big)
    ok(client, "C2", 'CREATE "Empty"')
    ok(client, "D", 'DELETE "Box"')        # \Noselect parent
    untagged = ok(client, "A", 'LIST "" "*" RETURN (STATUS (SIZE MESSAGES DELETED-STORAGE))')
    sizes = {}
    for line in untagged:
        m = re.match(r'^\* STATUS ("[^"]*"|\S+) \(SIZE (\d+) MESSAGES (\d+) DELETED-STORAGE 0\)$', line)
        if m:
            sizes[m.group(1).strip('"')] = (int(m.group(2)), int(m.group(3)))
    assert sizes["INBOX"] == (len(small.encode()) + len(big.encode()), 2)
    assert sizes["Box/Leaf"] == (len(big.encode()), 1)
    assert sizes["Empty"] == (0, 0)
    assert "Box" not in sizes
    for name, (size, _) in sizes.items():
        st = ok(client, "S", f'STATUS "{name}" (SIZE)')
        assert len(st) == 1 and st[0].endswith(f" (SIZE {size})"), st
    _, tagged = client.command("B", 'LIST "" "*" RETURN (STATUS (SIZE BOGUS))')
    assert tagged.startswith("B BAD"), tagged
