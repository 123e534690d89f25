"""Array type aliases shared by every package: struct-of-arrays state is float64, indices are intp."""

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
IndexArray = NDArray[np.intp]
BoolArray = NDArray[np.bool_]
