"""Safe keeping of the programme's data: backups of the live database, their
encryption with a passphrase, their retention and verification, and putting
one back (backups, encryption). Each run leaves a BackupRun row and an audit
record; the admin page and its warning read those rows."""
