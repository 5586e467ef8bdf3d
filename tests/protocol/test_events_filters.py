"""Filtering at generation (issue 5, RFC 5423 §3) for every sink type: the
same filter on a journal, a webhook, a nats and a syslog sink gives each of
them exactly the same events, and that is what the filter dimensions
promise when applied to an unfiltered journal of the same actions:
events/groups, users, mailboxes, params, content_max, flag_mode and tags,
each combined with the others. (test_events_journal.py::test_filters and
test_flag_modes vary one dimension at a time on the journal.)
"""
import json
import os
import re
import time

import jsonschema
from conftest import ROOT, TIMEOUT, append_message, simple_message
from test_sink_nats import Nats, nats_server  # noqa: F401  (fixture)
from test_sink_syslog import parse_5424, syslog_daemon  # noqa: F401  (fixture)
from webhook_util import Receiver

with open(os.path.join(ROOT, "docs", "events.schema.json")) as _f:
    VALIDATOR = jsonschema.Draft202012Validator(json.load(_f))

SECRET = "filter-secret-0123456789"
MESSAGE = ("one", "two")

# Two filters, every dimension set in each, and different in each.
FILTERS = {
    "f1": {"events": "message flags", "users": "alice", "mailboxes": "INBOX",
           "params": "uidset mailboxID flagNames messageContent",
           "content_max": "64K", "flag_mode": "flags", "tags": "t1, t2"},
    "f2": {"events": "MessageRead MessageTrash MailboxCreate MailboxRename Login",
           "users": "bob", "mailboxes": 'Old, "Work Stuff"',
           "params": "user uri mailboxID oldMailboxID uidset", "content_max": "0",
           "flag_mode": "simple", "tags": "billing"},
}


def section(name, type_, body, filt):
    return (f"[sink {name}]\ntype = {type_}\n{body}"
            + "".join(f"{k} = {v}\n" for k, v in filt.items()))


def read_journal(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(l) for l in f.read().splitlines()]


def wait_all(srv, names):
    deadline = time.time() + TIMEOUT
    while True:
        st = srv.cli("events", "status").stdout
        last = int(re.search(r"last (\d+)", st).group(1))
        lag = {n: re.search(rf"sink {n}: type \w+, cursor (\d+)", st) for n in names}
        if all(m and int(m.group(1)) >= last for m in lag.values()):
            return last
        assert time.time() < deadline, st
        time.sleep(0.05)


def caught_up(srv):
    deadline = time.time() + TIMEOUT
    while True:
        st = srv.cli("events", "status").stdout
        lags = re.findall(r"^sink \S+: type \w+, cursor \d+, lag (\d+)$", st, re.M)
        if lags and all(l == "0" for l in lags):
            return
        assert time.time() < deadline, st
        time.sleep(0.05)


def actions(srv):
    for user, pw, other in (("alice", "secret-pw", "Work Stuff"), ("bob", "bob-pw", "Work Stuff")):
        c = srv.raw()
        c.login(user, pw)
        assert c.command("c1", f'CREATE "{other}"')[1].startswith("c1 OK")
        assert append_message(c, "INBOX", simple_message(MESSAGE[0]), flags="\\Flagged").startswith("AP OK")
        assert append_message(c, other, simple_message(MESSAGE[1]), tag="AQ").startswith("AQ OK")
        # a sink reads a message's content when it formats the event: let
        # every sink do so before the EXPUNGE below (docs/events.md, URLAUTH)
        caught_up(srv)
        assert c.command("s1", "SELECT INBOX")[1].startswith("s1 OK")
        assert c.command("s2", "STORE 1 +FLAGS (\\Seen \\Deleted $X)")[1].startswith("s2 OK")
        assert c.command("s3", "STORE 1 -FLAGS (\\Flagged)")[1].startswith("s3 OK")
        assert c.command("s4", f'COPY 1 "{other}"')[1].startswith("s4 OK")
        assert c.command("s5", "EXPUNGE")[1].startswith("s5 OK")
        assert c.command("s6", f'SELECT "{other}"')[1].startswith("s6 OK")
        assert c.command("s7", "STORE 1 +FLAGS (\\Seen)")[1].startswith("s7 OK")
        assert c.command("s8", f'RENAME "{other}" Old')[1].startswith("s8 OK")
        c.command("z", "LOGOUT")
        c.close()


def owner(e):
    m = re.match(r"imap://([^@]+)@", e.get("mailboxID", e.get("uri", "")))
    return m.group(1) if m else e.get("user")


def mbox(e, key="mailboxID"):
    m = re.match(r"imap://[^/]+/([^;]*)", e.get(key, ""))
    return m.group(1) if m else None


GROUPS = {"message": {"MessageAppend", "MessageExpire", "MessageExpunge", "MessageNew",
                      "MessageRead", "MessageTrash"},
          "flags": {"FlagsSet", "FlagsClear"}}


def expected(full_flags, full_simple, name):
    """What filter NAME lets through, from unfiltered journals made with
    flag_mode = flags and flag_mode = simple."""
    f = FILTERS[name]
    base = full_flags if f["flag_mode"] == "flags" else full_simple
    types = set()
    for t in f["events"].split():
        types |= GROUPS.get(t, {t})
    users = {u.strip() for u in f["users"].split(",")}
    boxes = {b.strip().strip('"').replace(" ", "%20") for b in f["mailboxes"].split(",")}
    keep = set(f["params"].split()) | {"seq", "event", "tags"}
    tags = [t.strip() for t in f["tags"].split(",")]
    out = []
    for e in base:
        if e["event"] not in types or owner(e) not in users:
            continue
        if mbox(e) not in boxes and mbox(e, "oldMailboxID") not in boxes:
            continue
        out.append(dict({k: v for k, v in e.items() if k in keep}, tags=tags))
    return out


def test_every_sink_type_applies_the_same_filter(server_factory, nats_server, syslog_daemon,  # noqa: F811
                                                 tmp_path):
    ns = nats_server()
    sd = syslog_daemon()
    recv = {n: Receiver(SECRET) for n in FILTERS}
    for r in recv.values():
        r.start()
    cfg = (section("allflags", "journal", f"path = {tmp_path}/allflags.jsonl\n", {"flag_mode": "flags"})
           + section("allsimple", "journal", f"path = {tmp_path}/allsimple.jsonl\n", {}))
    names = ["allflags", "allsimple"]
    for n, filt in FILTERS.items():
        cfg += section(f"j{n}", "journal", f"path = {tmp_path}/{n}.jsonl\n", filt)
        cfg += section(f"w{n}", "webhook", f"url = {recv[n].url}\nsecret = {SECRET}\n", filt)
        cfg += section(f"n{n}", "nats", f"url = nats://127.0.0.1:{ns.port}\nstream = S{n}\n"
                       f"subject = {n}.<event>\n", filt)
        names += [f"j{n}", f"w{n}", f"n{n}"]
    # one syslog sink (one socket): filter f1
    cfg += section("sf1", "syslog", f"socket = {sd.path}\nformat = rfc5424\n", FILTERS["f1"])
    names.append("sf1")
    srv = server_factory(extra_config=cfg)
    try:
        actions(srv)
        time.sleep(0.2)
        wait_all(srv, names)
        full_flags = read_journal(f"{tmp_path}/allflags.jsonl")
        full_simple = read_journal(f"{tmp_path}/allsimple.jsonl")
        nc = Nats(ns.port)
        for n in FILTERS:
            j = read_journal(f"{tmp_path}/{n}.jsonl")
            for e in j:
                VALIDATOR.validate(e)
            assert j, n
            # the dimensions, from the unfiltered journal (messageContent
            # is not in it: checked below)
            assert [{k: v for k, v in e.items() if k != "messageContent"} for e in j] \
                == expected(full_flags, full_simple, n), n
            # every sink type got exactly the journal's lines
            assert recv[n].snapshot() == j, n
            assert recv[n].bad_signatures == 0 and recv[n].errors == []
            assert [m[2] for m in nc.stream_messages(f"S{n}")] == j, n
        j1 = read_journal(f"{tmp_path}/f1.jsonl")
        msgs = sd.receive(len(j1))
        sd.nothing_more()
        assert [parse_5424(m)["event"] for m in msgs] == j1
        nc.close()
    finally:
        for r in recv.values():
            r.stop()

    # what the filters did, spelled out
    j1 = read_journal(f"{tmp_path}/f1.jsonl")
    assert {e["event"] for e in j1} == {"MessageAppend", "FlagsSet", "FlagsClear", "MessageExpunge"}
    ap = [e for e in j1 if e["event"] == "MessageAppend"]
    assert len(ap) == 1 and ap[0]["messageContent"] == simple_message(MESSAGE[0])
    assert all("messageContent" not in e for e in j1 if e["event"] != "MessageAppend")
    j2 = read_journal(f"{tmp_path}/f2.jsonl")
    assert [e["event"] for e in j2] == ["MailboxCreate", "MessageRead", "MailboxRename"]
    assert all(owner(e) == "bob" and e["tags"] == ["billing"] for e in j2)
    assert "/Work%20Stuff;" in j2[0]["mailboxID"] and "/Old;" in j2[2]["mailboxID"]
    assert set(j2[1]) == {"seq", "event", "user", "uri", "mailboxID", "uidset", "tags"}
