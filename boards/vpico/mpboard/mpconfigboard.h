// vpico: the Pico build with the REPL on UART0, for the emulated RP2040 (USB-CDC costs about
// 60 % of emulated CPU time). Same flash layout as RPI_PICO, so littlefs starts at 0xA0000.
#define MICROPY_HW_BOARD_NAME                   "Raspberry Pi Pico (UART REPL)"
#define MICROPY_HW_FLASH_STORAGE_BYTES          (1408 * 1024)
#define MICROPY_HW_ENABLE_UART_REPL             (1)
