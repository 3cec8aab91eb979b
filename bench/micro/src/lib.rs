//! Nothing here: the benchmarks live in `benches/` (`cargo bench -p palisade-bench`).
