//! Node problem detection logic: NPD-compatible monitor configs, rule matching, condition tracking (no I/O).
