"""Publishing public traces to the web (docs/relay.md "Publishing"): a static site and Atom
feeds that follow what the node holds, a read-only server for them, and feeds brought in as
traces.

    excerpts     trace text made fit for HTML and XML: titles, excerpts, no control characters
    site         the site as {relative path: bytes}, a pure function of the threads and ``now``
    atom         Atom feeds (feedgen)
    mirror       writing a site into a directory atomically, removing what is gone
    publisher    what to publish, gathered from a store; keeping a site current on a relay
    serve        a read-only HTTP server for a published directory
    feed_import  Atom/RSS entries (feedparser) as ``report`` traces, deduplicated across runs
"""
