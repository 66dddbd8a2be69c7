"""A pump's protocol from the host: the client and its fuzzer."""
