"""Process bootstrap shared by every Flowline process (recorder, strategy worker, demo): settings
and logging from the environment, the one-line exit codes, ``/health`` and ``/metrics``."""
