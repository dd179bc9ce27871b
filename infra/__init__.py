"""The service's plumbing: settings, the Temporal client, the payload codec and its server, logging, the dev stack."""
