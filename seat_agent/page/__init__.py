"""The expert's page at the seat (专家评标页面): ``desk`` keeps the expert's state and actions,
``rubric`` checks score forms as the expert types, ``guard`` decides who may talk to the page
(loopback ``Host``, own ``Origin``, per-start key), ``app`` serves the page and its local API on
a loopback address (``seat-agent run --page-port``); the page itself is the static files in
``seat_agent/web/`` (``expert.html``, ``expert.js``, ``expert.css``)."""
