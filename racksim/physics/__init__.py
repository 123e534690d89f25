"""Physics: pure vectorized functions of the rack's struct-of-arrays state (power chain, thermal, supply, plant).

`arrays.build` compiles a checked design into that state; `operating_point.evaluate` solves the power chain
and the thermal steady state for one activity; the rest are the models it and the engine call.
"""
