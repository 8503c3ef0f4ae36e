"""Who may do what: roles and permissions, sign-in, session tokens."""
