#![no_main]
common::entry!(svscan::svscan_main);
