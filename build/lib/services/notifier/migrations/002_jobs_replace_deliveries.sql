-- Deliveries are jobs now (shared/jobs.py: the jobs table, one row per delivery, with its attempts).
DROP TABLE deliveries;
