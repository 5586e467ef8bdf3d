"""Differential test against Debian's Dovecot (issue 4).

The corpus of tests/data/make-corpus.py (>= 300 messages, generated at test
time, deterministic) is APPENDed to a real Tidings and a real Dovecot
(started on free loopback ports with a temporary config, as the benchmarks
in bench/ do).  For every message the test compares FETCH ENVELOPE,
BODYSTRUCTURE, BODY[n.MIME] for every part number and, when both servers
advertise BINARY, BINARY.SIZE[n] for leaf parts; then SEARCH results for a
set of keys.

Every difference is classified as (message name, class), e.g.
("ew-utf-7", "SEARCH:subject-ja") or ("simple-08", "BODYSTRUCTURE.encoding"),
and the test fails on any difference not allowed by
tests/data/known-differences.md (a table of message-glob, class-glob and the
reason).  Comparisons are case-insensitive only where the RFCs say case does
not matter (MIME type/subtype, parameter names, charset values, transfer
encodings, disposition types: RFC 2045 §5.1, §6.1; RFC 2183 §2.8).
"""
import fnmatch
import importlib.util
import os
import re
import shutil
import socket
import sys
import tempfile

import pytest

from conftest import ROOT, TIMEOUT, Server

DOVECOT = "/usr/sbin/dovecot"
KNOWN = os.path.join(ROOT, "tests", "data", "known-differences.md")
USER = "diff"


def load_module(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


# --------------------------------------------------------------------------
# A small IMAP client that parses responses into Python values:
# list -> list, atom/quoted/literal -> bytes, NIL -> None.

class ImapError(Exception):
    pass


class Client:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT * 3)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.n = 0
        self.greeting = self._line()

    def _fill(self):
        data = self.sock.recv(1 << 16)
        if not data:
            raise ImapError("connection closed")
        self.buf += data

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _take(self, n):
        while len(self.buf) < n:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def _response(self):
        """One response with its literals inline: bytes."""
        out = b""
        while True:
            line = self._line()
            out += line
            m = re.search(rb"~?\{(\d+)\}$", line)
            if not m:
                return out
            out += b"\r\n" + self._take(int(m.group(1)))

    def command(self, text, literals=(), literal8=False):
        """Send a command; `text` holds one "{}" per literal.  Returns
        (untagged responses, tagged status word, tagged line)."""
        self.n += 1
        tag = f"D{self.n}".encode()
        parts = text.encode() if isinstance(text, str) else text
        pieces = parts.split(b"{}")
        assert len(pieces) == len(literals) + 1
        pending = tag + b" " + pieces[0]
        untagged = []
        for k, (lit, rest) in enumerate(zip(literals, pieces[1:])):
            pre = b"~" if literal8 else b""
            self.sock.sendall(pending + pre + b"{%d}\r\n" % len(lit))
            while True:
                r = self._response()
                if r.startswith(b"+"):
                    break
                if r.startswith(tag + b" "):
                    return untagged, r.split(b" ")[1].decode(), r
                untagged.append(r)
            pending = lit + rest
        # One write per command line: no small trailing segment for
        # Nagle and delayed ACKs to hold back.
        self.sock.sendall(pending + b"\r\n")
        while True:
            r = self._response()
            if r.startswith(tag + b" "):
                return untagged, r.split(b" ")[1].decode(), r
            untagged.append(r)

    def ok(self, text, literals=()):
        untagged, status, line = self.command(text, literals)
        if status != "OK":
            raise ImapError(f"{text!r}: {line!r}")
        return untagged

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def parse(data, i=0):
    """Parse IMAP data starting at data[i]; returns (values, index)."""
    out = []
    n = len(data)
    while i < n:
        c = data[i:i + 1]
        if c == b" ":
            i += 1
        elif c == b"(":
            sub, i = parse(data, i + 1)
            out.append(sub)
        elif c == b")":
            return out, i + 1
        elif c == b'"':
            j = i + 1
            s = bytearray()
            while data[j:j + 1] != b'"':
                if data[j:j + 1] == b"\\":
                    j += 1
                s += data[j:j + 1]
                j += 1
            out.append(bytes(s))
            i = j + 1
        elif c in (b"{", b"~") and re.match(rb"~?\{(\d+)\}\r\n", data[i:]):
            m = re.match(rb"~?\{(\d+)\}\r\n", data[i:])
            start = i + m.end()
            out.append(data[start:start + int(m.group(1))])
            i = start + int(m.group(1))
        else:
            j = i
            depth = 0
            while j < n:
                ch = data[j:j + 1]
                if ch == b"[":
                    depth += 1
                elif ch == b"]":
                    depth -= 1
                elif depth == 0 and ch in (b" ", b"(", b")"):
                    break
                j += 1
            atom = data[i:j]
            out.append(None if atom.upper() == b"NIL" else atom)
            i = j
    return out, i


def fetch_items(untagged):
    """{seq: {ITEM-NAME: value}} from untagged FETCH responses."""
    res = {}
    for r in untagged:
        m = re.match(rb"\* (\d+) FETCH ", r)
        if not m:
            continue
        vals, _ = parse(r, m.end())
        lst = vals[0]
        d = res.setdefault(int(m.group(1)), {})
        for k in range(0, len(lst) - 1, 2):
            d[lst[k].decode().upper()] = lst[k + 1]
    return res


# --------------------------------------------------------------------------
# Dovecot and Tidings.

def start_dovecot(top):
    sys.path.insert(0, os.path.join(ROOT, "bench"))
    try:
        import benchlib
    finally:
        sys.path.pop(0)
    dv = benchlib.Dovecot(top)
    # Durability is not what this test looks at.
    with open(dv.config) as f:
        conf = f.read().replace("mail_fsync = always", "mail_fsync = never")
    conf = re.sub(r"process_min_avail = \d+", "process_min_avail = 1", conf)
    with open(dv.config, "w") as f:
        f.write(conf)
    dv.add_users([USER])
    dv.start()
    return dv, benchlib.PASSWORD


def capabilities(c):
    untagged = c.ok("CAPABILITY")
    caps = set()
    for r in untagged:
        if r.startswith(b"* CAPABILITY "):
            caps |= set(r.decode().upper().split()[2:])
    return caps


# --------------------------------------------------------------------------
# Comparison.

ENV_FIELDS = ("date", "subject", "from", "sender", "reply-to", "to", "cc", "bcc",
              "in-reply-to", "message-id")


def ci(v):
    return v.lower() if isinstance(v, bytes) else v


def norm_params(p):
    """Parameter list: names case-insensitive (RFC 2045 §5.1), so are
    charset values (RFC 2046 §4.1.2)."""
    if not isinstance(p, list):
        return p
    out = []
    for k in range(0, len(p) - 1, 2):
        name = ci(p[k])
        val = p[k + 1]
        if name == b"charset":
            val = ci(val)
        out.append((name, val))
    # The order of parameters carries no meaning (RFC 2045 §5 grammar;
    # RFC 2231 §3 even lets continuations come in any order).
    return sorted(out, key=repr)


def norm_disp(d):
    if not isinstance(d, list) or not d:
        return d
    return [ci(d[0])] + [norm_params(x) for x in d[1:]]


def norm_lang(v):
    # RFC 3066 tags are case-insensitive; a single tag may be a string or a
    # one-element list (RFC 3501 body-fld-lang).
    if isinstance(v, list):
        v = [ci(x) for x in v]
        return v[0] if len(v) == 1 else v
    return ci(v)


def cmp_env(a, b, diffs, prefix="ENVELOPE"):
    if not (isinstance(a, list) and isinstance(b, list)):
        if a != b:
            diffs.append((prefix, a, b))
        return
    for k, f in enumerate(ENV_FIELDS):
        va = a[k] if k < len(a) else "<missing>"
        vb = b[k] if k < len(b) else "<missing>"
        if va != vb:
            diffs.append((f"{prefix}.{f}", va, vb))


def is_multipart(bs):
    return isinstance(bs, list) and bs and isinstance(bs[0], list)


def cmp_body(a, b, path, diffs, prefix="BODYSTRUCTURE"):
    """Walk two body structures; append (class, tidings, dovecot)."""
    where = path or "TEXT"
    if is_multipart(a) != is_multipart(b):
        diffs.append((f"{prefix}.shape", f"{where}: {short(a)}", short(b)))
        return
    if is_multipart(a):
        pa, pb = leading_parts(a), leading_parts(b)
        if len(pa) != len(pb):
            diffs.append((f"{prefix}.parts", f"{where}: {len(pa)} parts", f"{len(pb)} parts"))
        for k, (x, y) in enumerate(zip(pa, pb)):
            cmp_body(x, y, f"{path}.{k + 1}" if path else str(k + 1), diffs, prefix)
        ra, rb = a[len(pa):], b[len(pb):]
        names = ("subtype", "params", "disposition", "language", "location")
        norms = (ci, norm_params, norm_disp, norm_lang, None)
        cmp_fields(ra, rb, names, norms, where, diffs, prefix)
        return
    names = ["type", "subtype", "params", "id", "description", "encoding", "size"]
    norms = [ci, ci, norm_params, None, None, ci, None]
    t = (ci(a[0]), ci(a[1])) if len(a) > 1 else (None, None)
    tb = (ci(b[0]), ci(b[1])) if len(b) > 1 else (None, None)
    if is_message(a) and is_message(b):
        cmp_env(a[7], b[7], diffs, prefix + ".rfc822-envelope")
        sub = f"{path}" if path else "1"
        cmp_body(a[8], b[8], sub if is_multipart(a[8]) else f"{sub}.1" if sub else "1", diffs, prefix)
        names += ["envelope", "body", "lines"]
        norms += ["skip", "skip", None]
    elif t[0] == b"text" and tb[0] == b"text":
        names += ["lines"]
        norms += [None]
    names += ["md5", "disposition", "language", "location"]
    norms += [None, norm_disp, norm_lang, None]
    cmp_fields(a, b, names, norms, where, diffs, prefix)


def is_message(p):
    """message/rfc822 (and IMAP4rev2's message/global, RFC 9051 §7.5.2)
    with the envelope, body and lines fields."""
    return (isinstance(p, list) and len(p) > 9 and ci(p[0]) == b"message" and
            ci(p[1]) in (b"rfc822", b"global") and isinstance(p[7], list))


def leading_parts(bs):
    """The body parts of a multipart: the leading lists (RFC 3501 body-type-mpart)."""
    out = []
    for x in bs:
        if not isinstance(x, list):
            break
        out.append(x)
    return out


def cmp_fields(a, b, names, norms, where, diffs, prefix):
    n = max(len(a), len(b))
    for k in range(n):
        name = names[k] if k < len(names) else "extension"
        norm = norms[k] if k < len(norms) else None
        if norm == "skip":
            continue
        va = a[k] if k < len(a) else "<absent>"
        vb = b[k] if k < len(b) else "<absent>"
        if norm and va != "<absent>" and vb != "<absent>":
            va, vb = norm(va), norm(vb)
        if va != vb:
            if (name == "lines" and isinstance(va, bytes) and isinstance(vb, bytes) and
                    va.isdigit() and vb.isdigit() and int(va) == int(vb) + 1):
                # Tidings counts a last line without CRLF (the usual
                # case before a boundary); Dovecot counts CRLFs.
                name = "lines+1"
            diffs.append((f"{prefix}.{name}", f"{where}: {short(va)}", short(vb)))


def short(v, n=160):
    s = repr(v)
    return s if len(s) <= n else s[:n] + "..."


def part_numbers(bs, path=""):
    """(section, is_leaf) for every part of a body structure (RFC 3501
    §6.4.5 numbering: a non-multipart message or rfc822 body is part 1)."""
    out = []
    if is_multipart(bs):
        for k, p in enumerate(leading_parts(bs)):
            sec = f"{path}.{k + 1}" if path else str(k + 1)
            out += part_numbers_child(p, sec)
    else:
        out += part_numbers_child(bs, path + ".1" if path else "1")
    return out


def part_numbers_child(p, sec):
    out = []
    if is_multipart(p):
        out.append((sec, False))
        out += part_numbers(p, sec)
    elif is_message(p):
        out.append((sec, False))
        out += part_numbers(p[8], sec)
    else:
        out.append((sec, True))
    return out


# --------------------------------------------------------------------------
# The allow-list.

def load_known():
    """Table rows "| `glob`, `glob` | `class-glob`, ... | reason |" of
    known-differences.md: (message globs, class globs, reason)."""
    rows = []
    with open(KNOWN, encoding="utf-8") as f:
        for line in f:
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if len(cells) != 3 or not cells[0].startswith("`"):
                continue
            msgs = re.findall(r"`([^`]+)`", cells[0])
            classes = re.findall(r"`([^`]+)`", cells[1])
            assert msgs and classes and cells[2], f"bad row in {KNOWN}: {line!r}"
            rows.append((tuple(msgs), tuple(classes), cells[2]))
    assert rows, f"no rows in {KNOWN}"
    return rows


def allowed(known, name, cls):
    for k, (mgs, cgs, _) in enumerate(known):
        if (any(fnmatch.fnmatchcase(name, g) for g in mgs) and
                any(fnmatch.fnmatchcase(cls, g) for g in cgs)):
            return k
    return None


# --------------------------------------------------------------------------
# SEARCH keys: (label, command text with "{}" per literal, literals).
# Non-ASCII strings go as literals under CHARSET UTF-8 (RFC 3501 §6.4.4).

def u(s):
    return s.encode("utf-8")


SEARCH_KEYS = [
    ("subject-ascii", "SEARCH SUBJECT Nested", ()),
    ("subject-ja", "SEARCH CHARSET UTF-8 SUBJECT {}", (u("日本語"),)),
    ("subject-zh", "SEARCH CHARSET UTF-8 SUBJECT {}", (u("中文"),)),
    ("subject-ko", "SEARCH CHARSET UTF-8 SUBJECT {}", (u("한국어"),)),
    ("subject-ru", "SEARCH CHARSET UTF-8 SUBJECT {}", (u("Проверка"),)),
    ("subject-uk", "SEARCH CHARSET UTF-8 SUBJECT {}", (u("теми листа"),)),
    ("subject-el", "SEARCH CHARSET UTF-8 SUBJECT {}", (u("Δοκιμή"),)),
    ("subject-he", "SEARCH CHARSET UTF-8 SUBJECT {}", (u("בדיקת"),)),
    ("subject-ar", "SEARCH CHARSET UTF-8 SUBJECT {}", (u("اختبار"),)),
    ("subject-th", "SEARCH CHARSET UTF-8 SUBJECT {}", (u("ทดสอบ"),)),
    ("subject-vi", "SEARCH CHARSET UTF-8 SUBJECT {}", (u("Kiểm tra"),)),
    ("subject-tr", "SEARCH CHARSET UTF-8 SUBJECT {}", (u("satırı"),)),
    ("subject-pl", "SEARCH CHARSET UTF-8 SUBJECT {}", (u("gęślą"),)),
    ("subject-de", "SEARCH CHARSET UTF-8 SUBJECT {}", (u("Grüße"),)),
    ("subject-fr", "SEARCH CHARSET UTF-8 SUBJECT {}", (u("coûte"),)),
    ("subject-eo", "SEARCH CHARSET UTF-8 SUBJECT {}", (u("ĝi"),)),
    ("subject-kk", "SEARCH CHARSET UTF-8 SUBJECT {}", (u("сынағы"),)),
    ("subject-emoji", "SEARCH CHARSET UTF-8 SUBJECT {}", (u("😀"),)),
    ("subject-case", "SEARCH CHARSET UTF-8 SUBJECT {}", (u("KÖLN"),)),
    ("subject-ew-raw", "SEARCH SUBJECT {}", (b"=?utf-8?Q?",)),
    ("subject-adjacent", "SEARCH SUBJECT {}", (b"Gr\xc3\xbc\xc3\x9fe aus",)),
    ("subject-long", "SEARCH SUBJECT word2999", ()),
    ("from-utf8", "SEARCH CHARSET UTF-8 FROM {}", (u("Jörg"),)),
    ("from-ja", "SEARCH CHARSET UTF-8 FROM {}", (u("山田"),)),
    ("from-addr", "SEARCH FROM from-8@example.org", ()),
    ("from-domain", "SEARCH FROM example.org", ()),
    ("to-utf8", "SEARCH CHARSET UTF-8 TO {}", (u("Empfänger"),)),
    ("to-many", "SEARCH TO user999", ()),
    ("to-group", "SEARCH TO Friends", ()),
    ("cc", "SEARCH CC cc2", ()),
    ("bcc", "SEARCH BCC bcc@", ()),
    ("body-utf8", "SEARCH CHARSET UTF-8 BODY {}", (u("ünïcödé"),)),
    ("body-qp", "SEARCH CHARSET UTF-8 BODY {}", (u("Grüße aus Köln"),)),
    ("body-b64", "SEARCH CHARSET UTF-8 BODY {}", (u("base64 body"),)),
    ("body-ru", "SEARCH CHARSET UTF-8 BODY {}", (u("Проверка"),)),
    ("body-ja", "SEARCH CHARSET UTF-8 BODY {}", (u("日本語"),)),
    ("body-inner", "SEARCH BODY {}", (b"Inner body",)),
    ("body-html", "SEARCH BODY {}", (b"html =",)),
    ("body-ascii", "SEARCH BODY {}", (b"leaf p.1",)),
    ("body-large", "SEARCH BODY {}", (b"line 19999 of",)),
    ("text-utf8", "SEARCH CHARSET UTF-8 TEXT {}", (u("Empfänger"),)),
    ("text-hdr", "SEARCH TEXT {}", (b"inner7@example.org",)),
    ("text-digest", "SEARCH TEXT {}", (b"digest body",)),
    ("body-nested-hdr", "SEARCH BODY {}", (b"inner7@example.org",)),
    ("body-nested-ew", "SEARCH CHARSET UTF-8 BODY {}", (u("Inner é 3"),)),
    ("text-nested-subject", "SEARCH TEXT {}", (b"digest p.2",)),
    ("header-mid", "SEARCH HEADER Message-ID {}", (b"nest-1",)),
    ("header-refs", "SEARCH HEADER References {}", (b"ref6599.",)),
    ("header-xlong", "SEARCH HEADER X-Long XXXXXXXX", ()),
    ("header-many", "SEARCH HEADER X-Header-2999 {}", (b"value 2999",)),
    ("header-ct", "SEARCH HEADER Content-Type multipart", ()),
    ("header-exists", "SEARCH HEADER Sender {}", (b"",)),
    ("header-ew", "SEARCH CHARSET UTF-8 HEADER Subject {}", (u("Grüße"),)),
    ("header-ew-raw", "SEARCH HEADER Subject {}", (b"?B?",)),
    ("larger-10k", "SEARCH LARGER 10000", ()),
    ("larger-100k", "SEARCH LARGER 100000", ()),
    ("smaller-400", "SEARCH SMALLER 400", ()),
    ("sentbefore-2000", "SEARCH SENTBEFORE 1-Jan-2000", ()),
    ("sentbefore-2016", "SEARCH SENTBEFORE 2-Mar-2015", ()),
    ("senton-2026", "SEARCH SENTON 23-Nov-2026", ()),
    ("sentsince-2027", "SEARCH SENTSINCE 1-Jan-2027", ()),
    ("sentsince-2026", "SEARCH SENTSINCE 23-Nov-2026", ()),
    ("or-not", "SEARCH OR SUBJECT Broken NOT FROM example.org", ()),
]


# Keys that no message matches on either server, on purpose: both servers
# search header text after RFC 2047 decoding, so the raw "=?...?=" form is
# not found, and TO looks at the top-level header only.
# Every other key must match something, or it would test nothing.
EXPECT_EMPTY = {"subject-ew-raw", "header-ew-raw", "to-utf8"}


# --------------------------------------------------------------------------

def append_all(c, msgs, literal8):
    """APPEND each message; returns the names that went in, in order."""
    names = []
    for name, data, needs_binary in msgs:
        if needs_binary and not literal8:
            continue
        _, status, line = c.command("APPEND INBOX {}", (data,), literal8=needs_binary)
        if status != "OK":
            raise ImapError(f"APPEND {name}: {line!r}")
        names.append(name)
    return names


def fetch_sections(c, seq, secs, fmt):
    """FETCH several sections of one message; {section: value} plus the
    tagged status when the command failed (a server may refuse, e.g.
    UNKNOWN-CTE for BINARY, RFC 3516 §4.3)."""
    if not secs:
        return {}
    items = " ".join(fmt.format(s) for s in secs)
    untagged, status, line = c.command(f"FETCH {seq} ({items})")
    if status != "OK":
        # Retry one at a time so one refused part does not hide the others.
        res = {}
        for s in secs:
            untagged, status, line = c.command(f"FETCH {seq} ({fmt.format(s)})")
            if status != "OK":
                res[s] = "<" + status + ">"
            else:
                d = fetch_items(untagged).get(seq, {})
                res[s] = next(iter(d.values()), "<missing>") if d else "<missing>"
        return res
    d = fetch_items(untagged).get(seq, {})
    res = {}
    for s in secs:
        key = fmt.format(s).upper().replace(".PEEK", "")
        res[s] = d.get(key, "<missing>")
    return res


def test_allow_list_parses_and_matches():
    """The allow-list is well-formed, its globs match what they name, and
    a difference no row names is not allowed (so the big test fails)."""
    known = load_known()
    assert allowed(known, "nest-16", "BODYSTRUCTURE.lines+1") is not None
    assert allowed(known, "p2231-d00", "BODYSTRUCTURE.disposition") is not None
    assert allowed(known, "p2231-d00", "ENVELOPE.subject") is None
    assert allowed(known, "simple-00", "BODYSTRUCTURE.lines") is None
    assert allowed(known, "simple-00", "MIME") is None
    assert allowed(known, "*", "SEARCH:subject-ja") is None


def test_compare_normalises_only_what_the_rfcs_allow():
    """Case of type/subtype/parameter names/charset/encoding and parameter
    order are ignored; parameter values, sizes and envelopes are not."""
    a, _ = parse(b'("TEXT" "PLAIN" ("CHARSET" "UTF-8" "NAME" "A.txt") NIL NIL "7BIT" 5 1 NIL NIL NIL NIL)')
    b, _ = parse(b'("text" "plain" ("name" "A.txt" "charset" "utf-8") NIL NIL "7bit" 5 1 NIL NIL NIL NIL)')
    found = []
    cmp_body(a[0], b[0], "", found)
    assert found == []
    c, _ = parse(b'("text" "plain" ("name" "a.txt" "charset" "utf-8") NIL NIL "7bit" 6 0 NIL NIL NIL NIL)')
    cmp_body(a[0], c[0], "", found)
    assert [f[0] for f in found] == ["BODYSTRUCTURE.params", "BODYSTRUCTURE.size",
                                     "BODYSTRUCTURE.lines+1"]
    m, _ = parse(b'(("TEXT" "PLAIN" NIL NIL NIL "7BIT" 1 1)("MESSAGE" "RFC822" NIL NIL NIL "7BIT" 9 '
                 b'(NIL "s" NIL NIL NIL NIL NIL NIL NIL NIL) ("TEXT" "PLAIN" NIL NIL NIL "7BIT" 1 1) 2) "MIXED")')
    assert part_numbers(m[0]) == [("1", True), ("2", False), ("2.1", True)]
    lit, _ = parse(b'(ENVELOPE ({3}\r\na"b NIL))')
    assert lit == [[b"ENVELOPE", [b'a"b', None]]]


def test_fixes_found_by_the_differential_test(server_factory):
    """Tidings-only regression checks for the differences this test found
    and fixed in src/mime (they run fast and under ASan, without Dovecot)."""
    srv = server_factory(users=((USER, "diff-pw"),))
    c = Client(srv.imap_port)
    try:
        c.ok(f"LOGIN {USER} diff-pw")
        msg = (b"From: a@example.org\r\nSubject: outer\r\nMIME-Version: 1.0\r\n"
               b"Content-Type: multipart/mixed; boundary=b\r\n\r\n"
               b"--b\r\nContent-Type: text/plain\r\n\r\nplain text\r\n"
               b"--b\r\nContent-Type: message/rfc822\r\n\r\n"
               b"From: inner@example.org\r\nSubject: =?utf-8?Q?Gr=C3=BC=C3=9Fe?=\r\n\r\ninner body\r\n"
               b"--b\r\nContent-Type: text/plain\r\n--b--\r\n")
        c.ok("APPEND INBOX {}", (msg,))
        c.ok("APPEND INBOX {}", (b"Subject: other\r\n\r\nnothing\r\n",))
        c.ok("SELECT INBOX")
        bs = fetch_items(c.ok("FETCH 1 BODYSTRUCTURE"))[1]["BODYSTRUCTURE"]
        # RFC 2046 §4.1.2: text without charset is us-ascii, and says so.
        assert norm_params(bs[0][2]) == [(b"charset", b"us-ascii")]
        assert norm_params(bs[2][2]) == [(b"charset", b"us-ascii")]
        # RFC 2046 §5.1.1: the CRLF before "--b--" belongs to the delimiter.
        mime = fetch_items(c.ok("FETCH 1 BODY.PEEK[3.MIME]"))[1]["BODY[3.MIME]"]
        assert mime == b"Content-Type: text/plain"
        # The attached message's header is body text of the outer one,
        # searched RFC 2047-decoded (RFC 3501 §6.4.4).
        for key in ("BODY", "TEXT"):
            untagged = c.ok(f"SEARCH CHARSET UTF-8 {key} {{}}", (u("grüße"),))
            assert untagged == [b"* SEARCH 1"], (key, untagged)
            untagged = c.ok(f"SEARCH {key} inner@example.org")
            assert untagged == [b"* SEARCH 1"], (key, untagged)
        assert c.ok("SEARCH BODY outer") == [b"* SEARCH"]
        c.ok("LOGOUT")
    finally:
        c.close()


@pytest.mark.slow
def test_differential_dovecot():
    if not os.access(DOVECOT, os.X_OK):
        pytest.skip("/usr/sbin/dovecot is missing: run scripts/install-deps (dovecot-imapd)")
    corpus = load_module(os.path.join(ROOT, "tests", "data", "make-corpus.py"), "make_corpus").corpus()
    assert len(corpus) >= 300
    known = load_known()

    # Both servers keep their data on tmpfs when there is one: the test
    # is about parsing, and Tidings fsyncs every APPEND (synchronous=FULL),
    # which on a slow disk alone would take half a minute here.
    shm = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
    top = tempfile.mkdtemp(prefix="tidings-diff-", dir=shm)
    os.chmod(top, 0o755)
    tdir = os.path.join(top, "tidings-srv")
    os.mkdir(tdir)
    tidings = Server(tdir)
    dv = None
    clients = []
    try:
        tidings.add_user(USER, "diff-pw")
        tidings.start()
        dv, dv_pw = start_dovecot(top)
        ct = Client(tidings.imap_port)
        clients.append(ct)
        cd = Client(dv.imap_port)
        clients.append(cd)
        ct.ok(f"LOGIN {USER} diff-pw")
        cd.ok(f"LOGIN {USER} {dv_pw}")
        binary = "BINARY" in capabilities(ct) and "BINARY" in capabilities(cd)
        notes = []
        if not binary:
            notes.append("Tidings does not advertise BINARY yet: binary (NUL) messages not "
                         "APPENDed, BINARY.SIZE not compared")
        names = append_all(ct, corpus, binary)
        assert append_all(cd, corpus, binary) == names
        ct.ok("SELECT INBOX")
        cd.ok("SELECT INBOX")

        diffs = []   # (name, class, detail)

        def record(name, found):
            for cls, a, b in found:
                diffs.append((name, cls, f"tidings={a} dovecot={b}"))

        ft = fetch_items(ct.ok("FETCH 1:* (ENVELOPE BODYSTRUCTURE)"))
        fd = fetch_items(cd.ok("FETCH 1:* (ENVELOPE BODYSTRUCTURE)"))
        for seq, name in enumerate(names, 1):
            a, b = ft.get(seq, {}), fd.get(seq, {})
            found = []
            cmp_env(a.get("ENVELOPE"), b.get("ENVELOPE"), found)
            cmp_body(a.get("BODYSTRUCTURE"), b.get("BODYSTRUCTURE"), "", found)
            record(name, found)

            parts = dict(part_numbers(b.get("BODYSTRUCTURE")))
            for sec, leafp in part_numbers(a.get("BODYSTRUCTURE")):
                parts.setdefault(sec, leafp)
            secs = sorted(parts, key=lambda s: [int(x) for x in s.split(".")])
            mt = fetch_sections(ct, seq, secs, "BODY.PEEK[{}.MIME]")
            md = fetch_sections(cd, seq, secs, "BODY.PEEK[{}.MIME]")
            for s in secs:
                if mt[s] != md[s]:
                    record(name, [("MIME", f"{s}: {short(mt[s])}", short(md[s]))])
            if binary:
                leaves = [s for s in secs if parts[s]]
                bt = fetch_sections(ct, seq, leaves, "BINARY.SIZE[{}]")
                bd = fetch_sections(cd, seq, leaves, "BINARY.SIZE[{}]")
                for s in leaves:
                    if bt[s] != bd[s]:
                        record(name, [("BINARY.SIZE", f"{s}: {bt[s]!r}", repr(bd[s]))])

        hit_counts = {}
        for label, text, lits in SEARCH_KEYS:
            res = []
            for c in (ct, cd):
                untagged, status, line = c.command(text, lits)
                hits = set()
                for r in untagged:
                    if r.startswith(b"* SEARCH"):
                        hits |= {int(x) for x in r.split()[2:]}
                res.append((status, hits))
            (st, ht), (sd, hd) = res
            hit_counts[label] = (len(ht), len(hd))
            if st != sd:
                diffs.append(("*", f"SEARCH:{label}", f"tidings={st} dovecot={sd}"))
                continue
            for seq in sorted(ht ^ hd):
                who = "tidings only" if seq in ht else "dovecot only"
                diffs.append((names[seq - 1], f"SEARCH:{label}", who))

        idle = sorted(k for k, (nt, nd) in hit_counts.items()
                      if (nt + nd == 0) != (k in EXPECT_EMPTY))
        assert not idle, f"SEARCH keys whose hits are not as the corpus intends: {idle}"
        unexpected = []
        used = set()
        for name, cls, detail in diffs:
            hit = allowed(known, name, cls)
            if hit is not None:
                used.add(hit)
            else:
                unexpected.append(f"{name}  {cls}  {detail}")
        # Rows that matched nothing are reported, not failed: a fix in
        # Tidings (or BINARY arriving) makes a row stale, and the lead
        # prunes the file then.
        stale = [" ".join(known[k][0]) + "  " + " ".join(known[k][1])
                 for k in range(len(known)) if k not in used]
        for n in notes:
            print("note:", n)
        dump = os.environ.get("TIDINGS_DIFF_DUMP")
        if dump:
            # Every difference, allowed or not, for working on the allow-list.
            with open(dump, "w", encoding="utf-8") as f:
                for name, cls, detail in diffs:
                    f.write(f"{name}\t{cls}\t{detail}\n")
                for label, (nt, nd) in hit_counts.items():
                    f.write(f"#search\t{label}\ttidings={nt} dovecot={nd}\n")
        if stale:
            print("known-differences.md entries that matched nothing:\n  " + "\n  ".join(stale))
        assert not unexpected, (f"{len(unexpected)} differences not in tests/data/known-differences.md:\n"
                                + "\n".join(unexpected[:400]))
        for c in clients:
            c.ok("LOGOUT")
    finally:
        for c in clients:
            c.close()
        try:
            if dv is not None:
                code = dv.stop()
                assert code in (0, None), f"dovecot exited {code}: {dv.log()}"
            if tidings.proc is not None:
                tidings.stop()
            tidings.check_sanitizers()
        finally:
            if tidings.proc is not None:
                tidings.kill9()
            shutil.rmtree(top, ignore_errors=True)
