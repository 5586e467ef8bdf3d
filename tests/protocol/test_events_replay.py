"""Events core (issue 5): `tidings events replay --sink NAME --from SEQ`
re-sends from any point still kept, to a running tidingsd and to one that
starts later (the journal's "already written" skip must not swallow it);
clear errors for an unknown sink, a pruned seq and a future seq.  Outbox
pruning: rows every configured sink has delivered go once older than
outbox_keep, a sink that is behind holds them, a cursor of a sink no
longer in the config does not, and `tidings events status` shows it.
"""
import json
import os
import re
import time

from conftest import TIMEOUT, append_message, simple_message


def sink(name, path, **opts):
    lines = [f"[sink {name}]", "type = journal", f"path = {path}"]
    lines += [f"{k} = {v}" for k, v in opts.items()]
    return "\n".join(lines) + "\n"


def read_journal(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f.read().splitlines()]


def status(srv):
    return srv.cli("events", "status").stdout


def outbox(srv):
    m = re.search(r"outbox: (\d+) events, first (\d+), last (\d+)", status(srv))
    return int(m.group(1)), int(m.group(2)), int(m.group(3))


def wait_for(pred, what, timeout=TIMEOUT):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


def wait_journal(path, count):
    return wait_for(lambda: (lambda j: j if len(j) >= count else None)(read_journal(path)),
                    f"{count} journal lines in {path}")


def append_n(srv, n, mailbox="INBOX"):
    c = srv.raw()
    c.login("alice", "secret-pw")
    for i in range(n):
        assert " OK " in append_message(c, mailbox, simple_message(f"m{i}"), tag=f"A{i}")
    # a real LOGOUT: its event is in the outbox before the tagged OK
    c.command("LO", "LOGOUT")
    c.close()


def journal_server(server_factory, tmp, extra=""):
    path = os.path.join(tmp, "events.jsonl")
    srv = server_factory(extra_config=extra + sink("archive", path))
    srv.journal = path
    return srv


def test_replay_running_sink_resends_in_order(server_factory, tmp_path):
    srv = journal_server(server_factory, str(tmp_path))
    append_n(srv, 5)
    _, _, last = outbox(srv)
    before = wait_journal(srv.journal, last)
    assert [e["seq"] for e in before] == list(range(1, last + 1))
    r = srv.cli("events", "replay", "--sink", "archive", "--from", "3")
    assert f"replay from event 3 requested ({last - 2} events up to {last})" in r.stdout
    after = wait_journal(srv.journal, last + last - 2)
    # The journal gets seq 3..last again, in order, after what it had:
    # at least once; a consumer dedups by (seq, event).
    assert after[:last] == before
    assert after[last:] == before[2:]
    assert "replay from event 3" in srv.log()
    # new events continue after the replayed ones
    append_n(srv, 1)
    _, _, last2 = outbox(srv)
    more = wait_journal(srv.journal, len(after) + last2 - last)
    assert [e["seq"] for e in more[len(after):]] == list(range(last + 1, last2 + 1))
    assert "replay/archive" not in status(srv) and "pending" not in status(srv)


def test_replay_while_stopped_is_not_swallowed(server_factory, tmp_path):
    """The journal's skip of a batch it already holds (a lost cursor
    update) must not skip a replay requested while tidingsd was down."""
    srv = journal_server(server_factory, str(tmp_path))
    append_n(srv, 3)
    _, _, last = outbox(srv)
    before = wait_journal(srv.journal, last)
    wait_for(lambda: f"cursor {last}, lag 0" in status(srv), "cursor at the end")
    srv.stop()
    srv.cli("events", "replay", "--sink", "archive", "--from", "2")
    assert "sink archive: replay from 2 pending" in status(srv)
    srv.start()
    after = wait_journal(srv.journal, last + last - 1)
    assert after[last:] == before[1:]
    wait_for(lambda: "pending" not in status(srv), "the request cleared")


def test_replay_errors(server_factory, tmp_path):
    srv = journal_server(server_factory, str(tmp_path))
    append_n(srv, 2)
    _, _, last = outbox(srv)
    r = srv.cli("events", "replay", "--sink", "nosuch", "--from", "1", check=False)
    assert r.returncode != 0 and "no sink 'nosuch' in the configuration" in r.stderr
    r = srv.cli("events", "replay", "--sink", "archive", "--from", str(last + 2), check=False)
    assert r.returncode != 0, r.stdout
    assert f"event {last + 2} is in the future: the last event is {last}" in r.stderr
    # from last+1: nothing to resend, but valid (the cursor stays at the end)
    srv.cli("events", "replay", "--sink", "archive", "--from", str(last + 1))
    r = srv.cli("events", "replay", "--sink", "archive", "--from", "0", check=False)
    assert r.returncode == 64 or r.returncode == 2 or r.returncode != 0
    assert "--from needs an event seq" in r.stderr
    r = srv.cli("events", "replay", "--sink", "archive", check=False)
    assert r.returncode != 0 and "usage: tidings events replay" in r.stderr


def test_prune_delivered_rows_and_refuse_replay_of_pruned(server_factory, tmp_path):
    srv = journal_server(server_factory, str(tmp_path),
                         "outbox_keep = 0\noutbox_prune_interval = 1\n")
    append_n(srv, 4)
    _, _, last = outbox(srv)
    wait_journal(srv.journal, last)
    # every row delivered and older than outbox_keep: all pruned
    wait_for(lambda: outbox(srv)[0] == 0, "the outbox pruned")
    count, first, last2 = outbox(srv)
    assert last2 == last  # seqs are never reused: last stays
    assert "pruned" in srv.log()
    r = srv.cli("events", "replay", "--sink", "archive", "--from", "1", check=False)
    assert r.returncode != 0
    assert f"events before {last + 1} are no longer kept" in r.stderr
    # new events get new seqs and reach the sink
    append_n(srv, 1)
    j = wait_journal(srv.journal, last + 1)
    assert j[last]["seq"] == last + 1


def test_prune_holds_what_a_sink_needs_but_not_for_a_removed_sink(server_factory, tmp_path):
    tmp = str(tmp_path)
    keep = "outbox_keep = 0\noutbox_prune_interval = 1\n"
    slow = os.path.join(tmp, "slow.jsonl")
    srv = journal_server(server_factory, tmp, "")
    srv.stop()
    srv.extra_config = keep + sink("archive", srv.journal) + "\n" + sink("slow", slow)
    srv.write_config()
    srv.start()
    append_n(srv, 1)
    _, _, held = outbox(srv)
    wait_for(lambda: f"sink slow: type journal, cursor {held}," in status(srv), "slow at the end")
    # "slow" now cannot write (its directory does not exist): it stays behind
    srv.stop()
    srv.extra_config = (keep + sink("archive", srv.journal) + "\n" +
                        sink("slow", os.path.join(tmp, "missing", "slow.jsonl")))
    srv.write_config()
    srv.start()
    append_n(srv, 3)
    _, _, last = outbox(srv)
    wait_for(lambda: f"sink archive: type journal, cursor {last}, lag 0" in status(srv),
             "archive at the end")
    wait_for(lambda: outbox(srv)[1] == held + 1, "rows up to slow's cursor pruned")
    time.sleep(1.5)  # another prune run: still held
    count, first, _ = outbox(srv)
    assert (count, first) == (last - held, held + 1), status(srv)
    assert f"every sink has events up to {held};" in status(srv)
    # "slow" leaves the config: its cursor row no longer holds the outbox
    srv.stop()
    srv.extra_config = keep + sink("archive", srv.journal)
    srv.write_config()
    srv.start()
    wait_for(lambda: outbox(srv)[0] == 0, "the outbox pruned without 'slow'")
    st = status(srv)
    assert f"cursor slow: at {held}, not in the config (does not hold back pruning)" in st, st
    assert f"cursor of sink 'slow' (at {held}) is not in the config" in srv.log()


def test_prune_respects_outbox_keep(server_factory, tmp_path):
    srv = journal_server(server_factory, str(tmp_path),
                         "outbox_keep = 3600\noutbox_prune_interval = 1\n")
    append_n(srv, 2)
    _, _, last = outbox(srv)
    wait_journal(srv.journal, last)
    time.sleep(2.2)
    count, first, _ = outbox(srv)
    assert (count, first) == (last, 1)
    assert "kept 3600 s after that (outbox_keep)" in status(srv)
    # replay of a kept row works
    srv.cli("events", "replay", "--sink", "archive", "--from", "1")
    wait_journal(srv.journal, 2 * last)
