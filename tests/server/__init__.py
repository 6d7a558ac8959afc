"""Gateway tests: config, routing, error model, health, reflection, metrics, lifecycle."""
