# Small integer helpers missing from MicroPython's math module.


def gcd(a, b):
    while b:
        a, b = b, a % b
    return a


def reduce(num, den):
    g = gcd(num, den)
    return num // g, den // g
