"""Per-user quota: `tidings quota set/get`, the configured defaults
(quota_storage, quota_messages), refusals on APPEND / COPY (NO [OVERQUOTA])
and LMTP (552 5.2.2 for a message larger than the quota, 452 4.2.2 when it
would fit after an expunge), and the QuotaChange / QuotaExceed /
QuotaWithin events in the outbox with RFC 5423 §5 parameters (diskQuota and
diskUsed in KiB), validated against docs/events.schema.json.
"""
import json
import os
import sqlite3

import jsonschema
import pytest
from conftest import append_message, free_port, simple_message
from test_lmtp import RawLmtp, deliver_raw

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
with open(os.path.join(ROOT, "docs", "events.schema.json")) as _f:
    VALIDATOR = jsonschema.Draft202012Validator(json.load(_f))


def outbox(srv, after=0):
    db = sqlite3.connect(f"file:{srv.data_dir}/index.db?mode=ro", uri=True)
    try:
        rows = db.execute("SELECT seq, type, params FROM outbox WHERE seq > ? "
                          "ORDER BY seq", (after,)).fetchall()
    finally:
        db.close()
    out = []
    for seq, t, p in rows:
        ev = json.loads(p)
        VALIDATOR.validate(dict(ev, seq=seq))
        out.append((seq, t, ev))
    return out


def last_seq(srv):
    rows = outbox(srv)
    return rows[-1][0] if rows else 0


def quota_events(srv, after=0):
    return [(t, ev) for _, t, ev in outbox(srv, after) if t.startswith("Quota")]


def quota_get(srv, user="alice"):
    r = srv.cli("quota", "get", user)
    lines = r.stdout.splitlines()
    assert lines[0] == f"user {user}", r.stdout
    out = {}
    for line in lines[1:]:
        what, _, used, _, limit, kind = line.split()
        out[what] = (int(used), 0 if limit == "unlimited" else int(limit), kind.strip("()"))
    return out


def select(c, mailbox="INBOX"):
    _, tagged = c.command("S1", f'SELECT "{mailbox}"')
    assert tagged.startswith("S1 OK"), tagged


def message_count(c, mailbox):
    untagged, tagged = c.command("ST", f'STATUS "{mailbox}" (MESSAGES)')
    assert tagged.startswith("ST OK"), tagged
    return int(untagged[0].rsplit("MESSAGES ", 1)[1].rstrip(")"))


def test_cli_set_get_and_quota_change(server):
    q = quota_get(server)
    assert q == {"storage": (0, 0, "default"), "messages": (0, 0, "default"),
                 "mailboxes": (6, 0, "default")}     # INBOX + 5 defaults
    before = last_seq(server)
    server.cli("quota", "set", "alice", "--storage", "100M", "--messages", "500")
    q = quota_get(server)
    assert q["storage"] == (0, 100 * 1024 * 1024, "own")
    assert q["messages"] == (0, 500, "own")
    evs = quota_events(server, before)
    assert [t for t, _ in evs] == ["QuotaChange"]
    ev = evs[0][1]
    assert ev["diskQuota"] == 100 * 1024      # KiB (RFC 5423 §5)
    assert ev["maxMessages"] == 500
    assert ev["diskUsed"] == 0 and ev["messages"] == 0
    assert ev["user"] == "alice" and ev["service"] == "cli"

    # one option alone keeps the other; 0 is unlimited; 'default' goes back
    server.cli("quota", "set", "alice", "--messages", "0")
    q = quota_get(server)
    assert q["storage"][1] == 100 * 1024 * 1024 and q["messages"] == (0, 0, "own")
    server.cli("quota", "set", "alice", "--storage=default")
    assert quota_get(server)["storage"] == (0, 0, "default")

    # usage errors
    for args in (["quota", "set", "alice"],
                 ["quota", "set", "alice", "--storage", "lots"],
                 ["quota", "set", "alice", "--messages", "-1"]):
        assert server.cli(*args, check=False).returncode == 2
    r = server.cli("quota", "set", "nobody", "--messages", "1", check=False)
    assert r.returncode == 1 and "no such user" in r.stderr
    assert server.cli("quota", "get", "nobody", check=False).returncode == 1


def test_append_over_quota(server, client):
    server.cli("quota", "set", "alice", "--storage", "2K")
    before = last_seq(server)
    big = simple_message("Big", "x" * 3000 + "\r\n")
    tagged = append_message(client, "INBOX", big)
    assert tagged.startswith("AP NO [OVERQUOTA]"), tagged
    assert message_count(client, "INBOX") == 0
    # nothing but the QuotaExceed
    rows = outbox(server, before)
    assert [t for _, t, _ in rows] == ["QuotaExceed"]
    ev = rows[0][2]
    assert ev["diskQuota"] == 2 and ev["diskUsed"] == 0 and ev["messages"] == 0
    assert ev["user"] == "alice" and ev["mailboxID"].startswith("imap://alice@")
    assert "maxMessages" not in ev
    # the body file went too: only directories under mail/
    files = [f for _, _, fs in os.walk(os.path.join(server.data_dir, "mail")) for f in fs]
    assert files == []

    small = simple_message("Small", "y" * 900 + "\r\n")
    assert append_message(client, "INBOX", small).startswith("AP OK")
    assert append_message(client, "INBOX", small).startswith("AP NO [OVERQUOTA]")
    assert quota_get(server)["storage"][0] == len(small.encode())


def test_copy_over_quota_move_allowed_and_within(server, client):
    server.cli("quota", "set", "alice", "--messages", "2")
    for i in range(2):
        assert append_message(client, "INBOX", simple_message(f"M{i}")).startswith("AP OK")
    select(client)
    before = last_seq(server)
    _, tagged = client.command("C1", "COPY 1 Trash")
    assert tagged.startswith("C1 NO [OVERQUOTA]"), tagged
    assert message_count(client, "Trash") == 0
    assert [t for t, _ in quota_events(server, before)] == ["QuotaExceed"]
    ev = quota_events(server, before)[0][1]
    assert ev["maxMessages"] == 2 and ev["messages"] == 2

    # a MOVE within the user's mailboxes changes no usage
    _, tagged = client.command("M1", "MOVE 1 Trash")
    assert tagged.startswith("M1 OK"), tagged
    assert message_count(client, "Trash") == 1

    # an expunge brings usage back under: QuotaWithin
    before = last_seq(server)
    _, tagged = client.command("E1", "STORE 1 +FLAGS (\\Deleted)")
    _, tagged = client.command("E2", "EXPUNGE")
    assert tagged.startswith("E2 OK"), tagged
    evs = quota_events(server, before)
    assert [t for t, _ in evs] == ["QuotaWithin"]
    assert evs[0][1]["messages"] == 1 and evs[0][1]["maxMessages"] == 2
    assert quota_get(server)["messages"][0] == 1
    # and only once
    before = last_seq(server)
    _, tagged = client.command("D1", 'DELETE "Trash"')
    assert tagged.startswith("D1 OK"), tagged
    assert quota_events(server, before) == []
    assert quota_get(server)["messages"][0] == 0


@pytest.fixture
def lsrv(server_factory):
    port = free_port()
    srv = server_factory(extra_config=f"lmtp_listen = 127.0.0.1:{port}\n"
                                      "quota_storage = 4K\n")
    srv.lmtp = ("127.0.0.1", port)
    return srv


def test_lmtp_over_quota_and_config_default(lsrv):
    q = quota_get(lsrv)
    assert q["storage"] == (0, 4096, "default")
    c = RawLmtp(lsrv.lmtp)
    c.lhlo()
    before = last_seq(lsrv)
    # larger than the quota by itself: permanent
    body = simple_message("Huge", "z" * 5000 + "\r\n").replace("\r\n", "\n") \
        .replace("\n", "\r\n") + ".\r\n"
    codes, replies = deliver_raw(c, ["alice@example.org", "bob@example.org"], body)
    assert codes == [250, 250]
    assert replies[0].startswith("552 5.2.2"), replies
    assert replies[1].startswith("552 5.2.2"), replies
    # fits alone, not with what alice has: temporary
    mid = simple_message("Mid", "m" * 2500 + "\r\n") + ".\r\n"
    codes, replies = deliver_raw(c, ["alice@example.org"], mid)
    assert replies[0].startswith("250"), replies
    codes, replies = deliver_raw(c, ["alice@example.org", "bob@example.org"], mid)
    assert replies[0].startswith("452 4.2.2"), replies
    assert replies[1].startswith("250"), replies
    c.cmd("QUIT")
    c.close()

    evs = quota_events(lsrv, before)
    assert [(t, ev["user"]) for t, ev in evs] == [
        ("QuotaExceed", "alice"), ("QuotaExceed", "bob"), ("QuotaExceed", "alice")]
    assert all(ev["diskQuota"] == 4 and ev["service"] == "lmtp" for _, ev in evs)
    assert evs[2][1]["messages"] == 1 and evs[2][1]["diskUsed"] >= 3
    news = [ev for _, t, ev in outbox(lsrv, before) if t == "MessageNew"]
    assert len(news) == 2

    # a limit of the user's own wins over the default
    lsrv.cli("quota", "set", "alice", "--storage", "0")
    c = RawLmtp(lsrv.lmtp)
    c.lhlo()
    codes, replies = deliver_raw(c, ["alice@example.org"], body)
    assert replies[0].startswith("250"), replies
    c.cmd("QUIT")
    c.close()


def test_default_message_limit_from_config(server_factory):
    srv = server_factory(extra_config="quota_messages = 1")
    assert quota_get(srv)["messages"] == (0, 1, "default")
    c = srv.raw()
    c.login("alice", "secret-pw")
    assert append_message(c, "INBOX", simple_message("One")).startswith("AP OK")
    assert append_message(c, "INBOX", simple_message("Two")).startswith("AP NO [OVERQUOTA]")
    c.close()
    # the CLI enforces the same quota
    r = srv.cli("message", "append", "alice", "INBOX", input=simple_message("Three"),
                check=False)
    assert r.returncode == 1
