"""BINARY (RFC 3516, and the FETCH side folded into RFC 9051 §6.4.5):
BINARY[], BINARY.PEEK[], BINARY.SIZE[] decode base64 and quoted-printable,
text parts go out with CRLF, decoded data holding NUL comes as literal8
~{n}, partial fetches count decoded octets, [UNKNOWN-CTE] for an unknown
encoding and for multipart / message parts, BAD for sections BINARY does
not take, and APPEND of a literal8 message with NULs.
"""
import base64
import re

import pytest

from testsB_util import append_ok, appenduid, fetch_one, select

BOUNDARY = "bNd"
ATTACH = bytes(range(256)) * 3          # NULs and every octet value
TEXT_QP = "caf\u00e9 =3D equals\nsecond line".encode()
MESSAGE = (
    b"From: a@example.org\r\nTo: b@example.org\r\nSubject: binary\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: multipart/mixed; boundary=" + BOUNDARY.encode() + b"\r\n\r\n"
    b"--bNd\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
    b"caf=C3=A9 =3D3D equals  \r\n"
    b"soft=\r\n break\r\n"
    b"--bNd\r\n"
    b"Content-Type: application/octet-stream\r\n"
    b"Content-Transfer-Encoding: base64\r\n\r\n"
    + b"\r\n".join(base64.encodebytes(ATTACH).split(b"\n")) +
    b"\r\n--bNd\r\n"
    b"Content-Type: text/plain\r\n"
    b"Content-Transfer-Encoding: base64\r\n\r\n"
    + base64.b64encode(b"lf only\nline two\n") + b"\r\n"
    b"--bNd\r\n"
    b"Content-Type: application/x-thing\r\n"
    b"Content-Transfer-Encoding: x-uuencode\r\n\r\n"
    b"begin 644 x\r\nend\r\n"
    b"--bNd\r\n"
    b"Content-Type: message/rfc822\r\n\r\n"
    b"Subject: inner\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    + base64.b64encode(b"inner body") + b"\r\n"
    b"--bNd\r\n"
    b"Content-Type: text/plain; charset=us-ascii\r\n\r\n"
    b"plain 7bit\r\n"
    b"--bNd--\r\n")
# the CRLF before a boundary belongs to the boundary (RFC 2046 §5.1.1)
QP_DECODED = "caf\u00e9 =3D equals\r\nsoft break".encode()


def read_items(c, tag):
    """Responses up to the tagged one; FETCH data as a list of
    (name, kind, bytes) with kind 'lit', 'lit8', 'quoted' or 'atom'."""
    items, tagged = [], None
    while True:
        while b"\r\n" not in c.buf:
            c._fill()
        line, c.buf = c.buf.split(b"\r\n", 1)
        if line.startswith(tag.encode() + b" "):
            return items, line.decode()
        # BINARY[..] / BINARY.SIZE[..] followed by a value
        while True:
            m = re.search(rb"(BINARY(?:\.SIZE)?\[[0-9.]*\](?:<\d+>)?) (~?)\{(\d+)\}$", line)
            if not m:
                for n, v in re.findall(rb"(BINARY(?:\.SIZE)?\[[0-9.]*\](?:<\d+>)?) (\d+|\"\"|NIL)", line):
                    items.append((n.decode(), "atom", v))
                break
            n = int(m.group(3))
            while len(c.buf) < n:
                c._fill()
            data, c.buf = c.buf[:n], c.buf[n:]
            items.append((m.group(1).decode(), "lit8" if m.group(2) else "lit", data))
            while b"\r\n" not in c.buf:
                c._fill()
            line, c.buf = c.buf.split(b"\r\n", 1)


@pytest.fixture
def mbox(server_factory):
    srv = server_factory()
    c = srv.raw()
    c.login("alice", "secret-pw")
    append_ok(c, "INBOX", MESSAGE)
    select(c)
    yield c
    c.close()


def fetch(c, tag, what):
    c.send(f"{tag} FETCH 1 ({what})\r\n")
    return read_items(c, tag)


def test_capability_lists_binary(mbox):
    mbox.send(b"C1 CAPABILITY\r\n")
    untagged, tagged = mbox.until_tagged("C1")
    caps = [l for l in untagged if l.startswith("* CAPABILITY")][0].split()
    assert "BINARY" in caps


def test_base64_attachment_decoded_as_literal8(mbox):
    items, tagged = fetch(mbox, "B1", "BINARY.PEEK[2]")
    assert tagged.startswith("B1 OK"), tagged
    assert items == [("BINARY[2]", "lit8", ATTACH)]


def test_binary_size_matches_binary(mbox):
    items, tagged = fetch(mbox, "B2", "BINARY.SIZE[2] BINARY.SIZE[1] BINARY.SIZE[6]")
    assert tagged.startswith("B2 OK"), tagged
    sizes = {n: int(v) for n, _, v in items}
    assert sizes == {"BINARY.SIZE[2]": len(ATTACH), "BINARY.SIZE[1]": len(QP_DECODED),
                     "BINARY.SIZE[6]": len(b"plain 7bit")}


def test_quoted_printable_text_decoded_without_nul_as_plain_literal(mbox):
    items, tagged = fetch(mbox, "B3", "BINARY.PEEK[1]")
    assert tagged.startswith("B3 OK"), tagged
    assert items == [("BINARY[1]", "lit", QP_DECODED)]


def test_text_part_lines_end_in_crlf(mbox):
    # RFC 9051 §7.5.2: textual sections are sent with CRLF line ends
    items, tagged = fetch(mbox, "B4", "BINARY.PEEK[3]")
    assert tagged.startswith("B4 OK"), tagged
    assert items == [("BINARY[3]", "lit", b"lf only\r\nline two\r\n")]


def test_identity_encoding_is_the_body(mbox):
    items, tagged = fetch(mbox, "B5", "BINARY.PEEK[6]")
    assert items == [("BINARY[6]", "lit", b"plain 7bit")]


def test_partial_counts_decoded_octets(mbox):
    items, tagged = fetch(mbox, "B6", "BINARY.PEEK[2]<10.5> BINARY.PEEK[2]<2000.10>")
    assert tagged.startswith("B6 OK"), tagged
    assert items[0] == ("BINARY[2]<10>", "lit", ATTACH[10:15])
    # past the end: an empty string
    assert items[1] == ("BINARY[2]<2000>", "atom", b'""')


def test_partial_with_nul_inside_is_literal8(mbox):
    items, _ = fetch(mbox, "B7", "BINARY.PEEK[2]<256.3>")
    assert items == [("BINARY[2]<256>", "lit8", b"\x00\x01\x02")]


def test_binary_sets_seen_and_peek_does_not(mbox):
    mbox.send(b"F0 FETCH 1 (BINARY.PEEK[6] FLAGS)\r\n")
    _, tagged = read_items(mbox, "F0")
    untagged, tagged = mbox.command("F1", "FETCH 1 FLAGS")
    assert "\\Seen" not in untagged[0]
    mbox.send(b"F2 FETCH 1 (BINARY[6])\r\n")
    items, tagged = read_items(mbox, "F2")
    assert tagged.startswith("F2 OK")
    untagged, tagged = mbox.command("F3", "FETCH 1 FLAGS")
    assert "\\Seen" in untagged[0]


def test_whole_message_is_sent_as_stored(mbox):
    items, tagged = fetch(mbox, "B8", "BINARY.PEEK[] BINARY.SIZE[]")
    assert tagged.startswith("B8 OK"), tagged
    assert items[0] == ("BINARY[]", "lit", MESSAGE)
    assert items[1] == ("BINARY.SIZE[]", "atom", str(len(MESSAGE)).encode())


def test_nested_part_of_message_rfc822(mbox):
    # 5 is message/rfc822; 5.1 is the encapsulated message's body
    items, tagged = fetch(mbox, "B9", "BINARY.PEEK[5.1]")
    assert tagged.startswith("B9 OK"), tagged
    assert items == [("BINARY[5.1]", "lit", b"inner body")]


def test_missing_part_is_empty(mbox):
    items, tagged = fetch(mbox, "BA", "BINARY.PEEK[9]")
    assert tagged.startswith("BA OK"), tagged
    assert items == [("BINARY[9]", "atom", b'""')]


@pytest.mark.parametrize("what", ["BINARY.PEEK[4]", "BINARY.SIZE[4]", "BINARY[4]"])
def test_unknown_encoding_is_no_unknown_cte(mbox, what):
    items, tagged = fetch(mbox, "U1", what)
    assert re.match(r"U1 NO \[UNKNOWN-CTE\]", tagged), tagged
    assert items == []
    # the session goes on
    untagged, tagged = mbox.command("U2", "NOOP")
    assert tagged.startswith("U2 OK")


def test_unknown_encoding_fails_the_whole_request(mbox):
    # RFC 3516 §4.3: the request fails as a whole
    items, tagged = fetch(mbox, "U3", "BINARY.PEEK[1] BINARY.PEEK[4]")
    assert tagged.startswith("U3 NO [UNKNOWN-CTE]"), tagged
    assert items == []


@pytest.mark.parametrize("what", ["BINARY.PEEK[5]", "BINARY.SIZE[5]"])
def test_message_part_refused(mbox, what):
    # RFC 9051 §6.4.5: BINARY only for leaf parts (5 is message/rfc822)
    items, tagged = fetch(mbox, "M1", what)
    assert tagged.startswith("M1 NO [UNKNOWN-CTE]"), tagged


def test_multipart_inside_is_refused(server_factory):
    srv = server_factory()
    c = srv.raw()
    c.login("alice", "secret-pw")
    inner = (b"Content-Type: multipart/mixed; boundary=out\r\n\r\n--out\r\n"
             b"Content-Type: multipart/alternative; boundary=in\r\n\r\n"
             b"--in\r\nContent-Type: text/plain\r\n\r\nx\r\n--in--\r\n--out--\r\n")
    append_ok(c, "INBOX", inner)
    select(c)
    items, tagged = fetch(c, "M2", "BINARY.PEEK[1]")
    assert tagged.startswith("M2 NO [UNKNOWN-CTE]"), tagged
    items, tagged = fetch(c, "M3", "BINARY.PEEK[1.1]")
    assert tagged.startswith("M3 OK"), tagged
    assert items == [("BINARY[1.1]", "lit", b"x")]
    c.close()


@pytest.mark.parametrize("what", [
    "BINARY[TEXT]", "BINARY[1.HEADER]", "BINARY[1.MIME]", "BINARY.SIZE[1]<0.5>",
    "BINARY[0]", "BINARY[1.]", "BINARY[1", "BINARY[1]<5>", "BINARY.PEEK[a]",
])
def test_bad_sections_are_bad(mbox, what):
    mbox.send(f"X1 FETCH 1 ({what})\r\n".encode())
    _, tagged = mbox.until_tagged("X1")
    assert tagged.startswith("X1 BAD"), (what, tagged)


def test_append_literal8_with_nul_round_trips(mbox):
    body = b"Subject: nul\r\nContent-Type: application/octet-stream\r\n" \
           b"Content-Transfer-Encoding: binary\r\n\r\nab\x00cd\r\n"
    mbox.send(b'A1 APPEND INBOX ~{%d}\r\n' % len(body))
    assert mbox.readline().startswith("+")
    mbox.send(body + b"\r\n")
    _, tagged = mbox.until_tagged("A1")
    assert tagged.startswith("A1 OK"), tagged
    _, uid = appenduid(tagged)
    mbox.command("N1", "NOOP")
    mbox.send(f"B1 UID FETCH {uid} (BINARY.PEEK[1] BINARY.SIZE[1])\r\n".encode())
    items, tagged = read_items(mbox, "B1")
    assert tagged.startswith("B1 OK"), tagged
    assert ("BINARY[1]", "lit8", b"ab\x00cd\r\n") in items
    assert ("BINARY.SIZE[1]", "atom", b"7") in items


def test_nul_in_plain_literal_append_refused(mbox):
    mbox.send(b"A2 APPEND INBOX {5}\r\n")
    line = mbox.readline()
    if line.startswith("+"):
        mbox.send(b"a\x00b\r\n\r\n")
        _, tagged = mbox.until_tagged("A2")
    else:
        tagged = line
    assert tagged.startswith("A2 BAD") or tagged.startswith("A2 NO"), tagged


def test_uid_fetch_binary(mbox):
    mbox.send(b"U1 UID FETCH 1:* (BINARY.SIZE[6])\r\n")
    items, tagged = read_items(mbox, "U1")
    assert tagged.startswith("U1 OK"), tagged
    assert items == [("BINARY.SIZE[6]", "atom", b"10")]


# --- APPEND of binary content: RFC 3516 §4.4 and §6 -----------------------
# Parts with Content-Transfer-Encoding: binary (or NUL under 7bit/8bit) in a
# literal8 APPEND are stored base64-encoded: BODY[] must not carry NUL
# (RFC 3501 §4.3 CHAR8), BODYSTRUCTURE must describe what BODY[] returns,
# and BINARY[] still returns the exact octets.

BIN_PAYLOAD = bytes(range(256)) * 2 + b"\x00\x00tail\r\nbare\rcr\n"
BIN_MESSAGE = (
    b"From: a@example.org\r\nSubject: bin\r\nMIME-Version: 1.0\r\n"
    b"Content-Type: multipart/mixed; boundary=zz\r\n\r\n"
    b"--zz\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
    b"hello\r\n"
    b"--zz\r\nContent-Type: application/octet-stream\r\n"
    b"Content-Transfer-Encoding: binary\r\n"
    b"Content-Disposition: attachment; filename=b.bin\r\n\r\n"
    + BIN_PAYLOAD +
    b"\r\n--zz\r\nContent-Type: application/x-mislabelled\r\n\r\n"
    b"a\x00b\r\n"
    b"--zz--\r\n")


def append_literal8(c, tag, data):
    c.send(b"%s APPEND INBOX ~{%d}\r\n" % (tag.encode(), len(data)))
    line = c.readline()
    assert line.startswith("+"), line
    c.send(data + b"\r\n")
    _, tagged = c.until_tagged(tag)
    return tagged


def test_append_binary_part_stored_as_base64(mbox):
    import email
    import email.policy
    tagged = append_literal8(mbox, "A1", BIN_MESSAGE)
    assert tagged.startswith("A1 OK"), tagged
    _, uid = appenduid(tagged)
    it = fetch_one(mbox, "F1", uid, "(BODYSTRUCTURE RFC822.SIZE BODY.PEEK[] "
                   "BODY.PEEK[2] BODY.PEEK[2.MIME] BODY.PEEK[1] BODY.PEEK[3])",
                   uid=True)
    bs = it["BODYSTRUCTURE"]
    # part 2 (binary) and part 3 (NUL under 7bit) now say BASE64
    assert bytes(bs[1][5]).upper() == b"BASE64", bs[1]
    assert bytes(bs[2][5]).upper() == b"BASE64", bs[2]
    assert bytes(bs[0][5]).upper() == b"7BIT", bs[0]
    whole = bytes(it["BODY[]"])
    # nothing dropped: BODY[] is the whole stored message, without NUL
    assert b"\x00" not in whole
    assert len(whole) == int(it["RFC822.SIZE"])
    # the size in BODYSTRUCTURE is the size of what BODY[2] returns
    assert int(bs[1][6]) == len(bytes(it["BODY[2]"]))
    assert base64.b64decode(bytes(it["BODY[2]"])) == BIN_PAYLOAD
    assert b"base64" in bytes(it["BODY[2.MIME]"]).lower()
    assert b"binary" not in bytes(it["BODY[2.MIME]"]).lower()
    assert b"filename=b.bin" in bytes(it["BODY[2.MIME]"])
    assert bytes(it["BODY[1]"]) == b"hello"
    assert base64.b64decode(bytes(it["BODY[3]"])) == b"a\x00b"
    # a MIME client rebuilds the attachment from BODY[] alone
    msg = email.message_from_bytes(whole, policy=email.policy.compat32)
    parts = msg.get_payload()
    assert parts[1].get_payload(decode=True) == BIN_PAYLOAD
    assert parts[2].get_payload(decode=True) == b"a\x00b"
    # BINARY[] returns the exact octets, with matching sizes
    mbox.send(f"B1 UID FETCH {uid} (BINARY.PEEK[2] BINARY.PEEK[3])\r\n".encode())
    items, tagged = read_items(mbox, "B1")
    assert tagged.startswith("B1 OK"), tagged
    assert ("BINARY[2]", "lit8", BIN_PAYLOAD) in items
    assert ("BINARY[3]", "lit8", b"a\x00b") in items
    mbox.send(f"B2 UID FETCH {uid} BINARY.SIZE[2]\r\n".encode())
    items, tagged = read_items(mbox, "B2")
    assert tagged.startswith("B2 OK"), tagged
    assert items == [("BINARY.SIZE[2]", "atom", str(len(BIN_PAYLOAD)).encode())]


def test_append_single_part_binary_body(mbox):
    body = (b"Subject: one\r\nContent-Type: image/png\r\n"
            b"Content-Transfer-Encoding: Binary\r\n\r\n" + BIN_PAYLOAD)
    tagged = append_literal8(mbox, "A1", body)
    assert tagged.startswith("A1 OK"), tagged
    _, uid = appenduid(tagged)
    it = fetch_one(mbox, "F1", uid, "(BODYSTRUCTURE BODY.PEEK[TEXT] "
                   "BODY.PEEK[HEADER])", uid=True)
    assert bytes(it["BODYSTRUCTURE"][5]).upper() == b"BASE64"
    assert base64.b64decode(bytes(it["BODY[TEXT]"])) == BIN_PAYLOAD
    hdr = bytes(it["BODY[HEADER]"])
    assert hdr.lower().count(b"content-transfer-encoding") == 1, hdr
    mbox.send(f"B1 UID FETCH {uid} BINARY.PEEK[1]\r\n".encode())
    items, tagged = read_items(mbox, "B1")
    assert tagged.startswith("B1 OK"), tagged
    assert items == [("BINARY[1]", "lit8", BIN_PAYLOAD)]


def test_append_literal8_without_binary_kept_as_sent(mbox):
    # RFC 3516 §6: no gratuitous CTE changes
    tagged = append_literal8(mbox, "A1", MESSAGE)
    assert tagged.startswith("A1 OK"), tagged
    _, uid = appenduid(tagged)
    it = fetch_one(mbox, "F1", uid, "BODY.PEEK[]", uid=True)
    assert bytes(it["BODY[]"]) == MESSAGE


@pytest.mark.parametrize("data", [
    b"Subject: a\x00b\r\n\r\nbody\r\n",
    b"Subject: x\r\nContent-Transfer-Encoding: base64\r\n\r\nYW\x00Jj\r\n",
    b"Subject: x\r\nContent-Type: multipart/mixed; boundary=q\r\n\r\n"
    b"pre\x00amble\r\n--q\r\n\r\nx\r\n--q--\r\n",
])
def test_append_nul_that_cannot_be_reencoded_refused(mbox, data):
    tagged = append_literal8(mbox, "A1", data)
    assert tagged.startswith("A1 NO [UNKNOWN-CTE]"), tagged
    mbox.send(b"N1 NOOP\r\n")
    _, tagged = mbox.until_tagged("N1")
    assert tagged.startswith("N1 OK"), tagged
