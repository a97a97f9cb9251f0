"""Relay connections: first/after, pageInfo, totalCount only when asked, windows, cursors."""

from __future__ import annotations

import base64

from tests.api.conftest import SYNTHEA, Gql

HOUSE_VISITS = """query($first: Int, $after: String, $from: DateTime, $to: DateTime) {
  encounter(identifier: "ada-v1") { practitioners { edges { node {
    encounters(first: $first, after: $after, from: $from, to: $to) {
      %s pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      edges { cursor node { key start } } } } } } } }"""


def house_visits(gql: Gql, total: bool = True, **variables: object) -> dict:
    run = gql(HOUSE_VISITS % ("totalCount" if total else ""), variables)
    (edge,) = run.data["encounter"]["practitioners"]["edges"]
    return edge["node"]["encounters"]


def test_pages_follow_on_without_gaps_or_repeats(gql: Gql) -> None:
    seen: list[str] = []
    after = None
    pages = 0
    while True:
        page = house_visits(gql, first=5, after=after)
        pages += 1
        assert page["totalCount"] == 23
        assert page["pageInfo"]["hasPreviousPage"] is (after is not None)
        keys = [e["node"]["key"] for e in page["edges"]]
        assert page["pageInfo"]["startCursor"] == page["edges"][0]["cursor"]
        assert page["pageInfo"]["endCursor"] == page["edges"][-1]["cursor"]
        seen += keys
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert pages == 5 and len(seen) == 23 and len(set(seen)) == 23
    starts = [k for k in seen]
    # ordered by time then key: Ada's January visit, the crowd in April, Ada's May and June
    assert starts[0] == f"{SYNTHEA}|ada-v1"
    assert starts[1:21] == [f"{SYNTHEA}|crowd{i:02d}-v1" for i in range(20)]
    assert starts[21:] == [f"{SYNTHEA}|ada-v3", f"{SYNTHEA}|ada-v4"]


def test_the_same_page_twice_is_the_same(gql: Gql) -> None:
    one = house_visits(gql, first=7)
    two = house_visits(gql, first=7)
    assert [e["node"] for e in one["edges"]] == [e["node"] for e in two["edges"]]


def test_first_zero_and_an_empty_page(gql: Gql) -> None:
    empty = house_visits(gql, first=0)
    assert empty["edges"] == [] and empty["pageInfo"]["hasNextPage"] is True
    assert empty["pageInfo"]["startCursor"] is None and empty["totalCount"] == 23
    last = house_visits(gql, first=100)
    assert len(last["edges"]) == 23 and last["pageInfo"]["hasNextPage"] is False


def test_default_page_size_is_twenty(gql: Gql) -> None:
    page = house_visits(gql)
    assert len(page["edges"]) == 20 and page["pageInfo"]["hasNextPage"] is True


def test_total_count_is_counted_only_when_selected(gql: Gql) -> None:
    query = HOUSE_VISITS % "%s"
    without = gql(query % "", {"first": 2})
    assert without.context.reader.counts_computed == 0
    with_total = gql(query % "totalCount", {"first": 2})
    assert with_total.context.reader.counts_computed == 1
    # through a fragment too
    fragment = gql(
        """{ patient(identifier: "ada") { encounters(first: 1) { ...Counted } } }
           fragment Counted on EncounterConnection { totalCount }"""
    )
    assert fragment.data["patient"]["encounters"]["totalCount"] == 4
    assert fragment.context.reader.counts_computed == 1


def test_a_window_limits_the_list_and_its_count(gql: Gql) -> None:
    april = house_visits(
        gql, first=50, **{"from": "2024-04-01T00:00:00Z", "to": "2024-04-11T00:00:00Z"}
    )
    assert april["totalCount"] == 10
    assert [e["node"]["start"][:10] for e in april["edges"]] == [
        f"2024-04-{d:02d}" for d in range(1, 11)
    ]
    # `from` is inclusive, `to` exclusive; offsets are respected
    edge = house_visits(
        gql, first=50, **{"from": "2024-04-01T04:00:00-05:00", "to": "2024-04-02T04:00:00-05:00"}
    )
    assert [e["node"]["start"] for e in edge["edges"]] == ["2024-04-01T09:00:00+00:00"]


def test_windows_on_patient_event_lists(gql: Gql) -> None:
    p = gql(
        """{ patient(identifier: "ada") {
             spring: encounters(from: "2024-03-01T00:00:00Z", to: "2024-06-01T00:00:00Z") {
               totalCount edges { node { description } } }
             claims(from: "2024-03-01T00:00:00Z") { edges { node { controlNumber } } }
             imagingStudies(to: "2024-05-01T00:00:00Z") { totalCount } } }"""
    ).data["patient"]
    assert p["spring"]["totalCount"] == 2
    assert [e["node"]["description"] for e in p["spring"]["edges"]] == ["Flu", "Chest pain"]
    assert [e["node"]["controlNumber"] for e in p["claims"]["edges"]] == ["ada-c2", "ada-c3"]
    assert p["imagingStudies"]["totalCount"] == 0


def test_a_window_must_be_in_order_and_zoned(gql: Gql) -> None:
    (error,) = gql(
        HOUSE_VISITS % "", {"from": "2024-05-01T00:00:00Z", "to": "2024-04-01T00:00:00Z"}
    ).errors
    assert error["extensions"]["code"] == "BAD_ARGUMENT" and "later than" in error["message"]
    (error,) = gql(HOUSE_VISITS % "", {"from": "2024-05-01T00:00:00"}).errors
    assert "offset" in error["message"]


def test_cursors_are_opaque_and_refused_when_forged(gql: Gql) -> None:
    page = house_visits(gql, first=1)
    cursor = page["edges"][0]["cursor"]
    # a cursor holds a key, which may be a patient's identifier: it is encrypted, not encoded
    body = cursor.split(".", 1)[1]
    raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    assert b"ada" not in raw and b"synthea" not in raw
    tampered = cursor[:-2] + ("AA" if not cursor.endswith("AA") else "BB")
    for bad in (tampered, "garbage", "cg1.", base64.b64encode(b'[0,"x"]').decode()):
        (error,) = gql(HOUSE_VISITS % "", {"after": bad}).errors
        assert error["extensions"]["code"] == "BAD_ARGUMENT"
        assert "not a cursor this API gave out" in error["message"]


def test_ontology_lists_are_connections_too(gql: Gql) -> None:
    first = gql("{ ontology { classes(first: 3) { totalCount pageInfo { hasNextPage endCursor } "
                "edges { node { name } } } } }").data["ontology"]["classes"]  # fmt: skip
    names = [e["node"]["name"] for e in first["edges"]]
    assert names == ["Agent", "Appointment", "Claim"] and first["pageInfo"]["hasNextPage"]
    rest = gql(
        "query($after: String) { ontology { classes(first: 100, after: $after) { "
        "edges { node { name } } } } }",
        {"after": first["pageInfo"]["endCursor"]},
    ).data["ontology"]["classes"]
    more = [e["node"]["name"] for e in rest["edges"]]
    assert more[0] == "ClaimItem" and len(names) + len(more) == first["totalCount"]
