"""WITHIN (RFC 5032): SEARCH OLDER n / YOUNGER n compare INTERNALDATE
with the server's "now" to the second; a missing, zero, negative or
non-numeric interval is BAD.  Also through UID SEARCH, ESEARCH, SORT,
combined with NOT/OR, and advertised in CAPABILITY.
"""
import datetime
import time

import pytest

from testsB_util import append_ok


def imap_date(ts):
    return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).strftime(
        "%d-%b-%Y %H:%M:%S +0000")


@pytest.fixture
def box(server_factory):
    srv = server_factory()
    c = srv.raw()
    c.login("alice", "secret-pw")
    now = int(time.time())
    # 1: ten days old, 2: one hour old, 3: 100 s old, 4: in a minute
    for i, age in enumerate([10 * 86400, 3600, 100, -60], 1):
        body = f"Subject: m{i}\r\nFrom: a@example.org\r\n\r\nbody {i}\r\n"
        append_ok(c, "INBOX", body, date=imap_date(now - age), tag=f"A{i}")
    c.command("S1", "SELECT INBOX")
    yield c
    c.close()


def search(c, tag, keys):
    untagged, tagged = c.command(tag, keys)
    assert tagged.startswith(tag + " OK"), tagged
    res = [l for l in untagged if l.startswith("* SEARCH")]
    assert len(res) == 1, untagged
    return [int(x) for x in res[0].split()[2:]]


def test_capability_lists_within(box):
    untagged, _ = box.command("C1", "CAPABILITY")
    assert "WITHIN" in untagged[0].split()


def test_younger(box):
    assert search(box, "W1", "SEARCH YOUNGER 7200") == [2, 3, 4]
    assert search(box, "W2", "SEARCH YOUNGER 1000") == [3, 4]
    assert search(box, "W3", "SEARCH YOUNGER 30") == [4]


def test_older(box):
    assert search(box, "W4", "SEARCH OLDER 7200") == [1]
    assert search(box, "W5", "SEARCH OLDER 1000") == [1, 2]
    assert search(box, "W6", "SEARCH OLDER 50") == [1, 2, 3]


def test_boundaries_are_inclusive_to_the_second(box):
    # message 2 is 3600 s old (give or take the seconds the test takes)
    assert 2 in search(box, "W7", "SEARCH OLDER 3590")
    assert 2 not in search(box, "W8", "SEARCH OLDER 3700")
    assert 2 in search(box, "W9", "SEARCH YOUNGER 3700")


def test_combined_with_other_keys(box):
    assert search(box, "WA", "SEARCH NOT YOUNGER 7200") == [1]
    assert search(box, "WB", "SEARCH OR OLDER 86400 YOUNGER 30") == [1, 4]
    assert search(box, "WC", "SEARCH YOUNGER 7200 OLDER 1000") == [2]
    assert search(box, "WD", "SEARCH SUBJECT m3 YOUNGER 7200") == [3]


def test_uid_search_and_esearch(box):
    untagged, tagged = box.command("U1", "UID SEARCH RETURN (COUNT MIN) OLDER 1000")
    assert tagged.startswith("U1 OK"), tagged
    assert untagged == ['* ESEARCH (TAG "U1") UID MIN 1 COUNT 2']


def test_sort_with_within(box):
    untagged, tagged = box.command("T1", "SORT (REVERSE ARRIVAL) UTF-8 YOUNGER 7200")
    assert tagged.startswith("T1 OK"), tagged
    assert untagged == ["* SORT 4 3 2"]


@pytest.mark.parametrize("keys", [
    "OLDER", "YOUNGER", "OLDER 0", "YOUNGER 0", "OLDER -5", "OLDER abc",
    "YOUNGER 1.5", "OLDER 4294967296", "YOUNGER 99999999999999999999999",
    "OLDER (5)", "YOUNGER \"\"",
])
def test_bad_intervals_are_bad(box, keys):
    _, tagged = box.command("X1", f"SEARCH {keys}")
    assert tagged.startswith("X1 BAD"), (keys, tagged)


def test_largest_interval_is_accepted(box):
    assert search(box, "WE", "SEARCH YOUNGER 4294967295") == [1, 2, 3, 4]
    assert search(box, "WF", "SEARCH OLDER 4294967295") == []


def test_quoted_interval_is_a_number_too(box):
    # the argument is an nz-number; an astring holding one is accepted as
    # the other numeric keys (LARGER, SMALLER) accept it
    assert search(box, "WG", 'SEARCH OLDER "1000"') == [1, 2]
