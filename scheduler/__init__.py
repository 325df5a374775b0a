"""The daemon: APScheduler 3 jobs that run rotwatch's commands as child processes."""
