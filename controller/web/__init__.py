"""The HTTP side: the JSON API, the approver's page, the event stream, sign-in, audit and the request edges."""
