"""The design's reliability section: a failure process per component class, hot spares, restart time."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, model_validator

from racksim.design.base import Model, NonNegativeFloat, PositiveFloat

COMPONENT_CLASSES = ("gpu", "cpu", "host", "nic", "psu", "power_shelf", "fan", "pump", "cdu", "switch_tray",
                     "link", "optic")
"""Component classes with a failure process, in the order their random streams are spawned."""


class FailureProcess(Model):
    """Time to failure (exponential, or Weibull with a shape) and time to repair of one component class."""

    mtbf_h: PositiveFloat | None = None
    """Mean time between failures of one component, h (or give `fit`)."""
    fit: PositiveFloat | None = None
    """Failures in 10⁹ component-hours (MTBF = 10⁹ / FIT h)."""
    weibull_shape: Annotated[float, Field(gt=0, le=10)] = 1.0
    """Weibull shape k of the time to failure (1: exponential); the scale keeps the mean at the MTBF."""
    mttr_h: PositiveFloat
    """Mean time to repair (or replace), h."""
    mttr_sigma: NonNegativeFloat = 0.0
    """σ of ln(repair time) for a lognormal repair time with mean `mttr_h` (0: every repair takes the mean)."""
    source: str = Field(min_length=1)
    """Where the figures come from (tagged P/S/D/A)."""

    @model_validator(mode="after")
    def _one_rate(self) -> FailureProcess:
        if (self.mtbf_h is None) == (self.fit is None):
            raise ValueError("give exactly one of mtbf_h and fit")
        return self

    @property
    def mean_time_to_failure_h(self) -> float:
        """MTBF, h."""
        return self.mtbf_h if self.mtbf_h is not None else 1e9 / float(self.fit or 1.0)


class Reliability(Model):
    """Failure processes by component class (absent: that class never fails), hot spares and restart time."""

    gpu: FailureProcess | None = None
    """A GPU failure stops the GPU and interrupts the synchronous job."""
    cpu: FailureProcess | None = None
    """A CPU failure takes its host (compute tray) down with it."""
    host: FailureProcess | None = None
    """A host failure takes a whole compute tray down (correlated: every chip of the tray)."""
    nic: FailureProcess | None = None
    """A scale-out NIC failure interrupts the job (its GPU's rank is cut off) until restart."""
    psu: FailureProcess | None = None
    """A PSU failure goes to the power model (load sharing, capping, trips)."""
    power_shelf: FailureProcess | None = None
    """A shelf failure loses every PSU of the shelf at once (correlated)."""
    fan: FailureProcess | None = None
    pump: FailureProcess | None = None
    cdu: FailureProcess | None = None
    """A CDU failure stops heat rejection (the loop heats up) until repaired."""
    switch_tray: FailureProcess | None = None
    """A scale-up switch tray failure interrupts the job (NCCL communicators fail) until restart."""
    link: FailureProcess | None = None
    """A cable or link failure (per signal link of the cabling plan) interrupts the job until restart."""
    optic: FailureProcess | None = None
    """An optical transceiver failure (per optical link) interrupts the job until restart."""
    hot_spare_trays: Annotated[int, Field(ge=0)] = 0
    """Compute trays held idle as hot spares: the job runs on the others and takes a spare over a failed tray."""
    restart_time_s: PositiveFloat = 600.0
    """Time from an interruption to the job running again from its last checkpoint, s."""

    def processes(self) -> dict[str, FailureProcess]:
        """The classes that fail, in COMPONENT_CLASSES order."""
        return {name: process for name in COMPONENT_CLASSES if (process := getattr(self, name)) is not None}
