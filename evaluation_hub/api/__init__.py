"""The hub's HTTP face: REST API, problem responses, authentication, OpenAPI, pages."""
