/* Shared helpers for the boot ROM's float code (also builds on the host for tests). */
#ifndef ROM_H
#define ROM_H

#include <stdint.h>

typedef union {
    float f;
    uint32_t u;
} fbits;

typedef union {
    double d;
    uint64_t u;
} dbits;

static inline uint32_t f2u(float x) { fbits b = {.f = x}; return b.u; }
static inline float u2f(uint32_t x) { fbits b = {.u = x}; return b.f; }
static inline uint64_t d2u(double x) { dbits b = {.d = x}; return b.u; }
static inline double u2d(uint64_t x) { dbits b = {.u = x}; return b.d; }

/* The RP2040 ROM has no denormals: they read as zero and results flush to zero. */
static inline float ftz(float x)
{
    uint32_t u = f2u(x);
    return (u & 0x7f800000u) ? x : u2f(u & 0x80000000u);
}

static inline double dftz(double x)
{
    uint64_t u = d2u(x);
    return (u & 0x7ff0000000000000ull) ? x : u2d(u & 0x8000000000000000ull);
}

#define DSIGN 0x8000000000000000ull
#define DINF 0x7ff0000000000000ull
#define DNAN 0x7ff8000000000000ull

/* |x| as bits; comparable as integers for non-NaN values */
static inline uint64_t dabs_bits(double x) { return d2u(x) & ~DSIGN; }

/* x * 2^k, saturating to inf and flushing underflow (and zero) to signed zero */
static inline double dscale(double x, int k)
{
    uint64_t u = d2u(x);
    if (!(u & ~DSIGN))
        return x;
    int e = (int)((u >> 52) & 0x7ff) + k;
    if (e >= 0x7ff)
        return u2d((u & DSIGN) | DINF);
    if (e <= 0)
        return u2d(u & DSIGN);
    return u2d((u & ~(0x7ffull << 52)) | ((uint64_t)e << 52));
}

/* rommath.c: double-precision scientific functions (denormal inputs already flushed) */
double rom_dsqrt(double x);
void rom_dsincos_c(double x, double out[2]);
double rom_dcos(double x);
double rom_dtan(double x);
double rom_dexp(double x);
double rom_dln(double x);
double rom_datan2(double y, double x);

/* romfloat.c: floor(x * 2^n) saturated, the ROM's rounding for all float-to-fixed conversions */
uint64_t rom_to_fix(double x, int n, int mode);
#define FIX_SIGNED 1
#define FIX_64 2

#endif
