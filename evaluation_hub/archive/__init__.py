"""Session archive bundles (评标资料归档): ``evaluation-hub archive SESSION`` and ``archive verify``.

A bundle is a directory holding everything about one evaluation session that an auditor needs
after the fact — session and committee, bookings, check-in records, submitted scores, the joint
supervision record with incidents, 函告, copy notices and handovers, recording hashes (and
optionally the recordings), the session's slice of the audit chain with the signed checkpoints
covering it and the hub's public key — plus a manifest of SHA-256 hashes of every file, signed
with the hub's Ed25519 key. It is written as that directory, or packed into one deterministic
tar file (``--out NAME.tar`` / ``.tar.gz`` / ``.tgz``); ``archive verify`` reads either, and
reads a tar in place, refusing unsafe members. The format is specified in docs/archive.md.

Modules:
    bundle       the manifest, its signature and bundle paths (pure)
    sections     the registry of sections and the built-in ones (database reads)
    supervision  the supervision files, written from the supervision use cases' results
    recordings   the audit event that records a closed recording segment
    writer       writing a bundle: sections → files → signed manifest (→ tar)
    tarball      a bundle as one tar file: deterministic writing, safe one-pass reading
    verify       checking a bundle and naming its first problem (file I/O only)
    cli          the ``archive`` command
    errors       the exception tree of this package

Data files are canonical JSON (``audit.canonical``) so the same rows always hash the same.
Writing a bundle appends one ``archive.requested`` audit event and signs a checkpoint at it, so
the bundle's audit slice is covered by a signature up to its last event. This package never
changes any other row.
"""
