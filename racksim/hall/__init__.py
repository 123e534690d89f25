"""Halls: rows of racks of one design sharing row feeders, an upstream UPS and in-row CDUs.

`racksim.hall.loader.load_target` loads a hall file (or a rack design, a hall of one); the layout
(`HallLayout`) maps racks to rows and CDUs; `racksim.hall.rows` holds the row physics. This package's
top level imports no design code, so `racksim.build` can import the layout.
"""

from racksim.hall.layout import HallLayout
from racksim.hall.schema import Hall, RowCdus, RowPower

__all__ = ["Hall", "HallLayout", "RowCdus", "RowPower"]
