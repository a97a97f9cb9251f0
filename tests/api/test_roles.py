"""Roles: each sees exactly the fields the policy table gives it, in typed answers, in
patientContext's text and in error messages; hidden fields cannot be probed through a filter
or a lookup; and the readers' Cypher never brings a hidden property into the process."""

from __future__ import annotations

from typing import Any

import pytest
from graphql import GraphQLInputObjectType

from caregraph.api.access.policy import ARGUMENT_FIELDS, WINDOW_ARGUMENTS, for_role
from caregraph.api.access.projections import projection
from caregraph.api.auth import Role
from caregraph.api.mcp import prune
from caregraph.api.schema import schema
from caregraph.api.type_system import graphql_core
from caregraph.graph.projection import IDENTIFIER_LOOKUP
from caregraph.graph.readers import ForbiddenReadError, LookupRequest, PageRequest, Reader
from tests.api.conftest import ADA, JANE, PSEUDONYMS, SMITH_NPI, STUDY_UID, Gql, principal

ENCOUNTER = """key display time status start end encounterClass encounterType reasonCode
  description visitNumber diagnosisCodes"""
CLAIM = """key display time status controlNumber submitter claimType use serviceStart serviceEnd
  totalCharge currency diagnosisCodes
  items { edges { node { key display sequence procedureCode quantity chargeAmount serviceStart
    serviceEnd diagnosisCodes } } }
  remittances { edges { node { key display paymentAmount paymentDate totalCharge
    patientResponsibility adjustments claimStatusCode payerControlNumber controlNumber
    description } } }"""
PATIENT = """key kind loaded display gender birthDate deceased
  name { family given text }
  address { line city state postalCode country }
  identifiers { token system value type rule }
  sources { key sourceSystem file position recordId format kind }"""
# every field of every kind of patient data, reached from a practitioner (a root every role
# may use): Dr Smith's visit with Jane Doe, and all of Jane's records
EVERYTHING = f"""query Everything {{ practitioner(npi: "{SMITH_NPI}") {{
  npi name {{ text }} specialty
  encounters {{ edges {{ node {{ {ENCOUNTER} patient {{
    {PATIENT}
    encounters {{ edges {{ node {{ {ENCOUNTER} claims {{ edges {{ node {{ {CLAIM} }} }} }} }} }} }}
    appointments {{ edges {{ node {{ key display start end minutesDuration serviceType reasonCode
      description cancelReason }} }} }}
    imagingStudies {{ edges {{ node {{ key display studyInstanceUid start modality description
      accessionNumber procedureCode bodySite numberOfSeries numberOfInstances
      referringPhysicianName
      series {{ edges {{ node {{ key seriesInstanceUid seriesNumber modality bodySite }} }} }}
    }} }} }}
    serviceRequests {{ edges {{ node {{ key display start procedureCode accessionNumber
      placerOrderNumber fillerOrderNumber reasonCode }} }} }}
    coverages {{ edges {{ node {{ key display memberId subscriberId planName relationship status
      start end }} }} }}
  }} }} }} }}
}} }}"""

MONEY = {
    "Claim.totalCharge", "Claim.currency", "Claim.display", "ClaimItem.chargeAmount",
    "Remittance.paymentAmount", "Remittance.totalCharge", "Remittance.patientResponsibility",
    "Remittance.adjustments", "Remittance.display",
}  # fmt: skip
CLINICAL = {
    "Encounter.encounterType", "Encounter.reasonCode", "Encounter.description",
    "Encounter.diagnosisCodes", "Appointment.reasonCode", "Appointment.description",
    "Appointment.cancelReason", "ServiceRequest.reasonCode", "ImagingStudy.description",
    "ImagingStudy.bodySite", "ImagingStudy.numberOfSeries", "ImagingStudy.numberOfInstances",
    "ImagingStudy.series",
}  # fmt: skip
IDENTIFYING = {
    "Patient.display", "Patient.name", "Patient.identifiers", "Patient.address.line",
    "Patient.address.city", "Patient.address.postalCode", "SourceRecord.recordId",
    "SourceRecord.file", "Encounter.display", "Encounter.visitNumber", "Claim.display",
    "Claim.controlNumber", "ClaimItem.display", "Remittance.display", "Remittance.controlNumber",
    "Remittance.payerControlNumber", "Appointment.display", "ImagingStudy.display",
    "ImagingStudy.studyInstanceUid", "ImagingStudy.accessionNumber",
    "ImagingSeries.seriesInstanceUid", "ServiceRequest.display",
    "ServiceRequest.accessionNumber", "ServiceRequest.placerOrderNumber",
    "ServiceRequest.fillerOrderNumber", "Coverage.display", "Coverage.memberId",
    "Coverage.subscriberId",
}  # fmt: skip
HIDDEN = {
    Role.admin: set(),
    Role.clinician: MONEY,
    Role.billing: CLINICAL,
    Role.analyst: IDENTIFYING,
    Role.steward: {"Query.practitioner"},  # the directory's visits are not a steward's
}


def read_nothing(run: Any) -> bool:
    """Nothing of the graph was read for it (the cost estimate may have read Neo4j's count
    store, which holds no data)."""
    reader = run.context.__dict__.get("reader")
    return reader is None or (not reader.patients and reader.round_trips <= 1)


def refused_fields(errors: list[dict[str, Any]]) -> set[str]:
    assert all(e["extensions"]["code"] == "FORBIDDEN_FIELD" for e in errors), errors
    return {e["extensions"]["field"] for e in errors}


@pytest.mark.parametrize("role", list(Role))
def test_a_query_of_every_field_is_refused_for_exactly_the_roles_hidden_fields(
    gql: Gql, role: Role
) -> None:
    run = gql(EVERYTHING, principal=principal(role))
    if not HIDDEN[role]:
        assert run.data["practitioner"]["encounters"]["edges"]
        return
    assert run.result.data is None and read_nothing(run)  # refused before anything ran
    assert refused_fields(run.errors) == HIDDEN[role]


def _same_but_generalised(role: Role, seen: Any, full: Any, path: str = "") -> None:
    """Every value the role got equals the admin's, generalised where the table says."""
    if isinstance(seen, dict):
        assert set(seen) <= set(full), path
        for k, v in seen.items():
            _same_but_generalised(role, v, full[k], f"{path}.{k}")
    elif isinstance(seen, list):
        assert len(seen) == len(full), path
        for a, b in zip(seen, full, strict=True):
            _same_but_generalised(role, a, b, path)
    elif role is Role.analyst and path.endswith(".key") and seen != full:
        assert seen == PSEUDONYMS(full), path  # a stable pseudonym of the very key
    elif role is Role.analyst and path.endswith("patient.birthDate"):
        assert seen == full[:4], path
    else:
        assert seen == full, path


@pytest.mark.parametrize("role", [Role.clinician, Role.billing, Role.analyst])
def test_each_role_sees_its_fields_as_they_are_or_generalised(gql: Gql, role: Role) -> None:
    full = gql(EVERYTHING).data
    mine = prune(graphql_core(schema), EVERYTHING, for_role(role))
    seen = gql(mine, principal=principal(role)).data
    assert seen["practitioner"]["encounters"]["edges"], "the role's own query found nothing"
    _same_but_generalised(role, seen, full)
    patient = seen["practitioner"]["encounters"]["edges"][0]["node"]["patient"]
    for hidden in HIDDEN[role]:
        type_name, _, field = hidden.partition(".")
        if type_name == "Patient" and "." not in field:
            assert field not in patient


def test_what_each_role_reads_of_jane(gql: Gql) -> None:
    def jane(role: Role) -> dict[str, Any]:
        query = prune(graphql_core(schema), EVERYTHING, for_role(role))
        data = gql(query, principal=principal(role)).data
        return dict(data["practitioner"]["encounters"]["edges"][0]["node"]["patient"])

    clinician, billing, analyst = jane(Role.clinician), jane(Role.billing), jane(Role.analyst)
    assert clinician["name"]["text"] == "JANE DOE" and clinician["birthDate"] == "1980-01-02"
    claim = clinician["encounters"]["edges"][0]["node"]["claims"]["edges"][0]["node"]
    assert claim["controlNumber"] == "V100" and "totalCharge" not in claim
    visit = billing["encounters"]["edges"][0]["node"]
    assert visit["encounterClass"].endswith("|IMP") and visit["visitNumber"] == "V100"
    assert visit["claims"]["edges"][0]["node"]["totalCharge"] == 150.0
    assert (
        "reasonCode" not in visit and "series" not in billing["imagingStudies"]["edges"][0]["node"]
    )
    assert analyst["birthDate"] == "1980" and analyst["address"] == {"state": "IL", "country": None}
    assert analyst["key"] == PSEUDONYMS(JANE) and analyst["key"].startswith("pseudonym:")
    assert "name" not in analyst and "identifiers" not in analyst
    for source in analyst["sources"]:
        assert source["key"].startswith("pseudonym:") and set(source) >= {"sourceSystem", "format"}


# -- patientContext's text -------------------------------------------------------------------

CONTEXT = "query($id: String!) { patientContext(identifier: $id) { text totalEvents } }"


def test_context_text_shows_each_role_only_its_fields(gql: Gql) -> None:
    def text(role: Role) -> str:
        return str(
            gql(CONTEXT, {"id": ADA}, principal=principal(role)).data["patientContext"]["text"]
        )

    admin, clinician, billing = text(Role.admin), text(Role.clinician), text(Role.billing)
    assert "Chest pain" in admin and "charge 120.50" in admin and "paid 96.40" in admin
    assert "Chest pain" in clinician and "Digital Radiography" in clinician
    for money in ("charge", "paid", "120.50", "96.40", "$"):
        assert money not in clinician
    assert "charge 120.50" in billing and "paid 96.40" in billing and "Ada Lovelace" in billing
    for clinical in ("Chest pain", "Checkup", "Flu", "Follow-up", "Digital Radiography"):
        assert clinical not in billing
    # same events for all: a role hides fields, not the existence of a visit
    counts = {
        r: gql(CONTEXT, {"id": ADA}, principal=principal(r)).data["patientContext"]["totalEvents"]
        for r in (Role.admin, Role.clinician, Role.billing)
    }
    assert len(set(counts.values())) == 1


# -- errors and probes -----------------------------------------------------------------------

PROBES = [
    ('{ patient(identifier: "%s") { gender } }', JANE, "nobody|none"),
    ('{ patientContext(identifier: "%s") { totalEvents } }', JANE, "nobody|none"),
    ('{ patient(identifier: "%s") { gender } }', "MRN001", "NOSUCHMRN"),  # MRN001: ambiguous
    ('{ encounter(identifier: "%s") { start } }', "V100", "V999"),
    ('{ claim(controlNumber: "%s") { status } }', "V100", "V999"),
    ('{ imagingStudy(studyInstanceUid: "%s") { start } }', STUDY_UID, "1.2.3.4"),
    ('{ explainLink(a: "%s", b: "LAKESIDE|RAD-7") { same } }', JANE, "nobody|none"),
]


@pytest.mark.parametrize(("query", "known", "unknown"), PROBES)
def test_an_analyst_cannot_probe_an_identifier(
    gql: Gql, query: str, known: str, unknown: str
) -> None:
    """A lookup by MRN (or visit, claim, accession number, UID) is refused the same way
    whether it names someone or not: no existence, no identifier system, no value leaks."""
    analyst = principal(Role.analyst)
    hit, miss = gql(query % known, principal=analyst), gql(query % unknown, principal=analyst)
    for run in (hit, miss):
        assert run.result.data is None and read_nothing(run)
        (error,) = run.errors
        assert error["extensions"]["code"] == "FORBIDDEN_FIELD"
        assert "may not look patient data up by identifier" in error["message"]
        for leak in ("HOSP", "LAKESIDE", "JANE", "Doe", "1980", known):
            assert leak not in error["message"]

    def without_id(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{**e, "extensions": {**e["extensions"], "requestId": None}} for e in errors]

    assert without_id(hit.errors) == without_id(miss.errors)


def test_roles_that_read_identifiers_get_the_ambiguity_by_system(gql: Gql) -> None:
    (error,) = gql(
        '{ patient(identifier: "MRN001") { gender } }', principal=principal(Role.billing)
    ).errors
    assert error["extensions"]["code"] == "AMBIGUOUS_IDENTIFIER"
    assert error["extensions"]["candidateSystems"] == ["HOSP", "LAKESIDE"]
    assert "JANE" not in error["message"] and "RIVERA" not in error["message"]


def test_hidden_fields_cannot_be_reached_through_an_interface_or_a_fragment(gql: Gql) -> None:
    analyst = principal(Role.analyst)
    through_interface = f"""{{ practitioner(npi: "{SMITH_NPI}") {{ encounters {{ edges {{ node {{
        patient {{ ... on Entity {{ display }} }} }} }} }} }} }}"""
    (error,) = gql(through_interface, principal=analyst).errors
    assert error["extensions"]["field"].endswith(".display")  # of every patient-data type
    assert "Patient" in error["extensions"]["field"].split(".")[0].split("/")
    through_fragment = f"""query {{ practitioner(npi: "{SMITH_NPI}") {{ encounters {{ edges {{
        node {{ patient {{ address {{ ...Where }} }} }} }} }} }} }}
        fragment Where on Address {{ state city }}"""
    (error,) = gql(through_fragment, principal=analyst).errors
    assert error["extensions"]["field"] == "Patient.address.city"
    events = f"""{{ practitioner(npi: "{SMITH_NPI}") {{ encounters {{ edges {{ node {{ patient {{
        events {{ edges {{ node {{ time ... on Encounter {{ visitNumber }} }} }} }}
    }} }} }} }} }} }}"""
    (error,) = gql(events, principal=analyst).errors
    assert error["extensions"]["field"] == "Encounter.visitNumber"


# arguments that select by nothing a role could be refused (paging, budgets, schema names)
NOT_FILTERS = {
    "first", "after", "budgetTokens", "kind", "transitive", "domain", "name", "since",
    "last",  # how many of a measure's snapshots, like `first`
    "reason",  # why a steward decided: words recorded with the decision, selects nothing
}  # fmt: skip


def test_every_filter_argument_of_the_schema_is_checked_against_the_policy() -> None:
    """The schema has no `where`/`orderBy`: its only arguments that select by a field are
    lookups and time windows, and each is checked as a read of that field. A new filter
    argument fails here until the policy says what it reads."""
    unchecked = []
    for type_name, typ in graphql_core(schema).type_map.items():
        if type_name.startswith("__") or isinstance(typ, GraphQLInputObjectType):
            continue
        for fname, fdef in getattr(typ, "fields", {}).items():
            for arg in fdef.args:
                if (type_name, fname, arg) in ARGUMENT_FIELDS or arg in WINDOW_ARGUMENTS:
                    continue
                if arg not in NOT_FILTERS:
                    unchecked.append(f"{type_name}.{fname}({arg})")
    assert not unchecked


def test_there_is_no_ordering_or_filtering_by_birth_date_to_probe(gql: Gql) -> None:
    analyst = principal(Role.analyst)
    for argument in ('orderBy: "birthDate"', 'where: {birthDate: "1980-01-02"}'):
        attempt = (
            f'{{ practitioner(npi: "{SMITH_NPI}") {{ encounters({argument}) {{ totalCount }} }} }}'
        )
        run = gql(attempt, principal=analyst)
        assert run.result.data is None and "Unknown argument" in run.errors[0]["message"]


def test_a_window_filter_is_allowed_on_event_time_which_every_role_reads(gql: Gql) -> None:
    query = f"""{{ practitioner(npi: "{SMITH_NPI}") {{
        encounters(from: "2024-05-01T00:00:00Z", to: "2024-05-02T00:00:00Z") {{ totalCount }}
    }} }}"""
    for role in (Role.clinician, Role.billing, Role.analyst, Role.admin):  # who reads visits
        assert (
            gql(query, principal=principal(role)).data["practitioner"]["encounters"]["totalCount"]
            == 1
        )


def test_only_admins_read_the_audit_log(gql: Gql) -> None:
    for role in (Role.clinician, Role.billing, Role.analyst):
        (error,) = gql(
            "{ auditLog { edges { node { subject } } } }", principal=principal(role)
        ).errors
        assert error["extensions"]["field"] == "Query.auditLog"
        assert "only admins" in error["message"]


def test_nothing_is_read_without_a_caller(gql: Gql) -> None:
    run = gql('{ patient(identifier: "HOSP|MRN001") { gender } }', principal=None)
    assert run.result.data is None and read_nothing(run)
    assert run.context.reader.round_trips == 0  # refused before parsing, so before any cost
    assert run.errors[0]["extensions"]["code"] == "UNAUTHENTICATED"


# -- inside the query ------------------------------------------------------------------------


def test_the_readers_cypher_returns_only_what_the_role_may_read(gql: Gql) -> None:
    """Nothing hidden reaches the process: the rows as Neo4j returns them to an analyst."""
    from caregraph.api import paths

    ctx = gql("{ service { version } }").context  # any context: its driver and database
    reader = Reader(ctx.driver, ctx.database, 10.0, projection(for_role(Role.analyst)), PSEUDONYMS)
    with pytest.raises(ForbiddenReadError):
        reader.lookups([LookupRequest("Patient", "token", JANE)])
    with pytest.raises(ForbiddenReadError):
        reader.lookups([LookupRequest("Encounter", "value", "V100")])
    (smith,) = reader.lookups([LookupRequest("Practitioner", "Practitioner.npi", SMITH_NPI)])[0:1]
    visits = reader.pages([PageRequest(smith[0].key, paths.path("Practitioner.encounters"), 5)])
    (visit,) = visits[0].rows
    assert "visitNumber" not in visit.node and "display" not in visit.node
    assert visit.public == PSEUDONYMS(visit.key)
    (patient,) = reader.pages([PageRequest(visit.key, paths.path("Encounter.patient"), 1)])[0].rows
    assert patient.node["birthDate"] == "1980"
    for hidden in ("familyName", "givenNames", "nameText", "display", "matchKey", "city",
                   "postalCode", "addressLine"):  # fmt: skip
        assert hidden not in patient.node
    # a patient's identifiers are not followed for an analyst, even if asked
    ids = reader.pages([PageRequest(patient.key, paths.path("Entity.identifiers"), 10)])
    assert ids[0].rows == []
    assert reader.patients == {JANE}  # what it read, for the audit


def test_a_clinicians_reads_never_carry_amounts(gql: Gql) -> None:
    from caregraph.api import paths

    ctx = gql("{ service { version } }").context
    reader = Reader(
        ctx.driver, ctx.database, 10.0, projection(for_role(Role.clinician)), PSEUDONYMS
    )
    (ada,) = reader.lookups([LookupRequest("Patient", "token", ADA)])[0]
    claims = reader.pages([PageRequest(ada.key, paths.path("Patient.claims"), 10)])[0].rows
    assert len(claims) == 3 and all("totalCharge" not in c.node for c in claims)
    assert all(c.node["controlNumber"].startswith("ada-c") for c in claims)
    assert IDENTIFIER_LOOKUP in next(
        v.lookups for v in projection(for_role(Role.clinician)).views or () if v.label == "Patient"
    )


ROOTS = f"""{{
  patient(identifier: "{JANE}") {{ gender }}
  patientContext(identifier: "{JANE}", budgetTokens: 100) {{ totalEvents }}
  encounter(identifier: "MAINHOSP|V100") {{ start }}
  imagingStudy(studyInstanceUid: "{STUDY_UID}") {{ start modality }}
  claim(controlNumber: "V100") {{ status }}
  practitioner(npi: "{SMITH_NPI}") {{ specialty }}
  organization(npi: "1245319599") {{ name }}
  explainLink(a: "{JANE}", b: "LAKESIDE|RAD-7") {{ same }}
}}"""


@pytest.mark.parametrize("role", [Role.admin, Role.clinician, Role.billing])
def test_roles_that_read_identifiers_use_every_lookup(gql: Gql, role: Role) -> None:
    data = gql(ROOTS, principal=principal(role)).data
    assert data["patient"] == {"gender": "female"} and data["patientContext"]["totalEvents"] == 5
    assert data["imagingStudy"]["modality"] == ["CT"] and data["claim"]["status"]
    assert data["organization"]["name"] == "TEST CLINIC" and data["explainLink"]["same"] is True
