"""Messages as files and on the wire: building them, drafts (.eml) in the outbox, SMTP."""
