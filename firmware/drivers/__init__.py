# Hardware drivers for the rp2 port. Each is handed its pins; none is imported by the core.
