"""The API's views: one module per domain turning the use cases' typed results into the JSON the
pages and clients read, with the Chinese labels they show. Pure: no I/O, no rules."""
