/*
 * Minimal RP2040 boot ROM for the rp2040js virtual board: vectors, header, lookup
 * tables, boot into flash, and the flash/USB-boot traps the host implements.
 * Written for this project; see README.md for the contract with the host.
 */
    .syntax unified
    .cpu cortex-m0plus
    .thumb

    .equ SRAM_END,        0x20042000
    .equ BOOT2_RAM,       0x20041f00     @ where the real ROM runs boot2 from
    .equ XIP_BASE,        0x10000000
    .equ WD_SCRATCH4,     0x4005801c     @ watchdog scratch4..7: reboot-to-vector
    .equ WD_MAGIC,        0xb007c0d3
    .equ CRC32_POLY,      0x04c11db7     @ boot2 checksum: CRC-32/MPEG-2

    @ host trap codes (bkpt immediates), see README.md
    .equ BKPT_ERASE,      0x10
    .equ BKPT_PROGRAM,    0x11
    .equ BKPT_USB_BOOT,   0x12
    .equ BKPT_ROM_FAULT,  0x13

    .section .vectors, "ax"
    .global __vectors
__vectors:
    .word SRAM_END                  @ 0x00 initial SP
    .word rom_reset                 @ 0x04 (Thumb bit set by the linker)
    .word rom_fault                 @ 0x08 NMI
    .word rom_fault                 @ 0x0c HardFault
    .byte 'M', 'u', 0x01, 0x03      @ 0x10 magic, version 3
    @ 16-bit pointers: R_ARM_ABS16 does not add the Thumb bit, so add it here
    .hword func_table               @ 0x14
    .hword data_table               @ 0x16
    .hword rom_table_lookup + 1     @ 0x18
    .hword 0

    .text

@ void *rom_table_lookup(uint16_t *table, uint32_t code): 0 when not found
    .thumb_func
    .global rom_table_lookup
rom_table_lookup:
1:  ldrh r2, [r0]
    cmp r2, #0
    beq 2f
    adds r0, #4
    cmp r2, r1
    bne 1b
    subs r0, #2
    ldrh r0, [r0]
    bx lr
2:  movs r0, #0
    bx lr

    .thumb_func
    .global rom_reset
rom_reset:
    @ watchdog_reboot(pc, sp, ..) leaves a one-shot vector in scratch4..7
    ldr r0, =WD_SCRATCH4
    ldmia r0!, {r1, r2, r3, r4}     @ magic, pc ^ -magic, sp, pc
    ldr r5, =WD_MAGIC
    cmp r1, r5
    bne flash_boot
    negs r5, r5
    eors r5, r4
    cmp r5, r2
    bne flash_boot
    subs r0, #16
    movs r1, #0
    str r1, [r0]
    mov sp, r3
    movs r1, #1
    orrs r4, r1
    bx r4

flash_boot:
    @ like the real ROM: copy boot2 (256 bytes) to the top of SRAM, check its CRC, run it
    ldr r0, =XIP_BASE
    ldr r1, =BOOT2_RAM
    ldr r7, =SRAM_END
1:  ldmia r0!, {r2, r3, r4, r5}
    stmia r1!, {r2, r3, r4, r5}
    cmp r1, r7
    bne 1b
    ldr r0, =BOOT2_RAM
    movs r1, #252
    movs r2, #0
    mvns r2, r2                     @ crc = 0xffffffff
    ldr r3, =CRC32_POLY
2:  ldrb r4, [r0]
    adds r0, #1
    lsls r4, #24
    eors r2, r4
    movs r5, #8
3:  lsls r2, #1
    bcc 4f
    eors r2, r3
4:  subs r5, #1
    bne 3b
    subs r1, #1
    bne 2b
    ldr r4, [r0]                    @ stored checksum
    cmp r2, r4
    bne rom_reset_usb_boot          @ no valid boot2: the real chip enters BOOTSEL
    ldr r0, =BOOT2_RAM
    mov sp, r0                      @ boot2's stack sits below its code
    movs r1, #0
    mov lr, r1                      @ lr == 0 tells boot2 to vector into the flash image
    adds r0, #1
    bx r0

@ ---- flash: the host does the work on the bkpt (r0..r3 hold the arguments) ----
@ void flash_range_erase(uint32_t addr, size_t count, uint32_t block_size, uint8_t block_cmd)
    .thumb_func
rom_flash_range_erase:
    bkpt #BKPT_ERASE
    bx lr

@ void flash_range_program(uint32_t addr, const uint8_t *data, size_t count)
    .thumb_func
rom_flash_range_program:
    bkpt #BKPT_PROGRAM
    bx lr

@ connect_internal_flash, flash_exit_xip, flash_flush_cache, flash_enter_cmd_xip:
@ the emulated flash is always readable
    .thumb_func
rom_nop:
    bx lr

@ void reset_usb_boot(uint32_t gpio_activity_pin_mask, uint32_t disable_interface_mask)
    .thumb_func
rom_reset_usb_boot:
    cpsid i
    bkpt #BKPT_USB_BOOT
1:  wfi                             @ never returns, as on the chip
    b 1b

@ NMI/HardFault while the ROM's vector table is active (before boot2 moves VTOR)
    .thumb_func
rom_fault:
    bkpt #BKPT_ROM_FAULT
    b .

@ ---- double sin/cos: results in r0:r1 (sin) and r2:r3 (cos) ----
    .thumb_func
rom_dsincos:
    push {r4, lr}
    sub sp, #16
    mov r2, sp
    bl rom_dsincos_c
    pop {r0, r1, r2, r3}
    pop {r4, pc}

    .ltorg

@ ---- lookup tables: (16-bit code, 16-bit pointer) pairs, 0-terminated ----
    .macro entry c1, c2, target
    .byte \c1, \c2
    .hword \target
    .endm

    .section .rodata.tables, "a"
    .balign 4
func_table:
    entry 'P', '3', rom_popcount32+1
    entry 'L', '3', rom_clz32+1
    entry 'T', '3', rom_ctz32+1
    entry 'R', '3', rom_reverse32+1
    entry 'M', 'S', rom_memset+1
    entry 'M', 'C', rom_memcpy+1
    entry 'S', '4', rom_memset+1         @ word-aligned variants share the general code
    entry 'C', '4', rom_memcpy+1
    entry 'I', 'F', rom_nop+1
    entry 'E', 'X', rom_nop+1
    entry 'F', 'C', rom_nop+1
    entry 'C', 'X', rom_nop+1
    entry 'R', 'E', rom_flash_range_erase+1
    entry 'R', 'P', rom_flash_range_program+1
    entry 'U', 'B', rom_reset_usb_boot+1
    .hword 0

data_table:
    entry 'S', 'F', sf_table
    entry 'S', 'D', sd_table
    .hword 0

    @ pico-sdk reads the table size (in words) at table - 2; the datasheet speaks of the
    @ byte before the table, so both bytes hold it
    .balign 4
    .hword 0
    .byte 32, 32
sf_table:                               @ .word of a Thumb function carries the Thumb bit
    .word rom_fadd, rom_fsub, rom_fmul, rom_fdiv          @ 0x00
    .word rom_fcmp, rom_fcmp, rom_fsqrt, rom_float2int    @ 0x10 (fast cmps: plain cmp)
    .word rom_float2fix, rom_float2uint, rom_float2ufix, rom_int2float   @ 0x20
    .word rom_fix2float, rom_uint2float, rom_ufix2float, rom_fcos        @ 0x30
    .word rom_fsin, rom_ftan, rom_fsin, rom_fexp          @ 0x40 (0x48: sincos = fsin)
    .word rom_fln, rom_fcmp, rom_fatan2, rom_int642float  @ 0x50
    .word rom_fix642float, rom_uint642float, rom_ufix642float, rom_float2int64   @ 0x60
    .word rom_float2fix64, rom_float2uint64, rom_float2ufix64, rom_float2double  @ 0x70

    .hword 0
    .byte 32, 32
sd_table:
    .word rom_dadd, rom_dsub, rom_dmul, rom_ddiv
    .word rom_dcmp, rom_dcmp, rom_dsqrt, rom_double2int
    .word rom_double2fix, rom_double2uint, rom_double2ufix, rom_int2double
    .word rom_fix2double, rom_uint2double, rom_ufix2double, rom_dcos
    .word rom_dsincos, rom_dtan, rom_dsincos, rom_dexp
    .word rom_dln, rom_dcmp, rom_datan2, rom_int642double
    .word rom_fix642double, rom_uint642double, rom_ufix642double, rom_double2int64
    .word rom_double2fix64, rom_double2uint64, rom_double2ufix64, rom_double2float
