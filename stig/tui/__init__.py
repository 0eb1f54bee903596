"""The terminal UI: a Textual app over the live node (stig.node.live), nothing lower."""
