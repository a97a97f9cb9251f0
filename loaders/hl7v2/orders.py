"""ORM O01 and ORU R01: the orders (ORC/OBR) behind imaging and lab work, with accessions.

Accession number: OBR-18 (placer field 1) when the sender fills it, which is where IHE
Radiology Scheduled Workflow puts it; otherwise the filler order number (ORC-3, else OBR-3),
because the order filler (the RIS) is the system that assigns accession numbers and many
feeds send no OBR-18 (the shared ORM samples do not). For the same reason the issuer is the
filler order number's assigning authority (EI.2/EI.3) in both cases, and is left out when the
filler number has none. OBX results are not modelled.
"""

from __future__ import annotations

from caregraph.loaders.hl7v2.assemble import MessageBuilder
from caregraph.loaders.hl7v2.clinical import add_clinical
from caregraph.loaders.hl7v2.datatypes import coded, ei, issuer, practitioner, put
from caregraph.loaders.hl7v2.errors import MissingValue
from caregraph.loaders.hl7v2.segments import EMPTY, Message, Rep, Seg
from caregraph.loaders.hl7v2.visits import numbered_visit, patient
from caregraph.loaders.records import Node, Props, Ref
from caregraph.ontology.vocab import CG

EVENTS = {"ORM": ("O01",), "ORU": ("R01",)}
# ORC-5 order status (HL7 table 0038) -> FHIR ServiceRequest status.
ORDER_STATUS = {
    "A": "active",
    "IP": "active",
    "SC": "active",
    "CM": "completed",
    "CA": "revoked",
    "DC": "revoked",
    "RP": "revoked",
    "HD": "on-hold",
    "ER": "entered-in-error",
}
# ORC-1 order control (HL7 table 0119), read when ORC-5 is empty.
CONTROL_STATUS = {
    "NW": "active",
    "OK": "active",
    "XO": "active",
    "XR": "active",
    "RL": "active",
    "CA": "revoked",
    "OC": "revoked",
    "CR": "revoked",
    "DC": "revoked",
    "OD": "revoked",
    "DR": "revoked",
    "HD": "on-hold",
    "OH": "on-hold",
}


def read(msg: Message, source: str) -> MessageBuilder:
    """PID HAS_SERVICE_REQUEST each order; orders FOR_ENCOUNTER the visit, REFERRED_BY orderer."""
    if not _groups(msg):
        msg.need("ORC" if msg.header.code == "ORM" else "OBR")
    b = MessageBuilder()
    pid = msg.first("PID")
    pat = patient(b, pid, source) if pid else None
    enc = numbered_visit(b, msg.first("PV1"), pat, source)
    add_orders(b, msg, source, pat, enc)
    add_clinical(b, msg, source, pat, enc)
    return b


def add_orders(
    b: MessageBuilder, msg: Message, source: str, pat: Ref | None, enc: Ref | None
) -> None:
    """Each ORC/OBR group of ``msg`` as a ServiceRequest of ``pat`` for ``enc``."""
    for orc, obr in _groups(msg):
        _order(b, orc, obr, source, pat, enc)


def _groups(msg: Message) -> list[tuple[Seg | None, Seg | None]]:
    """Each ORC with the OBR after it; an OBR without its own ORC stands alone."""
    groups: list[tuple[Seg | None, Seg | None]] = []
    for seg in msg.segs:
        if seg.id == "ORC":
            groups.append((seg, None))
        elif seg.id == "OBR":
            if groups and groups[-1][1] is None:
                groups[-1] = (groups[-1][0], seg)
            else:
                groups.append((None, seg))
    return groups


def _order(
    b: MessageBuilder,
    orc: Seg | None,
    obr: Seg | None,
    source: str,
    pat: Ref | None,
    enc: Ref | None,
) -> None:
    def field(seg: Seg | None, n: int) -> Rep:
        return seg.rep(n) if seg is not None else EMPTY

    placer_rep = field(orc, 2) or field(obr, 2)
    filler_rep = field(orc, 3) or field(obr, 3)
    placer = ei(placer_rep, source, "placer-order", "PLAC")
    filler = ei(filler_rep, source, "filler-order", "FILL")
    if placer is None and filler is None:
        raise MissingValue("ORC-2, ORC-3, OBR-2 and OBR-3", "placer and filler order number")
    props: Props = {}
    put(props, CG.placerOrderNumber, placer.value if placer else None)
    put(props, CG.fillerOrderNumber, filler.value if filler else None)
    accession = field(obr, 18).get(1) or (filler.value if filler else None)
    put(props, CG.accessionNumber, accession)
    if accession:
        put(
            props,
            CG.accessionIssuer,
            issuer(filler_rep.get(2), filler_rep.get(3), filler_rep.get(4)),
        )
    put(props, CG.procedureCode, coded(field(obr, 4), source))
    put(props, CG.description, field(obr, 4).get(2) or None)
    order_status = field(orc, 5).get(1).upper()
    status = ORDER_STATUS.get(order_status) or CONTROL_STATUS.get(field(orc, 1).get(1).upper())
    if order_status and order_status not in ORDER_STATUS:
        b.warn("unusual-value", "ORC-5 (order status) is not an HL7 table 0038 code: left out")
    put(props, CG.status, status)
    idents = tuple(i for i in (placer, filler) if i is not None)
    sr = b.add(Node(CG.ServiceRequest, idents[0].token, props, idents))
    if pat is not None:
        b.link(CG.hasServiceRequest, pat, sr)
    if enc is not None:
        b.link(CG.forEncounter, sr, enc)
    orderer = practitioner(field(orc, 12) or field(obr, 16), source)
    if orderer is not None:
        b.link(CG.referredBy, sr, b.add(orderer))
