//! Policy documents and their most-restrictive merge.
