/*
 * Double-precision sqrt, sin/cos/tan, exp, ln and atan2 for the SF/SD tables.
 * Written for this project: plain range reduction plus Taylor/atanh series evaluated
 * with libgcc's soft doubles. Accuracy is about 1 ulp, which is better than the real
 * ROM near the zeros of sin/cos/ln; speed is not a goal. The float table calls these
 * through float<->double conversions, which also keeps the ROM small.
 */
#include "rom.h"

/* pi/2 in three parts: the first two have 33 significant bits, so k * part is exact */
#define PIO2_1 0x1.921fb544p+0
#define PIO2_2 0x1.0b4611a6p-34
#define PIO2_3 0x1.3198a2e037073p-69
#define PIO2_HI 0x1.921fb54442d18p+0
#define PIO2_LO 0x1.1a62633145c07p-54
#define PI_HI 0x1.921fb54442d18p+1
#define PI_LO 0x1.1a62633145c07p-53
#define PIO4_HI 0x1.921fb54442d18p-1
#define PIO4_LO 0x1.1a62633145c07p-55
#define ATAN_HALF_HI 0x1.dac670561bb4fp-2
#define ATAN_HALF_LO 0x1.a2b7f222f65e2p-56
#define TWO_OVER_PI 0x1.45f306dc9c883p-1
#define LN2_HI 0x1.62e42ffp-1
#define LN2_LO (-0x1.718432a1b0e26p-35)
#define INV_LN2 0x1.71547652b82fep+0

/* a - b as an addition, so libgcc's separate __aeabi_dsub is not linked (saves 1.8 KB);
 * noipa stops gcc from folding it back into a subtraction of a constant */
__attribute__((noipa)) static double sub(double a, double b)
{
    return a + u2d(d2u(b) ^ DSIGN);
}

/* Horner: c[0] + x * (c[1] + x * (...)) */
static double poly(double x, const double *c, int n)
{
    double r = c[n - 1];
    for (int i = n - 2; i >= 0; i--)
        r = c[i] + x * r;
    return r;
}

/* nearest integer, for range reduction (|x| well inside int range) */
static int nearest(double x)
{
    return (int)rom_to_fix(x + 0.5, 0, FIX_SIGNED);
}

double rom_dsqrt(double x)
{
    x = dftz(x);
    uint64_t u = d2u(x);
    int e = (int)((u >> 52) & 0x7ff);
    if (e == 0)
        return x; /* +-0 */
    if (u & DSIGN)
        return u2d(DSIGN | DINF); /* the ROM answers -Inf for negative input */
    if (e == 0x7ff)
        return x;
    uint64_t m = (u & ((1ull << 52) - 1)) | (1ull << 52);
    e -= 1023; /* x = m * 2^(e - 52) */
    if (e & 1) {
        m <<= 1;
        e -= 1;
    }
    /* digit-by-digit square root of m * 2^54: a 54-bit root and an exact remainder */
    uint64_t rem = 0, root = 0;
    for (int i = 0; i < 54; i++) {
        rem = (rem << 2) | (m >> 52);
        m = (m << 2) & ((1ull << 54) - 1);
        uint64_t t = (root << 2) | 1;
        root <<= 1;
        if (rem >= t) {
            rem -= t;
            root |= 1;
        }
    }
    uint64_t mant = root >> 1;
    if ((root & 1) && (rem || (mant & 1)))
        mant++;
    /* mant is in [2^52, 2^53]; adding it carries into the exponent when it rounds up */
    return u2d(((uint64_t)(1022 + (e >> 1)) << 52) + mant); /* e is even */
}

static const double sin_c[] = {
    -1.0 / 6, 1.0 / 120, -1.0 / 5040, 1.0 / 362880, -1.0 / 39916800,
    1.0 / 6227020800.0, -1.0 / 1307674368000.0, 1.0 / 355687428096000.0,
};
static const double cos_c[] = {
    1.0 / 24, -1.0 / 720, 1.0 / 40320, -1.0 / 3628800, 1.0 / 479001600,
    -1.0 / 87178291200.0, 1.0 / 20922789888000.0,
};

/* out[0] = sin r, out[1] = cos r for |r| <= pi/4, then rotated by quadrant k */
static void sincos_reduced(double r, int k, double out[2])
{
    double r2 = r * r;
    double s = r + r * r2 * poly(r2, sin_c, 8);
    double c = sub(1.0, 0.5 * r2) + r2 * r2 * poly(r2, cos_c, 7);
    switch (k & 3) {
    case 0: out[0] = s; out[1] = c; break;
    case 1: out[0] = c; out[1] = -s; break;
    case 2: out[0] = -s; out[1] = -c; break;
    default: out[0] = -c; out[1] = s; break;
    }
}

/* returns the quadrant; NaN in out[] for inf/nan input */
static int sincos_full(double x, double out[2])
{
    if (dabs_bits(x) >= DINF) {
        out[0] = out[1] = u2d(DNAN);
        return 0;
    }
    int k = nearest(x * TWO_OVER_PI);
    double r = sub(sub(sub(x, k * PIO2_1), k * PIO2_2), k * PIO2_3);
    sincos_reduced(r, k, out);
    return k;
}

void rom_dsincos_c(double x, double out[2])
{
    x = dftz(x);
    if (dabs_bits(x) == 0) { /* keep the sign of zero */
        out[0] = x;
        out[1] = 1.0;
        return;
    }
    sincos_full(x, out);
    out[0] = dftz(out[0]);
    out[1] = dftz(out[1]);
}

double rom_dcos(double x)
{
    double sc[2];
    rom_dsincos_c(x, sc);
    return sc[1];
}

double rom_dtan(double x)
{
    double sc[2];
    x = dftz(x);
    if (dabs_bits(x) == 0)
        return x;
    sincos_full(x, sc);
    return dftz(sc[0] / sc[1]);
}

static const double exp_c[] = {
    1.0, 1.0, 1.0 / 2, 1.0 / 6, 1.0 / 24, 1.0 / 120, 1.0 / 720, 1.0 / 5040,
    1.0 / 40320, 1.0 / 362880, 1.0 / 3628800, 1.0 / 39916800, 1.0 / 479001600,
    1.0 / 6227020800.0,
};

double rom_dexp(double x)
{
    x = dftz(x);
    uint64_t u = d2u(x);
    uint64_t a = u & ~DSIGN;
    if (a > DINF)
        return x; /* NaN */
    if (!(u & DSIGN) && a > d2u(709.782712893384))
        return u2d(DINF);
    if ((u & DSIGN) && a > d2u(708.3964185322641))
        return 0.0; /* below the smallest normal: flushed */
    int k = nearest(x * INV_LN2);
    double r = sub(sub(x, k * LN2_HI), k * LN2_LO);
    return dscale(poly(r, exp_c, 14), k);
}

/* 2 * atanh(s) / s - 2 = 2 * (s^2/3 + s^4/5 + ...) */
static const double atanh_c[] = {
    2.0 / 3, 2.0 / 5, 2.0 / 7, 2.0 / 9, 2.0 / 11, 2.0 / 13, 2.0 / 15, 2.0 / 17, 2.0 / 19,
    2.0 / 21,
};

double rom_dln(double x)
{
    x = dftz(x);
    uint64_t u = d2u(x);
    if ((u & ~DSIGN) == 0)
        return u2d(DSIGN | DINF);
    if (u & DSIGN)
        return u2d(DNAN);
    if (u >= DINF)
        return x; /* +inf or NaN */
    int e = (int)(u >> 52) - 1023;
    double m = u2d((u & ((1ull << 52) - 1)) | (1023ull << 52)); /* [1, 2) */
    if (d2u(m) > d2u(0x1.6a09e667f3bcdp+0)) { /* sqrt(2): centre the range on 1 */
        m *= 0.5;
        e++;
    }
    double f = sub(m, 1.0);
    double s = f / (2.0 + f);
    double s2 = s * s;
    double lnm = 2.0 * s + s * s2 * poly(s2, atanh_c, 10);
    return (e * LN2_LO + lnm) + e * LN2_HI;
}

/* atan(u) for |u| <= 0.25 */
static const double atan_c[] = {
    -1.0 / 3, 1.0 / 5, -1.0 / 7, 1.0 / 9, -1.0 / 11, 1.0 / 13, -1.0 / 15, 1.0 / 17,
    -1.0 / 19, 1.0 / 21, -1.0 / 23, 1.0 / 25,
};

static double atan_series(double u)
{
    double u2 = u * u;
    return u + u * u2 * poly(u2, atan_c, 12);
}

/* atan(t) for 0 <= t <= 1, around 0, 1/2 or 1 */
static double atan01(double t)
{
    uint64_t b = d2u(t);
    if (b < d2u(0.25))
        return atan_series(t);
    if (b < d2u(0.75))
        return ATAN_HALF_HI + (atan_series(sub(t, 0.5) / (1.0 + 0.5 * t)) + ATAN_HALF_LO);
    return PIO4_HI + (atan_series(sub(t, 1.0) / (t + 1.0)) + PIO4_LO);
}

double rom_datan2(double y, double x)
{
    y = dftz(y);
    x = dftz(x);
    uint64_t ay = dabs_bits(y), ax = dabs_bits(x);
    int xneg = (d2u(x) & DSIGN) != 0;
    double a;
    if (ax > DINF || ay > DINF)
        return u2d(DNAN);
    if (ax == 0 && ay == 0) {
        a = xneg ? PI_HI : 0.0;
    } else if (ax == DINF && ay == DINF) {
        a = xneg ? 3 * PIO4_HI : PIO4_HI;
    } else {
        double px = u2d(ax), py = u2d(ay);
        if (ay <= ax)
            a = atan01(py / px);
        else
            a = sub(PIO2_HI, atan01(px / py)) + PIO2_LO;
        if (xneg)
            a = sub(PI_HI, a) + PI_LO;
    }
    return u2d(d2u(a) | (d2u(y) & DSIGN));
}
