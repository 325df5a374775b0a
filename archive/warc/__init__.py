"""The WARC archive: writing snapshots, reading them back, recovering files a crash left open."""
