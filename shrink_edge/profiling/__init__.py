"""Latency and memory of artifacts: the host, devices over adb, the emulated arm64 phone, instruction counts."""
