"""Training both sides side by side: the run, its settings, data, sides, evaluation, lockstep, checkpoint, report."""
