"""The API's views: typed use-case results turned into JSON, with their Chinese labels."""
