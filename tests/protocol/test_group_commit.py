"""Group commit and the header-only SEARCH path (issue 4 performance work).

tidingsd commits the changes of one event-loop turn together (one SQLite
COMMIT, the bodies synced first, all at once) and holds every reply until
that commit is durable.  These tests check what a client can observe: an
acknowledged change is already committed when its OK / 250 arrives (a
separate SQLite connection, like the CLI's or a sink's, sees it at once),
many clients writing at the same time all get their changes, pipelined
writes are answered in order, and the CLI can still write while clients
keep the server busy.

SEARCH on header keys reads only the (cached) top-level header; the tests
check that it gives the same answers as reading the whole message: body
text never matches a header key, headers too long for the fast path,
messages without a body, and expunged messages.
"""
import os
import re
import socket
import sqlite3
import threading
import time

from conftest import TIMEOUT, append_message, free_port, simple_message


def db_count(server, sql, args=()):
    """A query through a separate connection: sees committed rows only."""
    db = sqlite3.connect(os.path.join(server.data_dir, "index.db"), timeout=TIMEOUT)
    try:
        return db.execute(sql, args).fetchone()[0]
    finally:
        db.close()


def uid_committed(server, uid, user="alice"):
    return db_count(server,
                    "SELECT count(*) FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id "
                    "JOIN users u ON u.id = b.user_id WHERE u.name = ? AND b.name = 'INBOX' "
                    "AND m.uid = ?", (user, uid))


def appended_uid(tagged):
    m = re.search(r"APPENDUID \d+ (\d+)", tagged)
    assert m, tagged
    return int(m.group(1))


# ---- group commit ----

def test_append_is_committed_when_acknowledged(server, client):
    for i in range(5):
        tagged = append_message(client, "INBOX", simple_message(f"ack {i}"), tag=f"A{i}")
        assert " OK " in tagged, tagged
        assert uid_committed(server, appended_uid(tagged)) == 1


def test_pipelined_writes_answered_in_order_and_committed(server, client):
    for i in range(3):
        append_message(client, "INBOX", simple_message(f"pipe {i}"), tag=f"P{i}")
    client.command("S0", "SELECT INBOX")
    # one packet: flag change, a delete, the expunge, then a read
    client.send("S1 STORE 1 +FLAGS (\\Flagged)\r\nS2 STORE 2 +FLAGS (\\Deleted)\r\n"
                "S3 EXPUNGE\r\nS4 FETCH 1:* (FLAGS)\r\n")
    seen = []
    lines = []
    while len(seen) < 4:
        line = client.readline()
        lines.append(line)
        m = re.match(r"(S\d) (OK|NO|BAD)", line)
        if m:
            seen.append(m.group(1))
            assert m.group(2) == "OK", line
    assert seen == ["S1", "S2", "S3", "S4"]
    assert "* 2 EXPUNGE" in lines
    fetched = [l for l in lines if re.match(r"\* \d+ FETCH", l)]
    assert len(fetched) >= 2
    # acknowledged, so committed: another connection sees all of it
    assert db_count(server, "SELECT count(*) FROM messages m JOIN mailboxes b ON "
                    "b.id = m.mailbox_id JOIN users u ON u.id = b.user_id "
                    "WHERE u.name = 'alice' AND b.name = 'INBOX'") == 2
    assert db_count(server, "SELECT count(*) FROM messages WHERE flags & 4 != 0") >= 1


def test_concurrent_appends_all_committed(server):
    n_clients, per_client = 12, 5
    errors = []
    uids = []
    lock = threading.Lock()
    start = threading.Barrier(n_clients)

    def work(k):
        try:
            c = server.raw()
            c.login("alice", "secret-pw")
            start.wait(TIMEOUT)
            for i in range(per_client):
                tagged = append_message(c, "INBOX", simple_message(f"c{k} m{i}"), tag=f"T{i}")
                if " OK " not in tagged:
                    raise AssertionError(tagged)
                uid = appended_uid(tagged)
                # checked right at the acknowledgement, from outside
                if uid_committed(server, uid) != 1:
                    raise AssertionError(f"UID {uid} acknowledged but not committed")
                with lock:
                    uids.append(uid)
            c.close()
        except Exception as e:  # reported below
            with lock:
                errors.append(repr(e))

    threads = [threading.Thread(target=work, args=(k,)) for k in range(n_clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIMEOUT * 3)
    assert not errors, errors
    assert len(set(uids)) == n_clients * per_client
    c = server.raw()
    c.login("bob", "bob-pw")
    c.close()
    c = server.raw()
    c.login("alice", "secret-pw")
    untagged, tagged = c.command("ST", "STATUS INBOX (MESSAGES)")
    assert tagged.startswith("ST OK")
    assert f"MESSAGES {n_clients * per_client}" in " ".join(untagged)
    c.close()


def test_idle_hears_of_change_after_commit(server):
    idler = server.raw()
    idler.login("bob", "bob-pw")
    idler.command("S", "SELECT INBOX")
    idler.send("I IDLE\r\n")
    assert idler.readline().startswith("+")
    writer = server.raw()
    writer.login("bob", "bob-pw")
    tagged = append_message(writer, "INBOX", simple_message("pushed"))
    assert " OK " in tagged
    line = idler.readline()
    while "EXISTS" not in line:
        line = idler.readline()
    # by the time anyone hears of it, it is committed
    assert uid_committed(server, appended_uid(tagged), user="bob") == 1
    idler.send("DONE\r\n")
    idler.until_tagged("I")
    idler.close()
    writer.close()


def test_cli_writes_while_clients_keep_writing(server):
    stop = threading.Event()
    errors = []

    def hammer():
        try:
            c = server.raw()
            c.login("alice", "secret-pw")
            append_message(c, "INBOX", simple_message("flagged"))
            c.command("S", "SELECT INBOX")
            n = 0
            while not stop.is_set():
                n += 1
                op = "+" if n % 2 else "-"
                _, tagged = c.command(f"F{n}", f"STORE 1 {op}FLAGS (\\Flagged)")
                if " OK " not in tagged:
                    raise AssertionError(tagged)
            c.close()
        except Exception as e:
            errors.append(repr(e))

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        time.sleep(0.3)
        t0 = time.time()
        server.add_user("carol", "carol-pw")
        server.cli("user", "list")
        assert time.time() - t0 < TIMEOUT
    finally:
        stop.set()
        for t in threads:
            t.join(TIMEOUT)
    assert not errors, errors
    c = server.raw()
    c.login("carol", "carol-pw")
    c.close()


def lmtp_deliver(port, rcpt, subject):
    s = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    f = s.makefile("rb")

    def reply():
        while True:
            line = f.readline()
            if not line:
                raise AssertionError("LMTP connection closed")
            if line[3:4] != b"-":
                return line

    assert reply().startswith(b"220")
    s.sendall(b"LHLO test\r\n")
    assert reply().startswith(b"250")
    s.sendall(b"MAIL FROM:<x@example.org>\r\nRCPT TO:<%s>\r\nDATA\r\n" % rcpt.encode())
    assert reply().startswith(b"250")
    assert reply().startswith(b"250")
    assert reply().startswith(b"354")
    s.sendall(simple_message(subject).encode() + b".\r\n")
    line = reply()
    s.sendall(b"QUIT\r\n")
    s.close()
    return line


def test_lmtp_250_means_committed(server_factory):
    port = free_port()
    srv = server_factory(extra_config=f"lmtp_listen = 127.0.0.1:{port}")
    results = []
    lock = threading.Lock()

    def work(k):
        line = lmtp_deliver(port, "alice", f"lmtp {k}")
        m = re.match(rb"250 2\.0\.0 <alice> (\d+) delivered", line)
        ok = m is not None and uid_committed(srv, int(m.group(1))) == 1
        with lock:
            results.append((line, ok))

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIMEOUT * 2)
    assert len(results) == 8
    assert all(ok for _, ok in results), results


# ---- SEARCH on header keys (the header-only path) ----

def search(c, text, tag="SR"):
    untagged, tagged = c.command(tag, text)
    assert tagged.startswith(f"{tag} OK"), tagged
    for line in untagged:
        if line.startswith("* SEARCH"):
            return [int(x) for x in line.split()[2:]]
    return []


def test_search_header_keys_do_not_look_at_the_body(server, client):
    append_message(client, "INBOX", simple_message("alpha subject", body="zeta in the body\r\n"))
    append_message(client, "INBOX", simple_message("zeta subject", body="nothing here\r\n"))
    client.command("S", "SELECT INBOX")
    assert search(client, "SEARCH SUBJECT zeta") == [2]
    assert search(client, "SEARCH SUBJECT alpha") == [1]
    assert search(client, "SEARCH BODY zeta") == [1]
    assert search(client, "SEARCH TEXT zeta") == [1, 2]
    assert search(client, "SEARCH SUBJECT alpha BODY zeta") == [1]
    assert search(client, 'SEARCH HEADER Message-ID "zeta.subject"') == [2]
    assert search(client, "SEARCH FROM sender@example.org") == [1, 2]
    assert search(client, "SEARCH SENTON 23-Nov-2026") == [1, 2]
    assert search(client, "SEARCH NOT SUBJECT zeta") == [1]
    # cached now: the same answers again
    assert search(client, "SEARCH SUBJECT zeta") == [2]
    assert search(client, "SEARCH OR SUBJECT alpha SUBJECT zeta") == [1, 2]


def test_search_header_longer_than_the_fast_path(server, client):
    filler = "".join(f"X-Filler-{i}: {'y' * 70}\r\n" for i in range(1200))  # ~100 KB
    msg = (f"From: a@example.org\r\n{filler}Subject: far down\r\n\r\nbody text\r\n")
    append_message(client, "INBOX", msg)
    append_message(client, "INBOX", simple_message("near"))
    client.command("S", "SELECT INBOX")
    assert search(client, 'SEARCH SUBJECT "far down"') == [1]
    assert search(client, "SEARCH HEADER X-Filler-1199 yyy") == [1]
    assert search(client, "SEARCH SUBJECT near") == [2]


def test_search_message_without_a_body(server, client):
    append_message(client, "INBOX", "Subject: only a header\r\nFrom: b@example.org\r\n")
    append_message(client, "INBOX", "\r\nno header at all, only body\r\n")
    client.command("S", "SELECT INBOX")
    assert search(client, 'SEARCH SUBJECT "only a header"') == [1]
    assert search(client, "SEARCH FROM b@example.org") == [1]
    assert search(client, "SEARCH SUBJECT body") == []
    assert search(client, "SEARCH BODY body") == [2]


def test_search_after_expunge_and_new_messages(server, client):
    append_message(client, "INBOX", simple_message("first"))
    client.command("S", "SELECT INBOX")
    assert search(client, "SEARCH SUBJECT first") == [1]
    client.command("D", "STORE 1 +FLAGS.SILENT (\\Deleted)")
    client.command("E", "EXPUNGE")
    append_message(client, "INBOX", simple_message("second"))
    client.command("N", "NOOP")
    assert search(client, "SEARCH SUBJECT first") == []
    assert search(client, "SEARCH SUBJECT second") == [1]
