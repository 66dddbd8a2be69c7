# The fidelity image: RPI_PICO's cmake settings and pin names from the tree being built, with
# pico-sdk's default UART (the UART REPL) moved to UART1 on GPIO4/5.
include(${MICROPY_PORT_DIR}/boards/RPI_PICO/mpconfigboard.cmake)
set(GEN_PINS_BOARD_CSV "${MICROPY_PORT_DIR}/boards/RPI_PICO/pins.csv")
set(GEN_PINS_CSV_ARG --board-csv "${GEN_PINS_BOARD_CSV}")
add_compile_definitions(PICO_DEFAULT_UART=1 PICO_DEFAULT_UART_TX_PIN=4 PICO_DEFAULT_UART_RX_PIN=5)
