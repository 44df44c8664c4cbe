"""Intake's domain, free of I/O: commands a lender sends, the loan aggregate that decides what
they do, and what makes a resubmission the same as the original."""
