"""GeoDispatch benchmarks: `./geodispatch bench` (see bench/README.md). Never run by the tests."""
