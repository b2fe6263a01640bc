#![no_main]
common::entry!(supervise::supervise_main);
