//! The one integration test binary: each module tests one area of crier.
mod schedule;
mod script;
