#![no_main]
common::entry!(svscan::svscanctl_main);
