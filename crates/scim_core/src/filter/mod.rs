//! Filter engine (RFC 7644 §3.4.2.2): parser, evaluator, SQL compiler.
