"""Which agency gets a loan: those serving its jurisdiction (and its region, for an agency
that serves some regions only) with room left, by weighted share.

A loan whose lender reported no region can go to any agency of its jurisdiction.

Weighted rendezvous hashing: each eligible agency scores ``-ln(u) / share`` with ``u`` a stable
hash of (loan, agency) in (0, 1); the lowest score wins. An agency's chance is its share of the
eligible agencies' shares, the answer is the same on every replica and run, and an agency
joining or leaving moves only the loans it wins or held.
"""

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from services.agency_gateway.domain.policy import stable_hash

_SCALE = float(2**64)


@dataclass(frozen=True)
class AgencyLoad:
    agency_id: str
    jurisdictions: frozenset[str]
    regions: frozenset[str]  # none: the whole of its jurisdictions
    capacity: int
    share: int
    open_accounts: int

    @property
    def has_room(self) -> bool:
        return self.open_accounts < self.capacity

    def serves(self, jurisdiction: str, region: str | None) -> bool:
        if jurisdiction not in self.jurisdictions:
            return False
        return region is None or not self.regions or region in self.regions


@dataclass(frozen=True)
class Allocation:
    agency_id: str
    share: int
    eligible_shares: int
    eligible: int


def allocate(
    loan_key: str,
    jurisdiction: str,
    region: str | None,
    agencies: Sequence[AgencyLoad],
    avoid: Collection[str] = (),
) -> Allocation | None:
    """The agency for ``loan_key``, avoiding those that held it before; None if none can."""
    eligible = [
        a
        for a in agencies
        if a.serves(jurisdiction, region)
        and a.has_room
        and a.share > 0
        and a.agency_id not in avoid
    ]
    if not eligible:
        return None
    chosen = min(eligible, key=lambda a: (_score(loan_key, a), a.agency_id))
    return Allocation(chosen.agency_id, chosen.share, sum(a.share for a in eligible), len(eligible))


def _score(loan_key: str, agency: AgencyLoad) -> float:
    u = (stable_hash(f"{loan_key}|{agency.agency_id}") + 0.5) / _SCALE
    return -math.log(u) / agency.share
