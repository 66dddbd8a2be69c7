import gc
import json

from progrig import PIN, Rig


def _err(resp, code):
    assert resp["ok"] is False and resp["error"]["code"] == code, resp
    return resp["error"]


def test_soft_limits_need_confirm_and_hard_limits_reject():
    gc.collect()
    from pump import druglib

    with open("firmware/druglib.json") as f:
        lib = druglib.Library(json.load(f))
    r = Rig(library=lib)
    r.ok("pin.change", {"new": PIN})
    spec = {"drug": "octreotide", "dose_ug_24h": 3200, "conc_ug_ml": 500}
    e = _err(r.send("program.validate", {"program": spec}), "soft_limit")
    assert len(e["limits"]) == 1
    spec["confirm"] = True
    assert r.ok("program.validate", {"program": spec})["soft_limits"]
    spec["dose_ug_24h"] = 9000
    _err(r.send("program.validate", {"program": spec}), "hard_limit")
    assert r.ok("config.get")["drugs"][0]["id"] in ("octreotide", "generic-ml-h")
