"""OAuth 2.0 sign-in for mailboxes and SMTP (SASL XOAUTH2): one home for the IMAP pollers, the
notifier and `touchpoint mailbox`.

`providers` knows the endpoints and usual scopes of Microsoft, Google and a generic provider;
`tokens.TokenSource` hands out access tokens, refreshing them before they expire (Authlib does
the token requests); `refresh_tokens` keeps a user's refresh token on disk; `diagnosis` turns a
provider's refusal into what an operator has to do; `consent` runs the device-code and
authorization-code flows of `touchpoint mailbox authorize`."""
