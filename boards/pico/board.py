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
    "hx711_dout": 16,  # HX711 DOUT, read by PIO (input, pull-up)
    "hx711_sck": 17,  # HX711 PD_SCK, driven by PIO
    "syringe": 18,  # syringe-present switch (input, pull-up; closes to GND when seated)
    "proto_tx": 8,  # UART1 TX: the pump protocol (firmware/protolink.py, pump/PROTOCOL.md)
    "proto_rx": 9,  # UART1 RX
    # The bedside interface (issue 20): alarm signals, display and keys.
    "buzzer": 15,  # passive piezo through a transistor; the tone is made on the pin
    "led_red": 13,  # alarm LED, red element (high = on); red + green = yellow
    "led_green": 14,  # alarm LED, green element (high = on)
    "oled_sda": 20,  # SSD1306 128x64 on I2C0
    "oled_scl": 21,
    # Keys: momentary, to GND, inputs with pull-ups (pressed = 0); the bench fixture presses
    # them open drain.
    "key_ok": 5,  # Start/OK
    "key_stop": 6,  # Stop/No
    "key_up": 7,
    "key_down": 10,
    "key_info": 11,
    "key_bolus": 12,  # bolus / back
    # The supply (issue 21, boards/pico/WIRING.md): on the Pico board itself, GP29 is ADC3
    # reading VSYS/3 and GP24 reads VBUS present (Pico datasheet); GP28 (ADC2) takes a 9 V
    # cell through a 300k/100k divider (the cell feeds a regulator, so VSYS cannot show it).
    "vsys_adc": 29,
    "vbus_sense": 24,
    "cell_adc": 28,
}
# The cell fitted (boards/batteries.py); None: a pump that does not know its supply.
BATTERY = "6lr61"
EN_ACTIVE_LOW = True
# Forward (plunger towards the syringe tip) is DIR high.
DIR_FORWARD = 1

# The load cell on the pusher (HX711) and the syringe-present switch are fitted: the pump
# detects occlusions, a removed syringe and a faulty cell. False on a build without them.
LOAD_CELL = True
# The switch's level when a syringe is seated: it closes to GND against the pull-up, so a
# broken wire reads as no syringe.
SYRINGE_SEATED = 0
