"""A hall compiled to index arrays (rack → row, rack → CDU) and row limits: what the engine and faults see."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

from racksim._types import FloatArray, IndexArray
from racksim.design.hall_schema import Hall, HallGroup
from racksim.physics.hall_power import HallPowerChain
from racksim.physics.rows import overloaded_racks, rack_cdus, rack_rows


@dataclass(frozen=True)
class HallLayout:
    """Where each rack sits and what limits its row; a lone rack (or a plain run of racks) has no row limits."""

    rack_row: IndexArray
    rack_cdu: IndexArray
    """Hall-wide in-row CDU of each rack (each rack its own CDU without in-row CDUs)."""
    row_capacity_w: FloatArray
    """Row feeder ratings (inf: no limit), W."""
    ups_capacity_w: float
    """UPS upstream of every row (inf: no limit), W."""
    trip_on_overload: bool
    """An overloaded row or UPS trips its racks (True) or caps them (False)."""
    racks_per_cdu: int = 1
    cdu_capacity_w: float | None = None
    """Heat one in-row CDU rejects at the design's approach (None: each rack's own CDU), W."""
    power: HallPowerChain | None = None
    """Row feeders' and UPS losses (racksim.physics.hall_power); None: lossless above the racks' feeds."""

    @property
    def stage_names(self) -> tuple[str, ...]:
        """The hall's loss stages above the racks ("row_feeder", "ups"), those modelled."""
        return self.power.stage_names if self.power is not None else ()

    @property
    def n_racks(self) -> int:
        """Racks in the hall."""
        return self.rack_row.size

    @property
    def n_rows(self) -> int:
        """Rows in the hall."""
        return self.row_capacity_w.size

    @property
    def has_row_limits(self) -> bool:
        """Whether a feeder or UPS rating can act."""
        return bool(np.isfinite(self.row_capacity_w).any()) or math.isfinite(self.ups_capacity_w)

    def overloaded(self, rack_feed_w: FloatArray) -> NDArray[np.bool_]:
        """Racks on a row feeder or UPS carrying more than its rating (racksim.physics.rows.overloaded_racks)."""
        return overloaded_racks(rack_feed_w, self.rack_row, self.row_capacity_w, self.ups_capacity_w)

    def cdu_racks(self, row: int, cdu: int) -> IndexArray | None:
        """Racks served by CDU `cdu` (counted within its row) of row `row`; None if there is no such CDU."""
        if not 0 <= row < self.n_rows:
            return None
        in_row = self.rack_row == row
        first = int(self.rack_cdu[in_row].min())
        racks = np.flatnonzero(in_row & (self.rack_cdu == first + cdu))
        return racks if racks.size else None

    @classmethod
    def plain(cls, n_racks: int = 1) -> HallLayout:
        """`n_racks` racks in one row with no row limits, each with its own CDU."""
        return cls(np.zeros(n_racks, dtype=np.intp), np.arange(n_racks, dtype=np.intp), np.full(1, np.inf),
                   math.inf, trip_on_overload=False)

    @classmethod
    def of(cls, hall: Hall, group: HallGroup | None = None, ups_capacity_w: float | None = None) -> HallLayout:
        """The layout of a hall of one design, or of one `group` of a hall with its UPS share.

        Racks split evenly over the rows, CDUs along each row.
        """
        racks, rows = (hall.rack_count, hall.row_count) if group is None else (group.racks, group.rows)
        rack_row = rack_rows(racks, rows)
        power, cdus = hall.row_power, hall.row_cdus
        if ups_capacity_w is None:
            ups_capacity_w = (power.ups_capacity_w or math.inf) if power else math.inf
        return cls(
            rack_row=rack_row,
            rack_cdu=rack_cdus(rack_row, cdus.racks_per_cdu if cdus else 1),
            row_capacity_w=np.full(rows, power.feeder_capacity_w if power else np.inf),
            ups_capacity_w=ups_capacity_w,
            trip_on_overload=power is not None and power.on_overload == "trip",
            racks_per_cdu=cdus.racks_per_cdu if cdus else 1,
            cdu_capacity_w=cdus.capacity_w if cdus else None,
            power=HallPowerChain.of(hall, n_rows=rows, ups_capacity_w=ups_capacity_w) if power else None,
        )

    @classmethod
    def joined(cls, layouts: Sequence[HallLayout]) -> HallLayout:
        """Group layouts side by side as one hall: racks, rows and CDUs numbered on, the UPS shares added."""
        first_row = np.cumsum([0] + [layout.n_rows for layout in layouts])
        first_cdu = np.cumsum([0] + [int(layout.rack_cdu.max()) + 1 for layout in layouts])
        return replace(
            layouts[0],
            rack_row=np.concatenate([layout.rack_row + first_row[i] for i, layout in enumerate(layouts)]),
            rack_cdu=np.concatenate([layout.rack_cdu + first_cdu[i] for i, layout in enumerate(layouts)]),
            row_capacity_w=np.concatenate([layout.row_capacity_w for layout in layouts]),
            ups_capacity_w=math.fsum(layout.ups_capacity_w for layout in layouts),
            power=HallPowerChain.joined([layout.power for layout in layouts if layout.power is not None]),
        )
