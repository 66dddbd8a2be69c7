# Runs the shared core tests (tests/core/test_*.py) on MicroPython, without pytest.
# Usage: micropython tests/upy_run.py [module ...]; prints "N passed, M failed".
import gc
import os
import sys

HERE = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
sys.path.insert(0, HERE + "/core")
sys.path.insert(0, HERE + "/../firmware")


def modules():
    names = [
        n[:-3] for n in os.listdir(HERE + "/core") if n.startswith("test_") and n.endswith(".py")
    ]
    names.sort()
    return names


def run(names):
    passed = failed = 0
    for name in names:
        loaded = list(sys.modules)
        mod = __import__(name)
        for attr in sorted(dir(mod)):
            fn = getattr(mod, attr)
            if not attr.startswith("test_") or not callable(fn):
                continue
            try:
                fn()
            except Exception as e:  # report every failure, keep going
                failed += 1
                print("FAIL %s.%s: %s %s" % (name, attr, type(e).__name__, e))
                sys.print_exception(e)
            else:
                passed += 1
                print("ok   %s.%s" % (name, attr))
        # A device-sized heap: drop each test module and what it imported once it ran (the
        # next one imports afresh), so the modules of all the tests never share the heap.
        del mod, fn
        for k in list(sys.modules):
            if k not in loaded:
                del sys.modules[k]
        gc.collect()
    print("%s: %d passed, %d failed" % (sys.implementation.name, passed, failed))
    return failed


if __name__ == "__main__":
    sys.exit(1 if run(sys.argv[1:] or modules()) else 0)
