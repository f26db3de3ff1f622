"""The API's views: each module turns one domain's typed use-case results into JSON (and the
Chinese labels people read), so handlers only parse, call one use case and render."""
