"""Console entry points: ``aionova api|conductor|scheduler|compute|all-in-one``."""
