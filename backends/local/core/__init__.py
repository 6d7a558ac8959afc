"""What every part of the local backend uses and nothing of it depends on.

    arns.py         the ARN layout (partition `labelgate`, region `local`)
    background.py   background jobs keyed by resource; `JobInterrupted` when stopping
    caller_text.py  text fit for a caller: no server paths, URLs or tracebacks
    processes.py    worker processes: start, stop, recognise after a restart
"""
