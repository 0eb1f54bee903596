"""stig: signed, expiring traces on a serverless mesh."""
