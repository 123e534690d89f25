"""Model configs: Hugging Face keys, one-line errors, bundled configs and their published parameter counts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from racksim.errors import InputError
from racksim.perf.model import bundled_model, bundled_models, load_model, parse_model
from racksim.perf.params import param_counts

LLAMA_8B = {"hidden_size": 4096, "intermediate_size": 14336, "num_attention_heads": 32, "num_key_value_heads": 8,
            "num_hidden_layers": 32, "vocab_size": 128256, "max_position_embeddings": 131072,
            "tie_word_embeddings": False, "hidden_act": "silu", "rms_norm_eps": 1e-5, "model_type": "llama"}


@pytest.mark.parametrize(("name", "total_b", "active_b", "tolerance"), [
    ("llama3-8b", 8.03, None, 0.005),        # Llama 3.1 8B model card: 8.03 B
    ("llama3-70b", 70.6, None, 0.005),       # model card: 70.6 B
    ("llama3-405b", 405.9, None, 0.005),     # model card: 405.9 B (406 B)
    ("deepseek-v3", 671.0, 37.0, 0.02),      # DeepSeek-V3 report: 671 B total, 37 B activated per token
    ("gpt3-175b", 175.0, None, 0.005),       # Brown et al. 2020 Table 2.1
    ("megatron-530b", 529.6, None, 0.001),   # Narayanan et al. 2021 Table 1
    ("megatron-1t", 1008.0, None, 0.001),    # Narayanan et al. 2021 Table 1
])
def test_parameter_counts_match_published_totals(name: str, total_b: float, active_b: float | None,
                                                 tolerance: float) -> None:
    counts = param_counts(bundled_model(name))
    assert counts.total / 1e9 == pytest.approx(total_b, rel=tolerance)
    assert counts.active / 1e9 == pytest.approx(active_b if active_b else total_b, rel=tolerance)


def test_every_bundled_config_loads_and_has_a_source() -> None:
    sources = (Path(__file__).parents[1] / "racksim" / "models" / "SOURCES.md").read_text()
    assert len(bundled_models()) >= 9
    for name in bundled_models():
        assert bundled_model(name).num_hidden_layers > 0
        assert f"`{name}.json`" in sources


def test_gpt_formula_matches_megatron_parameter_count() -> None:
    # Narayanan et al. 2021 eq. (2): P = 12·l·h²·(1 + 13/(12h) + (V + s)/(12·l·h)), learned positions of s = 2048.
    m = bundled_model("megatron-175b")
    h, layers, v, s = m.hidden_size, m.num_hidden_layers, m.vocab_size, m.max_position_embeddings
    expected = 12 * layers * h * h * (1 + 13 / (12 * h) + (v + s) / (12 * layers * h))
    assert param_counts(m).total == pytest.approx(expected, rel=1e-4)


def test_real_config_extra_keys_are_ignored_and_defaults_follow_hugging_face(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({**LLAMA_8B, "rope_scaling": {"factor": 8.0}, "bos_token_id": 128000,
                                "num_key_value_heads": None}))
    m = load_model(path)
    assert (m.kv_heads, m.gated, m.tied, m.d_head) == (32, True, False, 128)


def test_yaml_config_loads(tmp_path: Path) -> None:
    path = tmp_path / "model.yaml"
    path.write_text("\n".join(f"{k}: {json.dumps(v)}" for k, v in LLAMA_8B.items()))
    assert param_counts(load_model(path)).total == param_counts(parse_model(LLAMA_8B)).total


def test_gpt2_key_names_are_accepted() -> None:
    m = parse_model({"model_type": "gpt2", "n_embd": 768, "n_head": 12, "n_layer": 12, "n_positions": 1024,
                     "vocab_size": 50257, "activation_function": "gelu_new", "n_inner": None})
    assert param_counts(m).total == pytest.approx(124.4e6, rel=0.001)  # GPT-2 small: 124 M with tied embeddings


@pytest.mark.parametrize(("change", "key", "rule"), [
    ({"hidden_size": None}, "hidden_size", "valid integer"),
    ({"num_attention_heads": 30}, "num_attention_heads", "do not divide"),
    ({"num_key_value_heads": 5}, "num_key_value_heads", "does not divide"),
    ({"n_routed_experts": 8}, "num_experts_per_tok", "neither"),
    ({"n_routed_experts": 8, "num_experts_per_tok": 9}, "num_experts_per_tok", "exceeds"),
    ({"kv_lora_rank": 512}, "kv_lora_rank", "together"),
])
def test_contradictory_keys_are_one_line_errors(change: dict, key: str, rule: str) -> None:
    with pytest.raises(InputError) as info:
        parse_model({**LLAMA_8B, **change}, "config.json")
    message = str(info.value)
    assert message.startswith(f"config.json: {key}")
    assert rule in message
    assert "\n" not in message


def test_missing_key_names_the_key(tmp_path: Path) -> None:
    data = dict(LLAMA_8B)
    del data["num_hidden_layers"]
    path = tmp_path / "config.json"
    path.write_text(json.dumps(data))
    with pytest.raises(InputError, match=r"config.json: num_hidden_layers: missing"):
        load_model(path)


def test_unreadable_and_invalid_files_are_input_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read"):
        load_model(tmp_path / "absent.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(InputError, match="not valid JSON"):
        load_model(bad)
    with pytest.raises(InputError, match="no bundled model"):
        bundled_model("gpt-5")


def test_mixtral_keys() -> None:
    # Mixtral 8x7B (mistralai/Mixtral-8x7B-v0.1 config.json): 46.7 B total, 12.9 B active (Mistral AI blog).
    m = parse_model({"model_type": "mixtral", "hidden_size": 4096, "intermediate_size": 14336,
                     "num_attention_heads": 32, "num_key_value_heads": 8, "num_hidden_layers": 32,
                     "vocab_size": 32000, "max_position_embeddings": 32768, "num_local_experts": 8,
                     "num_experts_per_tok": 2, "hidden_act": "silu", "tie_word_embeddings": False})
    counts = param_counts(m)
    assert counts.total / 1e9 == pytest.approx(46.7, rel=0.01)
    assert counts.active / 1e9 == pytest.approx(12.9, rel=0.01)
