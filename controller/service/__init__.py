"""The running controller: AWS clients, the background worker and what happens before serving."""
