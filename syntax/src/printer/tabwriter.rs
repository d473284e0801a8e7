//! A port of Go's `text/tabwriter` with the settings upstream's printer uses.
