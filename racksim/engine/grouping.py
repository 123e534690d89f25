"""Racks in identical state, advanced as one: find the groups, pick a representative, expand it back.

A prototype (issue 9, "Beyond brute force"), not used by `Simulation` yet; benchmarks/test_beyond_brute_force.py
measures it on engine/event_advance.py's per-event advance (whose GroupedHall uses these functions). The racks
of a synchronous job in identical racks see identical inputs, and an advance in which each rack's arithmetic
reads only its own entries gives them identical results, bit for bit: one representative rack, carried with
its multiplicity, stands for the group. Groups are found from the bytes of the per-rack arrays given (inputs
and state), so anything that separates one rack from the others (a fault, a throttle, per-part variation,
even one ulp) splits its group, and a rack whose state comes back to the same bits rejoins it at the next
regroup. Arrays are rack-major: each rack's entries (chips, loops or the rack's own value) are contiguous.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
from numpy.typing import NDArray

from racksim._types import IndexArray

ArrayT = TypeVar("ArrayT", bound=np.ndarray[Any, Any])


@dataclass(frozen=True)
class Groups:
    """A partition of racks into groups of identical state, ordered by their lowest rack."""

    representative: IndexArray
    """Lowest rack of each group (the one whose entries the group carries)."""
    group_of_rack: IndexArray
    """Group index of every rack."""
    multiplicity: IndexArray
    """Racks in each group."""

    @property
    def n_racks(self) -> int:
        """Racks partitioned."""
        return self.group_of_rack.size

    @property
    def n_groups(self) -> int:
        """Groups (1 when every rack is alike, n_racks when none is)."""
        return self.representative.size


def find_groups(n_racks: int, *per_rack: NDArray[np.generic]) -> Groups:
    """Group racks whose entries are equal byte for byte in every array.

    Each array is rack-major over `n_racks` racks (per chip, per loop or per rack, of any dtype). Byte equality is
    stricter than value equality (−0.0 ≠ 0.0, equal NaNs match), which is what bit-identical advances need.
    """
    key = np.concatenate([np.ascontiguousarray(values).reshape(n_racks, -1).view(np.uint8).reshape(n_racks, -1)
                          for values in per_rack], axis=1)
    group_of_bytes: dict[bytes, int] = {}  # a loop over racks, not components: dict lookups hash each row once
    group_of_rack = np.fromiter((group_of_bytes.setdefault(row.tobytes(), len(group_of_bytes)) for row in key),
                                dtype=np.intp, count=n_racks)
    _, representative, multiplicity = np.unique(group_of_rack, return_index=True, return_counts=True)
    return Groups(representative=representative, group_of_rack=group_of_rack, multiplicity=multiplicity)


def rack_rows(values: ArrayT, racks: IndexArray, n_racks: int) -> ArrayT:
    """The entries of the given racks, in that order, from a 1-D rack-major array over `n_racks` racks.

    With `racks = groups.representative` it picks the representatives out of the whole hall; with
    `racks = groups.group_of_rack` (and `n_racks = groups.n_groups`) it expands representatives back to every rack.
    """
    return values.reshape(n_racks, -1)[racks].reshape(-1)  # type: ignore[return-value]  # same dtype


def weighted_total(per_group: NDArray[np.float64], groups: Groups) -> float:
    """Σ over every rack of a per-rack quantity held per group: Σ_g m_g · x_g."""
    return float((groups.multiplicity * per_group).sum())
