"""The dose and event log on the host: the NOR flash emulation the firmware's log ring runs on
(nor), the pulled log file (plogfile), verify, export, report and pull, and `pumpctl logs`
(cli). Records are packed and checked by the firmware's own codec, pump.logrec."""
