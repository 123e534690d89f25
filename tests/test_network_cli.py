"""`racksim collectives` end to end: the table, --json, whole racks, and one-line errors with exit code 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from racksim.cli import app, main

ROOT = Path(__file__).resolve().parent.parent
GB200 = str(ROOT / "designs" / "gb200-nvl72.yaml")
HGX = str(ROOT / "designs" / "reference" / "hgx-h100-8gpu.yaml")


def test_table_lists_doubling_sizes() -> None:
    done = CliRunner().invoke(app, ["collectives", HGX, "--min-bytes", "1K", "--max-bytes", "1M"])
    assert done.exit_code == 0, done.output
    assert "hgx-h100-8gpu: all-reduce over 8 GPUs" in done.output
    assert "1,024" in done.output
    assert "1,048,576" in done.output
    assert "busbw" in done.output


def test_json_over_two_racks() -> None:
    done = CliRunner().invoke(app, ["collectives", GB200, "--op", "all-to-all", "--gpus", "144",
                                    "--min-bytes", "8", "--max-bytes", "8G", "--json"])
    assert done.exit_code == 0, done.output
    table = json.loads(done.output)
    assert table["gpus"] == 144
    assert table["size_bytes"][0] == 8
    assert table["size_bytes"][-1] == 8 * 2**30
    assert len(table["size_bytes"]) == 31
    assert table["busbw_gbyte_s"] == sorted(table["busbw_gbyte_s"])
    assert table["busbw_gbyte_s"][-1] == pytest.approx(table["algbw_gbyte_s"][-1] * 143 / 144)


def test_set_override_reaches_the_model() -> None:
    runner = CliRunner()
    base, faster = (json.loads(runner.invoke(app, ["collectives", GB200, "--min-bytes", "8G", "--json", *extra])
                               .output)
                    for extra in ([], ["--set", "network.scale_up.link_bandwidth_gbyte_s=100"]))
    assert faster["busbw_gbyte_s"][0] == pytest.approx(2 * base["busbw_gbyte_s"][0], rel=0.01)


@pytest.mark.parametrize(("args", "message"), [
    (["--op", "broadcast"], "--op: broadcast: expected one of all-reduce"),
    (["--gpus", "100"], "--gpus: 100 GPUs: give 2 to 72"),
    (["--min-bytes", "1x"], "--min-bytes: 1x: expected a size"),
    (["--min-bytes", "1G", "--max-bytes", "1M"], "must not be below --min-bytes"),
    (["--set", "network.scale_up.p2p_efficiency=2"], "network.scale_up.p2p_efficiency"),
])
def test_bad_input_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str], args: list[str], message: str) -> None:
    assert main(["collectives", GB200, *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert message in err
