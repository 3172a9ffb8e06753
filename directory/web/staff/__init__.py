"""Staff pages: sign-in, accounts and roles, behind Flask-Login."""
