"""RFC 5423 §5 parameters bodyStructure and serverDomain (issue 5), read
back from the journal sink after real actions:

* bodyStructure on MessageAppend (IMAP APPEND) and MessageNew (LMTP) is
  exactly what FETCH BODYSTRUCTURE returns for the stored message (for
  LMTP: with the Return-Path / Delivered-To lines the server prepends);
* serverDomain is server_name on the events of a connection (Login,
  MessageAppend, Logout, ...), the recipient's domain on MessageNew, and
  absent where nobody connected (the CLI);
* both pass docs/events.schema.json and a sink's `params` filter can drop
  them.
"""
import json
import os
import re
import smtplib
import socket
import time

import jsonschema
from conftest import ROOT, TIMEOUT, append_message, free_port

with open(os.path.join(ROOT, "docs", "events.schema.json")) as _f:
    VALIDATOR = jsonschema.Draft202012Validator(json.load(_f))

MULTIPART = (
    "From: Sender <sender@example.org>\r\n"
    "To: alice@example.org\r\n"
    "Subject: parts\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=\"XX\"\r\n"
    "\r\n"
    "--XX\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "\r\n"
    "Hello.\r\n"
    "--XX\r\n"
    "Content-Type: application/octet-stream; name=\"a.bin\"\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "Content-Disposition: attachment; filename=\"a.bin\"\r\n"
    "\r\n"
    "AAECAwQF\r\n"
    "--XX--\r\n")


def journal(path, want=None):
    deadline = time.time() + TIMEOUT
    while True:
        evs = []
        if os.path.exists(path):
            with open(path) as f:
                evs = [json.loads(l) for l in f.read().splitlines()]
        if want is None or want(evs) or time.time() > deadline:
            for e in evs:
                VALIDATOR.validate(e)
            return evs
        time.sleep(0.05)


def make(server_factory, tmp_path, extra="", sink_opts=""):
    path = os.path.join(str(tmp_path), "events.jsonl")
    port = free_port()
    srv = server_factory(extra_config=(
        f"server_name = mail.example.net\nlmtp_listen = 127.0.0.1:{port}\n{extra}"
        f"[sink archive]\ntype = journal\npath = {path}\n{sink_opts}"))
    srv.journal = path
    srv.lmtp_port = port
    # server_factory waits for the IMAP port only; LMTP opens just after
    deadline = time.time() + TIMEOUT
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            assert time.time() < deadline, f"LMTP port {port} not listening"
            time.sleep(0.05)
    return srv


def fetch_bodystructure(srv, uid, mailbox="INBOX"):
    c = srv.raw()
    c.login("alice", "secret-pw")
    c.command("S", f'SELECT "{mailbox}"')
    untagged, tagged = c.command("F", f"UID FETCH {uid} BODYSTRUCTURE")
    assert " OK " in tagged
    c.command("LO", "LOGOUT")
    c.close()
    line = next(l for l in untagged if "BODYSTRUCTURE" in l)
    m = re.search(r"BODYSTRUCTURE (\(.*\))", line)
    # the FETCH item list closes after it: ... BODYSTRUCTURE (...) UID n)
    text = m.group(1)
    depth = 0
    for i, ch in enumerate(text):
        depth += ch == "("
        depth -= ch == ")"
        if depth == 0:
            return text[:i + 1]
    raise AssertionError(line)


def uid_of(ev):
    return int(re.search(r";UID=(\d+)$", ev["uri"]).group(1))


def test_append_bodystructure_and_serverdomain(server_factory, tmp_path):
    srv = make(server_factory, tmp_path)
    c = srv.raw()
    c.login("alice", "secret-pw")
    assert " OK " in append_message(c, "INBOX", MULTIPART)
    c.command("LO", "LOGOUT")
    c.close()
    evs = journal(srv.journal, lambda e: any(x["event"] == "Logout" for x in e))
    app = next(e for e in evs if e["event"] == "MessageAppend")
    want = fetch_bodystructure(srv, uid_of(app))
    assert app["bodyStructure"] == want
    assert app["bodyStructure"].startswith('(("TEXT" "PLAIN" ("CHARSET" "utf-8")')
    assert '"APPLICATION" "OCTET-STREAM"' in app["bodyStructure"]
    assert '"MIXED" ("BOUNDARY" "XX")' in app["bodyStructure"]
    # serverDomain: server_name, on every event of the connection
    for t in ("Login", "MessageAppend", "Logout"):
        ev = next(e for e in evs if e["event"] == t)
        assert ev["serverDomain"] == "mail.example.net", ev
        assert ev["serverPort"] == srv.imap_port


def test_lmtp_messagenew_bodystructure_and_recipient_domain(server_factory, tmp_path):
    srv = make(server_factory, tmp_path)
    with smtplib.LMTP("127.0.0.1", srv.lmtp_port) as l:
        l.sendmail("sender@example.org", ["alice@example.com"], MULTIPART.encode())
    evs = journal(srv.journal, lambda e: any(x["event"] == "MessageNew" for x in e))
    new = next(e for e in evs if e["event"] == "MessageNew")
    assert new["serverDomain"] == "example.com"
    want = fetch_bodystructure(srv, uid_of(new))
    assert new["bodyStructure"] == want
    assert '"MIXED" ("BOUNDARY" "XX")' in new["bodyStructure"]
    # a plain text message: one part
    with smtplib.LMTP("127.0.0.1", srv.lmtp_port) as l:
        l.sendmail("sender@example.org", ["alice@Example.ORG"],
                   b"Subject: plain\r\n\r\nJust text.\r\n")
    evs = journal(srv.journal,
                  lambda e: len([x for x in e if x["event"] == "MessageNew"]) == 2)
    new2 = [e for e in evs if e["event"] == "MessageNew"][1]
    assert new2["serverDomain"] == "Example.ORG"
    assert new2["bodyStructure"].startswith('("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT"')
    assert new2["bodyStructure"] == fetch_bodystructure(srv, uid_of(new2))


def test_cli_events_have_no_serverdomain(server_factory, tmp_path):
    srv = make(server_factory, tmp_path)
    srv.cli("mailbox", "create", "alice", "Projects")
    evs = journal(srv.journal, lambda e: any(x["event"] == "MailboxCreate" and
                                              x["mailboxID"].find("Projects") > 0 for x in e))
    ev = next(e for e in evs if e["event"] == "MailboxCreate" and "Projects" in e["mailboxID"])
    assert ev["service"] != "imap"
    assert "serverDomain" not in ev and "serverPort" not in ev


def test_params_filter_drops_them(server_factory, tmp_path):
    srv = make(server_factory, tmp_path, sink_opts="params = uri uidset messageSize\n")
    c = srv.raw()
    c.login("alice", "secret-pw")
    assert " OK " in append_message(c, "INBOX", MULTIPART)
    c.command("LO", "LOGOUT")
    c.close()
    evs = journal(srv.journal, lambda e: any(x["event"] == "MessageAppend" for x in e))
    app = next(e for e in evs if e["event"] == "MessageAppend")
    assert "bodyStructure" not in app and "serverDomain" not in app
    assert app["messageSize"] == len(MULTIPART)
