"""A small Nova control plane (api, conductor, scheduler, compute) on ``aionova.rpc``."""
