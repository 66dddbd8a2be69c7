// The fidelity image: MicroPython as released (no pump firmware), with the REPL on UART1
// (GPIO4/5), for running MicroPython's own test suite on the virtual Pico (make fidelity).
// UART0 stays free: the upstream UART tests take it on GPIO0/1. Same flash layout as RPI_PICO.
#define MICROPY_HW_BOARD_NAME                   "Raspberry Pi Pico (UART1 REPL)"
#define MICROPY_HW_FLASH_STORAGE_BYTES          (1408 * 1024)
#define MICROPY_HW_ENABLE_UART_REPL             (1)
