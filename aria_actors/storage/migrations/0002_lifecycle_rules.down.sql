DROP TABLE IF EXISTS lifecycle_rules;
