DROP TABLE IF EXISTS aria_shape.training_runs;
