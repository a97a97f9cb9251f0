"""A patient, with the visits, appointments, images, claims and coverage around them."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from caregraph.api import paths
from caregraph.api.connections import PATH, Connection, connect
from caregraph.api.context import Context
from caregraph.api.types import registry, values
from caregraph.api.types.address import Address
from caregraph.api.types.args import After, First, From, To
from caregraph.api.types.entity import Entity, Event
from caregraph.api.types.fields import composite, connection, stored
from caregraph.api.types.human_name import HumanName
from caregraph.ontology.vocab import CG

EVENT_TYPES = (
    "Encounter",
    "Appointment",
    "ImagingStudy",
    "ServiceRequest",
    "Claim",
    "Remittance",
    "Condition",
    "Procedure",
)


@strawberry.type(description="A patient (FHIR Patient).")
class Patient(Entity):
    name: HumanName | None = composite(HumanName)
    birth_date: str | None = stored(values.day, "YYYY-MM-DD (or YYYY, YYYY-MM).")
    gender: str | None = stored(description="male | female | other | unknown")
    deceased: bool | None = stored(values.boolean)
    address: Address | None = composite(Address)

    encounters = connection(
        "Patient.encounters", "Encounter", "Visits, oldest first.", window=True, codes=True
    )

    appointments = connection(
        "Patient.appointments", "Appointment", "Appointments, earliest first.", window=True
    )

    imaging_studies = connection(
        "Patient.imagingStudies",
        "ImagingStudy",
        "Imaging studies, oldest first.",
        window=True,
        codes=True,
    )

    claims = connection(
        "Patient.claims", "Claim", "Claims, by service date, oldest first.", window=True, codes=True
    )

    coverages = connection(
        "Patient.coverages", "Coverage", "Insurance coverages, by start.", window=True
    )

    service_requests = connection(
        "Patient.serviceRequests",
        "ServiceRequest",
        "Orders (service requests), oldest first.",
        window=True,
    )

    conditions = connection(
        "Patient.conditions",
        "Condition",
        "Diagnoses and problems, by onset (else when recorded), oldest first.",
        window=True,
        codes=True,
    )

    procedures = connection(
        "Patient.procedures",
        "Procedure",
        "Procedures performed, oldest first.",
        window=True,
        codes=True,
    )

    @strawberry.field(
        description="Events of any kind, found through the ontology: `kind` is an event class "
        "(Event, ClinicalEvent, FinancialEvent, SchedulingEvent, Encounter ...) by name or "
        "label, and every subclass of it counts. One timeline, oldest first, each event once.",
        metadata={PATH: "events"},
    )
    def events(
        self,
        info: Info[Context, None],
        kind: str = "Event",
        first: First = None,
        after: After = None,
        from_: From = None,
        to: To = None,
    ) -> Connection[Event]:
        # not a coroutine function: the kind and the page's arguments are checked when it is
        # called, the page read when graphql-core awaits what it returns (api/connections.py)
        path = paths.events(CG.Patient, paths.event_kind(kind))
        return connect(  # type: ignore[return-value]
            info, self._handle, path, registry.specific(EVENT_TYPES, "GenericEvent"),
            first=first, after=after, start=from_, end=to,
        )  # fmt: skip


registry.register("Patient", Patient.from_record)
