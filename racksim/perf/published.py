"""Published training measurements with their settings, and the model's predictions of them.

Korthikanti et al. 2022, "Reducing Activation Recomputation in Large Transformer Models" (arXiv 2205.05198),
iteration times of Table 5 (full recompute; sequence parallelism + selective recompute) for the Table 3 settings
on A100-80GB DGX nodes: t = 8, data parallel 1, sequence 2048, vocabulary 51200. The times and the settings
(micro-batch, interleaving) as transcribed in `calculon-ai/calculon` (calculon/megatron/validation.py,
validation/*_full.json, *_seqsel.json); the MFU/HFU of the selective runs (22B 41.5/43.7 %, 175B 51.4/52.8 %,
530B 56.0/57.0 %, 1T 56.3/57.0 %) in the Megatron-LM README (2022 versions), which follow from these times.

Narayanan et al. 2021, "Efficient Large-Scale Language Model Training on GPU Clusters Using Megatron-LM" (SC21,
arXiv 2104.04473), Table 1: achieved TFLOP/s per GPU of GPT models 1.7B-1T on A100 (Selene), sequence 2048,
vocabulary 51200, with (t, p, GPUs, batch). First transcribed from memory, then checked against three transcriptions
of the paper in the stored sources (identical values, no correction needed); the shapes check out (`param_counts`
gives the printed sizes). The table omits the micro-batch size and interleaving: b = 1 and no interleaving are
assumed, with full recompute and un-overlapped fp32 gradient all-reduce (the paper's Megatron-LM of 2021), so these
cases have settings only partly known. Their TFLOP/s counts the recomputed forward: F = 96·B·s·l·h²·(1 + s/6h +
V/16lh) per iteration (the paper's eq. 3).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from racksim.perf.accelerator import Accelerator
from racksim.perf.comm import DGX_A100, DGX_A100_GPUS_PER_NODE, AlphaBeta, nccl_protocols
from racksim.perf.hardware import reference_accelerator
from racksim.perf.layout import Layout, Recompute
from racksim.perf.model import ModelConfig, bundled_model, parse_model
from racksim.perf.published_inference import h100_dgx
from racksim.perf.training import System, train_step


@cache
def a100_dgx() -> System:
    """DGX A100 80GB nodes: NVSwitch inside 8 GPUs, HDR InfiniBand between them (`comm.DGX_A100`).

    The GPU is the one of designs/reference/dgx-a100.yaml.
    """
    return System(reference_accelerator("reference/dgx-a100.yaml"), DGX_A100, DGX_A100_GPUS_PER_NODE)


@dataclass(frozen=True)
class Case:
    """A published measurement: what was run, what was measured (in `unit`), and whether it calibrates."""

    name: str
    source: str
    model: ModelConfig
    layout: Layout
    measured: float
    unit: str
    """'s' (iteration time), 'TFLOP/s' (per GPU, the paper's own FLOP count), 'MFU' (racksim's count) or
    'tokens/s' (per GPU)."""
    calibration: bool = False
    settings_known: bool = True
    hardware: str = "a100"
    """'a100' (`a100_dgx()`), 'h100' (`published_inference.h100_dgx()`) or 'h800' (`h800_cluster()`); a bundled
    design's name for `published_nemo.DesignCase`."""
    memory_checked: bool = True
    """False: predicted even where racksim's footprint exceeds HBM (the run used savings racksim does not model)."""

    def predict(self, accelerator: Accelerator | None = None, system: System | None = None) -> float:
        """The model's value of the measured quantity, in `unit` (default system: the case's `hardware`)."""
        if system is None and self.hardware in ("h100", "h800"):
            system = h100_dgx() if self.hardware == "h100" else h800_cluster()
        if system is None:
            system = a100_dgx() if accelerator is None else System(accelerator, DGX_A100, DGX_A100_GPUS_PER_NODE)
        step = train_step(self.model, self.layout, system, check_memory=self.memory_checked)
        if self.unit == "tokens/s":
            return step.tokens_per_s_per_gpu
        if self.unit == "s":
            return step.step_time_s
        if self.unit == "MFU":
            return step.mfu
        m, lay = self.model, self.layout
        layers, h, s, v = m.num_hidden_layers, m.hidden_size, lay.seq_len, m.vocab_size
        flops = 96.0 * lay.global_batch * s * layers * h * h * (1 + s / (6 * h) + v / (16 * layers * h))
        return flops / (step.step_time_s * lay.gpus) / 1e12

    @property
    def error(self) -> float:
        """Relative error of the prediction, (predicted − measured) / measured."""
        return self.predict() / self.measured - 1.0


_K22 = "Korthikanti et al. 2022, Table 5 (times via calculon-ai/calculon)"


def _korthikanti(model: str, pp: int, batch: int, micro: int, vpp: int, full_s: float,
                 selective_s: float) -> list[Case]:
    cases = []
    modes: tuple[tuple[Recompute, float], ...] = (("full", full_s), ("selective", selective_s))
    for mode, measured in modes:
        layout = Layout(global_batch=batch, seq_len=2048, micro_batch=micro, tp=8, pp=pp, dp=1, vpp=vpp,
                        sequence_parallel=mode == "selective", recompute=mode, flash_attention=False, zero=0,
                        dp_overlap=False)
        cases.append(Case(f"{model} {mode}", _K22, bundled_model(model), layout, measured, "s",
                          calibration=(model, mode) == ("megatron-175b", "selective")))
    return cases


KORTHIKANTI_2022 = (
    *_korthikanti("megatron-22b", 1, 4, 4, 1, 1.42, 1.10),
    *_korthikanti("megatron-175b", 8, 64, 1, 3, 18.13, 13.75),
    *_korthikanti("megatron-530b", 35, 280, 1, 3, 49.05, 37.83),
    *_korthikanti("megatron-1t", 64, 512, 1, 1, 94.42, 71.49),
)


def _gpt(hidden: int, heads: int, layers: int) -> ModelConfig:
    return parse_model({"model_type": "gpt2", "n_embd": hidden, "n_head": heads, "n_layer": layers,
                        "vocab_size": 51200, "n_positions": 2048, "activation_function": "gelu"},
                       "Narayanan et al. 2021 Table 1")


# (size, heads, hidden, layers, t, p, GPUs, batch, achieved TFLOP/s per GPU)
_N21_TABLE1 = (
    ("1.7B", 24, 2304, 24, 1, 1, 32, 512, 137.0),
    ("3.6B", 32, 3072, 30, 2, 1, 64, 512, 138.0),
    ("7.5B", 32, 4096, 36, 4, 1, 128, 512, 142.0),
    ("18.4B", 48, 6144, 40, 8, 1, 256, 1024, 135.0),
    ("39.1B", 64, 8192, 48, 8, 2, 512, 1536, 138.0),
    ("76.1B", 80, 10240, 60, 8, 4, 1024, 1792, 140.0),
    ("145.6B", 96, 12288, 80, 8, 8, 1536, 2304, 148.0),
    ("310.1B", 128, 16384, 96, 8, 16, 1920, 2160, 155.0),
    ("529.6B", 128, 20480, 105, 8, 35, 2520, 2520, 163.0),
    ("1008.0B", 160, 25600, 128, 8, 64, 3072, 3072, 163.0),
)

NARAYANAN_2021 = tuple(
    Case(f"GPT {size}", "Narayanan et al. 2021, Table 1", _gpt(hidden, heads, layers),
         Layout(global_batch=batch, seq_len=2048, micro_batch=1, tp=t, pp=p, dp=gpus // (t * p), recompute="full",
                flash_attention=False, zero=0, dp_overlap=False),
         tflops, "TFLOP/s", settings_known=False)
    for size, heads, hidden, layers, t, p, gpus, batch, tflops in _N21_TABLE1
)

# Table 2 of the same paper, ZeRO-3 without model parallelism (DeepSpeed, 2021): the 174.6 B model (GPT-3's shape),
# batch 1536, (GPUs, micro-batch, achieved TFLOP/s per GPU by the same count). Values as in three stored
# transcriptions of the paper (identical). One micro-batch per GPU per step in every row (1536 / GPUs / micro-batch
# = 1): no gradient accumulation, the per-GPU compute halves with each doubling while each GPU still gathers the
# whole model. DeepSpeed's ZeRO-3 of that time (v0.3.15, 2021-04): one all-gather per weight matrix, each after a
# device-wide torch.cuda.synchronize() (partition_parameters._allgather_param; DeepSpeed commit c0eeb69 of
# 2021-10-31: "the async version is not async at all"), so no prefetch overlap (zero3_prefetch_layers 0); modules
# released after each forward, so the recomputed forward gathers again (zero3_gather 'tensor'); with
# contiguous_gradients on (as DeepSpeedExamples' ZeRO-3 configs set it; default off), every parameter's gradient
# reduce-scattered on its own, norms and biases too (_reduce_scatter_gradients). Assumed: full recompute
# (activation checkpointing), bf16 gradients, that reduce-scatter path (the paper's DeepSpeed settings are not
# published, VALIDATION.md).
_N21_TABLE2_ZERO3 = ((384, 4, 144.0), (768, 2, 88.0), (1536, 1, 44.0))

NARAYANAN_2021_ZERO3 = tuple(
    Case(f"ZeRO-3 175B {gpus} GPUs", "Narayanan et al. 2021, Table 2", _gpt(12288, 96, 96),
         Layout(global_batch=1536, seq_len=2048, micro_batch=micro, dp=gpus, zero=3, recompute="full",
                flash_attention=False, fp32_grads=False, zero3_prefetch_layers=0, zero3_gather="tensor"),
         tflops, "TFLOP/s", settings_known=False)
    for gpus, micro, tflops in _N21_TABLE2_ZERO3
)

# Llama 3 405B pre-training on H100 (Meta's RoCE cluster, 8 × 400 Gb/s per 8-GPU server; `h100_dgx()` has the same
# NVLink and NIC rates), BF16 MFU 43 / 41 / 38 % (Llama 3 paper, Table 4; the same degrees and 430 / 400 / 380
# TFLOP/s per GPU on G. Klockwood's notes of P. Balaji's SC'24 slide, glennklockwood.com/garden/llama-3.1):
# (GPUs, tp, cp, pp, dp, sequence, sequences per step = 16M tokens / sequence, MFU). Recompute at 8K (the cp 1 rows):
# none, as published: "With these optimizations, we could pre-train Llama 3 on sequences of 8K tokens without
# activation checkpointing" (§3.3.2, "Pipeline parallelism improvements"; the optimizations include one layer fewer
# on the first and last stages and deallocating each stage's input and output tensors, which racksim's memory model
# does not have: its footprint is 93 GB of 80 at vpp 4, so those rows are not memory-checked). Not published: the
# virtual stages, micro-batch, sharding, and recompute at 128K (cp 16); taken as racksim's own search picks them
# under the published degrees (vpp 4, micro-batch 1, ZeRO 1, full recompute at 128K; the 126 layers split
# 7 / 8 ×14 / 7). The MFU is racksim's count
# (full s² attention, as Megatron-LM); the paper cites PaLM (Chowdhery et al.) for its MFU, whose count,
# 6N + 12·L·H·Q·T FLOPs per token, is also full (unmasked) attention. CP is Llama 3's all-gather CP: K and V
# gathered before the attention, "exposed in the critical path" (§3.3.2), so `cp_overlap=False`.
_LLAMA3_TABLE4 = ((8192, 8, 1, 16, 64, 8192, 2048, 0.43), (16384, 8, 1, 16, 128, 8192, 2048, 0.41),
                  (16384, 8, 16, 16, 8, 131072, 128, 0.38))

LLAMA3_405B = tuple(
    Case(f"Llama 3 405B {gpus} GPUs cp {cp}", "Llama 3 paper (Dubey et al. 2024), Table 4",
         bundled_model("llama3-405b"),
         Layout(global_batch=batch, seq_len=seq, micro_batch=1, tp=tp, pp=pp, vpp=4, dp=dp, cp=cp,
                sequence_parallel=True, recompute="none" if cp == 1 else "full", zero=1, cp_overlap=False),
         mfu, "MFU", settings_known=False, hardware="h100", memory_checked=cp != 1)
    for gpus, tp, cp, pp, dp, seq, batch, mfu in _LLAMA3_TABLE4
)


@cache
def h800_cluster() -> System:
    """DeepSeek-V3's H800 nodes of 8 GPUs: H100 compute and HBM, slower NVLink.

    The GPU of `h100_dgx()`; NVLink 400 GB/s bidirectional (200 per direction, NVIDIA's H800 SXM figure; the report
    measures 160 GB/s), 50 GB/s of InfiniBand per GPU (report §3.2.2), NCCL's Simple and LL protocols as
    `comm.DGX_H100`.
    """
    return System(h100_dgx().accelerator, nccl_protocols(AlphaBeta(200.0, 50.0, 0.82, 8.4e-6, 3.4e-6, 6e-6)), 8)


# DeepSeek-V3 technical report (arXiv 2412.19437): 180K H800 GPU-hours per trillion pre-training tokens on 2,048 H800
# (§1, Table 1), i.e. 1e12 / (180e3 · 3600) = 1,543 tokens/s per GPU, an average over the whole pre-training (2,664K
# GPU-hours for 14.8T tokens); PP 16, EP 64 over 8 nodes, ZeRO-1 data parallelism, no TP (§3.2), FP8 GEMMs (§3.3),
# sequence 4,096 and batch 15,360 sequences after the ramp (§4.2). Run as the report describes it: DualPipe (§3.2.1)
# with 20 of the H800's 132 SMs (profile-data numSms) kept for communication (§3.2.2), each token routed to at most 4
# nodes and forwarded IB → NVLink (§3.2.2; the config's n_group 8 / topk_group 4), FP8 dispatch and BF16 combine
# (§3.3.4); norms and MLA up-projections recomputed (§3.2.3), FP8 activation caches with SwiGLU recomputed and BF16
# Adam moments (§3.3.4); fine-grained FP8 (1x128 tiles, 128x128 blocks, §3.3.2): GEMMs on the H100 design's
# block-scaled curve and their quantize kernels timed (`fp8_block_scaling`, VALIDATION.md "Fine-grained FP8"). No
# attention recompute (deepseek-ai/profile-data train.json: one FlashAttention forward per layer). Assumed:
# micro-batch 1 (one 4K sequence, as the profile's "4K sequence length"), the even layer split.
DEEPSEEK_V3 = (Case("DeepSeek-V3 2048 H800", "DeepSeek-V3 technical report, Table 1 and §3.2",
                    bundled_model("deepseek-v3"),
                    Layout(global_batch=15360, seq_len=4096, micro_batch=1, tp=1, pp=16, dp=128, ep=64,
                           precision="fp8", recompute="none", zero=1, pp_schedule="dualpipe",
                           comm_sm_fraction=20 / 132, ep_max_domains=4, ep_fp8_dispatch=True, recompute_norms=True,
                           fp8_activations=True, adam_bf16_moments=True, fp8_block_scaling="deepseek"),
                    1e12 / (180e3 * 3600), "tokens/s", settings_known=False, hardware="h800"),)

ALL_CASES = KORTHIKANTI_2022 + NARAYANAN_2021 + NARAYANAN_2021_ZERO3 + LLAMA3_405B + DEEPSEEK_V3
"""Every published case, calibration case first among Korthikanti's."""
