"""The analysts' guide: ready Cypher queries, rendered as a Neo4j Browser guide and a cookbook.

One list of queries, :data:`QUERIES`, feeds both ``graph/browser/guide.html`` (the page
Browser plays on connect, each query a block the analyst clicks) and
``docs/cypher-cookbook.md`` (the same queries, each with what it answers). Both files are
generated and committed; ``python -m caregraph.graph.guide`` writes them again after a change
here or in the ontology, and a test checks the committed files are current.

The guide uses Browser's guide format (an ``<article class="guide">`` holding a
``<carousel>`` of ``<slide>`` sections; ``<pre class="... runnable">`` blocks go into the
editor when clicked). Browser strips scripts and event attributes from remote guides, so the
page is plain HTML and inline SVG.
"""

from __future__ import annotations

import html
import sys
from dataclasses import dataclass
from pathlib import Path

from caregraph.graph.browser import GUIDE_FILE
from caregraph.graph.ontology_picture import ontology_svg
from caregraph.graph.scorecard import DEFINITIONS, RULE_RELATIONSHIPS
from caregraph.ontology.model import DOMAINS, Ontology, load_ontology

REPO = Path(__file__).resolve().parents[1]
COOKBOOK_FILE = REPO / "docs" / "cypher-cookbook.md"
PICTURE_FILE = GUIDE_FILE.with_name("ontology.svg")
TITLE = "caregraph: one graph of five domains"


@dataclass(frozen=True)
class GuideQuery:
    """A ready query: its title, the question it answers, how to read the result, the Cypher."""

    slug: str
    title: str
    answers: str
    reading: str
    cypher: str


JOURNEY = GuideQuery(
    "patient-journey",
    "A patient's journey across the five domains",
    "Everything the graph knows about one patient: visits (clinical), appointments "
    "(scheduling), imaging studies (imaging), claims (financial), and the practitioners and "
    "organizations (directory) that took part, linked as the sources and the linking rules "
    "say.",
    "It picks the patient with the most events; to follow someone else, replace the first "
    "two lines with `MATCH (p:Patient {display: 'Given Family'})`.",
    """\
MATCH (p:Patient) WHERE p.stub IS NULL
WITH p ORDER BY COUNT { (p)-[:HAS_ENCOUNTER|HAS_APPOINTMENT|HAS_IMAGING_STUDY|HAS_CLAIM]->() } DESC
LIMIT 1
MATCH journey = (p)-[:HAS_ENCOUNTER|HAS_APPOINTMENT|HAS_IMAGING_STUDY|HAS_CLAIM]->(event)
OPTIONAL MATCH care = (event)-[:HAS_PARTICIPANT|SERVICE_PROVIDER|HAS_PROVIDER|REFERRED_BY]->()
RETURN journey, care""",
)

ENCOUNTER_CLAIMS_IMAGES = GuideQuery(
    "encounter-claims-images",
    "Encounters with their claims and images",
    "Which claims and imaging studies belong to which visit, with the rule that tied each one "
    "to it (on the FOR_ENCOUNTER relationship: a rule name, or none when a source said so).",
    "Click a FOR_ENCOUNTER arrow to see its rule and evidence; switch to Table for a list.",
    """\
MATCH (p:Patient)-[:HAS_ENCOUNTER]->(e:Encounter)<-[link:FOR_ENCOUNTER]-(x)
WHERE x:Claim OR x:ImagingStudy
OPTIONAL MATCH (x)-[:HAS_ITEM|HAS_SERIES]->(part)
RETURN p, e, link, x, collect(part) AS parts
ORDER BY e.start DESC
LIMIT 50""",
)

SCHEDULE = GuideQuery(
    "practitioner-schedule",
    "A practitioner's schedule against the encounters that followed",
    "For the practitioner with the most appointments: each booking, its patient and status, "
    "and the encounter it led to, or none (a no-show, a cancellation or a visit not yet loaded).",
    "Rows without an encounter are bookings that no visit followed; `linked by` names the "
    "rule that matched the appointment to its visit.",
    """\
MATCH (pr:Practitioner)<-[:HAS_PARTICIPANT]-(:Appointment)
WITH pr, count(*) AS booked ORDER BY booked DESC LIMIT 1
MATCH (pr)<-[:HAS_PARTICIPANT]-(a:Appointment)
OPTIONAL MATCH (patient:Patient)-[:HAS_APPOINTMENT]->(a)
OPTIONAL MATCH (a)-[followed:FOR_ENCOUNTER]->(e:Encounter)
RETURN pr.display AS practitioner, a.start AS booked_for, a.status AS status,
       patient.display AS patient, e.start AS encounter_start, e.display AS encounter,
       followed.rule AS linked_by
ORDER BY booked_for""",
)

UNMATCHED_CLAIMS = GuideQuery(
    "claims-without-encounter",
    "Claims without a matching encounter",
    "Claims that no source and no linking rule tied to a visit: billing for care the clinical "
    "systems do not show, or visits not loaded yet.",
    "`sources` names the systems that sent the claim; check those systems' encounter feeds.",
    """\
MATCH (c:Claim) WHERE c.stub IS NULL AND NOT (c)-[:FOR_ENCOUNTER]->(:Encounter)
OPTIONAL MATCH (p:Patient)-[:HAS_CLAIM]->(c)
OPTIONAL MATCH (s:SourceRecord)-[:ASSERTED]->(c)
RETURN c.controlNumber AS claim, c.serviceStart AS service_date, c.totalCharge AS charged,
       p.display AS patient, collect(DISTINCT s.sourceSystem) AS sources
ORDER BY service_date DESC
LIMIT 100""",
)

MERGES = GuideQuery(
    "merged-patients",
    "Patients merged across sources, with the rule behind each merge",
    "Which patients are one person in the graph although their sources gave different "
    "identifiers, and why: every identifier of such a patient with the rule that tied it "
    "(`asserted` when its own source said so, `same-identifier` or `demographics-exact` "
    "when caregraph matched it) and the evidence.",
    "Each row is one identifier of a merged patient; `asserted_by` lists the source records "
    "that asserted it (the first 16: every record's own `ASSERTED` links hold the rest).",
    """\
MATCH (:Identifier)-[merged:IDENTIFIES]->(p:Patient) WHERE merged.rule <> 'asserted'
WITH DISTINCT p
MATCH (i:Identifier)-[x:IDENTIFIES]->(p)
RETURN p.display AS patient, i.system AS system, i.value AS identifier, x.rule AS rule,
       x.evidence AS evidence, x.sources AS asserted_by
ORDER BY patient, rule""",
)

PROVENANCE = GuideQuery(
    "sources-and-runs",
    "Data by source system and load run",
    "What each source system contributed in each load run: records read, by format and kind, "
    "and how many nodes those records asserted.",
    "A run without `ended` stopped early; running the same load again completes it.",
    """\
MATCH (s:SourceRecord)-[:LOADED_IN]->(run:LoadRun)
RETURN s.sourceSystem AS source, run.runId AS run, run.startedAt AS started,
       run.endedAt AS ended, s.format AS format, s.kind AS kind, count(*) AS records,
       sum(COUNT { (s)-[:ASSERTED]->() }) AS nodes_asserted
ORDER BY started DESC, source, format, kind""",
)

UNDOCUMENTED_DIAGNOSES = GuideQuery(
    "billed-not-documented",
    "Claims billing a diagnosis their visit does not document",
    "For each claim linked to a visit, the diagnoses it bills (X12 HI, FHIR Claim.diagnosis) "
    "that the visit itself does not carry: not its reason, not one of its diagnoses, not a "
    "condition recorded at it. Billing and clinical documentation that disagree are a coding "
    "question, a missing clinical feed, or a claim linked to the wrong visit.",
    "`linked_by` is the rule that tied the claim to the visit (none: a source said so). A code "
    "is compared as sent: a billed I21.4 against a documented I21 counts as undocumented.",
    """\
MATCH (p:Patient)-[:HAS_CLAIM]->(c:Claim)-[link:FOR_ENCOUNTER]->(e:Encounter)
MATCH (c)-[billed:BILLS_DIAGNOSIS]->(code:Concept)
WHERE NOT EXISTS { (e)-[:HAS_REASON]->(code) }
  AND NOT EXISTS { (e)-[:HAS_DIAGNOSIS]->()-[:HAS_CODE]->(code) }
  AND NOT EXISTS { (e)<-[:FOR_ENCOUNTER]-(:Condition)-[:HAS_CODE]->(code) }
RETURN p.display AS patient, e.display AS visit, c.controlNumber AS claim,
       link.rule AS linked_by, billed.role AS role, code.code AS code,
       code.display AS meaning
ORDER BY visit DESC, claim, billed.rank
LIMIT 100""",
)

VISITS_FOR_CODES = GuideQuery(
    "visits-for-a-code-range",
    "Visits for a range of codes, with the images and claims that followed",
    "Every visit whose reason or diagnoses fall under ICD-10-CM I20-I25 (ischemic heart "
    "diseases) at any depth of the hierarchy, with the imaging studies and claims linked to "
    "it: one clinical question followed into imaging and billing.",
    "Change the key to another code or range (`...|I50` heart failure, `...|E08-E13` diabetes); "
    "the hierarchy comes from `caregraph terminology load icd10cm` (the demo loads it).",
    """\
MATCH (range:Concept {key: 'http://hl7.org/fhir/sid/icd-10-cm|I20-I25'})
MATCH (p:Patient)-[:HAS_ENCOUNTER]->(e:Encounter)
WHERE EXISTS { (e)-[:HAS_REASON]->(:Concept)-[:BROADER*0..]->(range) }
   OR EXISTS { (e)-[:HAS_DIAGNOSIS]->()-[:HAS_CODE]->(:Concept)-[:BROADER*0..]->(range) }
OPTIONAL MATCH (e)<-[followed:FOR_ENCOUNTER]-(x) WHERE x:ImagingStudy OR x:Claim
RETURN p, e, followed, x
LIMIT 200""",
)

QUERIES: tuple[GuideQuery, ...] = (
    JOURNEY,
    ENCOUNTER_CLAIMS_IMAGES,
    SCHEDULE,
    UNMATCHED_CLAIMS,
    UNDOCUMENTED_DIAGNOSES,
    VISITS_FOR_CODES,
    MERGES,
    PROVENANCE,
)


# -- the Browser guide -------------------------------------------------------------------------
def _inline(text: str) -> str:
    """Markdown-ish `code` spans to <code>, everything else escaped."""
    parts = text.split("`")
    return "".join(
        f"<code>{html.escape(p)}</code>" if i % 2 else html.escape(p) for i, p in enumerate(parts)
    )


def _slide(title: str, body: str) -> str:
    return (
        '  <slide class="row-fluid">\n'
        '    <div class="col-sm-12">\n'
        f"      <h3>{html.escape(title)}</h3>\n"
        f"{body}"
        "    </div>\n"
        "  </slide>\n"
    )


def _query_slide(q: GuideQuery) -> str:
    body = (
        f'      <p class="lead">{_inline(q.answers)}</p>\n'
        f"      <p>Click the query to put it in the editor, then run it. {_inline(q.reading)}</p>\n"
        f'      <pre mode="cypher" class="pre-scrollable code runnable" id="{q.slug}">'
        f"{html.escape(q.cypher)}</pre>\n"
    )
    return _slide(q.title, body)


def guide(onto: Ontology) -> str:
    """The Browser guide page: the model in a picture, then one slide per ready query."""
    classes = sorted(c.name for c in onto.classes.values())
    listing = "".join(f"        <li>{html.escape(q.title)}</li>\n" for q in QUERIES)
    # Browser's guide style hides list numbers
    numbered = 'style="list-style: decimal; padding-left: 2em"'
    intro = (
        '      <p class="lead">caregraph joins what the EHR, the provider directory, PACS, '
        "scheduling and the payer already record into one graph whose meaning is fixed by "
        f"an ontology (version {html.escape(onto.version)}, {len(classes)} classes).</p>\n"
        "      <p>Every node carries its class and the superclasses as labels "
        "(<code>:Encounter:ClinicalEvent:Event:Entity</code>), a business <code>key</code> and a "
        "<code>display</code> caption. Colours are the domains: directory, clinical, imaging, "
        "scheduling, financial, provenance, terminology. What a code means: "
        "<code>(:Condition)-[:HAS_CODE]-&gt;(:Concept)-[:BROADER]-&gt;(:Concept)</code>, "
        "<code>(:Claim)-[:BILLS_DIAGNOSIS {role, rank}]-&gt;(:Concept)</code>. "
        "Where a node came from: "
        "<code>(:SourceRecord)-[:ASSERTED]-&gt;(node)</code>, "
        "<code>(:SourceRecord)-[:LOADED_IN]-&gt;(:LoadRun)</code>; how records became one "
        "patient: <code>(:Identifier)-[:IDENTIFIES {rule, evidence}]-&gt;(node)</code>.</p>\n"
        "      <p>Analysts: explore the <b>analyst graph</b> "
        "(<code>caregraph analyst start</code>, Browser on port 7475): the same graph, "
        "de-identified by the HIPAA Safe Harbor profile "
        "(no names, addresses or free text; patients' keys and numbers as the API's "
        "pseudonyms; their dates to the year) and read-only. The main Neo4j's login has every "
        "right over the real data: it is the administrator's tool.</p>\n"
        "      <p>Then the model in pictures, and ready queries, one per slide "
        "(click one to put it in the editor):</p>\n"
        f"      <ol {numbered}>\n{listing}      </ol>\n"
    )
    # two domains to a slide: a row of the picture fits a slide without scrolling
    parts = [DOMAINS[i : i + 2] for i in range(0, len(DOMAINS), 2)]
    pictures = [
        _slide(
            f"The model ({i + 1}/{len(parts)}): {', '.join(part)}",
            "      <p>Each box is a class, coloured by its domain as nodes are in the graph "
            "view; under its name, its superclasses and the relationships it starts, with "
            "the class they lead to.</p>\n"
            f'      <div class="caregraph-model">\n{ontology_svg(onto, part)}\n      </div>\n',
        )
        for i, part in enumerate(parts)
    ]
    slides = [
        _slide(TITLE, intro),
        *pictures,
        *(_query_slide(q) for q in QUERIES),
        *scorecard_slides(),
    ]
    return (
        '<article class="guide">\n'
        '<carousel class="deck container-fluid">\n' + "".join(slides) + "</carousel>\n"
        "</article>\n"
    )


# -- the interoperability scorecard -----------------------------------------------------------
SCORECARD_PARAMS = (
    ":param now => datetime()",
    ":param rels => "
    + "{"
    + ", ".join(f"`{k}`: '{v}'" for k, v in RULE_RELATIONSHIPS.items())
    + "}",
    ":param source => null",
    ":param grp => null",
    ":param limit => 25",
)
SCORECARD_TREND = """\
MATCH (run:LoadRun)-[:MEASURED]->(v:MeasureValue)
WHERE v.name = 'claims-linked-to-encounter' AND v.source IS NULL AND v.grp IS NULL
RETURN v.at AS at, run.runId AS run, run.sourceSystem AS loaded, v.value AS value,
       v.numerator AS numerator, v.denominator AS denominator
ORDER BY at"""


def _runnable(cypher: str, slug: str) -> str:
    return (
        f'      <pre mode="cypher" class="pre-scrollable code runnable" id="{slug}">'
        f"{html.escape(cypher.strip())}</pre>\n"
    )


def scorecard_slides() -> list[str]:
    """The scorecard's measures as click-to-run queries: the same Cypher the scorecard runs
    (graph/scorecard.py), the records behind each, and a measure's history over the runs."""
    intro = (
        '      <p class="lead">The interoperability scorecard (<code>caregraph scorecard</code>, '
        "GraphQL <code>interoperability</code>): is the graph seeing across the sources, and "
        "is it getting better? Each measure below is the query the scorecard itself runs; "
        "its rows are per source system (<code>source</code> null: all sources together) "
        "and per breakdown (<code>grp</code>).</p>\n"
        "      <p>First run these once: the measures take the time and each linking rule's "
        "relationship as parameters, and the drill-downs a source, a group and a limit "
        "(change them to narrow).</p>\n"
        + _runnable("\n".join(SCORECARD_PARAMS), "scorecard-params")
        + "      <p>A measure's history: its value at the end of each load run that kept a "
        "snapshot, with the run and the source it loaded (change the name to follow another "
        "measure).</p>\n" + _runnable(SCORECARD_TREND, "scorecard-trend")
    )
    slides = [_slide("The interoperability scorecard", intro)]
    for family in ("continuity", "identity", "completeness", "freshness"):
        body = ""
        for d in DEFINITIONS:
            if d.family != family:
                continue
            body += f"      <h4>{html.escape(d.name)} ({d.unit})</h4>\n"
            body += f"      <p>{html.escape(d.means)} {html.escape(d.why)}</p>\n"
            body += _runnable(d.cypher, f"measure-{d.name}")
            if d.records:
                body += "      <p>The records behind it:</p>\n"
                body += _runnable(d.records, f"behind-{d.name}")
        slides.append(_slide(f"Scorecard: {family}", body))
    return slides


# -- the cookbook ------------------------------------------------------------------------------
def cookbook() -> str:
    """docs/cypher-cookbook.md: the guide's queries, each with what it answers."""
    out = [
        "# Cypher cookbook\n",
        "Ready queries for analysts exploring caregraph's graph in Neo4j Browser. They are the "
        "queries of the Browser guide that opens when you connect to the managed Neo4j (or "
        "run `:play http://127.0.0.1:8000/browser/guide.html`), where you click one to put it "
        "in the editor.\n",
        "Analysts run them on the **analyst graph**: `caregraph analyst start` (or `make "
        "demo`), Browser at http://127.0.0.1:7475/browser/ with the login it prints. It is the "
        "same graph (classes, relationships, ontology, link rules, provenance), de-identified "
        "by the HIPAA Safe Harbor profile and read-only, so the queries run unchanged; names, "
        "addresses and free text come back empty, patients' keys and numbers as the API's "
        "pseudonyms, their dates as the first day of their year (see "
        "[analyst-graph.md](analyst-graph.md)). The main Neo4j's Browser, whose one login has "
        "every right over the real data, is the administrator's tool.\n",
        "Generated by `python -m caregraph.graph.guide` from `graph/guide.py`; "
        "edit the queries there. "
        "A test runs each one with `EXPLAIN` against the real Neo4j.\n",
        "![The ontology's classes and relationships](../graph/browser/ontology.svg)\n",
    ]
    for q in QUERIES:
        out.append(f"## {q.title}\n")
        out.append(f"**Answers:** {q.answers}\n")
        out.append(f"**Reading the result:** {q.reading}\n")
        out.append(f"```cypher\n{q.cypher}\n```\n")
    return "\n".join(out)


def write(onto: Ontology | None = None) -> list[Path]:
    """Regenerate the guide, its picture and the cookbook; return the files written."""
    onto = onto or load_ontology()
    files = {
        GUIDE_FILE: guide(onto),
        PICTURE_FILE: ontology_svg(onto) + "\n",
        COOKBOOK_FILE: cookbook(),
    }
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return list(files)


if __name__ == "__main__":
    for written in write():
        sys.stdout.write(f"wrote {written.relative_to(REPO)}\n")
