"""Messages as files and on the wire: who gets what, building them, drafts, SMTP.

``kinds`` names the kinds of message and the two routes out; ``addresses`` checks an
address and finds a person's in the staff list; ``letters`` decides, from the record,
which messages a kind needs and to whom (pure); ``message`` builds one
``email.message.EmailMessage`` and its content hash, and decides what of a letter is
still to go (pure); ``drafts`` writes ``.eml`` drafts whole; ``smtp`` talks to the relay;
``delivery`` drafts or sends what is ready and records each message as it goes.
Rendering the templates is the send job's (``qaudit.jobs.send``): this package sits below
``qaudit.rendering``.
"""
