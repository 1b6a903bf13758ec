"""GRPO training: its mathematics (:mod:`.grpo`), rewards (:mod:`.rewards`), one iteration in one
process (:mod:`.policy`), checkpoints (:mod:`.checkpoints`), the Ray loop (:mod:`.loop`), the
aria_queue job (:mod:`.job`, registered through :mod:`aria_actors.shape.jobs`) and the service's
training runs (:mod:`.runs`). Imports nothing: the modules that need torch load it themselves."""
