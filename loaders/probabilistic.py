"""The probabilistic identity stage: Fellegi-Sunter over the graph's patients, with Splink
on DuckDB, proposing pairs the deterministic rules (loaders/identity.py) left apart.

Why Splink: it is the maintained implementation of the model (m and u probabilities,
Bayes factors per comparison level, EM training without labels, blocking), and runs in
process on DuckDB; writing the model here would be a second, untested copy of it.

The model is trained on the graph's own records each run:

- the prior (the chance two random patients match) from two strict rules, taken to find
  80% of the matches: first given name and birth date equal, or family name, first given
  name and birth year equal (the exact duplicates are joined by the deterministic rules
  already, so a rule of every field equal would find none left);
- u (how often a comparison level occurs among non-matches) by random sampling;
- m (how often among matches) by expectation maximisation, twice, each blocked on one field
  so the other fields are learned: the birth date, then the birth year (TRAINING_BLOCKS).

Pairs are then scored within blocks (same birth year, same postal code, or same family
Soundex), and those above ``threshold`` written as (:MatchCandidate) nodes
(graph/candidates.py) with their evidence per field: the comparison level matched and its
Bayes factor. A pair a decision closed (rejected, accepted) is never proposed again.

Compared fields: folded family name, first given name and second given name (Jaro-Winkler
levels, ``NameComparison``), birth date (exact, one edit such as two digits swapped, day and
month swapped, else: :func:`_birth_date`), gender and the postal code's first five
characters (exact).
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import jellyfish
import pandas as pd
import splink.comparison_level_library as cll
import splink.comparison_library as cl
from neo4j import Driver
from splink import DuckDBAPI, Linker, SettingsCreator, block_on
from splink.internals.exceptions import EMTrainingException  # no public alias in Splink 4

from caregraph.graph import candidates as store
from caregraph.graph import stewardship
from caregraph.graph.candidates import Candidate, PatientRecord
from caregraph.loaders.identity import ProbabilisticConfig

log = logging.getLogger("caregraph.identity")

AUTO_ACTOR = "caregraph identity candidates"
FIELDS = ("family", "given", "middle", "birth_date", "gender", "postal")
MIN_RECORDS = 4  # fewer cannot train a model
# EM's passes, each blocked on what it does not learn: the names, sex and postal code among
# patients born the same day; the birth date among patients born the same year. (Blocked on
# the family name's Soundex, EM takes the many namesakes of a small name pool for matches
# and learns that a birth date years apart says little: it proposed a namesake.)
TRAINING_BLOCKS = (("birth_date",), ("birth_year",))
# the birth date's m to start from, per level: exact, one edit, day and month swapped, else
DATE_M = [0.9, 0.07, 0.02, 0.01]


@dataclass(frozen=True)
class CandidateRun:
    """What one run did."""

    run_id: str
    patients: int
    proposed: int  # pairs above the threshold, less those a decision closed
    written: int
    removed: int  # open candidates of earlier runs not proposed again
    seconds: float
    merged: int = 0  # pairs merged without review (auto_merge)

    def as_json(self) -> dict[str, Any]:
        return {
            "runId": self.run_id, "patients": self.patients, "proposed": self.proposed,
            "written": self.written, "removed": self.removed, "merged": self.merged,
            "seconds": round(self.seconds, 2),
        }  # fmt: skip


def frame(records: Iterable[PatientRecord]) -> pd.DataFrame:
    """The patients as Splink's input: one row each, the fields compared and blocked on."""
    rows = []
    for r in records:
        # YYYYMMDD: two digits swapped across the month and the day ("0812" for "0821",
        # "0182") are one edit apart as they were typed, not two as with a hyphen between
        birth = r.birth_date.replace("-", "") if r.birth_date and len(r.birth_date) == 10 else None
        rows.append(
            {
                "unique_id": r.key,
                "family": r.family,
                "given": r.given[0] if r.given else None,
                "middle": r.given[1] if len(r.given) > 1 else None,
                "birth_date": birth,
                "birth_year": r.birth_date[:4] if r.birth_date else None,
                "gender": r.gender if r.gender not in (None, "unknown") else None,
                "postal": r.postal_code[:5] if r.postal_code else None,
                "family_soundex": jellyfish.soundex(r.family) if r.family else None,
            }
        )
    return pd.DataFrame(rows)


def _settings() -> SettingsCreator:
    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        comparisons=[
            cl.NameComparison("family"),
            cl.NameComparison("given"),
            cl.NameComparison("middle"),
            _birth_date(),
            cl.ExactMatch("gender"),
            cl.ExactMatch("postal"),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("birth_year"),
            block_on("postal"),
            block_on("family_soundex"),
        ],
        retain_intermediate_calculation_columns=True,
    )


# the birth date as YYYYMMDD, left and right, in Splink's pair table
_DAY_MONTH_SWAPPED = (
    "substr(birth_date_l, 1, 4) = substr(birth_date_r, 1, 4) "
    "AND substr(birth_date_l, 5, 2) = substr(birth_date_r, 7, 2) "
    "AND substr(birth_date_l, 7, 2) = substr(birth_date_r, 5, 2)"
)


def _birth_date() -> cl.CustomComparison:
    """Birth dates (YYYYMMDD): exact; one edit (a typo, two adjacent digits swapped: "0812"
    for "0821", "0182"); the day and the month swapped (07-05 for 05-07); else: a birth date
    years apart is another person (a namesake), whatever the names say.

    Written with Splink's level library rather than its DateOfBirthComparison, whose "within
    a month" level reads the dates as YYYY-MM-DD whatever format it is given, and whose
    one-edit level on YYYY-MM-DD counts a swap across the hyphen as two. The m of "else"
    rarely shows among the pairs EM takes for matches, which leaves it untrained: the levels
    start from what registration errors are known to be (DATE_M), and EM's estimates, where
    there are some, replace them."""
    return cl.CustomComparison(
        output_column_name="birth_date",
        comparison_description="birth date",
        comparison_levels=[
            cll.NullLevel("birth_date"),
            cll.ExactMatchLevel("birth_date").configure(m_probability=DATE_M[0]),
            cll.DamerauLevenshteinLevel("birth_date", 1).configure(m_probability=DATE_M[1]),
            cll.CustomLevel(_DAY_MONTH_SWAPPED, "day and month swapped").configure(
                m_probability=DATE_M[2]
            ),
            cll.ElseLevel().configure(m_probability=DATE_M[3]),
        ],
    )


def _levels(linker: Linker) -> dict[tuple[str, int], str]:
    """(field, comparison vector value) -> the level's label, for the evidence."""
    out: dict[tuple[str, int], str] = {}
    settings = linker._settings_obj  # Splink 4 has no public accessor for it
    for comparison in settings.comparisons:
        name = comparison.output_column_name
        for level in comparison.comparison_levels:
            out[(name, int(level.comparison_vector_value))] = str(level.label_for_charts)
    return out


def score(df: pd.DataFrame, config: ProbabilisticConfig) -> list[Candidate]:
    """The pairs above the threshold, each with its evidence per field."""
    if len(df) < MIN_RECORDS:
        return []
    linker = Linker(df, _settings(), db_api=DuckDBAPI())
    training = linker.training
    training.estimate_probability_two_random_records_match(
        [block_on("given", "birth_date"), block_on("family", "given", "birth_year")],
        recall=config.prior_recall,
    )
    training.estimate_u_using_random_sampling(max_pairs=config.max_pairs_u, seed=config.seed)
    for rule in TRAINING_BLOCKS:
        try:
            training.estimate_parameters_using_expectation_maximisation(block_on(*rule))
        except EMTrainingException:
            # a small graph (or one whose duplicates are merged already) may have no two
            # patients sharing the block: that pass learns nothing, the m values stay at
            # their starting points, and the other pass still runs
            log.info("identity candidates: no pairs to train on blocked by %s", rule)
    predicted = linker.inference.predict(threshold_match_probability=config.threshold)
    pairs = predicted.as_pandas_dataframe()  # type: ignore[no-untyped-call]  # Splink's own
    levels = _levels(linker)
    out = []
    for row in pairs.itertuples(index=False):
        r = row._asdict()
        a, b = sorted((str(r["unique_id_l"]), str(r["unique_id_r"])))
        evidence = {}
        for name in FIELDS:
            if f"gamma_{name}" not in r:
                # Splink leaves out of its output a comparison the model could not train at
                # all (a pass without pairs): it weighed nothing in this pair's score
                continue
            gamma = int(r[f"gamma_{name}"])
            evidence[name] = {
                "level": levels.get((name, gamma), str(gamma)),
                "bayesFactor": round(float(r[f"bf_{name}"]), 4),
            }
        out.append(
            Candidate(
                a,
                b,
                round(float(r["match_probability"]), 6),
                round(float(r["match_weight"]), 4),
                json.dumps(evidence, sort_keys=True),
            )
        )
    return out


def run(driver: Driver, database: str, config: ProbabilisticConfig | None = None) -> CandidateRun:
    """Train on the graph's patients, score, and write the candidates."""
    config = config or ProbabilisticConfig()
    started = time.perf_counter()
    df = frame(store.patient_records(driver, database))
    found = score(df, config)
    closed = store.decided_pairs(driver, database)
    proposed = [c for c in found if (c.a, c.b) not in closed]
    run_id = uuid.uuid4().hex
    written, removed = store.write_candidates(driver, database, proposed, run_id)
    merged = 0
    if config.auto_merge is not None:
        merged = _auto_merge(driver, database, proposed, config.auto_merge)
    seconds = time.perf_counter() - started
    log.info(
        "identity candidates: %d patients, %d proposed, %d removed, %d merged in %.1f s",
        len(df), len(proposed), removed, merged, seconds,
    )  # fmt: skip
    return CandidateRun(run_id, len(df), len(proposed), written, removed, seconds, merged)


def _auto_merge(driver: Driver, database: str, proposed: list[Candidate], at: float) -> int:
    """Merge the pairs at least ``at`` probable, most probable first. A pair whose patient an
    earlier merge of this run absorbed is left open for review (its candidate is stale)."""
    merged = 0
    for c in sorted(proposed, key=lambda c: (-c.probability, c.key)):
        if c.probability < at:
            break
        try:
            stewardship.accept(
                driver,
                database,
                c.key,
                actor=AUTO_ACTOR,
                reason=f"match probability {c.probability:.4f} at least {at} (auto_merge)",
                rule=stewardship.AUTO_RULE,
            )
        except stewardship.DecisionError as e:
            log.info("identity candidates: a pair not merged automatically: %s", e.code)
            continue
        merged += 1
    return merged
