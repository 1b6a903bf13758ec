DROP TABLE aria_tune.resource_proposals;
