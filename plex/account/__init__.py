"""The plex.tv side of Plex: sign in with a link code and choose one of the account's servers.

pin (the code for plex.tv/link), servers (the account's servers), connections (which address
of a server to store), session (the requests session and PlexSync's device headers), errors
(every failure as one line with the next step; the one place library errors are translated).
"""
