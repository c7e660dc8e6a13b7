"""Local only, never in a Lambda code asset: the local server, feed, local queue, command lines."""
