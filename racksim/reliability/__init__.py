"""Reliability: failure processes by component class, sampled fault schedules, checkpoint intervals."""
