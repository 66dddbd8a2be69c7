# Raspberry Pi Pico syringe driver: pin map and drive mechanics (see boards/pico/WIRING.md).
# Read by the firmware (frozen as module `board`) and by the host tools.
NAME = "pico"

# M5 threaded rod (ISO coarse pitch 0.8 mm) turned directly by a 1.8 degree stepper through a
# TMC2209 at 16 microsteps: 0.25 um of plunger travel per microstep.
MECHANICS = {"lead_um": 800, "full_steps_per_rev": 200, "microsteps": 16}

# GPIO numbers. STEP/DIR are driven by PIO; EN is active low on the TMC2209.
PINS = {
    "step": 2,
    "dir": 3,
    "en": 4,
    "led": 25,
}
EN_ACTIVE_LOW = True
# Forward (plunger towards the syringe tip) is DIR high.
DIR_FORWARD = 1
