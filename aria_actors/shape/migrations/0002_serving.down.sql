DROP TABLE IF EXISTS aria_shape.ab_metrics;
DROP TABLE IF EXISTS aria_shape.serving;
