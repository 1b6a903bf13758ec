DROP TABLE IF EXISTS aria_monitor.usage_subjects;
DROP TABLE IF EXISTS aria_monitor.usage_daily;
DROP TABLE IF EXISTS aria_monitor.rollups;
