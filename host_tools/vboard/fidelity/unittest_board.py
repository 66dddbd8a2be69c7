# `unittest` on the fidelity board: the pinned micropython-unittest 0.4 (PyPI, put on the
# board as /lib/unittest_04.py by pumphost.vboard.fidelity)
# with the summary that MicroPython 1.25's
# run-tests.py reads: a line of 70 dashes, "Ran N tests", a blank line, then "OK",
# "OK (skipped=N)" or "FAILED (failures=N, errors=M)". 0.4 prints neither the dashes nor
# that skip format, so run-tests.py would take every unittest-based test for a failure.
import unittest_04 as _base
from unittest_04 import *  # noqa: F403 (the module's whole API)


class TestRunner:
    def run(self, suite):
        res = _base.TestResult()
        for c in suite.tests:
            res.exceptions.extend(_base.run_class(c, res))
        print("-" * 70)
        print(f"Ran {res.testsRun} tests\n")
        if res.failuresNum > 0 or res.errorsNum > 0:
            print(f"FAILED (failures={res.failuresNum}, errors={res.errorsNum})")
        elif res.skippedNum > 0:
            print(f"OK (skipped={res.skippedNum})")
        else:
            print("OK")
        return res


_base.TestRunner = TestRunner
main = _base.main
