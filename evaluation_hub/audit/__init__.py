"""The tamper-evident audit chain (全过程留痕): hash-chained events and signed checkpoints.

Every state change in the hub appends one :class:`~evaluation_hub.audit.chain.AuditEvent` that
carries the hash of the event before it; at intervals the head of the chain is signed with the
hub's Ed25519 key (a checkpoint). ``evaluation-hub audit verify`` walks the stored chain and names
the first edited, removed or reordered event. The format is specified in docs/audit-chain.md.

Modules:
    canonical    the canonical byte encoding of JSON values (pure)
    chain        events, event hashes and chain verification (pure)
    checkpoint   checkpoint policy, signing and signature checks (pure)
    keys         loading and creating the hub key files (file I/O only)
    models       the ``audit_events`` and ``audit_checkpoints`` tables
    store        appending and loading inside the caller's database transaction
    cli          the ``audit verify`` command
    errors       the exception tree of this package

This package never updates or deletes an audit row, and the pure modules never touch a clock,
a file or a database: callers pass ``now`` and the stored rows.
"""
