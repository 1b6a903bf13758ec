DROP TABLE IF EXISTS aria_tune.ab_tests;
