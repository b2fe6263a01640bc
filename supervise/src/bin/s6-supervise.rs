#![cfg_attr(not(test), no_main)]
common::entry!(supervise::supervise_main);
