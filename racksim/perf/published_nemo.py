"""NVIDIA's published Megatron-Bridge (NeMo Framework) pre-training throughput on H100, GB200 and GB300.

Source: NVIDIA-NeMo/Megatron-Bridge, docs/performance-summary.md at commit
5776a6d90b4dd8692902ab2eb581369484e19283 (2025-12-10; the page at docs.nvidia.com/nemo/megatron-bridge/latest/
performance-summary.html), section "25.11 NeMo Container", "Pre-Training Performance", tables "System: DGX-GB300",
"DGX-GB200" and "DGX-H100": per row #-GPUs, precision, GBS, MBS, sequence length, FSDP, TP, PP, CP, VP, EP, GA,
tokens/s per GPU and model TFLOP/s per GPU. Taken: the rows of models racksim bundles, Llama 3 8B, Llama 3 70B and
Llama 3.1 405B (FP8-CS: FP8 with per-tensor current scaling; the FP8-MX figures in parentheses are not used) on each
system, and DeepSeek-V3 "(w/o MTP)" on GB200 and GB300 (BF16 and FP8-MX; racksim leaves the MTP module out too). The
measured quantity is tokens/s per GPU; the model TFLOP/s column checks the transcription (NeMo counts causal
attention).

Settings: the table gives the degrees, batch, micro-batch, sequence, FSDP and precision. The rest is Megatron-Bridge's
Llama 3 recipe at the same commit (src/megatron/bridge/recipes/llama/llama3.py `_llama3_common`,
scripts/performance/configs/llama/llama3_llm_pretrain.py): the distributed optimizer (ZeRO 1) with
overlap_grad_reduce and overlap_param_gather, gradients reduced in BF16 (`grad_reduce_in_fp32 = False`), sequence
parallelism with TP > 1 and with it Transformer Engine's TP communication overlap (`tp_comm_overlap` True with the
`userbuffers_*` presets in the 70B and 405B recipes, src/megatron/bridge/recipes/llama/llama3.py; timed by
`racksim.perf.tp_overlap`), no activation recompute; Megatron FSDP (FSDP = 1) taken as ZeRO 3 gathered per layer with
one layer prefetched; FP8 current scaling (`fp8_recipe` "tensorwise": quantize kernels timed,
`Layout.fp8_current_scaling`) without FP8 attention or an FP8 output layer (MixedPrecisionConfig
`fp8_dot_product_attention` False; `first_last_layers_bf16` set False by the performance scripts); context
parallelism as Megatron-Core's ring (overlapped). A row is "known" where the recipe's preset at the commit agrees with
the table (H100 70B and 405B, GB200 8B). Elsewhere the preset differs from the table's row (GB300 8B preset MBS 4;
GB200/GB300 70B presets GBS 128; the Blackwell 405B presets use other layouts; H100 8B preset has no FSDP and recomputes
5 layers), so the recipe's remaining settings are assumed to carry over ("partly assumed"). DeepSeek-V3 (all partly
assumed: the GB200/GB300 presets at the commit have GBS 2048, and GB300's PP 4, EP 64): distributed optimizer, MLA's
up-projections and the norms recomputed (`Layout.recompute_norms`; the presets recompute only the MoE activation or
MLA's up-projections), MoE all-to-all not overlapped
(`moe_a2a_overlap` False), BF16 gradients as the Llama rows; the table's token-dropless, force-balanced routing is
racksim's balanced routing.

Not modelled: the CPU activation offloading of the FSDP presets (GB200 70B offloads 40 layers, GB300 20; racksim's
footprint then exceeds HBM, so those rows skip the memory check), the SMs the TP overlap gives to communication,
CUDA graphs, FP8 parameter gathers (fp8_param_gather: racksim gathers BF16).

Hardware: DGX H100 (`published_inference.h100_dgx()`); DGX GB200 and GB300 are NVL72 racks, the systems of
designs/gb200-nvl72.yaml and designs/gb300-nvl72.yaml (GPU, NVLink domain of 72, the design's network model).
"""

from __future__ import annotations

from dataclasses import dataclass

from racksim.perf.accelerator import Accelerator
from racksim.perf.hardware import reference_system
from racksim.perf.layout import Layout
from racksim.perf.model import bundled_model
from racksim.perf.published import Case
from racksim.perf.training import System

NEMO_2511 = ("Megatron-Bridge performance-summary.md @5776a6d (NeMo 25.11), DGX-{system}")
"""The source of every case, with the system's table."""


def nvl72_system(design: str) -> System:
    """The system of a bundled NVL72 design (e.g. 'gb200-nvl72'): its GPU, network model and 72-GPU NVLink domain."""
    return reference_system(f"{design}.yaml")


@dataclass(frozen=True)
class DesignCase(Case):
    """A published case run on a bundled rack design's system (`nvl72_system`) instead of a reference node.

    Its `hardware` names the design file under designs/, without '.yaml' (e.g. 'gb200-nvl72').
    """

    def predict(self, accelerator: Accelerator | None = None, system: System | None = None) -> float:
        """The model's value of the measured quantity, on the design's system unless one is given."""
        return super().predict(accelerator, system or nvl72_system(self.hardware))


# (system, model, recipe, GPUs, GBS, MBS, sequence, FSDP, TP, PP, CP, VP, EP, tokens/s per GPU, model TFLOP/s per
# GPU, settings known, memory checked), as printed in the 25.11 tables; GA = GBS / (MBS · DP) as printed.
_ROWS = (
    ("H100", "llama3-8b", "FP8-CS", 8, 128, 1, 8192, 1, 1, 1, 1, 1, 1, 14451.0, 744.0, False, True),
    ("H100", "llama3-70b", "FP8-CS", 64, 128, 1, 8192, 0, 4, 8, 1, 5, 1, 1602.0, 719.0, True, False),
    ("H100", "llama3-405b", "FP8-CS", 1024, 512, 1, 8192, 0, 8, 8, 2, 8, 1, 292.0, 737.0, True, True),
    ("GB200", "llama3-8b", "FP8-CS", 8, 128, 2, 8192, 0, 1, 1, 1, 1, 1, 31508.0, 1622.0, True, True),
    ("GB200", "llama3-70b", "FP8-CS", 64, 256, 2, 8192, 1, 1, 1, 1, 1, 1, 4312.0, 1937.0, False, False),
    ("GB200", "llama3-405b", "FP8-CS", 256, 1536, 1, 8192, 0, 4, 16, 1, 4, 1, 813.0, 2053.0, False, False),
    ("GB200", "deepseek-v3", "BF16", 256, 4096, 1, 4096, 0, 1, 4, 1, 4, 64, 3139.0, 782.0, False, True),
    ("GB200", "deepseek-v3", "FP8-MX", 256, 4096, 1, 4096, 0, 1, 8, 1, 4, 32, 4018.0, 1003.0, False, True),
    ("GB300", "llama3-8b", "FP8-CS", 8, 128, 2, 8192, 0, 1, 1, 1, 1, 1, 37556.0, 1933.0, False, True),
    ("GB300", "llama3-70b", "FP8-CS", 64, 256, 2, 8192, 1, 1, 1, 1, 1, 1, 4520.0, 2030.0, False, False),
    ("GB300", "llama3-405b", "FP8-CS", 256, 1536, 1, 8192, 0, 2, 8, 2, 4, 1, 999.0, 2522.0, False, False),
    ("GB300", "deepseek-v3", "BF16", 256, 4096, 1, 4096, 0, 1, 2, 1, 4, 32, 3848.0, 961.0, False, True),
    ("GB300", "deepseek-v3", "FP8-MX", 256, 4096, 1, 4096, 0, 1, 2, 1, 4, 32, 4357.0, 1088.0, False, True),
)
"""Memory not checked: H100 70B (racksim 83 GB of 80), the FSDP rows (CPU activation offloading), the Blackwell 405B
rows (their recipes' memory settings are not the table's layouts)."""

_NAMES = {"llama3-8b": "Llama 3 8B", "llama3-70b": "Llama 3 70B", "llama3-405b": "Llama 3.1 405B",
          "deepseek-v3": "DeepSeek-V3"}


def _case(system: str, model: str, recipe: str, gpus: int, gbs: int, mbs: int, seq: int, fsdp: int, tp: int, pp: int,
          cp: int, vp: int, ep: int, measured: float, _tflops: float, known: bool, memory: bool) -> Case:
    """One row as a case; the recipe sets the precision.

    FP8-CS is FP8 with current scaling's quantize kernels timed; FP8-MX is MXFP8 (an E8M0 scale per 32 elements,
    applied by Blackwell's tensor cores: the FP8 curve) with its row- and column-wise quantize kernels timed
    (`Layout.fp8_block_scaling` 'mxfp8'); BF16 is BF16.
    """
    layout = Layout(global_batch=gbs, seq_len=seq, micro_batch=mbs, tp=tp, pp=pp, dp=gpus // (tp * pp * cp), cp=cp,
                    vpp=vp, ep=ep, sequence_parallel=tp > 1, recompute="none", zero=3 if fsdp else 1,
                    precision="bf16" if recipe == "BF16" else "fp8", fp8_current_scaling=recipe == "FP8-CS",
                    fp8_block_scaling="mxfp8" if recipe == "FP8-MX" else "none",
                    fp32_grads=False, recompute_norms=model == "deepseek-v3", tp_comm_overlap=tp > 1)
    kind, hardware = (Case, "h100") if system == "H100" else (DesignCase, f"{system.lower()}-nvl72")
    return kind(f"NeMo {_NAMES[model]} {gpus} {system} {recipe}", NEMO_2511.format(system=system),
                bundled_model(model), layout, measured, "tokens/s", settings_known=known, hardware=hardware,
                memory_checked=memory)


NEMO_CASES = tuple(_case(*row) for row in _ROWS)
"""Every Megatron-Bridge 25.11 case: H100, then GB200, then GB300; none calibrates anything."""

MODEL_TFLOPS_PER_GPU = {case.name: row[14] for case, row in zip(NEMO_CASES, _ROWS, strict=True)}
"""The table's model TFLOP/s per GPU of each case: a transcription check (its ratio to tokens/s is one FLOP count
per model on every system, racksim's with causal attention; tests/test_perf_published_nemo.py)."""
