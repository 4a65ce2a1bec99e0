"""nova-scheduler: filters and weighers over the compute nodes in the database."""
