"""Halls: rows of racks of one or more designs sharing row feeders, an upstream UPS and in-row CDUs.

`racksim.hall.loader.load_target` loads a hall file (or a rack design, a hall of one); the layout
(`HallLayout`) maps racks to rows and CDUs; `racksim.hall.rows` holds the row physics; a hall of several
designs runs group by group (`racksim.hall.mixed`) and merges the results (`racksim.hall.merge`). This package's
top level imports no design code, so `racksim.build` can import the layout.
"""

from racksim.hall.layout import HallLayout
from racksim.hall.schema import Hall, HallGroup, RowCdus, RowPower

__all__ = ["Hall", "HallGroup", "HallLayout", "RowCdus", "RowPower"]
