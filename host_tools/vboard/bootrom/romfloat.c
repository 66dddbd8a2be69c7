/*
 * Entries of the SF (float) and SD (double) tables, backed by libgcc's __aeabi_*
 * soft-float routines (the C operators below compile to calls to them).
 * The ROM's conventions that pico-sdk relies on:
 *  - denormals are flushed to zero on input and output;
 *  - float/double to integer or fixed point rounds towards -Infinity and saturates;
 *  - fix2float(v, n) is v * 2^-n; float2fix(v, n) is floor(v * 2^n);
 *  - fsin returns sin in r0 and cos in r1; dsin/dsincos return sin in r0:r1, cos in r2:r3
 *    (those two live in rom.S as wrappers around rom_dsincos_c).
 */
#include "rom.h"

uint64_t rom_to_fix(double x, int n, int mode)
{
    uint64_t u = d2u(x);
    int neg = (u & DSIGN) != 0;
    int e = (int)((u >> 52) & 0x7ff);
    uint64_t max = (mode & FIX_64) ? ~0ull : 0xffffffffull;
    uint64_t q;
    int frac = 0;
    if (mode & FIX_SIGNED)
        max >>= 1;
    if (e == 0)
        return 0; /* zero or (flushed) denormal */
    if (e == 0x7ff) {
        q = ~0ull; /* inf saturates; NaN saturates positive */
        if (u << 12)
            neg = 0;
    } else {
        uint64_t m = (u & ((1ull << 52) - 1)) | (1ull << 52);
        int s = e - 1075 + n; /* |x| * 2^n = m * 2^s */
        if (s >= 0) {
            q = s > 11 ? ~0ull : m << s;
        } else if (s < -63) {
            q = 0;
            frac = 1;
        } else {
            q = m >> -s;
            frac = (m << (64 + s)) != 0;
        }
    }
    if (!neg)
        return q > max ? max : q;
    if (!(mode & FIX_SIGNED))
        return 0;
    q += frac; /* floor of a negative value */
    if (q > max + 1)
        q = max + 1;
    return -q;
}

/* x * 2^k for a value produced by an integer conversion (never denormal) */
static float fscale(float x, int k)
{
    uint32_t u = f2u(x);
    if (!(u & 0x7fffffffu))
        return x;
    int e = (int)((u >> 23) & 0xff) + k;
    if (e >= 0xff)
        return u2f((u & 0x80000000u) | 0x7f800000u);
    if (e <= 0)
        return u2f(u & 0x80000000u);
    return u2f((u & ~0x7f800000u) | ((uint32_t)e << 23));
}

static int key32(float x)
{
    uint32_t u = f2u(ftz(x));
    return (u & 0x80000000u) ? -(int)(u & 0x7fffffffu) : (int)u;
}

static int64_t key64(double x)
{
    uint64_t u = d2u(dftz(x));
    return (u & DSIGN) ? -(int64_t)(u & ~DSIGN) : (int64_t)u;
}

/* ---- float table ---- */
float rom_fadd(float a, float b) { return ftz(ftz(a) + ftz(b)); }
/* subtraction is addition of the negation, so libgcc's separate __aeabi_fsub is not linked */
float rom_fsub(float a, float b) { return rom_fadd(a, u2f(f2u(b) ^ 0x80000000u)); }
float rom_fmul(float a, float b) { return ftz(ftz(a) * ftz(b)); }
float rom_fdiv(float a, float b) { return ftz(ftz(a) / ftz(b)); }
int rom_fcmp(float a, float b)
{
    int x = key32(a), y = key32(b);
    return (x > y) - (x < y);
}
float rom_fsqrt(float x) { return ftz((float)rom_dsqrt((double)ftz(x))); }
int32_t rom_float2fix(float v, int n) { return (int32_t)rom_to_fix(ftz(v), n, FIX_SIGNED); }
int32_t rom_float2int(float v) { return rom_float2fix(v, 0); }
uint32_t rom_float2ufix(float v, int n) { return (uint32_t)rom_to_fix(ftz(v), n, 0); }
uint32_t rom_float2uint(float v) { return rom_float2ufix(v, 0); }
float rom_fix2float(int32_t v, int n) { return fscale((float)v, -n); }
float rom_int2float(int32_t v) { return (float)v; }
float rom_ufix2float(uint32_t v, int n) { return fscale((float)v, -n); }
float rom_uint2float(uint32_t v) { return (float)v; }
float rom_fcos(float x) { return ftz((float)rom_dcos((double)ftz(x))); }
/* sin in the low word (r0), cos in the high word (r1) */
uint64_t rom_fsin(float x)
{
    double sc[2];
    rom_dsincos_c((double)ftz(x), sc);
    return f2u(ftz((float)sc[0])) | (uint64_t)f2u(ftz((float)sc[1])) << 32;
}
float rom_ftan(float x) { return ftz((float)rom_dtan((double)ftz(x))); }
float rom_fexp(float x) { return ftz((float)rom_dexp((double)ftz(x))); }
float rom_fln(float x) { return ftz((float)rom_dln((double)ftz(x))); }
float rom_fatan2(float y, float x)
{
    return ftz((float)rom_datan2((double)ftz(y), (double)ftz(x)));
}
float rom_fix642float(int64_t v, int n) { return fscale((float)v, -n); }
float rom_int642float(int64_t v) { return (float)v; }
float rom_ufix642float(uint64_t v, int n) { return fscale((float)v, -n); }
float rom_uint642float(uint64_t v) { return (float)v; }
int64_t rom_float2fix64(float v, int n) { return (int64_t)rom_to_fix(ftz(v), n, FIX_SIGNED | FIX_64); }
int64_t rom_float2int64(float v) { return rom_float2fix64(v, 0); }
uint64_t rom_float2ufix64(float v, int n) { return rom_to_fix(ftz(v), n, FIX_64); }
uint64_t rom_float2uint64(float v) { return rom_float2ufix64(v, 0); }
double rom_float2double(float v) { return (double)ftz(v); }

/* ---- double table ---- */
double rom_dadd(double a, double b) { return dftz(dftz(a) + dftz(b)); }
double rom_dsub(double a, double b) { return rom_dadd(a, u2d(d2u(b) ^ DSIGN)); }
double rom_dmul(double a, double b) { return dftz(dftz(a) * dftz(b)); }
double rom_ddiv(double a, double b) { return dftz(dftz(a) / dftz(b)); }
int rom_dcmp(double a, double b)
{
    int64_t x = key64(a), y = key64(b);
    return (x > y) - (x < y);
}
int32_t rom_double2fix(double v, int n) { return (int32_t)rom_to_fix(v, n, FIX_SIGNED); }
int32_t rom_double2int(double v) { return rom_double2fix(v, 0); }
uint32_t rom_double2ufix(double v, int n) { return (uint32_t)rom_to_fix(v, n, 0); }
uint32_t rom_double2uint(double v) { return rom_double2ufix(v, 0); }
double rom_fix2double(int32_t v, int n) { return dscale((double)v, -n); }
double rom_int2double(int32_t v) { return (double)v; }
double rom_ufix2double(uint32_t v, int n) { return dscale((double)v, -n); }
double rom_uint2double(uint32_t v) { return (double)v; }
double rom_fix642double(int64_t v, int n) { return dscale((double)v, -n); }
double rom_int642double(int64_t v) { return (double)v; }
double rom_ufix642double(uint64_t v, int n) { return dscale((double)v, -n); }
double rom_uint642double(uint64_t v) { return (double)v; }
int64_t rom_double2fix64(double v, int n) { return (int64_t)rom_to_fix(v, n, FIX_SIGNED | FIX_64); }
int64_t rom_double2int64(double v) { return rom_double2fix64(v, 0); }
uint64_t rom_double2ufix64(double v, int n) { return rom_to_fix(v, n, FIX_64); }
uint64_t rom_double2uint64(double v) { return rom_double2ufix64(v, 0); }
float rom_double2float(double v) { return ftz((float)dftz(v)); }
