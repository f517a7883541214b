"""Who is asking: credentials, identities, roles and the sign-in lockout."""
