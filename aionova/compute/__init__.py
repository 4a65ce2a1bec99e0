"""nova-compute: builds instances on a hypervisor; holds no database."""
