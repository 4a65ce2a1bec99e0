"""nova-conductor: database proxy for computes, and the build orchestration."""
