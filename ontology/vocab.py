"""The caregraph vocabulary as Python names, so that a misspelt term fails loudly.

Every term here is declared in ``ontology/caregraph.ttl`` (a test checks both ways). Classes
are CamelCase, object properties (graph relationship types) are lowerCamelCase with a
``cg:graphName`` annotation giving the relationship type (``hasEncounter`` -> HAS_ENCOUNTER),
datatype properties are lowerCamelCase and become node or relationship properties of the
same name.
"""

from __future__ import annotations

from rdflib import URIRef
from rdflib.namespace import DefinedNamespace, Namespace

NS = "https://w3id.org/caregraph/ontology#"


class CG(DefinedNamespace):
    """Terms of the caregraph ontology."""

    _NS = Namespace(NS)
    _fail = True

    # -- upper classes ---------------------------------------------------------------------
    Entity: URIRef
    Agent: URIRef
    Person: URIRef
    Event: URIRef
    ClinicalEvent: URIRef
    SchedulingEvent: URIRef
    FinancialEvent: URIRef
    # -- directory -------------------------------------------------------------------------
    Patient: URIRef
    Practitioner: URIRef
    PractitionerRole: URIRef
    Organization: URIRef
    Payer: URIRef
    Location: URIRef
    # -- clinical --------------------------------------------------------------------------
    Encounter: URIRef
    ServiceRequest: URIRef  # an order (HL7 ORM/ORU OBR, FHIR ServiceRequest): accession numbers
    Condition: URIRef  # a diagnosis or problem (FHIR Condition, HL7 v2 DG1)
    Procedure: URIRef  # an action performed (FHIR Procedure, HL7 v2 PR1)
    # -- imaging ---------------------------------------------------------------------------
    ImagingStudy: URIRef
    ImagingSeries: URIRef
    # -- scheduling ------------------------------------------------------------------------
    Appointment: URIRef
    Slot: URIRef
    Schedule: URIRef
    # -- financial -------------------------------------------------------------------------
    Claim: URIRef
    ClaimItem: URIRef
    Remittance: URIRef
    Coverage: URIRef
    # -- terminology (not entities) --------------------------------------------------------
    Concept: URIRef  # a code of a code system: (:Concept {system, code, display})
    CodeSystem: URIRef  # a terminology; its individuals are in ontology/caregraph.ttl (cgcs:)
    # -- identity and provenance -----------------------------------------------------------
    Identifier: URIRef
    SourceRecord: URIRef
    LoadRun: URIRef

    # -- object properties (relationship types) --------------------------------------------
    identifies: URIRef  # Identifier -> any identified individual   IDENTIFIES
    asserted: URIRef  # SourceRecord -> what the record said         ASSERTED
    loadedIn: URIRef  # SourceRecord -> LoadRun                     LOADED_IN
    hasEncounter: URIRef  # Patient -> Encounter                    HAS_ENCOUNTER
    hasAppointment: URIRef  # Patient -> Appointment                HAS_APPOINTMENT
    hasImagingStudy: URIRef  # Patient -> ImagingStudy              HAS_IMAGING_STUDY
    hasClaim: URIRef  # Patient -> Claim                            HAS_CLAIM
    hasCoverage: URIRef  # Patient -> Coverage                      HAS_COVERAGE
    hasServiceRequest: URIRef  # Patient -> ServiceRequest          HAS_SERVICE_REQUEST
    hasCondition: URIRef  # Patient -> Condition                    HAS_CONDITION
    hasProcedure: URIRef  # Patient -> Procedure                    HAS_PROCEDURE
    hasDiagnosis: URIRef  # Encounter -> Condition|Procedure        HAS_DIAGNOSIS {role, rank}
    hasCode: URIRef  # Condition|Procedure|ClaimItem -> Concept      HAS_CODE
    hasReason: URIRef  # Encounter|Procedure -> Concept              HAS_REASON
    broader: URIRef  # Concept -> Concept                            BROADER
    hasParticipant: URIRef  # Encounter|Appointment|Procedure -> Practitioner HAS_PARTICIPANT
    serviceProvider: URIRef  # Encounter -> Organization            SERVICE_PROVIDER
    atLocation: URIRef  # Encounter|Appointment -> Location          AT_LOCATION
    forEncounter: URIRef  # Claim|ImagingStudy|Appointment|ServiceRequest|Condition|Procedure
    basedOn: URIRef  # ImagingStudy -> ServiceRequest                BASED_ON
    hasSeries: URIRef  # ImagingStudy -> ImagingSeries               HAS_SERIES
    referredBy: URIRef  # ImagingStudy|ServiceRequest -> Practitioner REFERRED_BY
    performedAt: URIRef  # ImagingStudy -> Organization (institution) PERFORMED_AT
    hasItem: URIRef  # Claim -> ClaimItem                            HAS_ITEM
    hasProvider: URIRef  # Claim|ClaimItem -> Practitioner|Organization HAS_PROVIDER {role}
    hasPayer: URIRef  # Claim|Coverage -> Payer                      HAS_PAYER
    coveredBy: URIRef  # Claim -> Coverage                           COVERED_BY
    billsDiagnosis: URIRef  # Claim|ClaimItem -> Concept       BILLS_DIAGNOSIS {role, rank}
    remits: URIRef  # Remittance -> Claim                            REMITS
    adjustedFor: URIRef  # Remittance -> Concept (CARC)          ADJUSTED_FOR {group, amount}
    hasRemark: URIRef  # Remittance -> Concept (RARC)              HAS_REMARK
    paidBy: URIRef  # Remittance -> Payer                            PAID_BY
    roleOf: URIRef  # PractitionerRole -> Practitioner               ROLE_OF
    roleAt: URIRef  # PractitionerRole -> Organization               ROLE_AT
    partOf: URIRef  # Organization|Location -> Organization          PART_OF
    managedBy: URIRef  # Location -> Organization                    MANAGED_BY
    inSchedule: URIRef  # Slot -> Schedule                           IN_SCHEDULE
    scheduleFor: URIRef  # Schedule -> Practitioner|Location         SCHEDULE_FOR
    bookedIn: URIRef  # Appointment -> Slot                          BOOKED_IN
    subClassOf: URIRef  # Class -> Class (the ontology in the graph)   SUBCLASS_OF

    # -- datatype properties ---------------------------------------------------------------
    # every node
    key: URIRef  # the business key the writer merges on
    display: URIRef  # a readable caption
    externalReference: URIRef  # references the source made that cannot be followed here
    stub: URIRef  # true while only referenced, not yet loaded
    # identifiers
    system: URIRef
    value: URIRef
    identifierType: URIRef  # MR, NPI, MB, VN, ACSN ... (v2-0203 codes)
    # people and organisations
    familyName: URIRef
    givenNames: URIRef  # list of given names
    nameText: URIRef
    birthDate: URIRef
    gender: URIRef  # FHIR administrative gender: male | female | other | unknown
    deceased: URIRef
    npi: URIRef
    name: URIRef
    orgType: URIRef
    specialty: URIRef
    addressLine: URIRef
    city: URIRef
    state: URIRef
    postalCode: URIRef
    country: URIRef
    phone: URIRef
    matchKey: URIRef  # normalised family|given|birthDate|gender, for demographics-exact
    familyKey: URIRef  # familyName folded for search (graph/search.py)
    givenKeys: URIRef  # givenNames folded for search
    nameKey: URIRef  # a name given whole (an organization's ...) folded for search
    # events
    status: URIRef
    start: URIRef
    end: URIRef
    encounterClass: URIRef
    encounterType: URIRef
    reasonCode: URIRef
    visitNumber: URIRef
    role: URIRef  # on HAS_PARTICIPANT / HAS_PROVIDER: attending, referring, billing, rendering ...
    serviceType: URIRef
    description: URIRef
    minutesDuration: URIRef
    cancelReason: URIRef
    # conditions
    clinicalStatus: URIRef  # FHIR condition-clinical: active, resolved ...
    verificationStatus: URIRef  # FHIR condition-ver-status: confirmed, provisional ...
    category: URIRef  # list of condition-category codes
    onset: URIRef
    abatement: URIRef
    recordedDate: URIRef
    rank: URIRef  # on HAS_DIAGNOSIS, BILLS_DIAGNOSIS: 1 is the principal diagnosis
    # terminology
    code: URIRef  # a Concept's code within its system
    version: URIRef  # a CodeSystem's loaded release
    release: URIRef  # where that release came from
    conceptCount: URIRef
    loadedAt: URIRef
    # imaging and orders
    studyInstanceUid: URIRef
    seriesInstanceUid: URIRef
    accessionNumber: URIRef
    accessionIssuer: URIRef
    modality: URIRef  # list of DICOM modality codes (CID 29)
    bodySite: URIRef
    numberOfSeries: URIRef
    numberOfInstances: URIRef
    seriesNumber: URIRef
    referringPhysicianName: URIRef  # DICOM (0008,0090) as given (FAMILY^GIVEN); no practitioner
    placerOrderNumber: URIRef
    fillerOrderNumber: URIRef
    procedureCode: URIRef
    # financial
    controlNumber: URIRef  # claim control number (X12 CLM01, FHIR Claim.identifier)
    submitter: URIRef  # who assigned the control number (billing NPI or source)
    claimType: URIRef
    use: URIRef
    totalCharge: URIRef
    currency: URIRef
    serviceStart: URIRef
    serviceEnd: URIRef
    diagnosisCodes: URIRef
    sequence: URIRef
    quantity: URIRef
    chargeAmount: URIRef
    paymentAmount: URIRef
    patientResponsibility: URIRef
    adjustments: URIRef  # list of "group-reason:amount", e.g. "CO-45:12.00"
    group: URIRef  # on ADJUSTED_FOR: claim adjustment group code (CO, PR, OA, PI, CR)
    amount: URIRef  # on ADJUSTED_FOR: the amount adjusted for that reason
    payerControlNumber: URIRef
    paymentDate: URIRef
    claimStatusCode: URIRef
    memberId: URIRef
    subscriberId: URIRef
    planName: URIRef
    relationship: URIRef
    payerId: URIRef
    # provenance
    sourceSystem: URIRef
    file: URIRef
    position: URIRef
    recordId: URIRef
    format: URIRef
    kind: URIRef
    contentHash: URIRef
    runId: URIRef
    startedAt: URIRef
    endedAt: URIRef
    caregraphVersion: URIRef
    ontologyVersion: URIRef
    counts: URIRef
    rule: URIRef  # on IDENTIFIES and inferred links: the rule that made it
    evidence: URIRef  # on IDENTIFIES and inferred links: what matched, as JSON
    sources: URIRef  # on relationships: keys of the SourceRecords that asserted it

    # -- ontology annotations (owl:AnnotationProperty; describe terms, not instances) --------
    graphName: URIRef  # on object properties: the Neo4j relationship type
    domain: (
        URIRef  # on classes: directory | clinical | imaging | scheduling | financial | provenance
    )
    caption: URIRef  # on classes: the datatype property Neo4j Browser shows as caption
    multiValued: URIRef  # on datatype properties: true when the value is a list
    dicomTag: URIRef  # alignment: DICOM attribute "(gggg,eeee) Keyword"
    x12: URIRef  # alignment: X12 transaction, loop and segment element, e.g. "837 2300 CLM01"
    hl7v2: URIRef  # alignment: HL7 v2 segment field, e.g. "PID-7"
    bindsTerminology: URIRef  # on coded properties: the code system's IRI (no content)
    alias: URIRef  # on code systems: another spelling of its URI or name (an OID, a mnemonic)


# Every term as a plain class attribute: DefinedNamespace resolves each access through its
# metaclass's __getattr__ (0.7 us against 0.1 us; a million accesses per thousand patients
# loaded). The objects are the ones CG[name] gives, so `CG.Patient is CG["Patient"]`.
for _name in CG.__annotations__:
    type.__setattr__(CG, _name, CG[_name])
del _name


def local_name(term: URIRef) -> str:
    """The term's name in the graph: the part after the namespace."""
    text = str(term)
    if not text.startswith(NS):
        raise ValueError(f"{term} is not a caregraph term")
    return text[len(NS) :]


# Where splitting at capitals is not how the relationship type is spelt: "subclass" is one
# word in OWL's own prose, and Browser users know the type as SUBCLASS_OF.
_GRAPH_NAMES = {"subClassOf": "SUBCLASS_OF"}


def graph_name(term: URIRef) -> str:
    """An object property's relationship type: hasEncounter -> HAS_ENCOUNTER."""
    name = local_name(term)
    if name in _GRAPH_NAMES:
        return _GRAPH_NAMES[name]
    out: list[str] = []
    for ch in name:
        if ch.isupper() and out:
            out.append("_")
        out.append(ch.upper())
    return "".join(out)
