"""The expert's page at the seat (专家评标页面): ``desk`` keeps the expert's state and actions,
``rubric`` checks score forms as the expert types, ``app`` serves the page and its local API on
127.0.0.1 (``seat-agent run --page-port``), ``html`` is the page itself."""
