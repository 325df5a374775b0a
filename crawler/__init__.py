"""Reading from outside: seed articles (crawler.extract) and the web (crawler.fetch)."""
