/*
 * Bit and memory functions of the RP2040 ROM function table.
 * The bit functions use r0-r2 only: pico-sdk keeps live values in ip (r12) across them.
 */
    .syntax unified
    .cpu cortex-m0plus
    .thumb
    .text

@ uint32_t popcount32(uint32_t)
    .thumb_func
    .global rom_popcount32
rom_popcount32:
    lsrs r1, r0, #1
    ldr r2, =0x55555555
    ands r1, r2
    subs r0, r0, r1                 @ 2-bit counts
    ldr r2, =0x33333333
    lsrs r1, r0, #2
    ands r0, r2
    ands r1, r2
    adds r0, r0, r1                 @ 4-bit counts
    lsrs r1, r0, #4
    adds r0, r0, r1
    ldr r2, =0x0f0f0f0f
    ands r0, r2                     @ byte counts
    ldr r2, =0x01010101
    muls r0, r2                     @ sum into the top byte
    lsrs r0, r0, #24
    bx lr

@ uint32_t clz32(uint32_t): 32 for 0
    .thumb_func
    .global rom_clz32
rom_clz32:
    movs r1, #0
    lsrs r2, r0, #16
    bne 1f
    lsls r0, r0, #16
    adds r1, #16
1:  lsrs r2, r0, #24
    bne 1f
    lsls r0, r0, #8
    adds r1, #8
1:  lsrs r2, r0, #28
    bne 1f
    lsls r0, r0, #4
    adds r1, #4
1:  lsrs r2, r0, #30
    bne 1f
    lsls r0, r0, #2
    adds r1, #2
1:  lsrs r0, r0, #30                @ top two bits: 1x -> +0, 01 -> +1, 00 (input 0) -> +2
    beq 2f
    lsrs r0, r0, #1
    movs r2, #1
    eors r0, r2
    adds r0, r0, r1
    bx lr
2:  adds r0, r1, #2
    bx lr

@ uint32_t ctz32(uint32_t): popcount((x & -x) - 1), which is 32 for 0
    .thumb_func
    .global rom_ctz32
rom_ctz32:
    negs r1, r0
    ands r0, r1
    subs r0, #1
    b rom_popcount32

@ uint32_t reverse32(uint32_t): reverse the bits within each byte, then the bytes
    .thumb_func
    .global rom_reverse32
rom_reverse32:
    ldr r2, =0x55555555
    lsrs r1, r0, #1
    ands r1, r2
    ands r0, r2
    lsls r0, r0, #1
    orrs r0, r1
    ldr r2, =0x33333333
    lsrs r1, r0, #2
    ands r1, r2
    ands r0, r2
    lsls r0, r0, #2
    orrs r0, r1
    ldr r2, =0x0f0f0f0f
    lsrs r1, r0, #4
    ands r1, r2
    ands r0, r2
    lsls r0, r0, #4
    orrs r0, r1
    rev r0, r0
    bx lr

@ uint8_t *memset(uint8_t *ptr, uint8_t c, uint32_t n): returns ptr
    .thumb_func
    .global rom_memset
rom_memset:
    push {r0, lr}
    uxtb r1, r1
    cmp r2, #8
    blo 5f
1:  lsls r3, r0, #30                @ align the pointer
    beq 2f
    strb r1, [r0]
    adds r0, #1
    subs r2, #1
    b 1b
2:  lsls r3, r1, #8
    orrs r1, r3
    lsls r3, r1, #16
    orrs r1, r3                     @ c in all four bytes
    mov r3, r1
    subs r2, #8
    blo 4f
3:  stmia r0!, {r1, r3}
    subs r2, #8
    bhs 3b
4:  adds r2, #8
5:  cmp r2, #0
    beq 7f
6:  strb r1, [r0]
    adds r0, #1
    subs r2, #1
    bne 6b
7:  pop {r0, pc}

@ uint8_t *memcpy(uint8_t *dest, const uint8_t *src, uint32_t n): returns dest
    .thumb_func
    .global rom_memcpy
rom_memcpy:
    push {r0, r4, r5, r6, lr}
    cmp r2, #16
    blo 6f
    mov r3, r0
    eors r3, r1
    lsls r3, r3, #30                @ same alignment? else copy bytes
    bne 6f
1:  lsls r3, r0, #30
    beq 2f
    ldrb r3, [r1]
    strb r3, [r0]
    adds r0, #1
    adds r1, #1
    subs r2, #1
    b 1b
2:  subs r2, #16
    blo 4f
3:  ldmia r1!, {r3, r4, r5, r6}
    stmia r0!, {r3, r4, r5, r6}
    subs r2, #16
    bhs 3b
4:  adds r2, #16
5:  subs r2, #4
    blo 51f
    ldmia r1!, {r3}
    stmia r0!, {r3}
    b 5b
51: adds r2, #4
6:  cmp r2, #0
    beq 8f
7:  ldrb r3, [r1]
    strb r3, [r0]
    adds r0, #1
    adds r1, #1
    subs r2, #1
    bne 7b
8:  pop {r0, r4, r5, r6, pc}
