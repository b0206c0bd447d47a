"""自评 (self-evaluation): scoring rules kept pure, separate from the services that store results."""
