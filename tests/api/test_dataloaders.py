"""No N+1: on the reference read path a query costs one Cypher round trip per level, however
many nodes each level has (the compiled path reads a covered document in one statement:
tests/api/test_compiled.py)."""

from __future__ import annotations

from caregraph.api.settings import ApiSettings
from tests.api.conftest import CROWD, Gql

REFERENCE = ApiSettings(compiled_reads=False)

# From Dr House's hospital: its visits, each visit's patient, each patient's visits with
# their practitioners and claims (and the claims' items): five levels below the root.
CROWD_QUERY = """query($n: Int) {
  encounter(identifier: "crowd00-v1") {
    organization {
      encounters(first: $n) { edges { node {
        patient {
          name { text }
          encounters { totalCount edges { node {
            start
            practitioners { edges { role node { name { text } } } }
            claims { edges { node {
              totalCharge
              items { edges { node { chargeAmount } } }
            } } }
          } } }
        }
      } } }
    }
  }
}"""


def patients_reached(data: dict) -> set[str]:
    visits = data["encounter"]["organization"]["encounters"]["edges"]
    return {v["node"]["patient"]["name"]["text"] for v in visits}


def test_round_trips_do_not_grow_with_the_number_of_patients(gql: Gql) -> None:
    gql(CROWD_QUERY, {"n": 1})  # warms the fan-out cache, which the cost estimate reads
    few = gql(CROWD_QUERY, {"n": 2}, settings=REFERENCE)
    many = gql(CROWD_QUERY, {"n": 30}, settings=REFERENCE)
    assert len(patients_reached(few.data)) == 2
    assert len(patients_reached(many.data)) == CROWD + 1  # the crowd and Ada
    # root lookup, organization, its visits, their patients, the patients' visits,
    # practitioners and claims (one trip for both fields), items
    assert few.context.reader.round_trips == 7
    assert many.context.reader.round_trips == 7


def test_twenty_patient_roots_in_one_query_are_looked_up_together(gql: Gql) -> None:
    roots = " ".join(
        f'p{i}: patient(identifier: "crowd{i:02d}") {{ encounters {{ edges {{ node {{ '
        f"practitioners {{ edges {{ node {{ key }} }} }} claims {{ edges {{ node {{ key }} }} }}"
        f" }} }} }} }}"
        for i in range(CROWD)
    )
    run = gql("{ " + roots + " }")
    assert len(run.data) == CROWD
    assert all(len(p["encounters"]["edges"]) == 1 for p in run.data.values())
    # 20 lookups in one trip, 20 visit lists in one, 40 lists below them in one (+ fan-out)
    assert run.context.reader.round_trips <= 4


def test_sibling_fields_share_a_round_trip(gql: Gql) -> None:
    run = gql(
        settings=REFERENCE,
        query="""{ claim(controlNumber: "V100") { items { totalCount } remittances { totalCount }
             providers { totalCount } payer { name } encounter { key } patient { key }
             identifiers { token } sources { file } } }""",
    )
    assert run.data["claim"]["items"]["totalCount"] == 2
    # the lookup, then one trip for all eight fields of the claim (the fan-out is cached)
    assert run.context.reader.round_trips <= 3
