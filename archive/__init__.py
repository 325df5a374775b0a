"""Everything stored: the SQLite store (archive.store) and the WARC archive (archive.warc)."""
