#!/usr/bin/python3
"""The MIME corpus for tests/protocol/test_differential.py (issue 4).

The corpus is generated deterministically at test time (same bytes on every
run: a fixed seed, fixed dates) so the repository stays small.  Run this file
by hand to look at the messages:

    /usr/bin/python3 tests/data/make-corpus.py [OUTDIR]

writes OUTDIR/<name>.eml (default tests/data/corpus/, which is not committed).

corpus() returns a list of (name, bytes, needs_binary).  needs_binary is true
for messages holding NUL bytes: they can only be APPENDed as literal8
(RFC 3516), so the test skips them when a server lacks BINARY.

Families (the name prefix says which):
  simple-*     plain messages, charsets in the body, QP/base64, no Content-Type
  ew-*         RFC 2047 encoded-words (B and Q) in Subject/From/To in one
               charset each, covering every iconv family
  nest-*       deeply nested multiparts
  rfc822-*     message/rfc822 inside multiparts (and multiparts inside those)
  p2231-*      RFC 2231 parameters: continuations, charset'lang'value
  8bit-*       raw 8-bit header text (UTF-8 and Latin-1)
  broken-*     broken or missing boundaries, preamble/epilogue oddities
  nomime-*     MIME structure without MIME-Version
  huge-*       huge headers (200 KiB References, 1000 recipients)
  bin-*        Content-Transfer-Encoding: binary with NUL bytes
  env-*        ENVELOPE edge cases: groups, routes, quoting, odd dates
"""
import base64
import os
import quopri
import random
import sys

SEED = 20261123

# Sample texts per script; each charset gets the first one it can encode.
TEXTS = [
    ("ja", "日本語のメール件名テスト"),
    ("zh", "中文邮件主题测试"),
    ("zht", "中文郵件主題測試"),
    ("ko", "한국어 메일 제목 시험"),
    ("ru", "Проверка темы письма"),
    ("uk", "Перевірка теми листа ґ"),
    ("el", "Δοκιμή θέματος μηνύματος"),
    ("he", "בדיקת נושא ההודעה"),
    ("ar", "اختبار موضوع الرسالة"),
    ("th", "ทดสอบหัวเรื่อง"),
    ("vi", "Kiểm tra tiêu đề thư"),
    ("tr", "Konu satırı denemesi ğüşıöç"),
    ("pl", "Zażółć gęślą jaźń"),
    ("cs", "Příliš žluťoučký kůň"),
    ("de", "Grüße aus Köln, Straße"),
    ("fr", "Ça coûte très cher à Noël"),
    ("is", "Þetta er próf ðæ"),
    ("ro", "Încercare șir țară"),
    ("lt", "Bandymas ąčęėįšųūž"),
    ("kk", "Тақырып сынағы әғқңөұүһі"),
    ("eo", "Ĉu ĝi funkcias? ĥŝŭ"),
    ("cy", "Prawf ŵŷ Ẁẃ"),
    ("en", "Plain ASCII subject"),
]

# (label used in MIME, Python codec, script preference or None = first that fits)
CHARSETS = [
    ("iso-8859-1", "iso-8859-1", "de"), ("ISO-8859-2", "iso-8859-2", "pl"),
    ("iso-8859-3", "iso-8859-3", "eo"), ("iso-8859-4", "iso-8859-4", "lt"),
    ("iso-8859-5", "iso-8859-5", "ru"), ("iso-8859-6", "iso-8859-6", "ar"),
    ("iso-8859-7", "iso-8859-7", "el"), ("iso-8859-8", "iso-8859-8", "he"),
    ("iso-8859-9", "iso-8859-9", "tr"), ("iso-8859-10", "iso-8859-10", "is"),
    ("iso-8859-11", "iso-8859-11", "th"), ("iso-8859-13", "iso-8859-13", "lt"),
    ("iso-8859-14", "iso-8859-14", "cy"), ("iso-8859-15", "iso-8859-15", "fr"),
    ("iso-8859-16", "iso-8859-16", "ro"),
    ("windows-1250", "cp1250", "cs"), ("windows-1251", "cp1251", "ru"),
    ("windows-1252", "cp1252", "fr"), ("windows-1253", "cp1253", "el"),
    ("windows-1254", "cp1254", "tr"), ("windows-1255", "cp1255", "he"),
    ("windows-1256", "cp1256", "ar"), ("windows-1257", "cp1257", "lt"),
    ("windows-1258", "cp1258", None),
    ("koi8-r", "koi8_r", "ru"), ("KOI8-U", "koi8_u", "uk"), ("koi8-t", "koi8_t", None),
    ("shift_jis", "shift_jis", "ja"), ("euc-jp", "euc_jp", "ja"),
    ("iso-2022-jp", "iso2022_jp", "ja"), ("euc-jisx0213", "euc_jisx0213", "ja"),
    ("euc-kr", "euc_kr", "ko"), ("iso-2022-kr", "iso2022_kr", "ko"),
    ("cp949", "cp949", "ko"), ("johab", "johab", "ko"),
    ("gb2312", "gb2312", "zh"), ("GBK", "gbk", "zh"), ("gb18030", "gb18030", "zh"),
    ("big5", "big5", "zht"), ("big5-hkscs", "big5hkscs", "zht"),
    ("utf-8", "utf-8", "vi"), ("utf-16", "utf-16", "ko"), ("utf-16le", "utf-16-le", "el"),
    ("utf-16be", "utf-16-be", "ru"), ("utf-32", "utf-32", "zh"),
    ("utf-32be", "utf-32-be", "ar"), ("utf-7", "utf-7", "ja"),
    ("ibm437", "cp437", "de"), ("ibm850", "cp850", "fr"), ("ibm852", "cp852", "pl"),
    ("ibm866", "cp866", "ru"), ("windows-874", "cp874", "th"), ("tis-620", "tis_620", "th"),
    ("macintosh", "mac_roman", "de"), ("x-mac-cyrillic", "mac_cyrillic", "ru"),
    ("pt154", "ptcp154", "kk"), ("us-ascii", "ascii", "en"), ("ibm037", "cp037", "en"),
]

DATE = "Mon, 23 Nov 2026 10:00:00 +0100"


def crlf(s):
    """Header/body text with bare LF turned into CRLF; str -> bytes (UTF-8)."""
    if isinstance(s, str):
        s = s.encode("utf-8")
    return s.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def text_for(codec, pref):
    order = [t for t in TEXTS if t[0] == pref] + TEXTS if pref else TEXTS
    for _, t in order:
        try:
            t.encode(codec)
            return t
        except UnicodeEncodeError:
            continue
    return "ASCII"


def ew_b(text, label, codec):
    return f"=?{label}?B?{base64.b64encode(text.encode(codec)).decode()}?="


def ew_q(text, label, codec):
    out = []
    for b in text.encode(codec):
        c = chr(b)
        if c == " ":
            out.append("_")
        elif c.isalnum() and b < 128:
            out.append(c)
        else:
            out.append(f"={b:02X}")
    return f"=?{label}?Q?{''.join(out)}?="


def hdr(name, subject, frm="Sender <sender@example.org>", to="alice@example.org",
        mid=None, date=DATE, extra=""):
    h = f"From: {frm}\nTo: {to}\nSubject: {subject}\nDate: {date}\n"
    h += f"Message-ID: <{mid or name}@corpus.example>\n"
    return h + extra


def simple_family(rng):
    out = []
    bodies = [
        ("text/plain; charset=us-ascii", "7bit", b"Hello world.\nSecond line.\n"),
        ("text/plain; charset=utf-8", "8bit", "Grüße, 日本語, Привет\n".encode()),
        ("text/plain; charset=iso-8859-1", "quoted-printable",
         quopri.encodestring("Gr\xfc\xdfe aus K\xf6ln\n".encode("latin-1"))),
        ("text/plain; charset=utf-8", "base64",
         base64.encodebytes("Zażółć gęślą jaźń — base64 body\n".encode())),
        ("text/html; charset=utf-8", "7bit", b"<html><body><p>Hi</p></body></html>\n"),
        ("text/plain; charset=utf-8; format=flowed; delsp=yes", "7bit",
         b"Flowed text that is \nsoft broken.\n"),
        (None, None, b"No Content-Type at all: defaults to text/plain us-ascii.\n"),
        ("TEXT/PLAIN; CHARSET=UTF-8", "7BIT", b"Upper case type and encoding.\n"),
        ("text/plain", "x-uuencode", b"begin 644 a\n#86)C\n`\nend\n"),
        ("application/octet-stream; name=blob.bin", "base64",
         base64.encodebytes(bytes(rng.randrange(256) for _ in range(300)))),
        ("image/png", "base64", base64.encodebytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)),
        ("text/plain; charset=\"utf-8\" (comment)", "7bit", b"Quoted charset and a comment.\n"),
        ("text/plain;charset=utf-8;;", "7bit", b"Empty parameter slots.\n"),
        ("text", "7bit", b"Type without subtype.\n"),
        ("text/plain; charset=unknown-8bit", "8bit", b"Unknown \xe9 charset.\n"),
        ("text/plain; name=\"quoted \\\"name\\\".txt\"", "7bit", b"Quoted-pair in parameter.\n"),
        ("message/delivery-status", "7bit", b"Reporting-MTA: dns; mx.example\n\nFinal-Recipient: rfc822; a@b\nAction: failed\n"),
        ("text/plain; charset=utf-8", "quoted-printable", b"Soft=\nbreak and =C3=A9 and =XZ bad hex.\n"),
        ("text/plain", "base64", b"!!!not base64 at all***\n"),
        ("text/plain", "7bit", b""),
    ]
    for i, (ct, cte, body) in enumerate(bodies):
        name = f"simple-{i:02d}"
        h = hdr(name, f"Simple message {i}") + "MIME-Version: 1.0\n"
        if ct:
            h += f"Content-Type: {ct}\n"
        if cte:
            h += f"Content-Transfer-Encoding: {cte}\n"
        if i % 3 == 0:
            h += "Content-ID: <part" + str(i) + "@corpus.example>\nContent-Description: a description\n"
        if i % 4 == 1:
            h += "Content-Disposition: inline; filename=body.txt\nContent-Language: en, de\n"
        if i % 5 == 2:
            h += "Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==\nContent-Location: http://example.org/x\n"
        out.append((name, crlf(h + "\n") + crlf(body), False))
    return out


def ew_family(rng):
    out = []
    for i, (label, codec, pref) in enumerate(CHARSETS):
        text = text_for(codec, pref)
        name = f"ew-{label.lower()}"
        enc = ew_b if i % 2 == 0 else ew_q
        # UTF-16/32/7 in Q encoding is legal but odd; still include it.
        subj = enc(text, label, codec)
        other = ew_q if enc is ew_b else ew_b
        frm = f"{other(text[:8], label, codec)} <from-{i}@example.org>"
        to = f"\"Plain Name\" <to@example.org>, {enc(text[-5:], label, codec)} <to2@example.org>"
        try:
            body = (text + "\n").encode(codec)
            bodyct = f"text/plain; charset={label}"
        except UnicodeEncodeError:
            body, bodyct = b"ascii\n", "text/plain"
        h = hdr(name, subj, frm=frm, to=to) + "MIME-Version: 1.0\n"
        h += f"Content-Type: {bodyct}\nContent-Transfer-Encoding: base64\n"
        out.append((name, crlf(h + "\n") + crlf(base64.encodebytes(body)), False))
    # RFC 2047 corner cases (in UTF-8 and Latin-1)
    corner = [
        "=?utf-8?B?R3LDvMOfZQ==?= =?utf-8?B?IGF1cw==?=",   # adjacent words: space dropped
        "=?utf-8?Q?a?= b =?utf-8?Q?c?=",                     # text between: kept
        "=?utf-8*en?Q?With_language?=",                      # RFC 2231 §5 language
        "=?iso-8859-1?q?lower_case_q_=E9?=",
        "=?utf-8?B?invalid base64?=",
        "=?unknown-charset?Q?abc?=",
        "prefix=?utf-8?Q?inside_word?=suffix",
        "=?utf-8?Q?split_multibyte_=C3?= =?utf-8?Q?=A9_end?=",
        "=?utf-8?Q??=",
        "\"=?utf-8?Q?in_quotes?=\"",
        "=?UTF-8?B?" + base64.b64encode("長い件名".encode() * 20).decode() + "?=",
        "Folded =?utf-8?Q?encoded?=\n =?utf-8?Q?_word?= continued",
        "=?utf-8?B?8J+YgA==?= emoji",
        "=?utf-8?Q?tab=09inside?=",
        "=?utf-8?Q?null=00inside?=",
    ]
    for i, s in enumerate(corner):
        name = f"ew-corner-{i:02d}"
        frm = "=?utf-8?Q?J=C3=B6rg?= <jorg@example.org>" if i % 2 else "\"=?utf-8?Q?Quoted?=\" <q@example.org>"
        h = hdr(name, s, frm=frm) + "MIME-Version: 1.0\nContent-Type: text/plain\n"
        out.append((name, crlf(h + "\nbody\n"), False))
    return out


def leaf(rng, depth, tag):
    kind = rng.randrange(6)
    if kind == 0:
        return f"Content-Type: text/plain; charset=utf-8\n\nleaf {tag} text ünïcödé\n"
    if kind == 1:
        return (f"Content-Type: text/html; charset=us-ascii\nContent-Transfer-Encoding: quoted-printable\n\n"
                f"<p>leaf {tag} html =3D</p>\n")
    if kind == 2:
        data = base64.encodebytes(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200)))).decode()
        return (f"Content-Type: application/octet-stream; name=\"f{tag}.bin\"\n"
                f"Content-Disposition: attachment; filename=\"f{tag}.bin\"; size=99\n"
                f"Content-Transfer-Encoding: base64\n\n{data}")
    if kind == 3:
        return f"\nleaf {tag} with no headers at all (default type)\n"
    if kind == 4:
        return (f"Content-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: 8bit\n"
                f"Content-ID: <{tag}@c>\n\nleaf {tag}\n")
    return (f"Content-Type: image/gif\nContent-Transfer-Encoding: base64\nContent-Language: en\n\n"
            f"R0lGODlhAQABAAAAACw=\n")


def multipart(rng, depth, maxdepth, tag, subtypes=("mixed", "alternative", "related", "parallel", "digest")):
    sub = rng.choice(subtypes)
    b = f"b{tag.replace('.', '_')}x{rng.randrange(10**6)}"
    n = rng.randrange(1, 4)
    parts = []
    for k in range(n):
        t = f"{tag}.{k + 1}"
        if depth < maxdepth and rng.random() < 0.6:
            parts.append(multipart(rng, depth + 1, maxdepth, t))
        elif sub == "digest" and rng.random() < 0.5:
            parts.append(f"\nFrom: d@example.org\nSubject: digest {t}\n\ndigest body\n")
        else:
            parts.append(leaf(rng, depth, t))
    extra = "; type=\"text/html\"" if sub == "related" else ""
    s = f"Content-Type: multipart/{sub}; boundary=\"{b}\"{extra}\n\n"
    if rng.random() < 0.3:
        s += "This is a preamble.\n"
    for p in parts:
        s += f"--{b}\n{p}"
        if not p.endswith("\n"):
            s += "\n"
    s += f"--{b}--\n"
    if rng.random() < 0.3:
        s += "epilogue text\n"
    return s


def nest_family(rng):
    out = []
    for i in range(65):
        name = f"nest-{i:02d}"
        body = multipart(rng, 0, 2 + i % 5, "p")
        h = hdr(name, f"Nested {i}") + "MIME-Version: 1.0\n"
        out.append((name, crlf(h + body), False))
    # A linear 12-deep chain.
    body = "Content-Type: text/plain\n\ndeepest\n"
    for d in range(12):
        body = f"Content-Type: multipart/mixed; boundary=d{d}\n\n--d{d}\n{body}--d{d}--\n"
    out.append(("nest-chain12", crlf(hdr("nest-chain12", "Chain") + "MIME-Version: 1.0\n" + body), False))
    return out


def inner_message(rng, i, depth):
    h = (f"From: Inner {i} <inner{i}@example.org>\nTo: =?utf-8?Q?Empf=C3=A4nger?= <r@example.org>\n"
         f"Cc: cc@example.org\nSubject: =?iso-8859-1?Q?Inner_=E9_{i}?=\nDate: Tue, 1 Jan 2019 00:00:00 -0500\n"
         f"Message-ID: <inner{i}.{depth}@example.org>\nIn-Reply-To: <parent@example.org>\nMIME-Version: 1.0\n")
    if depth > 0 and rng.random() < 0.5:
        b = f"in{i}d{depth}"
        return (h + f"Content-Type: multipart/mixed; boundary={b}\n\n--{b}\nContent-Type: text/plain\n\n"
                f"inner text\n--{b}\nContent-Type: message/rfc822\n\n{inner_message(rng, i, depth - 1)}\n--{b}--\n")
    if rng.random() < 0.5:
        return h + multipart(rng, 0, 2, f"i{i}")
    return h + "Content-Type: text/plain; charset=utf-8\n\nInner body\nline 2\n"


def rfc822_family(rng):
    out = []
    for i in range(40):
        name = f"rfc822-{i:02d}"
        b = f"outer{i}"
        cte = "" if i % 4 else "Content-Transfer-Encoding: 7bit\n"
        disp = "Content-Disposition: attachment; filename=fwd.eml\n" if i % 3 == 0 else ""
        body = (f"Content-Type: multipart/mixed; boundary={b}\n\n--{b}\nContent-Type: text/plain\n\nSee attached.\n"
                f"--{b}\nContent-Type: message/rfc822\n{cte}{disp}\n{inner_message(rng, i, i % 3)}\n--{b}--\n")
        if i == 24:
            # message/rfc822 as the top-level type
            body = f"Content-Type: message/rfc822\n\n{inner_message(rng, i, 1)}"
        if i == 23:
            # message/rfc822 whose content is base64 (not allowed by RFC 2046 §5.2.1)
            enc = base64.encodebytes(crlf(inner_message(rng, i, 0))).decode()
            body = (f"Content-Type: multipart/mixed; boundary={b}\n\n--{b}\nContent-Type: message/rfc822\n"
                    f"Content-Transfer-Encoding: base64\n\n{enc}--{b}--\n")
        if i == 22:
            # message/global (RFC 6532)
            body = (f"Content-Type: multipart/mixed; boundary={b}\n\n--{b}\nContent-Type: message/global\n\n"
                    f"From: ü@example.org\nSubject: ünïcode\n\nbody\n--{b}--\n")
        if i == 21:
            # empty message/rfc822
            body = f"Content-Type: multipart/mixed; boundary={b}\n\n--{b}\nContent-Type: message/rfc822\n\n--{b}--\n"
        out.append((name, crlf(hdr(name, f"Forward {i}") + "MIME-Version: 1.0\n" + body), False))
    return out


def p2231_family(rng):
    cases = [
        "attachment; filename*=utf-8''%E6%97%A5%E6%9C%AC%E8%AA%9E.txt",
        "attachment; filename*=iso-8859-1'de'Gr%FC%DFe.txt",
        "attachment; filename*0=\"long\"; filename*1=\"name\"; filename*2=\".txt\"",
        "attachment; filename*0*=utf-8''%E6%97%A5; filename*1*=%E6%9C%AC; filename*2=\".txt\"",
        "attachment; filename*1=\"second\"; filename*0=\"first\"",
        "attachment; filename*0=\"a\"; filename*2=\"c\"",
        "attachment; filename*=''plain%20value",
        "attachment; filename*=utf-8'en-US'%F0%9F%98%80",
        "attachment; filename*=\"utf-8''quoted%20ext\"",
        "attachment; filename=\"plain.txt\"; filename*=utf-8''ext%C3%A9.txt",
        "attachment; title*=us-ascii'en'This%20is%20%2A%2A%2Afun%2A%2A%2A",
        "attachment; filename*=utf-8''bad%ZZescape",
        "attachment; filename*0*=us-ascii'en'part%20one; filename*1=\" part two\"",
        "attachment; FILENAME*0*=UTF-8''%C3%BC; Filename*1*=%C3%A4",
        "attachment; filename*=unknown''x%41",
        "attachment; filename*00=\"leading zero\"",
        "attachment; filename=\"=?utf-8?Q?encoded_word_in_param.txt?=\"",
    ]
    ctcases = [
        "text/plain; charset*=us-ascii''utf-8",
        "text/plain; name*0=\"a\"; name*1=\"b\"; charset=utf-8",
        "application/pdf; name*=utf-8''%D1%84%D0%B0%D0%B9%D0%BB.pdf",
        "text/plain; charset=utf-8; x-long*0=\"" + "x" * 70 + "\"; x-long*1=\"" + "y" * 70 + "\"",
    ]
    out = []
    for i, d in enumerate(cases):
        name = f"p2231-d{i:02d}"
        b = f"pb{i}"
        body = (f"Content-Type: multipart/mixed; boundary={b}\n\n--{b}\nContent-Type: text/plain\n\nx\n"
                f"--{b}\nContent-Type: application/octet-stream\nContent-Disposition: {d}\n"
                f"Content-Transfer-Encoding: base64\n\nAAEC\n--{b}--\n")
        out.append((name, crlf(hdr(name, f"RFC 2231 {i}") + "MIME-Version: 1.0\n" + body), False))
    for i, c in enumerate(ctcases):
        name = f"p2231-t{i:02d}"
        h = hdr(name, f"RFC 2231 type {i}") + f"MIME-Version: 1.0\nContent-Type: {c}\n"
        out.append((name, crlf(h + "\nbody\n"), False))
    return out


def eightbit_family(rng):
    out = []
    subs = [
        ("Grüße aus Köln".encode(), "Jörg Müller <jorg@example.org>".encode()),
        ("日本語の件名".encode(), "山田 <yamada@example.org>".encode()),
        ("Gr\xfc\xdfe latin-1".encode("latin-1"), "J\xf6rg <j@example.org>".encode("latin-1")),
        ("mixed \xe9 and =?utf-8?Q?=C3=A9?=".encode("latin-1"), b"a@example.org"),
        ("Привет".encode("koi8-r"), "\"Иван\" <ivan@example.org>".encode()),
        (b"\xff\xfe invalid utf-8 \xc3", b"x@example.org"),
        ("Ünïcödé".encode() + b" \x80\x81", "\"Quoted Ü\" <q@example.org>".encode()),
        ("emoji 😀".encode(), "<😀@example.org>".encode()),
    ]
    for i, (s, f) in enumerate(subs):
        name = f"8bit-{i:02d}"
        h = (b"From: " + f + b"\nTo: alice@example.org\nSubject: " + s + b"\nDate: " + DATE.encode() +
             f"\nMessage-ID: <{name}@corpus.example>\n".encode())
        if i % 2:
            h += b"MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n"
        out.append((name, crlf(h + b"\n" + "Body with 8-bit ü\n".encode()), False))
    # 8-bit in a MIME part header and parameter
    name = "8bit-param"
    body = ("Content-Type: multipart/mixed; boundary=e\n\n--e\nContent-Type: text/plain; name=\"Grüße.txt\"\n"
            "Content-Disposition: attachment; filename=\"日本.txt\"\nContent-Description: Beschreibung ü\n\nx\n--e--\n")
    out.append((name, crlf(hdr(name, "8bit param") + "MIME-Version: 1.0\n" + body), False))
    return out


def broken_family(rng):
    cases = {
        "noclose": "Content-Type: multipart/mixed; boundary=nc\n\n--nc\nContent-Type: text/plain\n\npart one\n"
                   "--nc\nContent-Type: text/plain\n\npart two, no close delimiter\n",
        "nobound": "Content-Type: multipart/mixed\n\n--x\nContent-Type: text/plain\n\ntext\n--x--\n",
        "emptybound": "Content-Type: multipart/mixed; boundary=\"\"\n\n--\n\ntext\n----\n",
        "noparts": "Content-Type: multipart/mixed; boundary=np\n\njust a preamble, no delimiter at all\n",
        "onlyclose": "Content-Type: multipart/mixed; boundary=oc\n\npreamble\n--oc--\nepilogue\n",
        "trailingws": "Content-Type: multipart/mixed; boundary=tw\n\n--tw   \nContent-Type: text/plain\n\nwith "
                      "trailing whitespace after the delimiter\n--tw--  \n",
        "samebound": "Content-Type: multipart/mixed; boundary=sb\n\n--sb\nContent-Type: multipart/alternative; "
                     "boundary=sb\n\n--sb\nContent-Type: text/plain\n\ninner\n--sb--\n--sb--\n",
        "prefixbound": "Content-Type: multipart/mixed; boundary=ab\n\n--ab\nContent-Type: multipart/mixed; "
                       "boundary=abc\n\n--abc\n\ninner\n--abc--\n--ab\n\nsecond\n--ab--\n",
        "quotedspecial": "Content-Type: multipart/mixed; boundary=\"=_weird (chars) ?:.\"\n\n--=_weird (chars) "
                         "?:.\nContent-Type: text/plain\n\nx\n--=_weird (chars) ?:.--\n",
        "longbound": "Content-Type: multipart/mixed; boundary=" + "L" * 100 + "\n\n--" + "L" * 100 +
                     "\n\nlong boundary\n--" + "L" * 100 + "--\n",
        "nocrlfbefore": "Content-Type: multipart/mixed; boundary=nb\n\n--nb\n\ntext--nb\n--nb--\n",
        "partnohdrsep": "Content-Type: multipart/mixed; boundary=ph\n\n--ph\nContent-Type: text/plain\n--ph--\n",
        "badct": "Content-Type: ; charset=utf-8\n\nbad content type\n",
        "badct2": "Content-Type: text/\n\nslash no subtype\n",
        "badct3": "Content-Type: multipart\n\nmultipart without subtype or boundary\n",
        "dupct": "Content-Type: text/html\nContent-Type: text/plain\n\nduplicate content-type\n",
        "unterminatedquote": "Content-Type: text/plain; charset=\"utf-8\n\nunterminated quote\n",
        "lfonly": "Content-Type: multipart/mixed; boundary=lf\n\n--lf\n\nbody\n--lf--\n",
        "headerlinebad": "Content-Type: multipart/mixed; boundary=hb\n\n--hb\nthis is not a header\n\nbody\n--hb--\n",
        "mixedcase": "Content-Type: Multipart/Mixed; Boundary=MC\n\n--MC\nContent-Type: Text/Plain\n\nbody\n--MC--\n",
    }
    out = []
    for k, body in cases.items():
        name = f"broken-{k}"
        raw = crlf(hdr(name, f"Broken {k}") + "MIME-Version: 1.0\n" + body)
        if k == "lfonly":
            raw = raw.replace(b"\r\n", b"\n")
        out.append((name, raw, False))
    return out


def nomime_family(rng):
    out = []
    for i in range(8):
        name = f"nomime-{i:02d}"
        body = multipart(rng, 0, 1 + i % 3, "n")
        if i % 2:
            body = "Content-Transfer-Encoding: base64\nContent-Type: text/plain; charset=utf-8\n\n" + \
                   base64.encodebytes("no MIME-Version ü\n".encode()).decode()
        out.append((name, crlf(hdr(name, f"No MIME-Version {i}") + body), False))
    name = "nomime-badversion"
    out.append((name, crlf(hdr(name, "MIME 2.0") + "MIME-Version: 2.0\nContent-Type: text/html\n\n<p>x</p>\n"), False))
    return out


def huge_family(rng):
    out = []
    refs = " ".join(f"<ref{k}.{rng.randrange(10**9)}@example.org>" for k in range(6600))
    folded = "\n ".join(refs[j:j + 900] for j in range(0, len(refs), 900))
    h = hdr("huge-refs", "Huge References") + f"References: {folded}\nIn-Reply-To: <ref6599@example.org>\n"
    out.append(("huge-refs", crlf(h + "MIME-Version: 1.0\n\nbody\n"), False))
    rcpts = ",\n ".join(f"\"User {k}\" <user{k}@example.org>" for k in range(1000))
    out.append(("huge-to", crlf(hdr("huge-to", "Many recipients", to=rcpts) + "\nbody\n"), False))
    subj = " ".join(f"word{k}" for k in range(3000))
    subj = "\n ".join(subj[j:j + 76] for j in range(0, len(subj), 76))
    out.append(("huge-subject", crlf(hdr("huge-subject", subj) + "\nbody\n"), False))
    unfolded = "X" * 20000
    out.append(("huge-line", crlf(hdr("huge-line", "Long line") + f"X-Long: {unfolded}\n\nbody\n"), False))
    many = "".join(f"X-Header-{k}: value {k}\n" for k in range(3000))
    out.append(("huge-many", crlf(hdr("huge-many", "Many headers") + many + "\nbody\n"), False))
    body = "".join(f"line {k} of a large body with some text\n" for k in range(20000))
    out.append(("huge-body", crlf(hdr("huge-body", "Large body") + "Content-Type: text/plain\n\n" + body), False))
    return out


def binary_family(rng):
    out = []
    for i in range(8):
        name = f"bin-{i:02d}"
        data = bytes(rng.randrange(256) for _ in range(50 + 40 * i)) + b"\0\0end"
        data = data.replace(b"\r", b"").replace(b"\n", b"")
        b = f"bb{i}"
        if i % 2:
            raw = crlf(hdr(name, f"Binary {i}") + "MIME-Version: 1.0\nContent-Type: application/octet-stream\n"
                       "Content-Transfer-Encoding: binary\n\n") + data
        else:
            raw = crlf(hdr(name, f"Binary {i}") + f"MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary={b}\n\n"
                       f"--{b}\nContent-Type: text/plain\n\ntext\n--{b}\nContent-Type: application/x-bin\n"
                       f"Content-Transfer-Encoding: binary\n\n") + data + crlf(f"\n--{b}--\n")
        out.append((name, raw, True))
    return out


def env_family(rng):
    cases = [
        ("group", {"To": "Undisclosed recipients:;"}),
        ("group2", {"To": "Friends: a@example.org, \"B B\" <b@example.org>;, c@example.org"}),
        ("groupew", {"To": "=?utf-8?Q?Gr=C3=BCppe?=: a@example.org;"}),
        ("route", {"From": "Route <@relay1,@relay2:user@example.org>"}),
        ("quotedlocal", {"From": "\"quoted local\"@example.org"}),
        ("comments", {"From": "user@example.org (Real Name)"}),
        ("comments2", {"From": "Name (comment) <user(c)@example.org(d)>"}),
        ("nodomain", {"To": "localonly"}),
        ("nofrom", {"From": None}),
        ("multifrom", {"From": "a@example.org, b@example.org", "Sender": "s@example.org"}),
        ("samesender", {"Sender": "Sender <sender@example.org>", "Reply-To": "Sender <sender@example.org>"}),
        ("replyto", {"Reply-To": "Reply <reply@example.org>", "Cc": "cc1@example.org, cc2@example.org",
                     "Bcc": "bcc@example.org"}),
        ("inreplyto", {"In-Reply-To": "<a@example.org> (comment) <b@example.org>"}),
        ("badmsgid", {"Message-ID": "not-a-msg-id"}),
        ("emptyfields", {"Subject": "", "To": "", "Cc": ""}),
        ("date-2digit", {"Date": "Mon, 23 Nov 26 10:00:00 GMT"}),
        ("date-nodow", {"Date": "23 Nov 2026 10:00 +0000"}),
        ("date-obszone", {"Date": "Sun, 1 Mar 2015 23:59:59 EST"}),
        ("date-bad", {"Date": "yesterday at noon"}),
        ("date-missing", {"Date": None}),
        ("date-1999", {"Date": "Fri, 31 Dec 1999 23:59:59 -1200"}),
        ("date-future", {"Date": "Tue, 1 Jan 2030 00:00:00 +1400"}),
        ("date-comment", {"Date": "Mon, 2 Jan 2006 15:04:05 -0700 (MST)"}),
        ("subject-fold", {"Subject": "folded\n\tsubject\n  line"}),
        ("subject-quote", {"Subject": "has \"quotes\" and \\ backslash"}),
        ("subject-re", {"Subject": "Re: Fwd: [list] subject (fwd)"}),
        ("addr-ew-quoted", {"From": "\"=?utf-8?B?SsO2cmc=?=\" <j@example.org>"}),
        ("addr-specials", {"From": "\"Doe, John\" <john@example.org>, \"a\\\"b\" <ab@example.org>"}),
        ("addr-ip", {"To": "user@[192.0.2.1]"}),
        ("addr-broken", {"To": "<unterminated@example.org, x"}),
        ("addr-empty-angle", {"From": "<>"}),
        ("dup-subject", {"Subject": "first"}),
        ("lowercase-hdr", {"subject": None}),
    ]
    out = []
    for k, fields in cases:
        name = f"env-{k}"
        h = {"From": "Sender <sender@example.org>", "To": "alice@example.org", "Subject": f"Envelope {k}",
             "Date": DATE, "Message-ID": f"<{name}@corpus.example>"}
        h.update(fields)
        lines = "".join(f"{n}: {v}\n" for n, v in h.items() if v is not None)
        if k == "dup-subject":
            lines += "Subject: second\n"
        if k == "lowercase-hdr":
            lines += "subject: lower case name\nfrom: lower@example.org\n"
            lines = lines.replace("From: Sender <sender@example.org>\n", "")
        out.append((name, crlf(lines + "\nbody\n"), False))
    return out


def corpus():
    rng = random.Random(SEED)
    msgs = []
    for fam in (simple_family, ew_family, nest_family, rfc822_family, p2231_family, eightbit_family,
                broken_family, nomime_family, huge_family, binary_family, env_family):
        msgs += fam(rng)
    names = [m[0] for m in msgs]
    assert len(names) == len(set(names)), "duplicate corpus names"
    return msgs


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus")
    os.makedirs(outdir, exist_ok=True)
    msgs = corpus()
    for name, data, _ in msgs:
        with open(os.path.join(outdir, name + ".eml"), "wb") as f:
            f.write(data)
    print(f"{len(msgs)} messages written to {outdir}")


if __name__ == "__main__":
    main()
