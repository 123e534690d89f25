"""Loading design files: `extends:` merges, `--set` overrides, the design hash, derived figures, JSON Schema.

Published figures come from ../shared/reference/hardware.md (section 1a: GB200 NVL72, 1b: GB300 NVL72).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from racksim.design import Design
from racksim.run.loading import LoadedDesign, load_design

ROOT = Path(__file__).resolve().parent.parent
DESIGNS = ROOT / "designs"
GB200 = DESIGNS / "gb200-nvl72.yaml"
GB300 = DESIGNS / "gb300-nvl72.yaml"
VR = DESIGNS / "vr-800vdc.yaml"
GOOD = ROOT / "tests" / "data" / "good_designs"


@pytest.fixture(scope="module")
def gb200() -> LoadedDesign:
    return load_design(GB200)


@pytest.fixture(scope="module")
def gb300() -> LoadedDesign:
    return load_design(GB300)


@pytest.fixture(scope="module")
def vr() -> LoadedDesign:
    return load_design(VR)


def within(value: float, published: float, tolerance: float) -> bool:
    """|value - published| <= tolerance * published."""
    return abs(value - published) <= tolerance * published


# --------------------------------------------------------------------------- extends


def test_child_overrides_and_inherits_nested_fields(gb200: LoadedDesign, gb300: LoadedDesign) -> None:
    gpus = gb300.design.compute_tray.gpus
    assert gpus.tdp_w == 1400  # set in gb300-nvl72.yaml
    assert gpus.idle_w == 200  # only in gb200-nvl72.yaml
    assert gpus.count == 4
    # Two levels down: the child sets thermal.reference_flow_lpm and keeps the parent's resistance.
    assert gpus.thermal.reference_flow_lpm == 5.4
    assert gpus.thermal.r_junction_to_coolant_k_per_w == gb200.design.compute_tray.gpus.thermal \
        .r_junction_to_coolant_k_per_w
    assert gb300.design.slot_count("compute") == 18
    assert gb300.design.rack == gb200.design.rack
    shelves = gb300.design.power.shelves
    assert shelves is not None
    assert shelves.redundancy == "N+1"  # child
    assert (shelves.count, shelves.units_per_shelf, shelves.unit_rating_w) == (8, 6, 5500)  # parent
    assert gb300.design.name == "gb300-nvl72"
    assert gb300.design.power.smoothing is not None
    assert gb200.design.power.smoothing is None


def test_child_null_removes_a_parent_section(gb200: LoadedDesign, vr: LoadedDesign) -> None:
    assert gb200.design.power.shelves is not None
    assert vr.design.power.shelves is None  # `shelves: null` in vr-800vdc.yaml
    assert vr.resolved["power"]["shelves"] is None
    assert "psu_count" not in vr.figures
    assert vr.design.power.feed.kind == "dc"


def test_lists_replace_whole(gb200: LoadedDesign, vr: LoadedDesign) -> None:
    child_slots = yaml.safe_load(VR.read_text())["rack"]["slots"]
    assert [slot.model_dump(exclude_unset=True) for slot in vr.design.rack.slots] == child_slots
    assert vr.design.rack.slots != gb200.design.rack.slots
    assert len(vr.design.rack.slots) == 5
    assert len(gb200.design.rack.slots) == 6
    assert vr.design.slot_count("power_shelf") == 0
    assert gb200.design.slot_count("power_shelf") == 8
    # tray_stages: the child's one stage replaces the parent's, no concatenation.
    assert [s.name for s in vr.design.power.tray_stages] == ["dcdc_800v_to_12v"]
    assert [s.name for s in gb200.design.power.tray_stages] == ["ibc_50v_to_12v"]


def test_three_levels_of_extends(gb300: LoadedDesign) -> None:
    loaded = load_design(GOOD / "gb300-warm-water.yaml")
    assert loaded.design.name == "gb300-warm-water"
    assert loaded.design.cooling.facility_supply_temp_c == 32
    assert loaded.design.compute_tray.gpus.tdp_w == 1400  # from gb300
    assert loaded.design.compute_tray.gpus.idle_w == 200  # from gb200
    assert loaded.design.cooling.cdu == gb300.design.cooling.cdu
    assert loaded.figures["nameplate_feed_power_w"] == pytest.approx(gb300.figures["nameplate_feed_power_w"])


def test_child_slot_list_replaces_the_layout(gb200: LoadedDesign) -> None:
    loaded = load_design(GOOD / "gb200-compact.yaml")
    assert loaded.design.rack.height_u == 44
    assert [slot.u for slot in loaded.design.rack.slots] == [1, 5, 13, 22, 32, 36]
    assert loaded.figures["rack_units_used"] == gb200.figures["rack_units_used"] == 37
    assert loaded.figures["nameplate_feed_power_w"] == pytest.approx(gb200.figures["nameplate_feed_power_w"])
    assert loaded.design_hash != gb200.design_hash


def test_parent_file_is_not_modified_by_loading_children() -> None:
    before = GB200.read_bytes()
    load_design(GB300)
    load_design(VR)
    assert GB200.read_bytes() == before


# --------------------------------------------------------------------------- overrides


def test_override_changes_the_design_and_its_hash(gb200: LoadedDesign) -> None:
    loaded = load_design(GB200, ["compute_tray.gpus.tdp_w=1000"])
    assert loaded.design.compute_tray.gpus.tdp_w == 1000
    assert loaded.resolved["compute_tray"]["gpus"]["tdp_w"] == 1000
    assert loaded.design_hash != gb200.design_hash
    assert loaded.figures["nameplate_feed_power_w"] < gb200.figures["nameplate_feed_power_w"]
    # The rest of the design is untouched.
    assert loaded.design.compute_tray.gpus.idle_w == 200
    assert loaded.design.power == gb200.design.power


def test_override_to_the_same_value_keeps_the_hash(gb200: LoadedDesign) -> None:
    assert load_design(GB200, ["compute_tray.gpus.tdp_w=1200"]).design_hash == gb200.design_hash
    # A default written out explicitly resolves to the same design.
    assert load_design(GB200, ["rack.u_pitch_mm=48.0", "switch_tray.height_u=1"]).design_hash \
        == gb200.design_hash


def test_override_addresses_list_items_by_index(gb200: LoadedDesign) -> None:
    loaded = load_design(GB200, ["rack.slots.0.u=2"])
    slots = loaded.design.rack.slots
    assert slots[0].u == 2
    assert (slots[0].kind, slots[0].count) == ("power_shelf", 4)  # the rest of the item is kept
    assert slots[1:] == gb200.design.rack.slots[1:]
    assert loaded.design_hash != gb200.design_hash


def test_override_of_a_nested_list_item() -> None:
    loaded = load_design(GB200, ["power.tray_stages.0.efficiency_curve.efficiency.3=0.95"])
    assert loaded.design.power.tray_stages[0].efficiency_curve.efficiency == [0.93, 0.955, 0.967, 0.95]


@pytest.mark.parametrize(
    ("override", "path", "expected"),
    [
        ("cooling.fluid=water", ("cooling", "fluid"), "water"),
        ("power.shelves.redundancy=N+1", ("power", "shelves", "redundancy"), "N+1"),
        ("cooling.facility_supply_temp_c=35.5", ("cooling", "facility_supply_temp_c"), 35.5),
        ("power.feed.limit_w=160000", ("power", "feed", "limit_w"), 160000),
        ("description=a rack with spaces", ("description",), "a rack with spaces"),
        ("power.smoothing.gpu_power_floor_fraction=0.5", ("power", "smoothing", "gpu_power_floor_fraction"),
         0.5),
    ],
)
def test_override_values_are_yaml_scalars(override: str, path: tuple[str, ...], expected: Any) -> None:
    loaded = load_design(GB200, [override])
    node: Any = loaded.resolved
    for part in path:
        node = node[part]
    assert node == expected


def test_override_creates_a_missing_optional_section() -> None:
    # gb200 has no `power.smoothing`; setting its only field creates it.
    loaded = load_design(GB200, ["power.smoothing.gpu_power_floor_fraction=0.5"])
    assert loaded.design.power.smoothing is not None
    assert loaded.design.power.smoothing.gpu_power_floor_fraction == 0.5


def test_overrides_apply_in_order_and_after_extends() -> None:
    loaded = load_design(GB300, ["compute_tray.gpus.tdp_w=1000", "compute_tray.gpus.tdp_w=1100"])
    assert loaded.design.compute_tray.gpus.tdp_w == 1100


def test_override_as_a_parsed_path_and_value(gb200: LoadedDesign) -> None:
    loaded = load_design(GB200, [(["cooling", "fluid"], "water")])
    assert loaded.design.cooling.fluid == "water"
    assert loaded.design_hash == load_design(GB200, ["cooling.fluid=water"]).design_hash
    assert loaded.design_hash != gb200.design_hash


# --------------------------------------------------------------------------- hash


def test_same_file_twice_gives_the_same_hash(gb200: LoadedDesign) -> None:
    again = load_design(GB200)
    assert again.design_hash == gb200.design_hash
    assert again.resolved == gb200.resolved
    assert again.figures == gb200.figures
    assert len(gb200.design_hash) == 64
    int(gb200.design_hash, 16)


def test_hash_does_not_depend_on_the_path(tmp_path: Path, gb200: LoadedDesign) -> None:
    copy = tmp_path / "elsewhere.yaml"
    shutil.copy(GB200, copy)
    loaded = load_design(copy)
    assert loaded.source == str(copy)
    assert loaded.design_hash == gb200.design_hash


def test_hash_does_not_depend_on_comments_or_key_order(tmp_path: Path, gb200: LoadedDesign) -> None:
    data = yaml.safe_load(GB200.read_text())
    reordered = tmp_path / "reordered.yaml"
    reordered.write_text(yaml.safe_dump(dict(reversed(list(data.items()))), sort_keys=False))
    assert load_design(reordered).design_hash == gb200.design_hash


def test_designs_have_distinct_hashes(gb200: LoadedDesign, gb300: LoadedDesign, vr: LoadedDesign) -> None:
    assert len({gb200.design_hash, gb300.design_hash, vr.design_hash}) == 3


def test_resolved_design_round_trips(tmp_path: Path, gb300: LoadedDesign) -> None:
    resolved = tmp_path / "resolved.yaml"
    resolved.write_text(yaml.safe_dump(gb300.resolved, sort_keys=False))
    again = load_design(resolved)
    assert again.design == gb300.design
    assert again.design_hash == gb300.design_hash


# --------------------------------------------------------------------------- derived figures


def test_gb200_counts(gb200: LoadedDesign) -> None:
    # hardware.md 1a: 18 compute trays × (4 GPUs + 2 CPUs) → 72 / 36; 9 switch trays.
    figures = gb200.figures
    assert figures["compute_trays"] == 18
    assert figures["switch_trays"] == 9
    assert figures["gpu_count"] == 72
    assert figures["cpu_count"] == 36
    # hardware.md 1a: "RU taken by listed gear 37" (18 + 9 + 8 shelves + 2 ToR).
    assert figures["rack_units_used"] == 37


def test_gb200_scale_up_bandwidth(gb200: LoadedDesign) -> None:
    # hardware.md 1a: "130TB/s of GPU bandwidth in one NVL72" (P); check "72 × 1.8 = 129.6" (D).
    bandwidth = gb200.figures["scale_up_bandwidth_tbyte_s"]
    assert bandwidth == pytest.approx(129.6, rel=1e-12)
    assert within(bandwidth, 130, 0.01)


def test_gb200_scale_up_differential_pairs(gb200: LoadedDesign) -> None:
    # hardware.md 1a: "up to 5,000 copper cables" (S);
    # check: 72 GPUs × 18 links × 2 lanes × 2 directions = 5,184 differential pairs (D).
    pairs = gb200.figures["scale_up_differential_pairs"]
    assert pairs == 5184
    assert within(pairs, 5000, 0.05)


def test_gb200_psu_capacity(gb200: LoadedDesign) -> None:
    # hardware.md 1a: 8 shelves × 6 PSUs × 5.5 kW = 264 kW installed (P); 132 kW usable at N+N.
    figures = gb200.figures
    assert figures["psu_count"] == 48
    assert figures["psu_installed_capacity_w"] == 264000
    assert figures["psu_usable_capacity_w"] == 132000
    assert figures["psu_output_at_nameplate_w"] <= figures["psu_usable_capacity_w"]


def test_gb200_nameplate_feed_near_published(gb200: LoadedDesign) -> None:
    # hardware.md 1a: rack power 120 kW (S: Network World; Fudzilla, Hot Chips 2025), 18 × 6,667 W (P: DPS).
    assert within(gb200.figures["nameplate_feed_power_w"], 120e3, 0.10)


def test_gb300_nameplate_feed_near_published(gb300: LoadedDesign) -> None:
    # hardware.md 1b: "Full rack requiring up to 142 kW" (P: NVL72 AI factory RA).
    assert within(gb300.figures["nameplate_feed_power_w"], 142e3, 0.10)
    # hardware.md 1b: 8 × 33 kW shelves, the same as GB200.
    assert gb300.figures["psu_installed_capacity_w"] == 264000
    assert gb300.figures["scale_up_bandwidth_tbyte_s"] == pytest.approx(129.6)


def test_nameplate_figures_are_consistent(gb200: LoadedDesign, gb300: LoadedDesign, vr: LoadedDesign) -> None:
    for loaded in (gb200, gb300, vr):
        figures = loaded.figures
        feed, it = figures["nameplate_feed_power_w"], figures["nameplate_it_power_w"]
        assert 0 < it < feed <= loaded.design.power.feed.limit_w
        assert figures["nameplate_chain_efficiency"] == pytest.approx(it / feed)
        assert 0 < figures["nameplate_busbar_current_a"] <= loaded.design.power.busbar.rating_a
        assert 0 < figures["nameplate_heat_to_liquid_w"] <= loaded.design.cooling.cdu.capacity_w
    assert gb200.figures["nameplate_feed_power_w"] < gb300.figures["nameplate_feed_power_w"]


# --------------------------------------------------------------------------- JSON Schema


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return Design.model_json_schema()


def test_schema_descriptions_come_from_field_docstrings(schema: dict[str, Any]) -> None:
    definitions = schema["$defs"]
    other = definitions["ComputeTray"]["properties"]["other_power_w"]
    assert other["description"] == "Memory, DPUs, SSDs, BMC and the rest of the board at full load, W."
    assert definitions["ChipSpec"]["properties"]["tdp_w"]["description"]
    assert definitions["Feed"]["properties"]["limit_w"]["description"]
    assert definitions["Slot"]["properties"]["u"]["description"].startswith("Lowest rack unit")
    assert "shelves" in definitions["Power"]["properties"]
    assert definitions["Power"]["properties"]["shelves"]["description"]
    assert schema["properties"]["name"]["description"]
    # Class docstrings describe the models.
    assert schema["description"] == "One candidate rack generation."
    assert definitions["ComputeTray"]["description"]


def test_schema_forbids_unknown_keys(schema: dict[str, Any]) -> None:
    assert schema["additionalProperties"] is False
    assert all(d.get("additionalProperties") is False for d in schema["$defs"].values())


def test_every_value_field_has_a_description(schema: dict[str, Any]) -> None:
    # schema.py promises "every field carries a docstring that ends up in the JSON Schema". Fields typed
    # as a model ($ref) are described by that model's docstring; every other field needs its own.
    models = {"Design": schema, **schema["$defs"]}
    def is_model(prop: dict[str, Any]) -> bool:
        return "$ref" in prop or any("$ref" in option for option in prop.get("anyOf", []))

    undocumented = [f"{model}.{name}" for model, definition in models.items()
                    for name, prop in definition.get("properties", {}).items()
                    if not is_model(prop) and not prop.get("description")]
    assert undocumented == []
