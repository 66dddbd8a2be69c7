"""The log review service: pump logs uploaded, verified, stored once, reviewed in the browser
(`pumpctl review serve`); the cohort simulation that exercises it (`pumpctl cohort ...`)."""
