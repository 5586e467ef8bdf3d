"""The admin CLI's mailbox and message verbs (docs/cli.md):
`mailbox create|delete|rename`, `message append|list`, their exit codes and
messages, and that their changes reach a running tidingsd's sessions like
IMAP changes do: EXISTS in IDLE within 1 s and on NOOP, a new mailbox in LIST
at once (RFC 3501 §7.3.1, §6.3.8; RFC 2177).
"""
import datetime
import json
import os
import re
import sqlite3
import subprocess
import time

import pytest
from conftest import TIDINGS, TIMEOUT, append_message, simple_message

# The design target for a push is well under 100 ms (pump poll: 50 ms);
# 1 s keeps the test robust on a loaded machine and under ASan.
PUSH_LIMIT = 1.0

ISO8601 = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}"


def run(server, *args, data=None):
    """Runs `tidings -c CONF ARGS` with bytes on stdin; returns the result
    with stdout/stderr as text."""
    r = subprocess.run([TIDINGS, "-c", server.config_path, *args],
                       input=data if data is not None else b"",
                       capture_output=True, timeout=60)
    r.stdout = r.stdout.decode("utf-8", "replace")
    r.stderr = r.stderr.decode("utf-8", "replace")
    return r


def ok(server, *args, data=None):
    r = run(server, *args, data=data)
    assert r.returncode == 0, f"tidings {' '.join(args)}: {r.returncode} {r.stderr}"
    assert r.stderr == "", r.stderr
    return r.stdout


def fails(server, *args, data=None, code=1):
    """Runs a call that must fail with CODE and one line on stderr;
    returns that line."""
    r = run(server, *args, data=data)
    assert r.returncode == code, f"tidings {' '.join(args)}: {r.returncode} {r.stdout} {r.stderr}"
    assert r.stdout == "", r.stdout
    lines = r.stderr.splitlines()
    assert len(lines) == 1, r.stderr
    return lines[0]


def append(server, user, mailbox, data, *options):
    out = ok(server, "message", "append", *options, user, mailbox, data=data)
    assert re.fullmatch(r"\d+\n", out), out
    return int(out)


def login(server, user="alice", password="secret-pw"):
    c = server.raw()
    c.login(user, password)
    return c


def cmd_ok(c, tag, text):
    untagged, tagged = c.command(tag, text)
    assert tagged.startswith(tag + " OK"), f"{text}: {tagged}"
    return untagged


def list_names(c, tag="LS"):
    names = []
    for line in cmd_ok(c, tag, 'LIST "" "*"'):
        m = re.match(r'\* LIST \(([^)]*)\) (?:"/"|NIL) (?:"((?:[^"\\]|\\.)*)"|(\S+))$', line)
        assert m, line
        names.append(m.group(2) if m.group(2) is not None else m.group(3))
    return names


def status_messages(c, mailbox, tag="ST"):
    for line in cmd_ok(c, tag, f'STATUS "{mailbox}" (MESSAGES)'):
        m = re.search(r"\(MESSAGES (\d+)\)", line)
        if m:
            return int(m.group(1))
    raise AssertionError("no STATUS response")


def mailbox_list(server, user="alice"):
    """Names from `tidings mailbox list USER` (first column)."""
    out = ok(server, "mailbox", "list", user)
    return [line.split("  ")[0] for line in out.splitlines()[1:]]


def wait_line(c, pattern, timeout):
    """Reads lines until one matches PATTERN, within TIMEOUT seconds."""
    deadline = time.monotonic() + timeout
    seen = []
    while True:
        left = deadline - time.monotonic()
        assert left > 0, f"no {pattern!r} within {timeout} s; got {seen}"
        try:
            line = c.readline(timeout=left)
        except (TimeoutError, OSError):
            raise AssertionError(f"no {pattern!r} within {timeout} s; got {seen}")
        seen.append(line)
        if re.match(pattern, line):
            return line


# ------------------------------------------------------------------ help

def test_help_shows_new_verbs(server):
    out = ok(server, "help")
    for synopsis in ("mailbox create USER NAME", "mailbox delete USER NAME",
                     "mailbox rename USER OLD NEW",
                     "message append [--flags FLAGS] USER MAILBOX [FILE]",
                     "message list USER MAILBOX",
                     # the existing verbs are still there
                     "user add NAME", "mailbox list NAME"):
        assert synopsis in out, synopsis


# --------------------------------------------------------- mailbox create

def test_mailbox_create_shows_in_list_at_once(server):
    c = login(server)
    try:
        assert "Projects" not in list_names(c, "L0")
        ok(server, "mailbox", "create", "alice", "Projects")
        # no wait: the CLI has committed when it exits
        assert "Projects" in list_names(c, "L1")
        assert "Projects" in mailbox_list(server)
        # it is a real mailbox: selectable, empty
        untagged = cmd_ok(c, "S1", 'SELECT "Projects"')
        assert "* 0 EXISTS" in untagged
    finally:
        c.close()


def test_mailbox_create_with_parents_and_utf8(server):
    c = login(server)
    try:
        ok(server, "mailbox", "create", "alice", "Kunden/Entwürfe")
        names = list_names(c)
        # RFC 3501 §5.1.3: modified UTF-7 on the wire
        assert "Kunden/Entw&APw-rfe" in names, names
        assert "Kunden" in names, names
        assert "Kunden/Entwürfe" in mailbox_list(server)
    finally:
        c.close()


def test_mailbox_create_only_for_that_user(server):
    ok(server, "mailbox", "create", "bob", "BobOnly")
    assert "BobOnly" in mailbox_list(server, "bob")
    assert "BobOnly" not in mailbox_list(server, "alice")


def test_mailbox_create_existing_fails(server):
    assert fails(server, "mailbox", "create", "alice", "Sent") == \
        "tidings: mailbox 'Sent' already exists for user 'alice'"
    assert fails(server, "mailbox", "create", "alice", "inbox") == \
        "tidings: mailbox 'inbox' already exists for user 'alice'"


def test_mailbox_create_unknown_user_fails(server):
    assert fails(server, "mailbox", "create", "nobody", "X") == \
        "tidings: no such user 'nobody'"


@pytest.mark.parametrize("name", ["a//b", "/a", "a/", "", "a*b", "a%b", "x\x01y"])
def test_mailbox_create_invalid_name_fails(server, name):
    line = fails(server, "mailbox", "create", "alice", name)
    assert line.startswith("tidings: invalid mailbox name '"), line
    assert "\x01" not in line
    # and nothing was created
    assert len(mailbox_list(server)) == 6


@pytest.mark.parametrize("args", [
    ("mailbox", "create"),
    ("mailbox", "create", "alice"),
    ("mailbox", "create", "alice", "A", "B"),
])
def test_mailbox_create_usage(server, args):
    line = fails(server, *args, code=2)
    assert line == "usage: tidings [-c FILE] mailbox create USER NAME; try 'tidings help'"


def test_unknown_verb_of_new_noun_is_usage_error(server):
    line = fails(server, "message", "remove", "alice", code=2)
    assert line == "usage: tidings [-c FILE] message append|list ...; try 'tidings help'"
    line = fails(server, "mailbox", "remove", "alice", "X", code=2)
    assert line.startswith("usage: tidings [-c FILE] mailbox ")
    assert "create" in line and "delete" in line and "rename" in line and "list" in line


# --------------------------------------------------------- mailbox delete

def test_mailbox_delete_disappears_from_list(server):
    c = login(server)
    try:
        cmd_ok(c, "C1", "CREATE Old")
        append(server, "alice", "Old", simple_message().encode())
        ok(server, "mailbox", "delete", "alice", "Old")
        assert "Old" not in list_names(c)
        assert "Old" not in mailbox_list(server)
        _, tagged = c.command("S1", "SELECT Old")
        assert tagged.startswith("S1 NO"), tagged
    finally:
        c.close()


def test_mailbox_delete_nonexistent_fails(server):
    assert fails(server, "mailbox", "delete", "bob", "Nope") == \
        "tidings: mailbox 'Nope' does not exist for user 'bob'"


def test_mailbox_delete_inbox_fails(server):
    line = fails(server, "mailbox", "delete", "alice", "INBOX")
    assert line.startswith("tidings: cannot delete mailbox 'INBOX' of user 'alice': "), line
    assert "INBOX" in mailbox_list(server)


def test_mailbox_delete_with_children_keeps_noselect(server):
    ok(server, "mailbox", "create", "alice", "P/C")
    ok(server, "mailbox", "delete", "alice", "P")
    out = ok(server, "mailbox", "list", "alice")
    assert re.search(r"^P +\\Noselect ", out, re.M), out
    # RFC 3501 §6.3.4: deleting the \Noselect parent of others is refused
    line = fails(server, "mailbox", "delete", "alice", "P")
    assert line.startswith("tidings: cannot delete mailbox 'P' of user 'alice': "), line


def test_mailbox_delete_usage(server):
    assert fails(server, "mailbox", "delete", "alice", code=2) == \
        "usage: tidings [-c FILE] mailbox delete USER NAME; try 'tidings help'"


# --------------------------------------------------------- mailbox rename

def test_mailbox_rename_keeps_messages_and_children(server):
    ok(server, "mailbox", "create", "alice", "Work/Old")
    append(server, "alice", "Work", simple_message(subject="in work").encode())
    append(server, "alice", "Work/Old", simple_message(subject="in old").encode())
    c = login(server)
    try:
        ok(server, "mailbox", "rename", "alice", "Work", "Büro")
        names = list_names(c)
        assert "B&APw-ro" in names and "B&APw-ro/Old" in names, names
        assert "Work" not in names and "Work/Old" not in names, names
        assert status_messages(c, "B&APw-ro", "S1") == 1
        assert status_messages(c, "B&APw-ro/Old", "S2") == 1
    finally:
        c.close()


def test_mailbox_rename_inbox_moves_messages(server):
    append(server, "alice", "INBOX", simple_message().encode())
    ok(server, "mailbox", "rename", "alice", "INBOX", "Old-Inbox")
    c = login(server)
    try:
        # RFC 3501 §6.3.5: INBOX stays, empty
        assert status_messages(c, "INBOX", "S1") == 0
        assert status_messages(c, "Old-Inbox", "S2") == 1
    finally:
        c.close()


def test_mailbox_rename_errors(server):
    assert fails(server, "mailbox", "rename", "alice", "Nope", "New") == \
        "tidings: mailbox 'Nope' does not exist for user 'alice'"
    assert fails(server, "mailbox", "rename", "alice", "Drafts", "Sent") == \
        "tidings: mailbox 'Sent' already exists for user 'alice'"
    assert fails(server, "mailbox", "rename", "nobody", "Drafts", "X") == \
        "tidings: no such user 'nobody'"
    line = fails(server, "mailbox", "rename", "alice", "Drafts", "Drafts/Sub")
    assert line.startswith("tidings: cannot rename mailbox 'Drafts' of user 'alice': "), line
    line = fails(server, "mailbox", "rename", "alice", "Drafts", "a//b")
    assert line.startswith("tidings: invalid mailbox name 'a//b'"), line
    assert fails(server, "mailbox", "rename", "alice", "Drafts", code=2) == \
        "usage: tidings [-c FILE] mailbox rename USER OLD NEW; try 'tidings help'"
    names = mailbox_list(server)
    assert "Drafts" in names and "New" not in names


# --------------------------------------------------------- message append

def fetch_body(c, tag, seq):
    """(RFC822.SIZE, BODY[] bytes, FLAGS text, INTERNALDATE) of message SEQ."""
    c.send(f"{tag} FETCH {seq} (RFC822.SIZE FLAGS INTERNALDATE BODY.PEEK[])\r\n")
    line = c.readline()
    m = re.match(r"\* \d+ FETCH \((.*)\{(\d+)\}$", line)
    assert m, line
    n = int(m.group(2))
    while len(c.buf) < n:
        c._fill()
    body, c.buf = c.buf[:n], c.buf[n:]
    rest = c.readline()
    _, tagged = c.until_tagged(tag)
    assert tagged.startswith(tag + " OK"), tagged
    items = m.group(1) + rest
    size = int(re.search(r"RFC822\.SIZE (\d+)", items).group(1))
    flags = re.search(r"FLAGS \(([^)]*)\)", items).group(1)
    date = re.search(r'INTERNALDATE "([^"]+)"', items).group(1)
    return size, body, flags, date


def test_message_append_stdin_and_file(server, tmp_path):
    msg1 = simple_message(subject="first").encode()
    assert append(server, "alice", "INBOX", msg1) == 1
    # 8-bit bytes and bare LF line ends: stored byte for byte
    msg2 = b"Subject: zweite\nFrom: x@example.org\n\nGr\xc3\xbc\xc3\x9fe\n\xff\xfe\n"
    p = tmp_path / "m.eml"
    p.write_bytes(msg2)
    out = ok(server, "message", "append", "alice", "INBOX", str(p))
    assert out == "2\n"
    # "-" is standard input too
    out = ok(server, "message", "append", "alice", "INBOX", "-", data=msg1)
    assert out == "3\n"
    c = login(server)
    try:
        cmd_ok(c, "S1", "SELECT INBOX")
        size, body, flags, _ = fetch_body(c, "F1", 1)
        assert body == msg1 and size == len(msg1)
        size, body, flags, _ = fetch_body(c, "F2", 2)
        assert body == msg2 and size == len(msg2)
        # \Recent is this session's (RFC 3501 §2.3.2), nothing else is set
        assert flags.split() == ["\\Recent"], flags
    finally:
        c.close()


def test_message_append_flags_and_internaldate(server):
    before = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    append(server, "alice", "INBOX", simple_message().encode(),
           "--flags", "\\Seen $Label \\flagged $label")
    append(server, "alice", "INBOX", simple_message().encode(), "--flags=\\Draft")
    after = datetime.datetime.now(datetime.timezone.utc)
    c = login(server)
    try:
        cmd_ok(c, "S1", "EXAMINE INBOX")
        _, _, flags, date = fetch_body(c, "F1", 1)
        assert set(flags.split()) == {"\\Seen", "\\Flagged", "$Label"}, flags
        d = datetime.datetime.strptime(date, "%d-%b-%Y %H:%M:%S %z")
        assert before - datetime.timedelta(seconds=1) <= d <= after, (date, before, after)
        _, _, flags, _ = fetch_body(c, "F2", 2)
        assert flags.split() == ["\\Draft"], flags
        untagged = cmd_ok(c, "S2", "SEARCH UNSEEN")
        assert "* SEARCH 2" in untagged, untagged
    finally:
        c.close()


def test_message_append_to_other_mailbox_and_user(server):
    assert append(server, "bob", "Drafts", simple_message().encode()) == 1
    assert append(server, "bob", "Drafts", simple_message().encode()) == 2
    c = login(server, "bob", "bob-pw")
    try:
        assert status_messages(c, "Drafts") == 2
        assert status_messages(c, "INBOX", "S2") == 0
    finally:
        c.close()


def test_message_append_empty_refused(server):
    assert fails(server, "message", "append", "alice", "INBOX", data=b"") == \
        "tidings: standard input: empty message refused"
    c = login(server)
    try:
        assert status_messages(c, "INBOX") == 0
    finally:
        c.close()


def test_message_append_size_cap(server_factory, tmp_path):
    srv = server_factory(extra_config="max_message_size = 1000")
    body = b"Subject: big\r\n\r\n"
    exact = body + b"x" * (1000 - len(body))
    assert append(srv, "alice", "INBOX", exact) == 1
    line = fails(srv, "message", "append", "alice", "INBOX", data=exact + b"y")
    assert line.startswith("tidings: standard input: message too large"), line
    p = tmp_path / "big.eml"
    p.write_bytes(exact + b"y")
    line = fails(srv, "message", "append", "alice", "INBOX", str(p))
    assert line.startswith(f"tidings: {p}: message too large"), line
    c = login(srv)
    try:
        assert status_messages(c, "INBOX") == 1
    finally:
        c.close()


def test_message_append_failures(server, tmp_path):
    msg = simple_message().encode()
    assert fails(server, "message", "append", "alice", "Nope", data=msg) == \
        "tidings: mailbox 'Nope' does not exist for user 'alice'"
    assert fails(server, "message", "append", "nobody", "INBOX", data=msg) == \
        "tidings: no such user 'nobody'"
    missing = tmp_path / "missing.eml"
    assert fails(server, "message", "append", "alice", "INBOX", str(missing)) == \
        f"tidings: {missing}: No such file or directory"
    assert fails(server, "message", "append", "alice", "INBOX", str(tmp_path)) == \
        f"tidings: {tmp_path}: is a directory"
    assert fails(server, "message", "append", "--flags", "\\Recent", "alice", "INBOX",
                 data=msg) == "tidings: \\Recent cannot be set"
    assert fails(server, "message", "append", "--flags", "\\Bogus", "alice", "INBOX",
                 data=msg) == "tidings: unknown system flag '\\Bogus'"
    line = fails(server, "message", "append", "--flags", "(\\Seen)", "alice", "INBOX", data=msg)
    assert line.startswith("tidings: invalid keyword '(\\Seen)'"), line
    # a \Noselect name holds no messages
    ok(server, "mailbox", "create", "alice", "P/C")
    ok(server, "mailbox", "delete", "alice", "P")
    line = fails(server, "message", "append", "alice", "P", data=msg)
    assert line == "tidings: mailbox 'P' of user 'alice' cannot hold messages (\\Noselect)", line
    c = login(server)
    try:
        assert status_messages(c, "INBOX") == 0
    finally:
        c.close()


@pytest.mark.parametrize("args,hint", [
    (("message", "append", "alice"), None),
    (("message", "append", "alice", "INBOX", "a", "b"), None),
    (("message", "append", "--flags"), "tidings: option --flags needs a value; try 'tidings help'"),
    (("message", "append", "--flags", "a", "--flags", "b", "alice", "INBOX"),
     "tidings: option --flags given twice; try 'tidings help'"),
    (("message", "append", "--seen", "alice", "INBOX"),
     "tidings: unknown option '--seen' for message append; try 'tidings help'"),
    (("message", "list", "alice"), "usage: tidings [-c FILE] message list USER MAILBOX; try 'tidings help'"),
])
def test_message_usage_errors(server, args, hint):
    line = fails(server, *args, data=simple_message().encode(), code=2)
    if hint is None:
        hint = ("usage: tidings [-c FILE] message append [--flags FLAGS] USER MAILBOX [FILE]; "
                "try 'tidings help'")
    assert line == hint


def test_message_append_dashdash_before_names(server):
    # after "--", a name starting with '-' is a name, not an option
    assert fails(server, "message", "append", "--", "--flags", "INBOX",
                 data=b"x") == "tidings: no such user '--flags'"


# ----------------------------------------------------------- message list

def test_message_list(server):
    assert ok(server, "message", "list", "alice", "INBOX") == ""
    m1 = simple_message(subject="=?utf-8?q?Gr=C3=BC=C3=9Fe?= aus\r\n Berlin").encode()
    m2 = b"Subject: =?ISO-8859-1?B?SWYgeW91IGNhbiByZWFkIHRoaXMgeW8=?=\r\n\r\nx\r\n"
    m3 = b"From: nobody@example.org\r\n\r\nno subject\r\n"
    append(server, "alice", "INBOX", m1, "--flags", "\\Seen $Label")
    append(server, "alice", "INBOX", m2)
    append(server, "alice", "INBOX", m3, "--flags", "\\Answered \\Flagged")
    out = ok(server, "message", "list", "alice", "INBOX")
    lines = out.splitlines()
    assert len(lines) == 3, out
    rows = []
    for line in lines:
        m = re.fullmatch(r" *(\d+)  (\S+) +(\d+)  (" + ISO8601 + r")(?:  (.*))?", line)
        assert m, line
        rows.append(m.groups())
    assert rows[0][0] == "1" and rows[1][0] == "2" and rows[2][0] == "3"
    assert set(rows[0][1].split(",")) == {"\\Seen", "$Label"}
    assert rows[1][1] == "-"
    assert set(rows[2][1].split(",")) == {"\\Answered", "\\Flagged"}
    assert [int(r[2]) for r in rows] == [len(m1), len(m2), len(m3)]
    # RFC 2047 decoded, unfolded (RFC 5322 §2.2.3)
    assert rows[0][4] == "Grüße aus Berlin"
    assert rows[1][4] == "If you can read this yo"
    assert rows[2][4] is None
    # internaldate is now
    d = datetime.datetime.fromisoformat(rows[0][3])
    assert abs((datetime.datetime.now(datetime.timezone.utc) - d).total_seconds()) < 60


def test_message_list_sees_imap_changes(server):
    c = login(server)
    try:
        tagged = append_message(c, "INBOX", simple_message(subject="via imap"), flags="\\Flagged")
        assert tagged.startswith("AP OK"), tagged
        cmd_ok(c, "S1", "SELECT INBOX")
        cmd_ok(c, "S2", "STORE 1 +FLAGS (\\Seen)")
    finally:
        c.close()
    out = ok(server, "message", "list", "alice", "INBOX")
    m = re.fullmatch(r"1  (\S+)  \d+  " + ISO8601 + r"  via imap\n", out)
    assert m, out
    assert set(m.group(1).split(",")) == {"\\Seen", "\\Flagged"}


def test_message_list_subject_is_safe_for_a_terminal(server):
    # an encoded ESC sequence and a line break in the decoded subject
    # "\x1b[31mred\nnext" in base64
    m = b"Subject: =?utf-8?b?G1szMW1yZWQKbmV4dA==?=\r\n\r\nx"
    append(server, "alice", "INBOX", m)
    out = ok(server, "message", "list", "alice", "INBOX")
    assert "\x1b" not in out
    assert out.endswith("  ?[31mred\n"), out


def test_message_list_errors(server):
    assert fails(server, "message", "list", "alice", "Nope") == \
        "tidings: mailbox 'Nope' does not exist for user 'alice'"
    assert fails(server, "message", "list", "nobody", "INBOX") == \
        "tidings: no such user 'nobody'"


# ----------------------------------- changes reach the running server's sessions

def test_idle_gets_exists_from_cli_append(server):
    c = login(server)
    try:
        untagged = cmd_ok(c, "S1", "SELECT INBOX")
        assert "* 0 EXISTS" in untagged
        c.send("I1 IDLE\r\n")
        assert c.readline().startswith("+")
        append(server, "alice", "INBOX", simple_message().encode())
        t0 = time.monotonic()
        wait_line(c, r"\* 1 EXISTS$", PUSH_LIMIT)
        assert time.monotonic() - t0 < PUSH_LIMIT
        c.send("DONE\r\n")
        _, tagged = c.until_tagged("I1")
        assert tagged.startswith("I1 OK"), tagged
        untagged = cmd_ok(c, "F1", "FETCH 1 (UID BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        assert any("UID 1" in l and "Subject: Hello" in l for l in untagged), untagged
    finally:
        c.close()


def test_noop_gets_exists_from_cli_append(server):
    c = login(server)
    try:
        cmd_ok(c, "S1", "SELECT INBOX")
        append(server, "alice", "INBOX", simple_message().encode())
        append(server, "alice", "INBOX", simple_message(subject="two").encode())
        # The pump polls every 50 ms: give it that (and more under load).
        deadline = time.monotonic() + PUSH_LIMIT
        i = 0
        while True:
            i += 1
            untagged = cmd_ok(c, f"N{i}", "NOOP")
            if "* 2 EXISTS" in untagged:
                break
            assert time.monotonic() < deadline, untagged
            time.sleep(0.05)
    finally:
        c.close()


def test_idle_on_other_mailbox_hears_nothing_from_cli_append(server):
    c = login(server)
    try:
        cmd_ok(c, "S1", "SELECT Sent")
        c.send("I1 IDLE\r\n")
        assert c.readline().startswith("+")
        append(server, "alice", "INBOX", simple_message().encode())
        append(server, "bob", "Sent", simple_message().encode())
        assert c.expect_nothing(0.5), c.buf
        c.send("DONE\r\n")
        untagged, tagged = c.until_tagged("I1")
        assert tagged.startswith("I1 OK") and untagged == [], (untagged, tagged)
    finally:
        c.close()


def test_cli_delete_shows_in_list_of_running_session(server):
    """A mailbox the CLI deletes is gone from the LIST of a session that was
    logged in before, and the session goes on."""
    ok(server, "mailbox", "create", "alice", "Doomed")
    append(server, "alice", "Doomed", simple_message().encode())
    c = login(server)
    try:
        cmd_ok(c, "S1", "SELECT INBOX")
        ok(server, "mailbox", "delete", "alice", "Doomed")
        assert "Doomed" not in list_names(c)
        cmd_ok(c, "N1", "NOOP")
    finally:
        c.close()


def test_cli_changes_write_rfc5423_events(server):
    """Each verb commits its RFC 5423 event(s) to the outbox like IMAP does,
    with service "cli" (RFC 5423 §4.1, §4.3)."""
    db = sqlite3.connect(os.path.join(server.data_dir, "index.db"), timeout=10)
    try:
        start = db.execute("SELECT COALESCE(MAX(seq), 0) FROM outbox").fetchone()[0]
        ok(server, "mailbox", "create", "alice", "Ev")
        append(server, "alice", "Ev", simple_message().encode(), "--flags", "\\Seen $Label")
        ok(server, "mailbox", "rename", "alice", "Ev", "Ev2")
        ok(server, "mailbox", "delete", "alice", "Ev2")
        rows = db.execute("SELECT type, params FROM outbox WHERE seq > ? ORDER BY seq",
                          (start,)).fetchall()
    finally:
        db.close()
    types = [t for t, _ in rows]
    assert types == ["MailboxCreate", "MessageAppend", "MailboxRename", "MailboxDelete"], types
    params = [json.loads(p) for _, p in rows]
    assert all(p["service"] == "cli" for p in params), params
    assert "/Ev;UIDVALIDITY=" in params[0]["mailboxID"], params[0]
    assert params[1]["uidset"] == "1"
    assert set(params[1]["flagNames"]) == {"\\Seen", "$Label"}
    assert "/Ev2;UIDVALIDITY=" in params[2]["mailboxID"], params[2]
