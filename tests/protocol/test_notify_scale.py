"""2,000 concurrent NOTIFY sessions on 20 users (issue 6): every one is
served.  100 sessions per user, half watching INBOX through `inboxes`
(STATUS responses, RFC 5465 §5.1), half with INBOX selected (EXISTS and a
FETCH of the UID); one LMTP delivery per user must reach each of its user's
sessions exactly once, and no other user's session.

The test process raises its own RLIMIT_NOFILE (tidingsd inherits it) and
lifts max_connections_per_ip, as a deployment with many clients behind one
address would (docs/configuration.md, Limits).  The clients are plain asyncio
streams in this one process.
"""
import asyncio
import ctypes
import os
import re
import resource
import smtplib
import sqlite3

import pytest

from conftest import TIMEOUT, free_port, simple_message

USERS = 20
PER_USER = 100
SESSIONS = USERS * PER_USER
PASSWORD = "scale-pw"
LOGIN_CONCURRENCY = 64
RECENT_RE = re.compile(rb"^\* \d+ RECENT\r\n$")


def cheap_password_hash(password):
    """An argon2id hash at the lowest cost (m=8 KiB, t=1), made with the
    same libargon2 tidingsd uses: 2,000 log-ins at the default cost take
    minutes on a small machine, and password hashing is not what these
    tests are about."""
    lib = ctypes.CDLL("libargon2.so.1")
    fn = lib.argon2id_hash_encoded
    fn.argtypes = [ctypes.c_uint32] * 3 + [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p,
                                           ctypes.c_size_t, ctypes.c_size_t, ctypes.c_char_p,
                                           ctypes.c_size_t]
    out = ctypes.create_string_buffer(256)
    pw = password.encode()
    assert fn(1, 8, 1, pw, len(pw), os.urandom(16), 16, 32, out, len(out)) == 0
    return out.value.decode()


def cheap_server(server_factory, users, extra=""):
    """A stopped server made by server_factory with `users` (name, password)
    whose hashes are replaced by cheap ones, then started; with LMTP."""
    lmtp = free_port()
    srv = server_factory(extra_config=f"lmtp_listen = 127.0.0.1:{lmtp}\n{extra}",
                         users=users, start=False)
    srv.lmtp = ("127.0.0.1", lmtp)
    db = sqlite3.connect(os.path.join(srv.data_dir, "index.db"))
    with db:
        for name, password in users:
            cur = db.execute("UPDATE users SET password_hash = ? WHERE name = ?",
                             (cheap_password_hash(password), name))
            assert cur.rowcount == 1, name
    db.close()
    srv.start()
    return srv


def raise_nofile(need):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < need:
        if hard != resource.RLIM_INFINITY and hard < need:
            pytest.skip(f"RLIMIT_NOFILE hard limit {hard} < {need}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))
    return soft, hard


class Session:
    def __init__(self, user, selected):
        self.user = user
        self.selected = selected
        self.lines = []

    async def command(self, tag, text):
        self.writer.write(f"{tag} {text}\r\n".encode())
        while True:
            line = await self.reader.readuntil(b"\r\n")
            if line.startswith(tag.encode() + b" "):
                assert line.startswith(tag.encode() + b" OK"), (text, line)
                return

    async def open(self, port, sem):
        async with sem:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", port)
            greeting = await self.reader.readuntil(b"\r\n")
            assert greeting.startswith(b"* OK"), greeting
            await self.command("L", f"LOGIN {self.user} {PASSWORD}")
            if self.selected:
                await self.command("S", "SELECT INBOX")
                await self.command("N", "NOTIFY SET (selected (MessageNew (UID) MessageExpunge))")
            else:
                await self.command("N", "NOTIFY SET (inboxes (MessageNew MessageExpunge))")

    async def expect_notification(self):
        """The one notification for the delivery; `* n RECENT` may come
        along for the selected mailbox (RFC 3501 §7.3.2)."""
        if self.selected:
            want = [b"* 1 EXISTS\r\n", b"* 1 FETCH (UID 1)\r\n"]
        else:
            want = [None]
        for w in want:
            line = await self.reader.readuntil(b"\r\n")
            while self.selected and RECENT_RE.match(line):
                line = await self.reader.readuntil(b"\r\n")
            self.lines.append(line)
            if w is None:
                assert re.match(rb"^\* STATUS INBOX \(.*MESSAGES 1\b.*\)\r\n$", line), line
                assert b"UIDNEXT 2" in line, line
            else:
                assert line == w, (self.user, line)

    async def expect_quiet(self, wait):
        loop = asyncio.get_running_loop()
        end = loop.time() + wait
        while True:
            try:
                line = await asyncio.wait_for(self.reader.readuntil(b"\r\n"),
                                              max(0.01, end - loop.time()))
            except asyncio.TimeoutError:
                return
            if not (self.selected and RECENT_RE.match(line)):
                raise AssertionError(f"{self.user}: unexpected {line!r}")

    def close(self):
        self.writer.close()


def deliver(lmtp, user):
    with smtplib.LMTP(*lmtp, timeout=TIMEOUT) as s:
        refused = s.sendmail("sender@example.org", [f"{user}@example.org"],
                             simple_message(subject=f"to {user}").encode())
        assert refused == {}


async def scenario(srv, users):
    sem = asyncio.Semaphore(LOGIN_CONCURRENCY)
    sessions = [Session(u, selected=(i % 2 == 0)) for u in users for i in range(PER_USER)]
    try:
        await asyncio.wait_for(asyncio.gather(*(s.open(srv.imap_port, sem) for s in sessions)),
                               300)
        # all 2,000 are logged in and watching at once
        # (blocking here is fine: the sessions only wait, the kernel buffers)
        for u in users:
            deliver(srv.lmtp, u)
        await asyncio.wait_for(asyncio.gather(*(s.expect_notification() for s in sessions)),
                               60)
        # exactly one notification each: nothing more, nothing from other users
        await asyncio.gather(*(s.expect_quiet(1.0) for s in sessions))
        # and every session still answers a command
        await asyncio.wait_for(asyncio.gather(*(s.command("Z", "NOOP") for s in sessions)), 60)
    finally:
        for s in sessions:
            if hasattr(s, "writer"):
                s.close()
    return sessions


@pytest.mark.slow
def test_notify_2000_sessions_20_users(server_factory):
    soft, hard = raise_nofile(SESSIONS + 1000)
    try:
        users = [f"user{i:02d}" for i in range(USERS)]
        srv = cheap_server(server_factory, [(u, PASSWORD) for u in users],
                           extra=(f"max_connections = {SESSIONS + 500}\n"
                                  f"max_connections_per_ip = {SESSIONS + 500}\n"))
        sessions = asyncio.run(scenario(srv, users))
        assert len(sessions) == SESSIONS
        assert srv.proc.poll() is None
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
