"""What an outgoing request can come to, as tenants see it."""

DELIVERED = "delivered"  # a 2xx answer
HTTP_STATUS = "http_status"  # any other answer; its status code is kept
TIMED_OUT = "timed_out"
# The destination was not allowed, or could not be reached (connection refused or reset, TLS
# failure): one word, so the answer cannot tell a closed port from a forbidden address.
REFUSED = "refused"
RESULTS = (DELIVERED, HTTP_STATUS, TIMED_OUT, REFUSED)

USER_AGENT = "platform-webhooks/1"
