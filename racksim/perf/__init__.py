"""The LLM performance model, pure: training steps predicted from the model, the layout and the accelerator.

Models come from Hugging Face configs, accelerators sit on a roofline, memory per GPU is checked against HBM, and
the training step of a parallel layout gives step time and its breakdown, MFU, HFU and tokens/s per GPU.

Modules, bottom up: `model` (config loading and validation), `params` (parameter counts), `accelerator` (peaks, HBM,
efficiency curves, reference GPUs), `ops` (per-layer operations with FLOPs and bytes, roofline times), `layout`
(parallel degrees and step options), `memory` (memory per GPU, the fit check), `comm` (the collective timing
protocol, alpha-beta models with NCCL's protocols and an adapter to racksim.network), `training` (the step model and
the bytes its collectives send per link class; `dualpipe`, `tp_overlap` and `zero3` time its DualPipe schedule, its
GEMM-overlapped TP collectives and its ZeRO 3 collectives), `inference` (engine iterations of a TP replica on the
roofline, KV cache and its capacity), `serving` (continuous batching at a concurrency: TTFT, TPOT, tokens/s, the
throughput-interactivity curve and an SLO's operating point), `hardware` (a design's `compute_tray.gpus.accelerator`
compiled to an `Accelerator`, and its `System` on the design's network model), `search` (the fastest training layout
that fits, the serving layout under an SLO), `predict` (the API: `predict_training`, `predict_serving`; `racksim
perf train|serve` print them), `published`, `published_nemo`, `published_inference` and `published_blackwell`
(validation cases; `validation` gathers the training ones into one table, `serving_case` runs a serving case as
its benchmark tool ran it), `power` (the GPU activity a phase of work runs at, the input of the power curve).
VALIDATION.md holds the tables. racksim.workload compiles the scenarios from it.
"""

from racksim.perf.accelerator import Accelerator, EfficiencyCurve
from racksim.perf.comm import DGX_A100, DGX_H100, AlphaBeta, CollectiveTime, FastestOf, network_collective_time
from racksim.perf.hardware import accelerator_from_design, system_from_design
from racksim.perf.inference import Iteration, Replica, ServingMemory, kv_bytes_per_token, serving_memory
from racksim.perf.layout import Layout, check_layout
from racksim.perf.memory import MemoryBreakdown, check_fits, memory_per_gpu
from racksim.perf.model import ModelConfig, bundled_model, bundled_models, load_model, parse_model
from racksim.perf.params import ParamCounts, param_counts
from racksim.perf.predict import ServingPrediction, TrainingPrediction, predict_serving, predict_training
from racksim.perf.serving import ServingCurve, ServingPoint, operating_point, serve, serving_curve
from racksim.perf.training import StepBreakdown, StepTraffic, System, TrainingStep, model_flops, train_step

__all__ = [
    "DGX_A100",
    "DGX_H100",
    "Accelerator",
    "AlphaBeta",
    "CollectiveTime",
    "EfficiencyCurve",
    "FastestOf",
    "Iteration",
    "Layout",
    "MemoryBreakdown",
    "ModelConfig",
    "ParamCounts",
    "Replica",
    "ServingCurve",
    "ServingMemory",
    "ServingPoint",
    "ServingPrediction",
    "StepBreakdown",
    "StepTraffic",
    "System",
    "TrainingPrediction",
    "TrainingStep",
    "accelerator_from_design",
    "bundled_model",
    "bundled_models",
    "check_fits",
    "check_layout",
    "kv_bytes_per_token",
    "load_model",
    "memory_per_gpu",
    "model_flops",
    "network_collective_time",
    "operating_point",
    "param_counts",
    "parse_model",
    "predict_serving",
    "predict_training",
    "serve",
    "serving_curve",
    "serving_memory",
    "system_from_design",
    "train_step",
]
