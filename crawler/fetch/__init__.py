"""The Scrapy adapter: the check spider, its middlewares, download handler and resolver."""
