DROP TABLE IF EXISTS aria_shape.model_versions;
DROP TABLE IF EXISTS aria_shape.character_versions;
DROP TABLE IF EXISTS aria_shape.characters;
DROP TABLE IF EXISTS aria_shape.templates;
