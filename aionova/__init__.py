"""A small Nova control plane (api, conductor, scheduler, compute) on the ``rpc`` framework."""
