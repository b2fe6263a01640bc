#![cfg_attr(not(test), no_main)]
common::entry!(svscan::svscan_main);
