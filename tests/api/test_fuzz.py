"""API fuzzing per role (issue 15): schemathesis generates GraphQL queries over the whole
schema (valid ones, and ones with values of the wrong type), and hypothesis generates the
arguments of every MCP tool; each goes over HTTP to the service on uvicorn with a key of each
role, against the demo health system loaded into the session's real Neo4j. Every answer must
be a GraphQL (or MCP) answer: no 5xx, every error with a documented code and never
INTERNAL_ERROR, no traceback, file path, exception class or Cypher in any message; and no
value the role may not read (api/access/policy.py) anywhere in it, checked against the values the
loaders read from the demo's own files.

CI runs a bounded, derandomized number of examples per role (profile ``ci``); ``make
reliability`` runs the ``long`` profile (HYPOTHESIS_PROFILE=long) with many more.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import graphql
import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from neo4j import Driver
from schemathesis import GenerationMode
from schemathesis.config import SchemathesisConfig

from caregraph.api.access.policy import VALUE_TYPES, for_role
from caregraph.api.app import MCP_PATH, create_app
from caregraph.api.auth import KeyStore, Role
from caregraph.api.mcp import TOOL_NAMES
from caregraph.api.settings import ApiSettings
from caregraph.graph import integrity
from caregraph.graph import schema as graph_schema
from caregraph.graph.settings import Neo4jSettings
from caregraph.loaders import registry
from caregraph.loaders.demo import load_demo
from caregraph.loaders.pipeline import expand
from caregraph.loaders.records import Identifier, Record
from caregraph.ontology.model import load_ontology
from caregraph.ontology.vocab import local_name
from tests.conftest import Figures, serving

ROOT = Path(__file__).resolve().parents[2]
SDL = ROOT / "api" / "schema.graphql"

# Profiles of their own names, picked by the variable tests/loaders/test_fuzz.py reads: loading
# a profile globally here would change that file's examples too.
_CHECKS = [HealthCheck.too_slow, HealthCheck.data_too_large]
settings.register_profile(
    "api-fuzz-ci",
    max_examples=40,  # GraphQL requests per role; MCP calls per tool and role: a fifth
    derandomize=True,  # CI sends the same requests every time: a landing never rides on luck
    deadline=None,  # a slow answer is the guardrails' business; a hang is bounded below
    suppress_health_check=_CHECKS,
)
settings.register_profile(
    "api-fuzz-long",
    max_examples=int(os.environ.get("CAREGRAPH_FUZZ_EXAMPLES", "1000")),  # make reliability's
    deadline=None,
    suppress_health_check=_CHECKS,
)
LONG = os.environ.get("HYPOTHESIS_PROFILE") == "long"
PROFILE = settings.get_profile("api-fuzz-long" if LONG else "api-fuzz-ci")
# the long run's thousands of requests take many minutes per test; in CI the first test also
# waits for the module's setup (every loader reading the demo), which on a 2-core machine
# shared with other work took up to five minutes: a hang is still caught, later
pytestmark = [pytest.mark.timeout(3 * 3600 if LONG else 900)]
MCP_PROFILE = settings(PROFILE, max_examples=max(1, PROFILE.max_examples // 5))
TIMEOUT_S = 120  # a request that takes this long is hung: fail, rather than wait for pytest's

# the codes an answer may carry (api/errors.py, api/access/refusals.py, api/bodies.py, the 401 of
# api/app.py); INTERNAL_ERROR is a fault of the service, SERVICE_UNAVAILABLE comes only when
# Neo4j is away and AUDIT_FAILED only when the audit cannot be written: nothing here causes
# either
DOCUMENTED = frozenset(
    {
        "BAD_REQUEST",
        "BAD_ARGUMENT",
        "AMBIGUOUS_IDENTIFIER",
        "SEARCH_TOO_BROAD",  # a patient search with fewer than two facts (api/search.py)
        "LIMIT_EXCEEDED",
        "FORBIDDEN_FIELD",
        "FORBIDDEN_ARGUMENT",
        "UNAUTHENTICATED",
        "PAYLOAD_TOO_LARGE",
        "DECISION_REFUSED",  # an identity decision that cannot be taken (api/review.py)
    }
)
# what no answer may show of the service's insides
INSIDES = {
    "a traceback": re.compile(r"Traceback \(most recent call last\)|^\s*File \"", re.M),
    "a file path": re.compile(r"(?<![\w:/.])/(?:[\w.-]+/)+[\w.-]+|site-packages|\w+\.py\b"),
    "an exception class": re.compile(r"\b[A-Z]\w*(?:Error|Exception)\b|\bNeo\.\w+Error\b"),
    "Cypher": re.compile(r"\b(?:MATCH|UNWIND|MERGE|RETURN|DETACH DELETE)\b|\bCALL \{"),
}


# -- what was loaded -------------------------------------------------------------------------

# record properties shown by a GraphQL field of another name (a part of a name or an address)
SHOWN_AS = {
    "familyName": "name.family",
    "givenNames": "name.given",
    "nameText": "name.text",
    "addressLine": "address.line",
    "city": "address.city",
    "postalCode": "address.postalCode",
    "state": "address.state",
    "country": "address.country",
}
MIN_LENGTH = 4  # shorter strings ("PA", "IMP", "IL") are parts of other values too
GQL = graphql.build_schema(SDL.read_text())
Value = str | float


def forms(value: object) -> Iterator[Value]:
    """How a loaded value can show in an answer: as it is; a token or a code without its
    system; an amount as a number and with two decimals (captions, adjustments, context)."""
    if isinstance(value, bool | int):
        return  # counts, sequence numbers, durations: every answer is full of small numbers
    if isinstance(value, float):
        yield value
        yield f"{value:.2f}"
    elif isinstance(value, list | tuple):
        for item in value:
            yield from forms(item)
    else:
        text = str(value)
        yield text
        if "|" in text:
            yield text.rsplit("|", 1)[1]
        if re.fullmatch(r"[A-Z]{2}-\w+:[\d.]+", text):  # an adjustment, CO-45:12.00
            yield text.rsplit(":", 1)[1]


@dataclass
class Loaded:
    """The values the loaders read from the demo's files, sorted per role into what it may
    read and what it may not; and identifiers to aim the lookups at, so that they find data."""

    hidden: dict[Role, set[Value]] = field(default_factory=dict)
    shown: dict[Role, set[Value]] = field(default_factory=dict)
    aims: dict[str, set[str]] = field(default_factory=dict)

    def sort(self, cls: str, name: str, value: object) -> None:
        for role in (Role.clinician, Role.billing, Role.analyst, Role.steward):
            policy = for_role(role)
            # a generalised field (an analyst's birth date, as a year) is hidden as it is
            readable = policy.allows(cls, name) and policy.generalisation(cls, name) is None
            target = self.shown if readable else self.hidden
            target.setdefault(role, set()).update(forms(value))

    def forbidden(self, role: Role) -> frozenset[Value]:
        """What a role must never see: hidden from it, and not also a value it may read (a
        patient's family name that is a practitioner's too, a city of a clinic); nothing for
        an admin."""
        return frozenset(
            v
            for v in self.hidden.get(role, set()) - self.shown.get(role, set())
            if isinstance(v, float) or len(v) >= MIN_LENGTH
        )

    def aim(self, cls: str, identifiers: tuple[Identifier, ...], props: dict[str, Any]) -> None:
        kind = {
            "Patient": "patient",
            "Encounter": "encounter",
            "ImagingStudy": "study",
            "Claim": "claim",
            "Practitioner": "practitioner",
            "Organization": "organization",
        }.get(cls)
        if kind is None:
            return
        # the API's own spellings of a lookup: tokens and bare values of identifiers, the
        # study's UID, the claim's control number, an NPI
        values = {i.token for i in identifiers} | {i.value for i in identifiers}
        for prop in ("studyInstanceUid", "controlNumber", "npi", "visitNumber"):
            if isinstance(props.get(prop), str):
                values.add(props[prop])
        self.aims.setdefault(kind, set()).update(values)


def read_loaded(folder: Path, sources: dict[str, list[str]]) -> Loaded:
    """Every value of every record of the demo's files, as the loaders read them."""
    loaded = Loaded()
    for source, paths in sources.items():
        for path in expand([folder / p for p in paths]):
            loader = registry.detect(path)
            assert loader is not None, path
            for item in loader.read(path, source):
                if not isinstance(item, Record):
                    continue
                loaded.sort("SourceRecord", "recordId", item.ref.record_id or "")
                loaded.sort("SourceRecord", "file", item.ref.file)
                for node in item.nodes:
                    cls = local_name(node.cls)
                    typ = GQL.get_type(cls)
                    fields = (
                        set(typ.fields) if isinstance(typ, graphql.GraphQLObjectType) else set()
                    )
                    props = {local_name(k): v for k, v in node.props.items()}
                    for prop, value in props.items():
                        name = SHOWN_AS.get(prop, prop)
                        if name.partition(".")[0] in fields:  # else the API never shows it
                            loaded.sort(cls, name, value)
                    for ident in node.identifiers:
                        if "identifiers" in fields:
                            loaded.sort(cls, "identifiers", [ident.token, ident.value])
                    loaded.aim(cls, node.identifiers, props)
    return loaded


# -- the service -----------------------------------------------------------------------------


@dataclass
class Service:
    base: str
    keys: dict[Role, str]
    loaded: Loaded
    patient0: dict[str, Any]  # the manifest's facts of the demo's first patient


@pytest.fixture(scope="module")
def service(
    driver: Driver, neo4j_conn: Neo4jSettings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Service]:
    """The demo health system (12 patients in every format, each source loaded on its own) in
    the session's Neo4j, a key of each role, and the API on uvicorn on a free port."""
    database = neo4j_conn.database
    folder = tmp_path_factory.mktemp("api-fuzz-demo")
    integrity.wipe(driver, database)
    graph_schema.apply(driver, database, load_ontology(), force=True)
    reports = load_demo(driver, database, folder)
    assert all(r.exit_code == 0 for r in reports), [r.as_json()["rejects"] for r in reports]
    manifest = json.loads((folder / "manifest.json").read_text())
    loaded = read_loaded(folder, manifest["sources"])
    store = KeyStore(driver, database)
    keys = {role: store.create(role, f"fuzz-{role.value}") for role in Role}

    # reads get a generous deadline: on a busy 2-core machine a cold read can take longer
    # than the default 10 s, and the refusal (LIMIT_EXCEEDED) would leave the checks nothing
    # to look at; the timeout itself is tested in tests/api/test_limits.py
    app = create_app(neo4j_conn, ApiSettings(query_timeout_s=60))
    with serving(app, start_timeout_s=60) as url:
        yield Service(url, keys, loaded, manifest["expected"]["patient0"])


# -- what every answer must be ---------------------------------------------------------------


@dataclass
class Tally:
    """What one role's fuzzing sent and got back."""

    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    codes: Counter[str] = field(default_factory=Counter)
    with_data: int = 0  # answers that found patient data: the leak checks had work to do

    def figures(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "status_counts": {str(k): v for k, v in sorted(self.statuses.items())},
            "errors_by_code": dict(sorted(self.codes.items())),
            "answers_with_data": self.with_data,
        }


def values(body: Any) -> Iterator[Value]:
    """Every string and float in a JSON value (not its keys: the caller's own aliases)."""
    if isinstance(body, dict):
        for v in body.values():
            yield from values(v)
    elif isinstance(body, list):
        for v in body:
            yield from values(v)
    elif isinstance(body, str | float) and not isinstance(body, bool):
        yield body


class Leaks:
    """Finds the values a role may not see in an answer: a float as a number, a string as a
    whole word of any string (not inside a longer number or word)."""

    def __init__(self, forbidden: frozenset[Value]) -> None:
        self.numbers = {v for v in forbidden if isinstance(v, float)}
        words = sorted((v for v in forbidden if isinstance(v, str)), key=len, reverse=True)
        alternatives = "|".join(re.escape(w) for w in words) or r"(?!)"
        self.words = re.compile(rf"(?<![0-9A-Za-z.])({alternatives})(?![0-9A-Za-z]|\.\d)")

    def __call__(self, body: Any) -> list[str]:
        found: list[str] = []
        for v in values(body):
            if isinstance(v, float):
                if v in self.numbers:
                    found.append(repr(v))
            else:
                found += self.words.findall(v)
        return sorted(set(found))


def check_insides(text: str, where: str) -> None:
    for what, pattern in INSIDES.items():
        match = pattern.search(text)
        assert match is None, f"{where}: {what} ({match.group(0)!r}) in {text[:2000]}"


def check_graphql_errors(errors: list[dict[str, Any]], tally: Tally, where: str) -> None:
    for error in errors:
        code = (error.get("extensions") or {}).get("code")
        tally.codes[str(code)] += 1
        assert code in DOCUMENTED, f"{where}: an error without a documented code: {error}"
    check_insides(json.dumps(errors, ensure_ascii=False), where)


def found_data(data: Any) -> bool:
    """Whether a lookup found something (beyond the service's versions and the ontology)."""
    if not isinstance(data, dict):
        return False
    return any(v for k, v in data.items() if k not in ("service", "ontology"))


def test_the_leak_checks_find_in_an_admins_answer_what_each_role_may_not_see(
    service: Service,
) -> None:
    # the checks below pass only if they can fail: an admin reads everything, so the same
    # answer shown to another role would be a leak, and the checks must say which values
    first = service.patient0["encounters"][0]
    query = """query($npi: String!) { practitioner(npi: $npi) { encounters(first: 100) {
      edges { node { display encounterType visitNumber
        patient { key display name { family given } birthDate identifiers { token } }
        claims { edges { node { controlNumber totalCharge
          remittances { edges { node { paymentAmount adjustments } } } } } } } } } } }"""
    response = requests.post(
        f"{service.base}/graphql",
        json={"query": query, "variables": {"npi": first["practitionerNpi"]}},
        headers={"Authorization": f"Bearer {service.keys[Role.admin]}"},
        timeout=TIMEOUT_S,
    )
    body = response.json()
    assert "errors" not in body, body
    seen = {role: Leaks(service.loaded.forbidden(role))(body) for role in Role}

    def found(role: Role, *wanted: object) -> bool:  # the longest match names a leak
        return all(any(str(w) in leak for leak in seen[role]) for w in wanted)

    p0 = service.patient0
    assert found(Role.analyst, p0["familyName"].upper(), p0["mrn"], p0["birthDate"]), seen
    assert found(Role.analyst, first["visitNumber"], p0["memberId"]), seen
    assert found(Role.clinician, first["claim"]["totalCharge"]), seen  # a Float, as a number
    assert seen[Role.billing], "the visits' types are clinical detail, hidden from billing"
    assert not seen[Role.admin]
    # and what a role may read is not taken for a leak: an analyst sees the birth year
    assert not Leaks(service.loaded.forbidden(Role.analyst))({"birthDate": p0["birthDate"][:4]})


# -- GraphQL ---------------------------------------------------------------------------------

# lookups and what they look up: most generated values are the loaded identifiers, so that
# the fuzzing reaches data; the rest of every query is schemathesis's own
AIMED = {
    "Query.patient.identifier": "patient",
    "Query.patientContext.identifier": "patient",
    "Query.explainLink.a": "patient",
    "Query.explainLink.b": "encounter",
    "Query.auditLog.patient": "patient",
    "Query.encounter.identifier": "encounter",
    "Query.imagingStudy.studyInstanceUid": "study",
    "Query.claim.controlNumber": "claim",
    "Query.practitioner.npi": "practitioner",
    "Query.organization.npi": "organization",
    "Mutation.splitPatient.patient": "patient",
    "Query.patients.identifierValue": "patient",  # a search that finds someone
}


def mostly(usual: st.SearchStrategy[Any], rare: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``usual`` about three times in four, else ``rare`` (st.one_of would make it one in
    two; hypothesis favours the first of a sample, so ``rare`` comes last)."""
    return st.sampled_from((usual, usual, usual, rare)).flatmap(lambda s: s)


OFFSETS = [UTC, timezone(timedelta(hours=-5)), timezone(timedelta(hours=5, minutes=30))]
# DateTime arguments: times in and around the demo's years, with an offset, and now and then
# something that is no time at all (BAD_ARGUMENT)
DATETIMES = mostly(
    st.datetimes(
        datetime(1900, 1, 1), datetime(2100, 1, 1), timezones=st.sampled_from(OFFSETS)
    ).map(datetime.isoformat),
    st.text(max_size=30),
)
schemathesis.graphql.scalar("DateTime", DATETIMES.map(schemathesis.graphql.nodes.String))


def readable_sdl(role: Role) -> str:
    """The schema as far as a role may read it: the fields its policy hides taken out (of an
    interface, the fields hidden on any type that implements it), so that queries generated
    from it are ones the role may ask, and get answered: the answers are where a leak would
    be. Value types (names, addresses) are their owners' business and stay whole, and so does
    a type the role may read nothing of (no field refers to it any more)."""
    policy = for_role(role)
    schema = graphql.build_schema(SDL.read_text())
    for typ in schema.type_map.values():
        if typ.name.startswith("__") or typ.name in VALUE_TYPES:
            continue
        if isinstance(typ, graphql.GraphQLObjectType):
            concrete = [typ.name]
        elif isinstance(typ, graphql.GraphQLInterfaceType):
            concrete = [t.name for t in schema.get_possible_types(typ)]
        else:
            continue
        hidden = [f for f in typ.fields if not all(policy.allows(t, f) for t in concrete)]
        if len(hidden) < len(typ.fields):
            for name in hidden:
                del typ.fields[name]
    return graphql.print_schema(schema)


def graphql_cases(loaded: Loaded, role: Role) -> st.SearchStrategy[Any]:
    """Queries over every root field of the committed SDL (tests/api/test_sdl.py holds it to
    the served schema), and over the part of it the role may read; one in four with a value
    of a wrong type."""
    config = SchemathesisConfig.from_dict(
        {
            "dictionaries": {
                **{k: {"values": sorted(v)} for k, v in loaded.aims.items()},
                "pages": {"values": [0, 1, 2, 5, 20, 100]},
            },
            "parameters": {
                **{
                    argument: {"dictionary": kind, "probability": 0.9}
                    for argument, kind in AIMED.items()
                },
                # page sizes a client asks for, most of the time; the rest any Int, which
                # the page-size limit or BAD_ARGUMENT refuses
                "*.*.first": {"dictionary": "pages", "probability": 0.75},
            },
        }
    )
    whole = schemathesis.graphql.from_path(SDL, config=config)
    readable = schemathesis.graphql.from_file(readable_sdl(role), config=config)
    valid = st.one_of(
        whole.as_strategy(GenerationMode.POSITIVE), readable.as_strategy(GenerationMode.POSITIVE)
    )
    return mostly(valid, whole.as_strategy(GenerationMode.NEGATIVE))


@pytest.mark.parametrize("role", list(Role), ids=[r.value for r in Role])
def test_every_graphql_answer_is_documented_and_shows_only_what_the_role_may_read(
    role: Role, service: Service, figures: Figures
) -> None:
    leaks = Leaks(service.loaded.forbidden(role))
    headers = {"Authorization": f"Bearer {service.keys[role]}"}
    tally = Tally()
    session = requests.Session()

    @settings(PROFILE)
    @given(case=graphql_cases(service.loaded, role))
    def fuzz(case: Any) -> None:
        response = case.call(
            base_url=f"{service.base}/graphql", session=session, headers=headers, timeout=TIMEOUT_S
        )
        tally.requests += 1
        tally.statuses[response.status_code] += 1
        where = f"{role.value} asked\n{case.body}\nand got {response.status_code}"
        assert response.status_code < 500, f"{where}: {response.text}"
        body = response.json()
        assert isinstance(body, dict) and body.keys() & {"data", "errors"}, f"{where}: {body}"
        check_graphql_errors(body.get("errors") or [], tally, where)
        tally.with_data += found_data(body.get("data"))
        shown = leaks(body)
        assert not shown, f"{where}: {role.value} was shown {shown}: {body}"

    fuzz()
    figures("api-fuzz", role=role.value, channel="graphql", **tally.figures())
    assert tally.with_data > 0, "no query found data: the leak checks had nothing to check"


# -- MCP -------------------------------------------------------------------------------------

MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
# what each tool argument names, to aim it at loaded identifiers
ARGUMENT_AIMS = {
    ("encounter_context", "identifier"): "encounter",
    ("practitioner_context", "npi"): "practitioner",
    ("explain_link", "b"): "encounter",
}
CLASS_NAMES = ["Patient", "Encounter", "hasEncounter", "birthDate", "Claim", "totalCharge"]
_CODE = re.compile(r"\[([A-Z_]+)\]")
UNCODED = {
    "(arguments refused by the tool's schema)": re.compile(
        r"Error executing tool \w+: \d+ validation errors? for \w+"
    ),
    "(no such ontology term)": re.compile(
        r"Error executing tool ontology_lookup: the ontology has no class or property named"
    ),
}


def argument(schema: dict[str, Any], aim: list[str]) -> st.SearchStrategy[Any]:
    """Values for one argument, from its JSON Schema (the few shapes the tools use)."""
    if "anyOf" in schema:
        return st.one_of([argument(s, aim) for s in schema["anyOf"]])
    kind = schema.get("type")
    if kind == "null":
        return st.none()
    if kind == "integer":
        low = schema.get("minimum", -(2**31))
        return st.integers(low - 10, 2**31)  # a few below the minimum: refused, not a fault
    if schema.get("format") == "date-time":
        return DATETIMES
    assert kind == "string", schema
    text = st.text(max_size=40)
    return st.one_of(st.sampled_from(aim), text) if aim else text


def tool_arguments(tool: dict[str, Any], loaded: Loaded) -> st.SearchStrategy[dict[str, Any]]:
    """A tool's arguments: the required ones always, the others now and then."""
    name, schema = tool["name"], tool["inputSchema"]
    properties = {}
    for prop, prop_schema in schema["properties"].items():
        kind = ARGUMENT_AIMS.get((name, prop), "patient")
        aim = CLASS_NAMES if prop == "name" else sorted(loaded.aims.get(kind, ()))
        properties[prop] = argument(prop_schema, aim)
    required = set(schema.get("required", ()))
    return st.fixed_dictionaries(
        {k: v for k, v in properties.items() if k in required},
        optional={k: v for k, v in properties.items() if k not in required},
    )


@dataclass
class McpCaller:
    """One role's MCP calls over HTTP, each a JSON-RPC request of its own (the service's MCP
    is stateless: every request is authenticated on its own), and what they got."""

    client: httpx.Client
    url: str
    role: Role
    leaks: Leaks
    tally: Tally = field(default_factory=Tally)

    def rpc(self, method: str, params: dict[str, Any]) -> httpx.Response:
        message = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
        return self.client.post(self.url, json=message)

    def call(self, name: str, arguments: dict[str, Any]) -> None:
        """Call a tool and check its answer as every answer is checked."""
        response = self.rpc("tools/call", {"name": name, "arguments": arguments})
        self.tally.requests += 1
        self.tally.statuses[response.status_code] += 1
        where = f"{self.role.value} called {name}({arguments}) and got {response.status_code}"
        assert response.status_code < 500, f"{where}: {response.text}"
        body = response.json()
        assert body.keys() & {"result", "error"}, f"{where}: {body}"
        result = body.get("result") or {}
        texts = [c.get("text", "") for c in result.get("content", [])]
        if "error" in body or result.get("isError"):
            check_insides(json.dumps([body.get("error"), texts], ensure_ascii=False), where)
            # a refusal of the GraphQL operation behind a tool ends with its [CODE]s; only the
            # MCP SDK's refusal of arguments its JSON Schema does not accept, and a name the
            # ontology lacks, say none (a crash would say only "Error executing tool NAME")
            text = " ".join(texts)
            codes = _CODE.findall(text) or [u for u, p in UNCODED.items() if p.match(text)]
            self.tally.codes.update(codes)
            assert codes, f"{where}: an error without a documented code: {body}"
            assert set(codes) <= DOCUMENTED | set(UNCODED), f"{where}: {body}"
        else:
            self.tally.with_data += found_data(result.get("structuredContent"))
        shown = self.leaks(body) + self.leaks([_parsed(t) for t in texts])
        assert not shown, f"{where}: {self.role.value} was shown {shown}: {body}"

    def fuzz(self, tool: dict[str, Any], loaded: Loaded) -> None:
        @settings(MCP_PROFILE)
        @given(arguments=tool_arguments(tool, loaded))
        def fuzz(arguments: dict[str, Any]) -> None:
            self.call(tool["name"], arguments)

        fuzz()


def _parsed(text: str) -> Any:
    """A tool's text content: its data as JSON, or a message."""
    try:
        return json.loads(text)
    except ValueError:
        return text


@pytest.mark.parametrize("role", list(Role), ids=[r.value for r in Role])
def test_every_mcp_tool_answers_each_role_without_a_fault_or_a_leak(
    role: Role, service: Service, figures: Figures
) -> None:
    leaks = Leaks(service.loaded.forbidden(role))
    headers = {**MCP_HEADERS, "Authorization": f"Bearer {service.keys[role]}"}
    with httpx.Client(headers=headers, timeout=TIMEOUT_S) as client:
        mcp = McpCaller(client, f"{service.base}{MCP_PATH}", role, leaks)
        listed = mcp.rpc("tools/list", {})
        assert listed.status_code == 200, listed.text
        tools = listed.json()["result"]["tools"]
        assert sorted(t["name"] for t in tools) == sorted(TOOL_NAMES)
        for tool in tools:
            mcp.fuzz(tool, service.loaded)
    figures("api-fuzz", role=role.value, channel="mcp", **mcp.tally.figures())
    assert mcp.tally.requests >= len(TOOL_NAMES) * MCP_PROFILE.max_examples // 2
    assert mcp.tally.with_data > 0, "no call found data: the leak checks had nothing to check"
