"""Helpers for test_messages / test_fetch / test_search / test_concurrency:
byte-exact response reading (literals kept as bytes), a small parser of
IMAP response data into Python values, APPEND with flags and date-time,
and helpers to apply EXPUNGE responses to a model of the mailbox.
"""
import re
import socket
import time

from conftest import TIMEOUT


# ---------------------------------------------------------------- reading

def read_response(c, timeout=None):
    """One whole response (a line plus the literals it announces), as the
    exact bytes the server sent, CRLF of the last line stripped."""
    out = b""
    while True:
        while b"\r\n" not in c.buf:
            c._fill(timeout)
        line, c.buf = c.buf.split(b"\r\n", 1)
        out += line
        m = re.search(rb"\{(\d+)\+?\}$", line)
        if not m:
            return out
        n = int(m.group(1))
        while len(c.buf) < n:
            c._fill(timeout)
        out += b"\r\n" + c.buf[:n]
        c.buf = c.buf[n:]


def until_tagged_bytes(c, tag, timeout=None):
    """Read responses until the tagged one: (untagged bytes list, tagged str)."""
    untagged = []
    while True:
        r = read_response(c, timeout)
        if r.startswith(tag.encode() + b" "):
            return untagged, r.decode("utf-8", "replace")
        untagged.append(r)


def command_bytes(c, tag, text, timeout=None):
    if isinstance(text, str):
        text = text.encode()
    c.send(tag.encode() + b" " + text + b"\r\n")
    return until_tagged_bytes(c, tag, timeout)


def send_with_literals(c, tag, parts, timeout=None):
    """Send a command made of str/bytes pieces and literals.

    parts is a list; a ("lit", bytes) tuple is sent as a synchronising
    literal (waiting for the server's "+" continuation).  Returns
    (untagged bytes list, tagged str)."""
    cur = tag.encode() + b" "
    for p in parts:
        if isinstance(p, tuple):
            data = p[1]
            cur += b"{%d}\r\n" % len(data)
            c.send(cur)
            # anything before the continuation would be untagged data
            while True:
                r = read_response(c, timeout)
                if r.startswith(b"+"):
                    break
                if r.startswith(tag.encode() + b" "):
                    return [], r.decode("utf-8", "replace")
            cur = data
        else:
            cur += p.encode() if isinstance(p, str) else p
    c.send(cur + b"\r\n")
    return until_tagged_bytes(c, tag, timeout)


# ---------------------------------------------------------------- APPEND

def append(c, mailbox, data, flags=None, date=None, tag="AP"):
    """APPEND with optional flag list (string without the parentheses) and
    date-time ("01-Feb-2026 12:00:00 +0000").  Returns the tagged line."""
    if isinstance(data, str):
        data = data.encode()
    parts = [f'APPEND "{mailbox}" ']
    if flags is not None:
        parts.append(f"({flags}) ")
    if date is not None:
        parts.append(f'"{date}" ')
    parts.append(("lit", data))
    _, tagged = send_with_literals(c, tag, parts)
    return tagged


def append_ok(c, mailbox, data, flags=None, date=None, tag="AP"):
    tagged = append(c, mailbox, data, flags, date, tag)
    assert tagged.startswith(tag + " OK"), tagged
    return tagged


def appenduid(tagged):
    m = re.search(r"\[APPENDUID (\d+) (\d+)\]", tagged)
    assert m, f"no APPENDUID in {tagged!r}"
    return int(m.group(1)), int(m.group(2))


# ---------------------------------------------------------------- parsing

class Lit(bytes):
    """A string that came as a literal."""


class Quoted(bytes):
    """A string that came as a quoted string."""


class Parser:
    ATOM_END = b" ()[]{\"\r\n"

    def __init__(self, data):
        self.d = data
        self.i = 0

    def eof(self):
        return self.i >= len(self.d)

    def peek(self):
        return self.d[self.i:self.i + 1]

    def skip_sp(self):
        while self.peek() == b" ":
            self.i += 1

    def value(self):
        """One value: list, quoted, literal, NIL, or atom (str).  An atom
        with a section ("BODY[HEADER.FIELDS (A B)]<0>") is one atom."""
        self.skip_sp()
        ch = self.peek()
        if ch == b"(":
            self.i += 1
            out = []
            while True:
                self.skip_sp()
                if self.peek() == b")":
                    self.i += 1
                    return out
                if self.eof():
                    raise ValueError("unterminated list")
                out.append(self.value())
        if ch == b'"':
            self.i += 1
            buf = b""
            while True:
                c = self.d[self.i:self.i + 1]
                if c == b"":
                    raise ValueError("unterminated quoted string")
                self.i += 1
                if c == b"\\":
                    buf += self.d[self.i:self.i + 1]
                    self.i += 1
                elif c == b'"':
                    return Quoted(buf)
                else:
                    buf += c
        if ch == b"{":
            m = re.compile(rb"\{(\d+)\+?\}\r\n").match(self.d, self.i)
            if not m:
                raise ValueError("bad literal at %d: %r" % (self.i, self.d[self.i:self.i + 20]))
            n = int(m.group(1))
            start = m.end()
            self.i = start + n
            return Lit(self.d[start:start + n])
        # atom, possibly with [section] and <partial>
        start = self.i
        while not self.eof():
            c = self.peek()
            if c == b"[":
                depth = 0
                while not self.eof():
                    c = self.peek()
                    self.i += 1
                    if c == b"[":
                        depth += 1
                    elif c == b"]":
                        depth -= 1
                        if depth == 0:
                            break
                continue
            if c in (b" ", b"(", b")", b"{", b'"', b"\r", b"\n", b"]") or c == b"":
                break
            if c == b"<" and self.i > start:
                j = self.d.index(b">", self.i)
                self.i = j + 1
                continue
            self.i += 1
        if self.i == start:
            raise ValueError("empty atom at %d: %r" % (start, self.d[start:start + 20]))
        atom = self.d[start:self.i].decode("utf-8", "replace")
        if atom.upper() == "NIL":
            return None
        return atom


def parse_list(data):
    """Parse a parenthesised list (bytes starting at '(')."""
    p = Parser(data)
    return p.value()


def raw_fetch_items(resp):
    """'* 3 FETCH (...)' -> {ITEM-NAME-UPPER: the exact bytes of its value}."""
    m = re.match(rb"\* (\d+) FETCH \(", resp)
    assert m, resp
    p = Parser(resp)
    p.i = m.end()
    out = {}
    while True:
        p.skip_sp()
        if p.peek() == b")" or p.eof():
            return out
        name = p.value()
        p.skip_sp()
        start = p.i
        p.value()
        out[name.upper()] = resp[start:p.i]


def parse_fetch(resp):
    """'* 3 FETCH (...)' as bytes -> (3, {ITEM-NAME-UPPER: value}).
    Returns None for any other response."""
    m = re.match(rb"\* (\d+) FETCH ", resp)
    if not m:
        return None
    p = Parser(resp)
    p.i = m.end()
    lst = p.value()
    assert isinstance(lst, list), resp
    assert len(lst) % 2 == 0, f"odd number of items in {resp!r}"
    items = {}
    for k in range(0, len(lst), 2):
        name = lst[k]
        assert isinstance(name, str), f"item name {name!r} in {resp!r}"
        items[name.upper()] = lst[k + 1]
    return int(m.group(1)), items


def fetches(untagged):
    """All FETCH responses among untagged bytes responses: list of (seq, items)."""
    out = []
    for r in untagged:
        f = parse_fetch(r)
        if f is not None:
            out.append(f)
    return out


def fetch_one(c, tag, seq, items, uid=False):
    """FETCH one message; return its items dict (asserting OK and exactly
    one FETCH response for it)."""
    cmd = ("UID FETCH" if uid else "FETCH") + f" {seq} {items}"
    untagged, tagged = command_bytes(c, tag, cmd)
    assert tagged.startswith(tag + " OK"), tagged
    fs = fetches(untagged)
    assert len(fs) >= 1, untagged
    merged = {}
    for _, it in fs:
        merged.update(it)
    return merged


def serialize(v):
    """Canonical re-serialisation: strings as quoted strings."""
    if v is None:
        return "NIL"
    if isinstance(v, list):
        return "(" + " ".join(serialize(x) for x in v) + ")"
    if isinstance(v, bytes):
        s = v.decode("utf-8", "replace")
        return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return v


def s(v):
    """A string value as str (for comparisons)."""
    if v is None:
        return None
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    return v


def flags_of(items):
    f = items["FLAGS"]
    assert isinstance(f, list), f
    return set(x for x in f)


def search_result(untagged):
    """The numbers of '* SEARCH ...' (exactly one such response)."""
    res = [r for r in untagged if r.startswith(b"* SEARCH")]
    assert len(res) == 1, untagged
    return sorted(int(x) for x in res[0].split()[2:])


# ---------------------------------------------------------------- models

def apply_expunges(uids, untagged):
    """Apply '* n EXPUNGE' responses in order to a list of UIDs (index
    0 = sequence number 1); returns the new list."""
    uids = list(uids)
    for r in untagged:
        m = re.match(rb"\* (\d+) EXPUNGE$", r)
        if m:
            n = int(m.group(1))
            assert 1 <= n <= len(uids), f"EXPUNGE {n} of {len(uids)}"
            del uids[n - 1]
    return uids


def expunge_count(untagged):
    return sum(1 for r in untagged if re.match(rb"\* \d+ EXPUNGE$", r))


def select(c, mailbox="INBOX", tag="S1", examine=False):
    untagged, tagged = command_bytes(c, tag, ("EXAMINE" if examine else "SELECT") + f' "{mailbox}"')
    assert tagged.startswith(tag + " OK"), tagged
    return [r.decode("utf-8", "replace") for r in untagged], tagged


def exists_of(lines):
    for l in lines:
        m = re.match(r"\* (\d+) EXISTS$", l if isinstance(l, str) else l.decode())
        if m:
            return int(m.group(1))
    return None


def recent_of(lines):
    for l in lines:
        m = re.match(r"\* (\d+) RECENT$", l if isinstance(l, str) else l.decode())
        if m:
            return int(m.group(1))
    return None


def wait_for(c, pattern, timeout=TIMEOUT):
    """Read responses until one matches the regex (bytes); return
    (matching response, other responses before it, elapsed seconds)."""
    start = time.monotonic()
    others = []
    rx = re.compile(pattern)
    while True:
        left = timeout - (time.monotonic() - start)
        if left <= 0:
            raise AssertionError(f"no {pattern!r} within {timeout}s; got {others!r}")
        try:
            r = read_response(c, left)
        except (socket.timeout, TimeoutError):
            raise AssertionError(f"no {pattern!r} within {timeout}s; got {others!r}") from None
        if rx.search(r):
            return r, others, time.monotonic() - start
        others.append(r)


# ---------------------------------------------------------------- servers

def make_server(users=(("alice", "secret-pw"), ("bob", "bob-pw")), extra_config=""):
    """Start a tidingsd like conftest's server_factory does, for
    module-scoped fixtures.  Returns (server, cleanup)."""
    import subprocess
    import tempfile
    from conftest import Server
    d = tempfile.mkdtemp(prefix="tidings-test-")
    srv = Server(d, extra_config)

    def cleanup():
        try:
            if srv.proc is not None:
                srv.stop(expect_code=None)
            srv.check_sanitizers()
        finally:
            subprocess.run(["rm", "-rf", d])

    try:
        for name, pw in users:
            srv.add_user(name, pw)
        srv.start()
    except BaseException:
        cleanup()
        raise
    return srv, cleanup


def login(server, user="alice", password="secret-pw"):
    c = server.raw()
    c.login(user, password)
    return c


def create(c, name, tag="CR"):
    _, tagged = c.command(tag, f'CREATE "{name}"')
    assert tagged.startswith(tag + " OK"), tagged
