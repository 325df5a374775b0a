"""A check spread over a Scrapyd fleet: the coordinator, the node job and the shared dir."""
