"""The cabling plan of whole designs: a rack measured by hand, the NVL72 spine against published figures, the lane
rate moving links off copper, the power fed to the busbar, and bad cabling sections.

Published figures come from ../shared/reference/hardware.md (1a: GB200 NVL72, 4: networking and cabling).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from racksim.cabling import GROUPS, CablingPlan, cabling_metrics, plan_cabling
from racksim.design import Design
from racksim.design.loader import load_model
from racksim.errors import InputError
from racksim.physics.arrays import build
from racksim.run.loading import load_design

ROOT = Path(__file__).resolve().parent.parent
GB200 = ROOT / "designs" / "gb200-nvl72.yaml"
SMALL = ROOT / "tests" / "data" / "good_designs" / "small-cabling.yaml"
MILE_M = 1609.344


def group_rows(plan: CablingPlan, group: str) -> np.ndarray:
    return plan.group == GROUPS.index(group)


def medium_names(plan: CablingPlan, rows: np.ndarray) -> set[str]:
    return {plan.medium_names[m] for m in plan.medium[rows]}


@pytest.fixture(scope="module")
def gb200_plan() -> CablingPlan:
    return plan_cabling(load_design(GB200).design)


@pytest.fixture(scope="module")
def small_plan() -> CablingPlan:
    return plan_cabling(load_design(SMALL).design)


# --------------------------------------------------------------------------- a small rack measured by hand
# 48 mm pitch; a tray's ports sit at its mid-height: compute U9 at 8.5 × 48 = 408 mm, switch U10 at 456 mm,
# compute U11 at 504 mm, the management switch U12 at 552 mm; the top of the 12 U rack is at 576 mm.


def test_small_rack_scale_up_lengths(small_plan: CablingPlan) -> None:
    up = group_rows(small_plan, "scale_up")
    # Connector x 100 → column x 200 → switch connector x 300, 50 mm to the riser at both ends, 48 mm up or down
    # (both compute trays sit next to the switch tray), 0.1 m slack: (100 + 50 + 48 + 100 + 50) / 1000 + 0.1.
    assert small_plan.length_m[up] == pytest.approx(np.full(2 * 4 * 18, 0.448))
    # 144 links × 2 lanes × 2 directions = 576 pairs; 576 × 0.448 m = 258.048 m, all passive (reach 1.27 m).
    assert small_plan.cables[up].sum() == 576
    assert (small_plan.cables * small_plan.length_m)[up].sum() == pytest.approx(258.048)
    assert medium_names(small_plan, up) == {"passive_copper"}


def test_small_rack_scale_out_lengths(small_plan: CablingPlan) -> None:
    out = group_rows(small_plan, "scale_out")
    # NIC cages at x 50/150/250/350 to the side channel at x 0, 40 mm in front: 90/190/290/390 mm level run;
    # up 576 − 408 = 168 mm (lower tray) or 72 mm (upper tray); 0.2 m slack and 3 m on to the leaf.
    lower = [(h + 168) / 1000 + 3.2 for h in (90, 190, 290, 390)]  # 3.458, 3.558, 3.658, 3.758
    upper = [(h + 72) / 1000 + 3.2 for h in (90, 190, 290, 390)]  # 3.362, 3.462, 3.562, 3.662
    assert small_plan.length_m[out] == pytest.approx(lower + upper)
    # 3.36–3.76 m: beyond passive copper's 2.0 m at 100 G/lane, within active copper's 4.0 m.
    assert medium_names(small_plan, out) == {"active_copper"}
    # NIC end in the rack: 6 pJ/bit · 4 lanes · 100 Gb/s = 2.4 W per link; the leaf's end is outside.
    assert small_plan.power_w[out] == pytest.approx(np.full(8, 2.4))
    assert small_plan.remote_power_w[out].sum() == pytest.approx(19.2)


def test_small_rack_power_cords_and_totals(small_plan: CablingPlan) -> None:
    cords = group_rows(small_plan, "power")
    # Inlet x 50 → busbar x 268 (218 mm) + 30 mm back to it + 0.3 m slack = 0.548 m, two cords.
    assert small_plan.length_m[cords] == pytest.approx([0.548, 0.548])
    metrics = cabling_metrics(small_plan)
    assert metrics["cable_count"] == 576 + 8 + 2
    assert metrics["cable_length_m"] == pytest.approx(258.048 + sum(small_plan.length_m[group_rows(
        small_plan, "scale_out")]) + 2 * 0.548)
    assert metrics["active_cable_count"] == 8
    assert metrics["optical_link_count"] == 0
    assert metrics["power_w"] == pytest.approx(19.2)
    # FIT per lane and end × lanes × 2 ends × links: passive 2 × 2 × 2 × 144, active 20 × 4 × 2 × 8; cords 10 × 2.
    assert metrics["failure_rate_fit"] == pytest.approx(2 * 2 * 2 * 144 + 20 * 4 * 2 * 8 + 10 * 2)


def test_cabling_power_is_a_busbar_load() -> None:
    # The management switch's 200 W plus the 8 × 2.4 W of active-copper ends.
    assert build(load_design(SMALL).design).bus_load_w == pytest.approx([200.0 + 19.2])
    # GB200: 2 × 200 W management switches plus 72 NIC-side optics of 8.75 W.
    assert build(load_design(GB200).design, n_racks=2).bus_load_w == pytest.approx([1030.0, 1030.0])


# --------------------------------------------------------------------------- NVL72 against published figures


def test_nvl72_spine_cable_count(gb200_plan: CablingPlan) -> None:
    # hardware.md 1a: "the NVLink spine ... had to hold up to 5,000 copper cables" (S); D: 72 × 18 × 2 × 2 = 5,184.
    spine = group_rows(gb200_plan, "scale_up")
    assert gb200_plan.cables[spine].sum() == 5184
    assert abs(gb200_plan.cables[spine].sum() - 5000) <= 0.05 * 5000


def test_nvl72_spine_copper_length(gb200_plan: CablingPlan) -> None:
    # hardware.md 1a: "2 miles (3.2 km) of copper cabling" (S); "1.86 miles" elsewhere (S): wide tolerance.
    spine = group_rows(gb200_plan, "scale_up")
    length_m = float((gb200_plan.cables * gb200_plan.length_m)[spine].sum())
    assert abs(length_m - 3200) <= 0.15 * 3200
    assert 1.86 * MILE_M * 0.9 <= length_m <= 2 * MILE_M * 1.1


def test_nvl72_spine_is_all_passive_copper_at_200g(gb200_plan: CablingPlan) -> None:
    # hardware.md 1a: "NVLink passive copper cable cartridge backplane" (P) at 200 Gb/s per lane (S).
    spine = group_rows(gb200_plan, "scale_up")
    assert medium_names(gb200_plan, spine) == {"passive_copper"}
    assert gb200_plan.length_m[spine].max() <= gb200_plan.reach_m["scale_up"]["passive_copper"]
    assert gb200_plan.power_w[spine].sum() == 0.0


def test_doubling_the_lane_rate_moves_the_longest_links_off_passive_copper(gb200_plan: CablingPlan) -> None:
    fast = plan_cabling(load_design(GB200, ["cabling.scale_up.lane_rate_gbps=400"]).design)
    spine = group_rows(fast, "scale_up")
    passive = spine & (fast.medium == fast.medium_names.index("passive_copper"))
    moved = spine & ~passive
    assert 0 < moved.sum() < spine.sum()
    # Exactly the longest links move: every moved link is longer than every link left on passive copper,
    # and longer than passive copper's reach at 400 G/lane, which is below the spine's longest link.
    assert fast.length_m[moved].min() > fast.length_m[passive].max()
    reach_400 = fast.reach_m["scale_up"]["passive_copper"]
    assert fast.length_m[passive].max() <= reach_400 < fast.length_m[moved].min()
    assert reach_400 < gb200_plan.reach_m["scale_up"]["passive_copper"] / 1.5
    # They go to active copper (the cheapest medium that reaches), which draws power in the rack.
    assert medium_names(fast, moved) == {"active_copper"}
    assert cabling_metrics(fast)["power_w"] > cabling_metrics(gb200_plan)["power_w"]


def test_copper_spine_saves_about_20_kw_over_optics(gb200_plan: CablingPlan) -> None:
    # hardware.md 1a: "2 miles of copper cabling instead of optics to lower the system's power draw by 20kW" (S).
    # The ~22 kW more takes the busbar past its 2,900 A rating (and the feed past its limit), so the optical
    # variant is planned from the schema-valid design without the nameplate checks.
    with pytest.raises(InputError, match=r"power\.busbar\.rating_a"):
        load_design(GB200, ["cabling.scale_up.media=[optics]"])
    optical = plan_cabling(load_model(Design, GB200, ["cabling.scale_up.media=[optics]"])[0])
    saved_w = optical.rack_power_w - gb200_plan.rack_power_w
    assert abs(saved_w - 20e3) <= 0.2 * 20e3


def test_scale_out_optics_power(gb200_plan: CablingPlan) -> None:
    # hardware.md 4: 9 W (400G NIC side) + 17 W / 2 (twin-port switch side) = 17.5 W per link, × 72 ≈ 1.26 kW (D).
    out = group_rows(gb200_plan, "scale_out")
    assert medium_names(gb200_plan, out) == {"optics"}
    assert out.sum() == 72
    assert gb200_plan.power_w[out].sum() + gb200_plan.remote_power_w[out].sum() == pytest.approx(1260.0)


def test_bundled_designs_show_their_cabling() -> None:
    for path in sorted((ROOT / "designs").glob("*.yaml")):
        figures = load_design(path).figures
        assert figures["cabling_cables_passive_copper"] > 0
        assert figures["cabling_cable_count"] == sum(v for k, v in figures.items() if k.startswith("cabling_cables_"))
        assert figures["cabling_power_w"] > 0
    vr = load_design(ROOT / "designs" / "vr-800vdc.yaml").figures
    assert vr["cabling_scale_up_reach_m_passive_copper"] < 1.0  # 400 G/lane
    assert vr["cabling_active_cable_count"] > 0


# --------------------------------------------------------------------------- bad cabling sections


@pytest.mark.parametrize(
    ("override", "fragment"),
    [
        ("cabling.scale_up.media=[nosuch]", "cabling.scale_up.media: unknown medium 'nosuch'"),
        ("cabling.scale_out.port_x_mm=[600]", "cabling.scale_out.port_x_mm: 600 mm lies outside the 537 mm bay"),
        ("cabling.media.power_cord={kind: cpo, max_length_m: 1, end_energy_pj_per_bit: 0, cost_usd_per_lane_end: 0, "
         "cost_usd_per_lane_m: 0, mass_kg_per_lane_m: 0, failure_rate_fit_per_lane_end: 0}",
         "cabling.media.power_cord: name reserved"),
        ("cabling.scale_out.media=[passive_copper]", "cabling.scale_out.media: 72 links of up to 12.53 m reach "
         "no listed medium"),
        ("cabling.scale_up.lane_rate_gbps=0", "cabling.scale_up.lane_rate_gbps"),
        ("cabling.scale_up.cable_unit=bundle", "cabling.scale_up.cable_unit"),
    ],
)
def test_bad_cabling_is_one_line(override: str, fragment: str) -> None:
    with pytest.raises(InputError) as error:
        load_design(GB200, [override])
    assert fragment in str(error.value)
    assert "\n" not in str(error.value)
