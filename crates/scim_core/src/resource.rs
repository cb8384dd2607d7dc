//! Resource validation, canonicalisation and projection.
