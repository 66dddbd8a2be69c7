"""Benchmarks (make bench, make bench-alarms): speed, alarm timing, stalls."""
