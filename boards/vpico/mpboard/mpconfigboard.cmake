# vpico: RPI_PICO's cmake settings and pin names, taken from the MicroPython tree being built
# (boards/build/rp2.sh passes this directory as BOARD_DIR).
include(${MICROPY_PORT_DIR}/boards/RPI_PICO/mpconfigboard.cmake)
set(GEN_PINS_BOARD_CSV "${MICROPY_PORT_DIR}/boards/RPI_PICO/pins.csv")
set(GEN_PINS_CSV_ARG --board-csv "${GEN_PINS_BOARD_CSV}")
