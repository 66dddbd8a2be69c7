# The pump's control core: pure integer logic shared by CPython, the MicroPython unix port
# and the rp2 image. Never import `machine` here; hardware lives behind drivers.
