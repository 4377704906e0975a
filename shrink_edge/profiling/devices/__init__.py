"""The devices profiling runs on: adb phones and boards, the emulated arm64 phone, and the standalone runner they execute."""
