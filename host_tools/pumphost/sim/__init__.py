"""The emulator: the firmware application on simulated hardware, scenarios and the plant."""
