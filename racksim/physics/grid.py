"""The hall's power as the grid sees it: feed power at sub-second resolution, its swing metrics, and mitigations.

Pure and vectorized over time (and rows, jobs). Every power series is sampled on a uniform grid of step Δt and
held constant over each step (energy E = Σ p·Δt).

- Feed power: each job repeats its cycle of phases (every rack of a job draws the same power at the same
  instant: a synchronous job); jobs are offset in their cycles; racks running no job draw idle power. Row loads
  go through the row feeders and the UPS (racksim.physics.hall_power) to the facility input.
- Swing metrics: peak-to-trough max p − min p; the largest ramp max |p(t + w) − p(t)| / w over a window w; the
  share of the swing's energy in a band from the one-sided power spectrum of the mean-removed power
  (numpy.fft.rfft; Parseval: Σ (p − p̄)² = (1/N)(|X₀|² + 2 Σ |X_k|² + |X_{N/2}|²)).
- Mitigations, each giving the mitigated feed power and its energy overhead (energy drawn beyond the unmitigated
  feed's, less what ends up stored): a GPU power floor (the jobs' phase powers at the floor, from the operating
  point); storage that moves the source toward the load at limited ramp rates and power, covering the difference
  while it has charge or room (`ramp_limited_storage`), per rack (the rack's smoothing storage) or for the hall
  (a facility battery at the feed).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from racksim._types import FloatArray, IndexArray
from racksim.physics.hall_power import HallPowerChain, hall_input_w


@dataclass(frozen=True)
class JobWaveform:
    """One synchronous job's racks and the cycle of phases they draw power through together."""

    rack_row: IndexArray
    """Row of each of the job's racks."""
    phase_duration_s: FloatArray
    """The job's cycle of phases, s each."""
    rack_feed_power_w: FloatArray
    """One rack's feed input power in each phase, W."""
    offset_s: float
    """Where in its cycle the job is at window time 0, s."""

    @property
    def cycle_s(self) -> float:
        """Length of the job's cycle, s."""
        return float(self.phase_duration_s.sum())

    def rack_power_w(self, t_s: FloatArray) -> FloatArray:
        """One rack's feed power at times `t_s`: the phase in force at (t + offset) mod cycle, W."""
        ends_s = np.cumsum(self.phase_duration_s)
        into_s = np.mod(np.asarray(t_s, dtype=float) + self.offset_s, ends_s[-1])
        phase = np.minimum(np.searchsorted(ends_s, into_s, side="right"), ends_s.size - 1)
        return self.rack_feed_power_w[phase]

    def mean_rack_power_w(self) -> float:
        """One rack's cycle-mean feed power, W (time-weighted over the phases)."""
        return float(self.phase_duration_s @ self.rack_feed_power_w / self.cycle_s)


def rack_counts_by_row(job: JobWaveform, n_rows: int) -> FloatArray:
    """How many of the job's racks each row holds."""
    return np.bincount(job.rack_row, minlength=n_rows).astype(float)


def row_load_w(rack_power_w: Sequence[FloatArray], jobs: Sequence[JobWaveform],
               idle_rack_feed_power_w_by_row: FloatArray) -> FloatArray:
    """Row loads (time, rows): the idle racks' feed in each row plus each job's rack power × its racks there, W."""
    idle_w = np.asarray(idle_rack_feed_power_w_by_row, dtype=float)
    steps = rack_power_w[0].size if rack_power_w else 1
    load = np.broadcast_to(idle_w, (steps, idle_w.size)).copy()
    for power_w, job in zip(rack_power_w, jobs, strict=True):
        load += np.outer(power_w, rack_counts_by_row(job, idle_w.size))
    return load


def hall_feed_power_w(t_s: FloatArray, jobs: Sequence[JobWaveform], idle_rack_feed_power_w_by_row: FloatArray,
                      chain: HallPowerChain) -> FloatArray:
    """The hall's facility input at times `t_s`: the rows' loads through the row feeders and UPS, W.

    `idle_rack_feed_power_w_by_row` is the feed power of the racks running no job, summed per row, W.
    """
    powers = [job.rack_power_w(t_s) for job in jobs]
    load = row_load_w(powers, jobs, idle_rack_feed_power_w_by_row)
    return hall_input_w(chain, load[: np.size(t_s)])


# --------------------------------------------------------------------------- swing metrics


def power_spectrum(power_w: FloatArray, step_s: float) -> tuple[FloatArray, FloatArray]:
    """One-sided power spectral density of the mean-removed power: (frequency Hz, W²/Hz).

    S_k = c_k · |X_k|² · Δt / N, X = rfft(p − p̄), c_k = 2 except at 0 and at Nyquist (1), so Σ S_k · Δf =
    mean((p − p̄)²) with Δf = 1 / (N Δt).
    """
    samples = np.asarray(power_w, dtype=float)
    n = samples.size
    spectrum = np.fft.rfft(samples - samples.mean())
    density = np.abs(spectrum) ** 2 * step_s / n
    density[1: (n + 1) // 2] *= 2.0  # every bin but DC and (even n) Nyquist stands for ± frequencies
    return np.asarray(np.fft.rfftfreq(n, step_s), dtype=float), density


def band_energy_share(freq_hz: FloatArray, density: FloatArray, band_hz: tuple[float, float]) -> float:
    """Share of the swing's energy (the spectrum without DC) in [low, high] Hz; 0 for a flat signal."""
    total = float(density[1:].sum())
    if total <= 0:
        return 0.0
    in_band = (freq_hz >= band_hz[0]) & (freq_hz <= band_hz[1])
    in_band[0] = False
    return float(density[in_band].sum()) / total


def max_ramp_w_per_s(power_w: FloatArray, step_s: float, window_s: float) -> float:
    """Largest |p(t + w) − p(t)| / w with w = the window rounded to whole steps (at least one), W/s."""
    samples = np.asarray(power_w, dtype=float)
    lag = max(1, round(window_s / step_s))
    if samples.size <= lag:
        return 0.0
    return float(np.abs(samples[lag:] - samples[:-lag]).max()) / (lag * step_s)


@dataclass(frozen=True)
class Swing:
    """The swing of a feed power series as the grid sees it."""

    mean_w: float
    peak_w: float
    trough_w: float
    peak_to_trough_w: float
    max_ramp_w_per_s: float
    band_energy_share: float
    """Share of the mean-removed signal's energy in the band."""
    energy_j: float


def swing(power_w: FloatArray, step_s: float, ramp_window_s: float, band_hz: tuple[float, float]) -> Swing:
    """Peak-to-trough, the largest ramp over `ramp_window_s` and the band's share of the swing energy."""
    samples = np.asarray(power_w, dtype=float)
    freq_hz, density = power_spectrum(samples, step_s)
    peak, trough = float(samples.max()), float(samples.min())
    return Swing(mean_w=float(samples.mean()), peak_w=peak, trough_w=trough, peak_to_trough_w=peak - trough,
                 max_ramp_w_per_s=max_ramp_w_per_s(samples, step_s, ramp_window_s),
                 band_energy_share=band_energy_share(freq_hz, density, band_hz),
                 energy_j=float(samples.sum()) * step_s)


def within_limits(result: Swing, ramp_w_per_s: float | None, peak_to_trough_w: float | None,
                  band_share: float | None) -> dict[str, bool]:
    """Each limit given and whether the swing meets it (limits absent are not checked)."""
    checks = {"ramp": (result.max_ramp_w_per_s, ramp_w_per_s), "peak_to_trough": (result.peak_to_trough_w,
              peak_to_trough_w), "band_share": (result.band_energy_share, band_share)}
    return {name: value <= limit * (1 + 1e-9) for name, (value, limit) in checks.items() if limit is not None}


# --------------------------------------------------------------------------- mitigations


@dataclass(frozen=True)
class Store:
    """Energy storage between a source and a load, and the controller that ramps the source.

    The source follows the load low-passed over `time_constant_s` (plus a recovery power toward half charge; a
    bare ramp limiter would drift to the level the load holds longest) at most at `ramp_up_w_per_s` /
    `ramp_down_w_per_s` and never more than `max_power_w` from it; the store covers load − source while it has
    charge (or room), else the source meets the load. Storing loses (1 − η) of what goes in, discharging takes
    1/η of what comes out (η one-way, round trip η²).
    """

    capacity_j: float
    ramp_up_w_per_s: float
    ramp_down_w_per_s: float
    efficiency: float = 1.0
    max_power_w: float = math.inf
    recovery_w: float = 0.0
    """Largest power the controller adds to (or takes from) the source to bring the charge back to half, W."""
    time_constant_s: float = 0.0
    """The source's target is the load low-passed with this time constant (0: the load itself), s."""


@dataclass(frozen=True)
class Stored:
    """What storage did over a series: the source power, the stored energy after each step, the losses."""

    source_w: FloatArray
    energy_j: FloatArray
    """Stored energy at the end of each step, J (it starts at half the capacity)."""
    loss_j: FloatArray
    """Conversion losses over the series (per column), J."""
    initial_j: float
    """Stored energy at the start, J."""

    @property
    def stored_change_j(self) -> FloatArray:
        """Stored energy at the end less at the start (per column), J."""
        return self.energy_j[-1] - self.initial_j


def ramp_limited_storage(load_w: FloatArray, step_s: float, store: Store) -> Stored:
    """Storage smoothing `load_w` (time, ...columns) step by step; columns are independent stores alike.

    At each step k (load d, source s from the step before, charge e): the low-passed load m ← m + (d − m)·min(1,
    Δt/τ), target m + r with r = clip((E/2 − e)/Δt, ±recovery); s ← s + clip(target − s, −r_down Δt, r_up Δt),
    then within d ± max power; the gap g = d − s is
    what the store delivers (g > 0: e −= g Δt / η) or takes (g < 0: e += |g| Δt η), reduced to what its charge
    (or room) allows, the source making up the rest. Loss = energy out of the store − g Δt, so
    Σ (s − d) Δt = Δe + loss exactly.
    """
    load = np.asarray(load_w, dtype=float)
    eta, capacity = store.efficiency, store.capacity_j
    half = 0.5 * capacity
    energy = np.full(load.shape[1:], half)
    source = load.mean(axis=0)  # settled: the source starts at the load's mean, not at its first sample
    average = source.copy()
    alpha = min(1.0, step_s / store.time_constant_s) if store.time_constant_s > 0 else 1.0
    sources, energies = np.empty_like(load), np.empty_like(load)
    loss = np.zeros(load.shape[1:])
    up, down = store.ramp_up_w_per_s * step_s, store.ramp_down_w_per_s * step_s
    for k in range(load.shape[0]):
        demand = load[k]
        average = average + (demand - average) * alpha
        target = average + np.clip((half - energy) / step_s, -store.recovery_w, store.recovery_w)
        source = source + np.clip(target - source, -down, up)
        source = np.clip(source, demand - store.max_power_w, demand + store.max_power_w)
        # What the store can give (charge) or take (room) over the step, as power at the load side.
        gap = np.clip(demand - source, -(capacity - energy) / (eta * step_s), energy * eta / step_s)
        source = demand - gap
        out_j = np.where(gap > 0, gap * step_s / eta, gap * step_s * eta)
        loss += out_j - gap * step_s
        energy = energy - out_j
        sources[k], energies[k] = source, energy
    return Stored(sources, energies, loss, half)


def overhead_j(base_w: FloatArray, mitigated_w: FloatArray, step_s: float, stored_change_j: float = 0.0) -> float:
    """Energy overhead of a mitigation: (Σ p_mitigated − Σ p_base) Δt − stored energy gained, J."""
    return float(np.sum(mitigated_w) - np.sum(base_w)) * step_s - stored_change_j


def with_rack_storage(t_s: FloatArray, step_s: float, jobs: Sequence[JobWaveform],
                      idle_rack_feed_power_w_by_row: FloatArray, chain: HallPowerChain,
                      stores: Sequence[Store | None]) -> tuple[FloatArray, float]:
    """The hall's feed with each job's racks smoothed by its store (None: none); (feed W, stored energy gained J).

    The racks of a job draw alike, so one store per job stands for each of its racks; idle racks are steady.
    """
    sources, gained_j = [], 0.0
    for job, store in zip(jobs, stores, strict=True):
        power_w = job.rack_power_w(t_s)
        if store is None:
            sources.append(power_w)
            continue
        stored = ramp_limited_storage(power_w[:, None], step_s, store)
        sources.append(stored.source_w[:, 0])
        gained_j += float(stored.stored_change_j[0]) * job.rack_row.size
    return hall_input_w(chain, row_load_w(sources, jobs, idle_rack_feed_power_w_by_row)), gained_j


def with_facility_battery(feed_w: FloatArray, step_s: float, store: Store) -> tuple[FloatArray, float]:
    """The grid's side of a facility battery at the hall's feed; (feed W, stored energy gained J)."""
    stored = ramp_limited_storage(np.asarray(feed_w, dtype=float)[:, None], step_s, store)
    return stored.source_w[:, 0], float(stored.stored_change_j[0])
