DROP TABLE aria_data.partitioned_tables;
DROP SCHEMA aria_archive;
