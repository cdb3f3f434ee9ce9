package engine

// Version is the engine version written into every run record.
var Version = "0.1.0"
