"""The virtual Pico: the real image on an emulated RP2040, single or as a bench pair."""
